#pragma once
// A synthetic LLaMA-shaped model: spikesim's default model, needing no files.
//
// SYNTHETIC: its weights are random draws, not a trained network; its
// logits mean nothing linguistically. It exists so that every feature runs
// and is testable without ../shared, and its shapes and statistics are
// close enough to a trained model to exercise the simulator:
//   - linear weights ~ N(0, 1/sqrt(fan_in)) (unit-variance outputs),
//   - embedding ~ N(0, 1), norm weights ~ 1 + N(0, 0.05²),
//   - `outliers` residual channels (drawn at random) whose embedding
//     columns and norm weights are scaled by `outlier_scale`, so that
//     activation outliers exist for saliency to find (as in trained LLMs).
// The draws are deterministic for a seed on every platform: std::mt19937_64
// bits turned into normals by our own Box-Muller (std::normal_distribution
// differs between standard libraries). RoPE rotate-half, theta 10000,
// RMSNorm eps 1e-5, untied lm_head, BOS 1, EOS 2.
//
// Element type (`dtype`, DESIGN.md §7):
//   f32        one mt19937_64 stream for the whole model, drawn in order
//              (outlier channels, embedding, then per layer attn_norm, wq,
//              wk, wv, wo, ffn_norm, w_gate, w_up, w_down, then final_norm
//              and lm_head): the draws tests pin (tests/unit/
//              test_loaders.cpp). Sequential; meant for small models.
//   bf16, f16, int8, int4
//              drawn in parallel (TBB) straight into the type: tensor t
//              (numbered in the order above, from 1) is cut into blocks of
//              16 output rows, and block b draws its rows from its own
//              mt19937_64 seeded with a counter-based hash (splitmix64) of
//              (seed, t, b). Blocks run in any order on any thread, so the
//              weights do not depend on the thread count. Values are
//              Irwin-Hall normals (the sum of the four 16-bit quarters of
//              one engine output, centred and scaled: mean and variance
//              exact, tails cut at ±3.46 sigma), many times cheaper than
//              Box-Muller at 6.7e9 weights. Float blocks are rounded to
//              bf16/f16 (one tensor's fp32 values exist at a time); integer
//              blocks are RTN-quantized (min-max, asymmetric, `group`
//              inputs per scale, 0 = one group per output channel:
//              core/weights/weight_quantizer.hpp) as they are drawn, so a
//              tensor is gathered as 1-byte codes, scales and zero points.
//              No whole fp32 copy of the model ever exists. Norm vectors
//              draw (Box-Muller) from their own stream (seed, t, 0); the
//              outlier channels are f32's (the first draws of the seed).
//              So a bf16 model is NOT the bf16 rounding of the f32 model of
//              the same seed: the streams differ; the statistics match.
//   Embedding and lm_head: the dtype itself for bf16/f16, and bf16 for
//   int8/int4 (SpikeLLM's W4A4 leaves them unquantized; bf16 halves a 7B
//   vocabulary's cost). Linear layers by input, embedding and lm_head by
//   output, as every loader stores them.
#include <cstdint>

#include "network/llama/model.hpp"

namespace spikesim {

// Also the [generated] section of the run config (io/config/config.hpp):
// one struct, its fields named as the config keys.
struct GeneratedModelSpec {
  std::uint64_t seed = 1;
  int dim = 128;
  int hidden_dim = 384;
  int layers = 2;
  int heads = 4;
  int kv_heads = 2;
  int vocab = 256;
  int max_seq_len = 256;
  int outliers = 4;  // outlier channels
  double outlier_scale = 8.0;
  WeightType dtype = WeightType::f32;  // element type of the weights (see above)
  int group = 128;                     // int8/int4: inputs per scale group; 0 = per output channel
  bool operator==(const GeneratedModelSpec&) const = default;
};

// Error(ExitCode::config) naming the field when the spec is inconsistent.
LlamaModel generate_model(const GeneratedModelSpec& spec);
// The model's config alone, without drawing a weight (graph, memory estimate).
LlamaConfig generated_config(const GeneratedModelSpec& spec);

}  // namespace spikesim
