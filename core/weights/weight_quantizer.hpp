#pragma once
// Weight quantization on float matrices: round-to-nearest (RTN) and GPTQ
// (Frantar et al., 2023; IST-DASLab gptq.py fasterquant and quant.py
// Quantizer). Packing the result into a typed weight tensor is not done here.
//
// The grid is GPTQ's min-max Quantizer, per row (output channel) or per group
// of `group` consecutive columns of a row:
//   xmin = min(min x, 0), xmax = max(max x, 0)    (the range always holds 0)
//   symmetric: xmax = max(|xmin|, xmax), and xmin = -xmax where xmin < 0
//   xmin == xmax == 0 (an all-zero group): xmin = -1, xmax = +1
//   scale = (xmax - xmin) / maxq, maxq = 2^bits - 1
//   zero = round(-xmin / scale); symmetric: zero = 2^(bits-1) = (maxq + 1) / 2
//   code = clamp(round(x / scale) + zero, 0, maxq), value = scale * (code - zero)
// all in float32 with ties to even, as the reference computes with torch, so
// scales, zeros and codes match a float32 implementation bit for bit.
//
// Kept from the reference on purpose: with `symmetric` a group with no
// negative value keeps xmin = 0, so scale = xmax / maxq while zero sits at
// mid-grid; values above (maxq - 1) / 2 * scale then clip (up to half the row
// maximum lost). Such groups are rare in trained weights; RTN and GPTQ share it.
#include "core/matrix.hpp"

#include <Eigen/Core>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace spikesim {

struct WeightQuantSpec {
  int bits = 4;            // 2..8
  int group = 0;           // columns (inputs) per scale group along a row; 0 = the whole row. A
                           // group that does not divide the columns leaves a shorter last group.
  bool symmetric = false;
};

// W ≈ scale[r, g] · (code[r, c] − zero[r, g]) for row r (output channel),
// column c in group g = c / group.
struct QuantizedWeights {
  int rows = 0, cols = 0, bits = 0, group = 0;  // group = cols when per channel
  bool symmetric = false;
  std::vector<std::uint8_t> codes;  // [rows x cols] row-major, each in [0, 2^bits − 1]
  std::vector<float> scales;        // [rows x groups] row-major
  std::vector<std::int16_t> zeros;  // [rows x groups], code units in [0, 2^bits − 1]; symmetric: 2^(bits−1)
  [[nodiscard]] int groups() const;           // ceil(cols / group): the last group may be shorter
  [[nodiscard]] int group_size(int g) const;  // columns of group g
  [[nodiscard]] MatrixRM dequantized() const;
};

// Min-max RTN. Refuses (ExitCode::config) bits outside 2..8 or a negative
// group, and (ExitCode::numeric) non-finite weights.
QuantizedWeights quantize_rtn(const MatrixRM& w, const WeightQuantSpec& spec);

// H = 2/n Σ x xᵀ over the n calibration rows x seen so far (the layer's
// inputs, one row per token), accumulated in double. The sum is kept
// unscaled and H is formed on the first hessian() after an add, so the
// accessor is not safe to call from two threads at once.
class HessianAccumulator {
 public:
  explicit HessianAccumulator(int cols);
  void add(std::span<const float> x);  // one row
  void add_rows(const MatrixRM& x);    // [n x cols]
  [[nodiscard]] const Eigen::MatrixXd& hessian() const;
  [[nodiscard]] std::size_t samples() const { return samples_; }
  [[nodiscard]] int cols() const { return static_cast<int>(sum_.rows()); }

 private:
  Eigen::MatrixXd sum_;  // Σ x xᵀ, lower triangle only
  std::size_t samples_ = 0;
  mutable Eigen::MatrixXd hessian_;
  mutable bool stale_ = true;
};

struct GptqOptions {
  double damp = 0.01;      // fraction of mean(diag H) added to the diagonal (percdamp)
  int block = 128;         // columns per lazy-batch block (blocksize)
  bool act_order = false;  // process columns by descending diag(H) (actorder)
};

// GPTQ as fasterquant with static_groups = False, on the same grid as RTN:
// - dead inputs (H[i,i] == 0) get H[i,i] = 1 and W[:, i] = 0;
// - H += damp · mean(diag H) · I; U = upper Cholesky factor of H⁻¹;
// - column by column within blocks of `block`: quantize, err = (w − q) / U[c,c],
//   update the block's later columns, then the columns after the block at once.
// Parameters: per channel (group 0) they are found once on the weights as
// given (before dead columns are zeroed, as the reference does). With groups
// (group > 0, group = cols included) they are found when c % group == 0 on
// columns [c, c + group) of W as it stood at the start of the current block
// (the reference reads its block-level W there, not the block's running copy).
// act_order sorts by descending diag(H) with a stable sort: tied columns keep
// their order (torch.argsort leaves ties unspecified).
// act_order with groups: the reference would find a group's parameters on
// `group` consecutive *permuted* columns, which are scattered original
// columns, and our storage needs a group to be consecutive original columns.
// So act_order + group uses the reference's static_groups = True variant:
// every group's parameters are found up front on the original column order
// (after dead columns are zeroed) and columns are then processed in act order.
// Arithmetic: H, H⁻¹ and the running weights and errors are double (the
// reference uses float32 throughout); each value is rounded to float32 before
// its grid parameters and code are computed, so a diagonal H gives exactly the
// RTN result. U is computed as J·chol(J·H·J)⁻¹·J with J the reversal
// permutation: equal to the reference's chol(chol_inverse(chol(H)), upper)
// in exact arithmetic, for one factorization instead of two and no full inverse.
// Rows are independent given U and run in parallel (TBB).
// Refuses (ExitCode::config) a bad spec, a hessian that is not cols x cols,
// a negative or non-finite damp, block < 1, and a Cholesky failure (increase
// damp); (ExitCode::numeric) non-finite weights or hessian.
QuantizedWeights quantize_gptq(const MatrixRM& w, const Eigen::MatrixXd& hessian,
                               const WeightQuantSpec& spec, const GptqOptions& options = {});

// The upper triangular U with Uᵀ U = H⁻¹ (GPTQ's Cholesky factor of the
// inverse; quantize_gptq's and the ternary quantizers' compensation). `h`
// already damped. Refuses (ExitCode::config) a Hessian that is not positive
// definite.
Eigen::MatrixXd gptq_upper_factor(const Eigen::MatrixXd& h);

}  // namespace spikesim
