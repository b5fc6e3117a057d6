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
