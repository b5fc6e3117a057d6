// Why this benchmark exists: issue 10 item 7 asks whether a LLaMA-7B-shape
// model runs as a spiking simulation on one machine, in how much memory and
// how close to the weight-streaming limit. It generates a model with
// LLaMA-7B's config (32 layers, d 4096, d_ff 11008, 32 heads, 32 KV heads,
// vocab 32000, max_seq_len 2048; synthetic weights, io/formats/
// generated_model.hpp) in bf16 and/or int4 g128, runs the spiking
// Transformer (encoding A4, uniform saliency: no calibration) for a few
// tokens and prints, per format:
//   generation time, construction time, tokens/s of the spiking forward,
//   peak RSS (VmHWM) and the memory estimate of `spikesim run` for the same
//   config (sim/memory_estimate.hpp) with their ratio (flagged outside 20%),
//   weight bytes per token (every linear layer as stored + one embedding row
//   + the lm_head), the read-only bandwidth of a large array sum (TBB)
//   measured in the same run, and tokens/s ÷ (bandwidth ÷ bytes per token):
//   the fraction of the weight-streaming limit reached.
// With both formats (the default) each runs in its own process, so that
// each peak RSS is its own.
//
// Run: /usr/bin/time -v ./build/bench/llama7b_bench [--format bf16|int4|both]
//        [--tokens N] [--layers L] [--vocab V]
// (--layers/--vocab shrink the model for a quick check; the estimate follows.)
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench/array_sum.hpp"
#include "io/config/config.hpp"
#include "io/formats/generated_model.hpp"
#include "sim/memory_estimate.hpp"
#include "sim/transformer.hpp"

using namespace spikesim;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Read-only bandwidth (bytes/s): the best of `reps` sums of a 256 MiB array
// (far beyond the last-level cache), as bench/delivery_bench.cpp measures
// it. Measured before the model exists and freed at once, so it neither
// competes for memory nor raises the peak above a 7B model's (with a tiny
// --layers/--vocab model it can be the peak).
double read_bandwidth(int reps) {
  std::vector<std::uint64_t> a((std::size_t{1} << 28) / 8, 1);
  double best = 1e30;
  volatile std::uint64_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    sink = sink + bench::array_sum(a);
    best = std::min(best, seconds_since(t0));
  }
  return static_cast<double>(a.size() * 8) / best;
}


// Bytes one token streams: every linear layer as stored, one embedding row
// and the whole lm_head (dense read-out).
std::uint64_t weight_bytes_per_token(const LlamaModel& m) {
  std::uint64_t bytes = m.embedding.stored_bytes() / m.embedding.rows() + m.lm_head.stored_bytes();
  for (const LlamaLayer& l : m.layers)
    for (const WeightTensor* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down})
      bytes += w->stored_bytes();
  return bytes;
}

int run_one(WeightType dtype, int tokens, int layers, int vocab) {
  GeneratedModelConfig spec;  // LLaMA-7B's config
  spec.dim = 4096;
  spec.hidden_dim = 11008;
  spec.layers = layers;
  spec.heads = 32;
  spec.kv_heads = 32;
  spec.vocab = vocab;
  spec.max_seq_len = 2048;
  spec.dtype = dtype;
  spec.group = 128;

  // The same run as `spikesim run` would estimate: spiking, A4, uniform
  // saliency, no recording.
  SimConfig cfg = default_config();
  cfg.model.path = "generated";
  cfg.generated = spec;
  cfg.run.mode = ForwardMode::spiking;
  cfg.run.tokens = tokens;
  cfg.encoding.saliency = SaliencyMethod::uniform;
  cfg.record.enabled = false;
  const MemoryEstimate estimate = estimate_run_memory(cfg, generated_config(spec));

  const double bandwidth = read_bandwidth(5);

  auto t0 = Clock::now();
  const LlamaModel model = generate_model(spec);
  const double generation_s = seconds_since(t0);

  t0 = Clock::now();
  Transformer net(model, ForwardMode::spiking, cfg.encoding);
  const double construct_s = seconds_since(t0);

  std::vector<float> logits(static_cast<std::size_t>(model.config.vocab_size));
  std::vector<double> token_s;
  t0 = Clock::now();
  for (int p = 0; p < tokens; ++p) {
    const auto tt = Clock::now();
    net.forward((p * 7 + 1) % model.config.vocab_size, p, logits);
    token_s.push_back(seconds_since(tt));
  }
  const double run_s = seconds_since(t0);
  const double tokens_per_s = tokens / run_s;
  const std::uint64_t peak = peak_rss();
  const std::uint64_t per_token = weight_bytes_per_token(model);
  const double limit_tokens_per_s = bandwidth / static_cast<double>(per_token);
  const double ratio = static_cast<double>(estimate.total()) / static_cast<double>(peak);

  fmt::print("format {} ({}), {} layers, vocab {}: {} tokens\n", weight_type_name(dtype), weights_format(model),
             layers, vocab, tokens);
  fmt::print("  generation            {:.1f} s\n", generation_s);
  fmt::print("  Transformer setup     {:.1f} s\n", construct_s);
  fmt::print("  spiking forward       {:.2f} s ({:.3f} tokens/s; per token:", run_s, tokens_per_s);
  for (double s : token_s) fmt::print(" {:.2f}", s);
  fmt::print(" s)\n");
  fmt::print("  peak RSS (VmHWM)      {}\n", format_bytes(peak));
  fmt::print("  memory estimate       {} ({}); estimate / peak = {:.3f}{}\n", format_bytes(estimate.total()),
             estimate.breakdown(), ratio, std::abs(ratio - 1.0) > 0.2 ? "  OUTSIDE 20%" : "");
  fmt::print("  model weight_bytes()  {}\n", format_bytes(weight_bytes(model)));
  fmt::print("  weight bytes/token    {} ({:.3f} GB)\n", per_token, static_cast<double>(per_token) / 1e9);
  fmt::print("  read bandwidth        {:.2f} GB/s (256 MiB array sum, TBB)\n", bandwidth / 1e9);
  fmt::print("  streaming limit       {:.3f} tokens/s; reached {:.3f} of it\n", limit_tokens_per_s,
             tokens_per_s / limit_tokens_per_s);
  fmt::print("  TABLE | {} | {:.1f} | {:.3f} | {} | {} | {:.3f} | {:.3f} GB | {:.2f} | {:.3f}\n",
             weight_type_name(dtype), generation_s, tokens_per_s, format_bytes(peak), format_bytes(estimate.total()),
             ratio, static_cast<double>(per_token) / 1e9, bandwidth / 1e9, tokens_per_s / limit_tokens_per_s);
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string format = "both";
  int tokens = 4, layers = 32, vocab = 32000;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--format") format = argv[++i];
    else if (a == "--tokens") tokens = std::max(1, std::stoi(argv[++i]));
    else if (a == "--layers") layers = std::max(1, std::stoi(argv[++i]));
    else if (a == "--vocab") vocab = std::max(2, std::stoi(argv[++i]));
  }
  try {
    if (format == "both") {
      // One process per format, so each peak RSS is that format's alone.
      int status = 0;
      for (const char* f : {"bf16", "int4"})
        status |= std::system(fmt::format("'{}' --format {} --tokens {} --layers {} --vocab {}", argv[0], f, tokens,
                                          layers, vocab)
                                  .c_str());
      return status == 0 ? 0 : 1;
    }
    if (format != "bf16" && format != "int4") {
      fmt::print(stderr, "--format: expected bf16, int4 or both, got '{}'\n", format);
      return 2;
    }
    return run_one(parse_weight_type(format, "--format"), tokens, layers, vocab);
  } catch (const std::exception& e) {
    fmt::print(stderr, "llama7b_bench: {}\n", e.what());
    return 1;
  }
}
