#pragma once
// Dense (non-spiking) units of the LLaMA forward (DESIGN.md §2): RMSNorm,
// RoPE, softmax, SiLU gating, residual adds and the embedding lookup.
//
// They compute in fp32 the way transformers does, so the dense reference
// matches its logits, and each counts the arithmetic it performs into a
// DenseOpCounts (which may be null). Counting rules, per call:
//   rms_norm        n mul + n add (sum of squares), 1 div (mean), 1 add (eps),
//                   1 sqrt, 1 div (reciprocal), n mul (scale), n mul (weight)
//   apply_rope      per pair: 4 mul + 2 add (cos/sin come from a table and
//                   are not counted: they depend on the position only)
//   softmax         n-1 compare (max), n add (subtract max), n exp,
//                   n-1 add (sum), 1 div (reciprocal), n mul (normalise)
//   silu_mul        per element: 1 exp, 1 add, 1 div (g / (1 + e^-g)), 1 mul (× up)
//   residual_add    n add
//   embedding_lookup  no arithmetic (a row copy)
#include <Eigen/Core>

#include <span>
#include <vector>

#include "core/counters.hpp"
#include "core/matrix.hpp"
#include "core/weights/weight_tensor.hpp"

namespace spikesim {

// Which elements of a head RoPE rotates together: a property of the
// checkpoint (Hugging Face rotate-half, llama2.c and Meta interleaved).
enum class RopeStyle { rotate_half, interleaved };

// out = x / sqrt(mean(x²) + eps) ⊙ w. `out` may alias `x`.
void rms_norm(std::span<const float> x, const Eigen::VectorXf& w, float eps, std::span<float> out,
              DenseOpCounts* counts);

// How a checkpoint rescales RoPE frequencies for a longer context
// (transformers' rope_type). `none` is transformers' "default".
enum class RopeScalingType { none, linear, llama3 };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::none;
  float factor = 1.0f;                         // linear and llama3
  float low_freq_factor = 1.0f;                // llama3
  float high_freq_factor = 4.0f;               // llama3
  int original_max_position_embeddings = 8192; // llama3

  bool operator==(const RopeScaling&) const = default;
};

// RoPE inverse frequency of pair i of a head of size head_dim, as
// transformers computes it in fp32: 1 / theta^((2i) / head_dim), then
// rescaled as _compute_linear_scaling_rope_parameters (÷ factor) or
// _compute_llama3_parameters (long wavelengths ÷ factor, short ones kept,
// a smooth blend between) do.
float rope_inv_freq(int i, int head_dim, float theta, const RopeScaling& scaling = {});

// Rotates one head vector in place for position `pos`. rotate_half pairs
// element i with i + d/2 (Hugging Face), interleaved pairs 2i with 2i+1
// (llama2.c, Meta). Angles are pos × inv_freq in fp32, cos/sin in fp32.
void apply_rope(std::span<float> head_vec, int pos, float theta, RopeStyle style, DenseOpCounts* counts,
                const RopeScaling& scaling = {});

// cos/sin of every (position, pair) precomputed once; apply() gives exactly
// the same result as apply_rope().
class RopeTable {
 public:
  RopeTable() = default;
  RopeTable(int head_dim, float theta, int max_positions, const RopeScaling& scaling = {});
  void apply(std::span<float> head_vec, int pos, RopeStyle style, DenseOpCounts* counts) const;
  [[nodiscard]] int head_dim() const { return head_dim_; }
  [[nodiscard]] int max_positions() const { return max_positions_; }

 private:
  int head_dim_ = 0;
  int max_positions_ = 0;
  std::vector<float> cos_, sin_;  // [max_positions x head_dim/2]
};

// Rotation of one head with given cos/sin of each pair (shared by both paths).
void rotate_pairs(std::span<float> head_vec, const float* cos, const float* sin, RopeStyle style,
                  DenseOpCounts* counts);

// Numerically stable softmax (max subtracted) in place.
void softmax_inplace(std::span<float> x, DenseOpCounts* counts);

// out = SiLU(gate) ⊙ up. `out` may alias either input.
void silu_mul(std::span<const float> gate, std::span<const float> up, std::span<float> out,
              DenseOpCounts* counts);

// x += y.
void residual_add(std::span<float> x, std::span<const float> y, DenseOpCounts* counts);

// out = table.row(token) (dequantized); Error(ExitCode::data) when token is outside [0, rows).
void embedding_lookup(const WeightTensor& table, int token, std::span<float> out, DenseOpCounts* counts);

}  // namespace spikesim
