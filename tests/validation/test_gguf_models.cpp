// GGUF files of the real brown-llama-s (../shared/models/brown-llama-s),
// written as llama.cpp's converter writes them (tests/support/
// gguf_model_files.hpp), evaluated with `spikesim eval`'s own path
// (sim/evaluation.hpp, model.path = the .gguf) over 4 windows of 256 tokens
// of dev_tokens.i32:
//   F32 GGUF   == the Hugging Face folder            (1e-5 relative)
//   Q8_0 GGUF  ~= the folder with weights.bits 8, group 32, symmetric (0.2%:
//                 the same RTN up to Q8_0's f16 scales)
//   Q4_0 GGUF  == an F32 GGUF holding its dequantized blocks (1e-5 relative:
//                 the int4 codes are the blocks', nothing requantized)
// token_embd and output stay F32, as the test names say. The perplexities
// are printed (WARN) for the report. Also: the GGUF's own tokenizer
// (brown's vocabulary as tokenizer.ggml.*) tokenizes prompts as the
// folder's tokenizer.model does, found the way a run finds it.
#include <catch2/catch.hpp>

#include <sentencepiece_processor.h>

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "io/config/config.hpp"
#include "io/formats/gguf_loader.hpp"
#include "io/formats/gguf_tokenizer.hpp"
#include "io/formats/model_loader.hpp"
#include "io/formats/text_tokenizer.hpp"
#include "sim/evaluation.hpp"
#include "tests/support/gguf_model_files.hpp"
#include "tests/support/gguf_vocabulary.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
using test::gguf_writer_for;
using test::GgufModelWriteOptions;

namespace {

constexpr int kWindows = 4;
constexpr int kSeq = 256;

double eval_ppl(const std::string& model_path, const std::string& tokens, const WeightsConfig& weights = {}) {
  SimConfig cfg = default_config();
  cfg.model.path = model_path;
  cfg.input.token_file = tokens;
  cfg.eval.windows = kWindows;
  cfg.eval.seq = kSeq;
  cfg.run.mode = ForwardMode::dense;
  cfg.run.progress = false;
  cfg.weights = weights;
  return evaluate(cfg).at("ppl").get<double>();
}

double relative(double a, double b) {
  return std::abs(a - b) / b;
}

}  // namespace

TEST_CASE("GGUF models: brown-llama-s as F32, Q8_0 and Q4_0 GGUF evaluates as it should",
          "[gguf][loader][validation]") {
  SPIKESIM_REQUIRE_SHARED(model_dir, "models/brown-llama-s");
  SPIKESIM_REQUIRE_SHARED(tokens_file, "models/brown-llama-s/dev_tokens.i32");
  const std::string tokens = tokens_file.string();
  const LlamaModel hf = load_model(model_dir);
  test::TempDir dir("gguf_models");

  const auto f32_path = dir / "brown-f32.gguf";
  gguf_writer_for(hf).write(f32_path);
  GgufModelWriteOptions q8;
  q8.linear = GgufTensorType::q8_0;
  const auto q8_path = dir / "brown-q8_0.gguf";
  gguf_writer_for(hf, q8).write(q8_path);
  GgufModelWriteOptions q4;
  q4.linear = GgufTensorType::q4_0;
  const auto q4_path = dir / "brown-q4_0.gguf";
  gguf_writer_for(hf, q4).write(q4_path);
  // The Q4_0 file's blocks, dequantized, written back as F32.
  const LlamaModel q4_model = load_model(q4_path);
  REQUIRE(q4_model.layers[0].wq.type() == WeightType::int4);
  const auto q4_dequantized_path = dir / "brown-q4_0-dequantized-f32.gguf";
  gguf_writer_for(q4_model).write(q4_dequantized_path);

  const double hf_ppl = eval_ppl(model_dir.string(), tokens);
  const double f32_ppl = eval_ppl(f32_path.string(), tokens);
  WeightsConfig w8;
  w8.bits = 8;
  w8.group = 32;
  w8.symmetric = true;
  const double hf_w8_ppl = eval_ppl(model_dir.string(), tokens, w8);
  const double q8_ppl = eval_ppl(q8_path.string(), tokens);
  const double q4_ppl = eval_ppl(q4_path.string(), tokens);
  const double q4_dequantized_ppl = eval_ppl(q4_dequantized_path.string(), tokens);

  WARN(fmt::format("brown-llama-s, {} windows x {} tokens of dev_tokens.i32 (dense):\n"
                   "  HF folder                  ppl {:.6f}\n"
                   "  F32 GGUF                   ppl {:.6f}  (rel. diff {:.2e})\n"
                   "  HF, weights W8 g32 sym     ppl {:.6f}\n"
                   "  Q8_0 GGUF                  ppl {:.6f}  (rel. diff {:.2e} vs W8 g32 sym)\n"
                   "  F32 GGUF of Q4_0's blocks  ppl {:.6f}\n"
                   "  Q4_0 GGUF                  ppl {:.6f}  (rel. diff {:.2e})",
                   kWindows, kSeq, hf_ppl, f32_ppl, relative(f32_ppl, hf_ppl), hf_w8_ppl, q8_ppl,
                   relative(q8_ppl, hf_w8_ppl), q4_dequantized_ppl, q4_ppl, relative(q4_ppl, q4_dequantized_ppl)));
  CHECK(relative(f32_ppl, hf_ppl) <= 1e-5);
  CHECK(relative(q8_ppl, hf_w8_ppl) <= 2e-3);
  CHECK(relative(q4_ppl, q4_dequantized_ppl) <= 1e-5);
  // Quantization changes the model: the comparisons are not vacuous.
  CHECK(q4_ppl != hf_ppl);
}

TEST_CASE("GGUF models: brown's vocabulary in the GGUF tokenizes prompts as tokenizer.model does",
          "[gguf][tokenizer][validation]") {
  SPIKESIM_REQUIRE_SHARED(model_dir, "models/brown-llama-s");
  SPIKESIM_REQUIRE_SHARED(sp_file, "models/brown-llama-s/tokenizer.model");
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.Load(sp_file.string()).ok());
  const LlamaModel hf = load_model(model_dir);
  test::TempDir dir("gguf_models_tok");
  GgufModelWriteOptions o;
  o.skip = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"};  // the vocabulary's own
  GgufWriter w = gguf_writer_for(hf, o);
  test::add_sentencepiece_vocabulary(w, sp);
  const auto path = dir / "brown.gguf";
  w.write(path);

  // As a run finds them (sim/run_driver.cpp): the model's own tokenizer.
  const auto from_gguf_path = find_model_tokenizer(path);
  REQUIRE(from_gguf_path == path);
  const auto from_gguf = open_tokenizer(from_gguf_path);
  const auto from_folder = open_tokenizer(find_model_tokenizer(model_dir));
  CHECK(from_gguf->vocab_size() == from_folder->vocab_size());
  CHECK(from_gguf->bos_id() == from_folder->bos_id());
  CHECK(from_gguf->eos_id() == from_folder->eos_id());
  for (const std::string prompt :
       {"The jury said it did not believe the election was conducted fairly.",
        "Mr. Kennedy's 1960 campaign, in Texas and Georgia, cost $3,000,000!", "Once upon a time"}) {
    INFO(prompt);
    const auto ids = from_gguf->encode(prompt, true);
    CHECK(ids == from_folder->encode(prompt, true));
    CHECK(from_gguf->decode(ids) == from_folder->decode(ids));
  }
  // The loaded model and the tokenizer agree on BOS.
  CHECK(load_model(path).config.bos_id == from_gguf->bos_id());
}
