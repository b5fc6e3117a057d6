#pragma once
// A synthetic LLaMA-shaped model: spikesim's default model, needing no files.
//
// SYNTHETIC: its weights are random draws, not a trained network; its
// logits mean nothing linguistically. It exists so that every feature runs
// and is testable without ../shared, and its shapes and statistics are
// close enough to a trained model to exercise the simulator:
//   - linear weights ~ N(0, 1/sqrt(fan_in)) (unit-variance outputs),
//   - embedding ~ N(0, 1), norm weights ~ 1 + N(0, 0.05²),
//   - `outlier_channels` residual channels (drawn at random) whose embedding
//     columns and norm weights are scaled by `outlier_scale`, so that
//     activation outliers exist for saliency to find (as in trained LLMs).
// The draws are deterministic for a seed on every platform: std::mt19937_64
// bits turned into normals by our own Box-Muller (std::normal_distribution
// differs between standard libraries). RoPE rotate-half, theta 10000,
// RMSNorm eps 1e-5, untied lm_head, BOS 1, EOS 2.
#include <cstdint>

#include "network/llama/model.hpp"

namespace spikesim {

struct GeneratedModelSpec {
  std::uint64_t seed = 1;
  int dim = 128;
  int hidden_dim = 384;
  int n_layers = 2;
  int n_heads = 4;
  int n_kv_heads = 2;
  int vocab = 256;
  int max_seq_len = 256;
  int outlier_channels = 4;
  float outlier_scale = 8.0f;
};

// Error(ExitCode::config) naming the field when the spec is inconsistent.
LlamaModel generate_model(const GeneratedModelSpec& spec);

}  // namespace spikesim
