// Today's LLaMA-family variants of ../shared/models/families (issue 11):
// Llama 3 RoPE scaling (llama3-tiny), Qwen2 q/k/v biases (qwen2-tiny) and
// Mistral sliding-window attention (mistral-tiny), against an independent
// fp32 forward: dense logits within 1e-3, perplexity within 1e-4 (relative),
// and the spiking run equal to the quantized one as for the other models.
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/config/config.hpp"
#include "io/formats/model_loader.hpp"
#include "io/formats/token_file.hpp"
#include "sim/perplexity.hpp"
#include "sim/run_driver.hpp"
#include "sim/transformer.hpp"
#include "tests/support/raw_hdf5.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;

namespace {

nlohmann::json read_json(const std::filesystem::path& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

struct Family {
  LlamaModel model;
  std::vector<int> tokens;  // [rows x row_len]
  nlohmann::json reference;
  std::string name;
  std::filesystem::path tokens_file, dir;
  int rows = 0, row_len = 0;
  [[nodiscard]] std::span<const int> row(int r) const {
    return std::span<const int>(tokens).subspan(static_cast<std::size_t>(r * row_len),
                                                static_cast<std::size_t>(row_len));
  }
};

SequenceForward forward_of(Transformer& t) {
  return [&t](std::span<const int> s) { return t.forward_sequence(s); };
}

std::uint64_t synaptic_events(const Transformer& t) {
  std::uint64_t n = 0;
  for (const StageAccount& a : t.accounts()) n += a.run.synaptic_events;
  return n;
}

EncodingSpec w4a4() {
  EncodingSpec enc;
  enc.bits = 4;
  enc.addbit = 1;
  enc.low_p = 0.9;
  return enc;
}

void check_dense(const Family& f) {
  const auto positions = f.reference.at("ref_logits_positions").get<std::vector<int>>();
  const auto shape = f.reference.at("ref_logits_shape").get<std::vector<std::size_t>>();
  SPIKESIM_REQUIRE_SHARED(logits_file, "models/families/" + f.name + "/ref_logits.f32");
  const auto reference = read_f32_file(logits_file);
  REQUIRE(shape.size() == 2);
  REQUIRE(shape[0] == positions.size());
  REQUIRE(shape[1] == static_cast<std::size_t>(f.model.config.vocab_size));
  REQUIRE(reference.size() == shape[0] * shape[1]);

  Transformer t(f.model, ForwardMode::dense, {});
  const MatrixRM logits = t.forward_sequence(f.row(0));
  double worst = 0;
  for (std::size_t k = 0; k < positions.size(); ++k)
    for (std::size_t v = 0; v < shape[1]; ++v)
      worst = std::max(worst, std::abs(static_cast<double>(logits(positions[k], static_cast<Eigen::Index>(v))) -
                                       reference[k * shape[1] + v]));
  INFO(f.name << " dense max |logit - reference| at the reference positions = " << worst);
  CHECK(worst <= 1e-3);

  const double expected = f.reference.at("ppl").get<double>();
  const auto result = row_perplexity(f.tokens, f.row_len, f.rows, forward_of(t), f.tokens_file.string());
  CHECK(result.tokens == static_cast<std::uint64_t>(f.rows) * static_cast<std::uint64_t>(f.row_len - 1));
  const double rel = std::abs(result.ppl() - expected) / expected;
  INFO(f.name << " dense ppl " << result.ppl() << " vs reference " << expected << ", relative "
                                 << rel);
  CHECK(rel <= 1e-4);
  // Each row on its own, as the reference evaluates them.
  const auto nll_rows = f.reference.at("nll_rows").get<std::vector<double>>();
  for (int r = 0; r < f.rows; ++r) {
    const auto nll = sequence_nll(t.forward_sequence(f.row(r)), f.row(r));
    CHECK(std::abs(nll.nll_sum - nll_rows[static_cast<std::size_t>(r)]) <= 1e-4 * nll_rows[static_cast<std::size_t>(r)]);
  }
}

// Spiking equals quantized, to the tolerance test_spiking_accuracy.cpp holds
// the shared models to. Returns the spiking run's synaptic events per token.
double check_spiking(const Family& f, const LlamaModel& model) {
  const EncodingSpec enc = w4a4();
  const SaliencyPlan plan = compute_saliency_plan(model, enc, {std::vector<int>(f.row(1).begin(), f.row(1).end())});
  Transformer spiking(model, ForwardMode::spiking, enc, plan);
  Transformer quantized(model, ForwardMode::quantized, enc, plan);
  PerplexityResult ps, pq;
  double max_diff = 0, scale = 0;
  for (int r = 0; r < f.rows; ++r) {
    const MatrixRM s = spiking.forward_sequence(f.row(r));
    const MatrixRM q = quantized.forward_sequence(f.row(r));
    max_diff = std::max(max_diff, static_cast<double>((s - q).cwiseAbs().maxCoeff()));
    scale = std::max(scale, static_cast<double>(q.cwiseAbs().maxCoeff()));
    ps += sequence_nll(s, f.row(r));
    pq += sequence_nll(q, f.row(r));
  }
  INFO(f.name << " max |Δlogit| spiking vs quantized " << max_diff << " (logit scale " << scale
                                 << "), ppl spiking " << ps.ppl() << " quantized " << pq.ppl());
  CHECK(std::isfinite(pq.ppl()));
  CHECK(max_diff <= 1e-3 * std::max(1.0, scale));
  CHECK(std::abs(ps.ppl() / pq.ppl() - 1.0) <= 5e-4);
  return static_cast<double>(synaptic_events(spiking)) / static_cast<double>(spiking.tokens());
}

// Loads a family, or returns false after SPIKESIM_REQUIRE_SHARED skipped or failed.
bool load_family(const std::string& name, Family& f) {
  const auto dir = test::shared_file("models/families/" + name);
  const auto tokens_file = test::shared_file("models/families/" + name + "/tokens.i32");
  const auto ref_file = test::shared_file("models/families/" + name + "/reference.json");
  if (dir.empty() || tokens_file.empty() || ref_file.empty()) return false;
  f.name = name;
  f.dir = dir;
  f.tokens_file = tokens_file;
  f.reference = read_json(ref_file);
  f.model = load_model(dir);
  f.tokens = read_token_file(tokens_file, f.model.config.vocab_size);
  f.rows = f.reference.at("rows").get<int>();
  f.row_len = f.reference.at("row_len").get<int>();
  REQUIRE(f.tokens.size() == static_cast<std::size_t>(f.rows * f.row_len));
  return true;
}

}  // namespace

TEST_CASE("llama3-tiny: llama3 RoPE scaling matches the reference forward", "[validation][families]") {
  Family f;
  if (!load_family("llama3-tiny", f)) return;
  const RopeScaling& s = f.model.config.rope_scaling;
  CHECK(s.type == RopeScalingType::llama3);
  CHECK(s.factor == 8.0f);
  CHECK(s.original_max_position_embeddings == 64);
  CHECK(f.model.config.tied_embeddings);
  check_dense(f);
  (void)check_spiking(f, f.model);
}

TEST_CASE("qwen2-tiny: q/k/v biases match the reference forward", "[validation][families]") {
  Family f;
  if (!load_family("qwen2-tiny", f)) return;
  CHECK(f.model.config.qkv_bias);
  CHECK_FALSE(f.model.config.o_bias);
  CHECK(f.model.config.sliding_window.empty());  // use_sliding_window false
  check_dense(f);
  (void)check_spiking(f, f.model);
}

TEST_CASE("mistral-tiny: sliding-window attention matches the reference forward and replays fewer spikes",
          "[validation][families]") {
  Family f;
  if (!load_family("mistral-tiny", f)) return;
  CHECK(f.model.config.sliding_window == std::vector<int>(static_cast<std::size_t>(f.model.config.n_layers), 16));
  check_dense(f);
  const double windowed = check_spiking(f, f.model);
  LlamaModel unwindowed = f.model;
  unwindowed.config.sliding_window.clear();
  const double full = check_spiking(f, unwindowed);
  INFO("synaptic events per token: window 16 " << windowed << ", no window " << full);
  CHECK(windowed < full);
  // The window changes the result (96 tokens are well past 16).
  Transformer a(f.model, ForwardMode::dense, {}), b(unwindowed, ForwardMode::dense, {});
  CHECK((a.forward_sequence(f.row(0)) - b.forward_sequence(f.row(0))).cwiseAbs().maxCoeff() > 1e-3f);
}

TEST_CASE("llama3-tiny: a text prompt is tokenized with its tokenizer.json and the continuation decoded",
          "[validation][families][tokenizer_json]") {
  SPIKESIM_REQUIRE_SHARED(dir, "models/families/llama3-tiny");
  SPIKESIM_REQUIRE_SHARED(ref_file, "models/families/llama3-tiny/tokenizer_reference.json");
  // An English reference text of a few words: its ids are the reference's own.
  const auto reference = read_json(ref_file);
  const nlohmann::json* pick = nullptr;
  for (const auto& e : reference) {
    const auto& text = e.at("text").get_ref<const std::string&>();
    const auto n = e.at("ids").size();
    if (n >= 4 && n <= 24 && !text.empty() && std::isupper(static_cast<unsigned char>(text.front())) &&
        std::all_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x80; }))
      pick = &e;
  }
  REQUIRE(pick != nullptr);
  test::TempDir out("families_prompt");
  SimConfig cfg = default_config();
  cfg.model.path = dir.string();
  cfg.input.prompt = pick->at("text").get<std::string>();
  cfg.input.generate = 3;
  cfg.run.mode = ForwardMode::dense;
  cfg.run.progress = false;
  cfg.record.output = (out / "prompt.h5").string();
  std::string streamed;
  const RunOutcome o = run_simulation(cfg, [&](const std::string& piece) { streamed += piece; });

  // BOS (config.json's bos_token_id: this tokenizer.json names none), the
  // reference ids, then the generated ones.
  test::RawFile f(out / "prompt.h5");
  const auto tokens = test::dataset<std::uint32_t>(f, "/spikesim/tokens", H5T_NATIVE_UINT32);
  std::vector<int> expected = {128000};
  for (const auto& id : pick->at("ids")) expected.push_back(id.get<int>());
  REQUIRE(tokens.size() == expected.size() + 3);
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(tokens[i] == static_cast<std::uint32_t>(expected[i]));
  // The continuation is decoded text: what was streamed is what the summary holds.
  CHECK(o.summary.contains("generated_text"));
  CHECK(streamed.rfind(cfg.input.prompt, 0) == 0);
  CHECK(streamed.size() > cfg.input.prompt.size());
}
