// Why this benchmark exists: the cost of simulating a spiking LLM token by
// token, relative to the dense fp32 forward of the same model in the same
// binary and run. It reports time per token of the dense and the spiking
// forward and their ratio, with 1 and 2 threads, for stories260K and
// brown-llama-s (if ../shared is present) and for generated models with
// LLaMA-7B layer shapes (d 4096, d_ff 11008, 32 heads, 1 and 2 layers); and
// the dense forward's tokens/s (llama2.c's run.c evaluates stories260K at
// about 15,000 tokens/s on one core of the development machine).
//
// Run: ./build/bench/transformer_bench [--shared DIR] [--tokens N] [--skip-7b]
#include <tbb/global_control.h>

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "io/formats/generated_model.hpp"
#include "io/formats/model_loader.hpp"
#include "sim/transformer.hpp"

using namespace spikesim;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_per_token(Transformer& t, int tokens) {
  t.reset();
  std::vector<float> logits(static_cast<std::size_t>(t.model().config.vocab_size));
  const auto t0 = Clock::now();
  for (int p = 0; p < tokens; ++p) t.forward((p * 7 + 1) % t.model().config.vocab_size, p, logits);
  return std::chrono::duration<double>(Clock::now() - t0).count() / tokens;
}

void bench(const std::string& name, const LlamaModel& model, int tokens) {
  EncodingSpec enc;  // A4, addbit 1, low_p 0.9; uniform saliency keeps setup cheap and is timed the same
  enc.saliency = SaliencyMethod::uniform;
  for (int threads : {1, 2}) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    Transformer dense(model, ForwardMode::dense, enc);
    Transformer spiking(model, ForwardMode::spiking, enc);
    (void)seconds_per_token(dense, 2);  // warm-up: page in the weights
    (void)seconds_per_token(spiking, 2);
    const double d = seconds_per_token(dense, tokens);
    const double s = seconds_per_token(spiking, tokens);
    fmt::print("{:<22} {:>7} {:>14.3f} {:>14.3f} {:>10.2f} {:>12.0f}\n", name, threads, d * 1e3, s * 1e3, s / d,
               1.0 / d);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::filesystem::path shared = "../shared";
  int tokens = 16;
  bool skip_7b = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--shared" && i + 1 < argc) shared = argv[++i];
    else if (a == "--tokens" && i + 1 < argc) tokens = std::max(1, std::stoi(argv[++i]));
    else if (a == "--skip-7b") skip_7b = true;
  }
  fmt::print("{:<22} {:>7} {:>14} {:>14} {:>10} {:>12}\n", "model", "threads", "dense ms/tok", "spiking ms/tok",
             "ratio", "dense tok/s");
  const auto stories = shared / "models/stories260K/stories260K.bin";
  if (std::filesystem::exists(stories)) bench("stories260K", load_model(stories), tokens * 16);
  const auto brown = shared / "models/brown-llama-s";
  if (std::filesystem::exists(brown / "model.safetensors")) bench("brown-llama-s", load_model(brown), tokens * 4);
  if (skip_7b) return 0;
  for (int layers : {1, 2}) {
    GeneratedModelSpec spec;
    spec.dim = 4096;
    spec.hidden_dim = 11008;
    spec.layers = layers;
    spec.heads = 32;
    spec.kv_heads = 32;
    spec.vocab = 512;  // a small vocabulary keeps the (dense) lm_head out of the comparison
    spec.max_seq_len = 64;
    bench(fmt::format("7B-shape, {} layer{}", layers, layers > 1 ? "s" : ""), generate_model(spec), tokens);
  }
  return 0;
}
