// The dense fp32 reference against the real models of ../shared (DESIGN.md §6):
// logits within 1e-3 of transformers / PyTorch, perplexity within 1e-4
// (relative) of reference.json, and the tokenizer against dev_tokens.i32.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/formats/model_loader.hpp"
#include "io/formats/token_file.hpp"
#include "io/formats/tokenizer.hpp"
#include "sim/transformer.hpp"
#include "sim/perplexity.hpp"
#include "tests/support/shared_data.hpp"

using namespace spikesim;

namespace {

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

// Max |a - b| over the first rows of `logits` against a flat reference.
double max_abs_diff(const MatrixRM& logits, const std::vector<float>& reference) {
  REQUIRE(static_cast<std::size_t>(logits.size()) == reference.size());
  double worst = 0.0;
  for (std::size_t i = 0; i < reference.size(); ++i)
    worst = std::max(worst, std::abs(static_cast<double>(logits.data()[i]) - reference[i]));
  return worst;
}

SequenceForward dense_forward_of(Transformer& t) {
  return [&t](std::span<const int> s) { return t.forward_sequence(s); };
}

}  // namespace

TEST_CASE("brown-llama-s: dense logits match transformers' fp32 logits", "[validation][dense_reference]") {
  SPIKESIM_REQUIRE_SHARED(dir, "models/brown-llama-s");
  SPIKESIM_REQUIRE_SHARED(tokens_file, "models/brown-llama-s/dev_tokens.i32");
  SPIKESIM_REQUIRE_SHARED(logits_file, "models/brown-llama-s/dev64_logits.f32");
  const LlamaModel model = load_model(dir);
  CHECK(model.format == "huggingface");
  CHECK(model.config.rope == RopeStyle::rotate_half);
  const auto tokens = read_token_file(tokens_file, model.config.vocab_size);
  const auto reference = read_f32_file(logits_file);
  const std::size_t n = reference.size() / static_cast<std::size_t>(model.config.vocab_size);
  REQUIRE(n == 64);

  Transformer t(model, ForwardMode::dense, {});
  const MatrixRM logits = t.forward_sequence(std::span<const int>(tokens).first(n));
  const double diff = max_abs_diff(logits, reference);
  INFO("brown-llama-s max |logit - reference| over " << n << " tokens = " << diff);
  CHECK(diff <= 1e-3);
}

TEST_CASE("brown-llama-s: perplexity of 32 windows x 256 matches reference.json",
          "[validation][dense_reference]") {
  SPIKESIM_REQUIRE_SHARED(dir, "models/brown-llama-s");
  SPIKESIM_REQUIRE_SHARED(tokens_file, "models/brown-llama-s/dev_tokens.i32");
  SPIKESIM_REQUIRE_SHARED(ref_file, "models/brown-llama-s/reference.json");
  const auto ref = read_json(ref_file);
  const int seq = ref.at("seq").get<int>();
  const int windows = ref.at("dev_ntok").get<int>() / seq;  // 8192 / 256 = 32, as dev_ppl_method states
  const double expected = ref.at("dev_ppl_fp32_32x256").get<double>();

  const LlamaModel model = load_model(dir);
  const auto tokens = read_token_file(tokens_file, model.config.vocab_size);
  Transformer t(model, ForwardMode::dense, {});
  const auto result = window_perplexity(tokens, seq, windows, dense_forward_of(t), tokens_file.string());
  CHECK(result.tokens == ref.at("dev_ntok").get<std::uint64_t>());
  const double rel = std::abs(result.ppl() - expected) / expected;
  INFO("brown-llama-s ppl " << result.ppl() << " vs reference " << expected << ", relative diff " << rel);
  CHECK(rel <= 1e-4);
}

TEST_CASE("stories260K: dense logits match the fp32 reference", "[validation][dense_reference]") {
  SPIKESIM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  SPIKESIM_REQUIRE_SHARED(tokens_file, "models/stories260K/sampled_tokens.i32");
  SPIKESIM_REQUIRE_SHARED(logits_file, "models/stories260K/ref64_logits.f32");
  const LlamaModel model = load_model(bin);
  CHECK(model.format == "llama2c");
  CHECK(model.config.rope == RopeStyle::interleaved);
  const auto tokens = read_token_file(tokens_file, model.config.vocab_size);
  const auto reference = read_f32_file(logits_file);
  const std::size_t n = reference.size() / static_cast<std::size_t>(model.config.vocab_size);
  REQUIRE(n == 64);

  Transformer t(model, ForwardMode::dense, {});
  const MatrixRM logits = t.forward_sequence(std::span<const int>(tokens).first(n));  // row 0 starts the file
  const double diff = max_abs_diff(logits, reference);
  INFO("stories260K max |logit - reference| over " << n << " tokens = " << diff);
  CHECK(diff <= 1e-3);
}

TEST_CASE("stories260K: perplexity of 16 rows matches reference.json", "[validation][dense_reference]") {
  SPIKESIM_REQUIRE_SHARED(bin, "models/stories260K/stories260K.bin");
  SPIKESIM_REQUIRE_SHARED(tokens_file, "models/stories260K/sampled_tokens.i32");
  SPIKESIM_REQUIRE_SHARED(ref_file, "models/stories260K/reference.json");
  const auto ref = read_json(ref_file);
  const int rows = ref.at("ppl_fp32_rows").get<int>();
  const double expected = ref.at("ppl_fp32").get<double>();

  const LlamaModel model = load_model(bin);
  const auto tokens = read_token_file(tokens_file, model.config.vocab_size);
  REQUIRE(tokens.size() % static_cast<std::size_t>(rows) == 0);
  const int row_len = static_cast<int>(tokens.size()) / rows;  // [16 x 256]
  Transformer t(model, ForwardMode::dense, {});
  // "Evaluate each row on its own": tokens 1..row_len-1 of each row.
  const auto result = row_perplexity(tokens, row_len, rows, dense_forward_of(t), tokens_file.string());
  CHECK(result.tokens == static_cast<std::uint64_t>(rows) * (row_len - 1));
  const double rel = std::abs(result.ppl() - expected) / expected;
  INFO("stories260K ppl " << result.ppl() << " vs reference " << expected << ", relative diff " << rel);
  CHECK(rel <= 1e-4);
}

TEST_CASE("brown-llama-s tokenizer: round trip and dev_tokens agreement", "[validation][tokenizer]") {
  SPIKESIM_REQUIRE_SHARED(model_file, "models/brown-llama-s/tokenizer.model");
  SPIKESIM_REQUIRE_SHARED(text_file, "data/brown_dev.txt");
  SPIKESIM_REQUIRE_SHARED(tokens_file, "models/brown-llama-s/dev_tokens.i32");
  const Tokenizer tok(model_file);
  CHECK(tok.vocab_size() == 512);
  CHECK(tok.bos_id() == 1);

  const std::string sentence =
      "The jury said it did find that many of Georgia's registration laws are outmoded.";
  const auto ids = tok.encode(sentence, /*add_bos=*/true);
  REQUIRE(ids.size() > 1);
  CHECK(ids.front() == tok.bos_id());
  CHECK(tok.decode(ids) == sentence);
  CHECK_FALSE(tok.piece(ids[1]).empty());

  // dev_tokens.i32 is each paragraph (line) of brown_dev.txt with BOS in front.
  std::ifstream in(text_file);
  std::string first_line;
  std::getline(in, first_line);
  const auto expected = tok.encode(first_line, true);
  const auto dev = read_token_file(tokens_file, tok.vocab_size());
  REQUIRE(dev.size() > expected.size());
  CHECK(std::vector<int>(dev.begin(), dev.begin() + static_cast<long>(expected.size())) == expected);
  CHECK(dev[expected.size()] == tok.bos_id());
}
