#pragma once
// The in-memory LLaMA model every loader produces and every forward reads.
// It lives below the loaders (io/formats/ includes it, network/ never
// includes io/), beside the mapper that turns it into a Network.
//
// Matrices keep PyTorch's nn.Linear layout: [out_features x in_features],
// row-major, fp32 (F16/BF16 checkpoints are widened on load). RoPE style is
// a property of the checkpoint: Hugging Face uses rotate-half (pairs i and
// i + head_dim/2), llama2.c interleaved pairs (2i, 2i+1).
#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

#include "core/matrix.hpp"
#include "network/dense_units.hpp"  // RopeStyle

namespace spikesim {

struct LlamaConfig {
  int dim = 0;          // hidden_size
  int hidden_dim = 0;   // intermediate_size (d_ff)
  int n_layers = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;     // given or dim / n_heads
  int vocab_size = 0;
  int max_seq_len = 0;
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  RopeStyle rope = RopeStyle::rotate_half;
  int bos_id = 1;
  int eos_id = 2;
  bool tied_embeddings = false;
};

struct LlamaLayer {
  Eigen::VectorXf attn_norm;  // [dim]
  MatrixRM wq;                // [n_heads*head_dim x dim]
  MatrixRM wk;                // [n_kv_heads*head_dim x dim]
  MatrixRM wv;                // [n_kv_heads*head_dim x dim]
  MatrixRM wo;                // [dim x n_heads*head_dim]
  Eigen::VectorXf ffn_norm;   // [dim]
  MatrixRM w_gate;            // [hidden_dim x dim]
  MatrixRM w_up;              // [hidden_dim x dim]
  MatrixRM w_down;            // [dim x hidden_dim]
};

struct LlamaModel {
  LlamaConfig config;
  MatrixRM embedding;         // [vocab x dim]
  std::vector<LlamaLayer> layers;
  Eigen::VectorXf final_norm; // [dim]
  MatrixRM lm_head;           // [vocab x dim] (a copy of embedding when tied)
  std::string source;         // path, or "generated:<spec>" for the synthetic model
  std::string format;         // "huggingface", "llama2c" or "generated"
};

// Checks that every matrix and vector of `model` has the shape its config
// implies and that the config is consistent (Error(ExitCode::model) naming
// `model.source` and the offending tensor otherwise). Used by every loader,
// the generated model and the forwards, so a hand-edited model fails early.
void validate_model(const LlamaModel& model);

}  // namespace spikesim
