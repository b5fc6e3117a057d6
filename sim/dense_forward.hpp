#pragma once
// The dense fp32 reference forward of a LlamaModel (DESIGN.md §3 "dense-equivalent").
//
// One token at a time with a KV cache, computing exactly what transformers'
// LlamaForCausalLM computes in fp32: RMSNorm -> q,k,v -> RoPE -> causal
// attention with GQA (query head h reads KV head h / (n_heads / n_kv_heads),
// scores scaled by 1/sqrt(head_dim), softmax in fp32) -> o_proj -> residual
// -> RMSNorm -> SiLU(gate) * up -> down -> residual; final norm, lm_head.
// The validation tests hold it to transformers' logits within 1e-3.
//
// Every operation is counted: d_in*d_out MACs per linear layer per token,
// (pos+1)*head_dim MACs per head for QK^T and for PV, (pos+1) multiplies for
// the score scaling, and the dense units as network/dense_units.hpp counts
// them. Counts accumulate across forwards until reset_counts(), per layer
// and outside the layers (embedding, final norm, lm_head).
#include <span>
#include <vector>

#include "core/counters.hpp"
#include "network/llama/model.hpp"
#include "network/dense_units.hpp"

namespace spikesim {

class DenseTransformer {
 public:
  // Keeps a reference: `model` must outlive the transformer.
  explicit DenseTransformer(const LlamaModel& model);

  // Forgets the KV cache (counts are kept; see reset_counts).
  void reset();
  // Logits [vocab] of `token` at position `pos`. Positions must be fed in
  // order: pos == cached_positions() (or smaller, which rewinds the cache).
  // Error(ExitCode::data) for a token outside the vocabulary or pos >= max_seq_len.
  void forward(int token, int pos, std::span<float> logits);
  // reset(), then logits [n x vocab] of tokens at positions 0..n-1.
  MatrixRM forward_sequence(std::span<const int> tokens);

  [[nodiscard]] int cached_positions() const { return cached_; }
  [[nodiscard]] const LlamaModel& model() const { return model_; }

  [[nodiscard]] DenseOpCounts counts() const;  // everything
  [[nodiscard]] const std::vector<DenseOpCounts>& layer_counts() const { return layer_counts_; }
  [[nodiscard]] const DenseOpCounts& outside_layer_counts() const { return outside_counts_; }
  [[nodiscard]] OpCounts op_counts() const;  // counts() as the dense part of an OpCounts
  void reset_counts();

 private:
  void attention(int layer, int pos, DenseOpCounts& c);

  const LlamaModel& model_;
  RopeTable rope_;
  float attn_scale_;
  int cached_ = 0;
  std::vector<MatrixRM> k_cache_, v_cache_;  // per layer [max_seq_len x kv_dim], RoPE applied to K
  Eigen::VectorXf x_, xb_, q_, k_, v_, att_, proj_, gate_, up_, scores_;
  std::vector<DenseOpCounts> layer_counts_;
  DenseOpCounts outside_counts_;
};

}  // namespace spikesim
