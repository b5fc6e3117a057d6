#pragma once
// The in-memory LLaMA model every loader produces and every forward reads.
// It lives below the loaders (io/formats/ includes it, network/ never
// includes io/), beside the mapper that turns it into a Network.
//
// Weights are typed tensors (core/weights/weight_tensor.hpp), each held
// once in the element type it was loaded or quantized to: [out_features x
// in_features] as nn.Linear has them, linear layers stored by input (the
// order event delivery streams), the embedding and lm_head by output (the
// order a lookup and a dot product read, and the order files store them in,
// so they may be mapped from the file). RoPE style is
// a property of the checkpoint: Hugging Face uses rotate-half (pairs i and
// i + head_dim/2), llama2.c interleaved pairs (2i, 2i+1).
//
// The variants of today's LLaMA family (docs/reference/model-families.md)
// differ from LLaMA only in what the config below holds: RoPE scaling
// (Llama 3), attention biases (Qwen2, attention_bias) and sliding-window
// attention (Mistral, Qwen2).
#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

#include "core/weights/weight_tensor.hpp"
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
  RopeScaling rope_scaling;       // inv_freq rescaling (network/dense_units.hpp)
  RopeStyle rope = RopeStyle::rotate_half;
  bool qkv_bias = false;          // q/k/v projections add a bias (Qwen2, attention_bias)
  bool o_bias = false;            // o projection adds a bias (attention_bias)
  // Per layer: how many of the latest positions a token attends to, itself
  // included (0 = all). Empty: no layer has a window.
  std::vector<int> sliding_window;
  int bos_id = 1;
  int eos_id = 2;
  bool tied_embeddings = false;

  // Positions a token at `pos` attends to in `layer`.
  [[nodiscard]] int attended_positions(int layer, int pos) const {
    const int w = sliding_window.empty() ? 0 : sliding_window[static_cast<std::size_t>(layer)];
    return w > 0 && pos + 1 > w ? w : pos + 1;
  }
  [[nodiscard]] int window_of(int layer) const {
    return sliding_window.empty() ? 0 : sliding_window[static_cast<std::size_t>(layer)];
  }
};

struct LlamaLayer {
  Eigen::VectorXf attn_norm;  // [dim]
  WeightTensor wq;               // [n_heads*head_dim x dim]
  WeightTensor wk;               // [n_kv_heads*head_dim x dim]
  WeightTensor wv;               // [n_kv_heads*head_dim x dim]
  WeightTensor wo;               // [dim x n_heads*head_dim]
  // Biases, empty when the config has none (config.qkv_bias, config.o_bias).
  Eigen::VectorXf bq;         // [n_heads*head_dim]
  Eigen::VectorXf bk;         // [n_kv_heads*head_dim]
  Eigen::VectorXf bv;         // [n_kv_heads*head_dim]
  Eigen::VectorXf bo;         // [dim]
  Eigen::VectorXf ffn_norm;   // [dim]
  WeightTensor w_gate;           // [hidden_dim x dim]
  WeightTensor w_up;             // [hidden_dim x dim]
  WeightTensor w_down;           // [dim x hidden_dim]
};

struct LlamaModel {
  LlamaConfig config;
  WeightTensor embedding;     // [vocab x dim], by output
  std::vector<LlamaLayer> layers;
  Eigen::VectorXf final_norm; // [dim]
  WeightTensor lm_head;       // [vocab x dim], by output (the embedding's storage when tied)
  std::string source;         // path, or "generated:<spec>" for the synthetic model
  std::string format;         // "huggingface", "llama2c" or "generated"
};

// Checks that every matrix and vector of `model` has the shape its config
// implies and that the config is consistent (Error(ExitCode::model) naming
// `model.source` and the offending tensor otherwise). Used by every loader,
// the generated model and the forwards, so a hand-edited model fails early.
void validate_model(const LlamaModel& model);

// Parameters: every matrix and vector of the model (a tied lm_head counts
// once per use).
std::uint64_t parameter_count(const LlamaModel& model);
// Bytes the weights occupy as stored (a tied lm_head once), norms and biases as fp32.
std::uint64_t weight_bytes(const LlamaModel& model);
// The format of the linear layers ("f32", "int4 g128 asym"; several joined
// by ", " when layers differ), for summaries.
std::string weights_format(const LlamaModel& model);
// The model's linear layers, with their names ("layer0.wq", ..., "w_lm_head").
std::vector<std::pair<std::string, const WeightTensor*>> linear_weights(const LlamaModel& model);

// Ranks (core/partition.hpp): replaces every linear layer and the lm_head
// by this rank's rows of it and frees the rest (a tied lm_head keeps the
// embedding, which every rank holds whole). Error(config) when a tensor
// has fewer rows than there are ranks, naming it.
void keep_rank_rows(LlamaModel& model, RankShape ranks);

}  // namespace spikesim
