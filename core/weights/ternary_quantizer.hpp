#pragma once
// Ternary weight spike trains (DESIGN.md §1 "Weight spiking",
// docs/concepts/weight-spiking.md) and the PB-LLM baseline, on float
// matrices [rows = outputs x cols = inputs]; WeightTensor::from_ternary
// stores the result.
//
// SpikeLLM ternary: input column c gets T_c ternary steps,
//   w[r, c] ≈ Σ_{k<T_c} α[k, r, g] · B_k[r, c],  B_k ∈ {−1, 0, +1}
// each step ternarizing the residual the earlier steps left. For a fixed α
// the best B of a residual x is the nearest of {−α, 0, α}: sign(x) where
// |x| > α/2. α of step k, per output row and input group g, starts at TWN's
// rule (Δ = 0.7·mean|x|, α = mean of |x| over |x| > Δ) on the residuals of
// the group's inputs that have a k-th step, then three Lloyd rounds
// (α = mean |x| over |x| > α/2): each round lowers the squared error of the
// step, which TWN's closed form only approximates.
// Steps per column: every column gets one; the rest of the budget
// round(equal_steps · cols) goes greedily, one step at a time, to the column
// with the largest saliency · ρ^(T_c − 1) (ρ = 1/4: a ternary step leaves
// about a quarter of the squared residual of Gaussian-like weights, so a
// column's next step is worth a quarter of its last), capped at max_steps;
// ties go to the lower column index. With max_steps = 2 this is "the top
// (equal_steps − 1) fraction of columns get two steps".
// Saliency of column c:
//   hessian  Σ_r w[r, c]² / [H⁻¹]_cc   (the OBS error of dropping the column,
//            GPTQ / PB-LLM's metric, with the damped H)
//   obs      mean over tokens of ((X Wᵀ W) ⊙ X)_c = (H Wᵀ W)_cc / 2, the
//            Optimal Brain Spiking activation saliency (DESIGN.md §1)
//   none     uniform: equal_steps must then be a whole number
// Compensation (compensate): GPTQ's column loop without act-order
// (weight_quantizer.hpp, same damping and dead inputs): the α's of a group
// are found when its first column comes, from the weights as updated so far,
// and each column's error (w − ŵ) / U_cc is spread over the later columns.
// Without compensation the α's come from the weights as given (TWN).
//
// PB-LLM (Shang et al., 2023): in each α group (per output channel by
// default) the fraction `salient_fraction` of each row's weights with the
// largest w² / U_cc² (PB-LLM's metric) is kept as symmetric int8 codes with
// one scale per row (max |w| / 127 of the row); the others are binarized to
// α · sign(w) with α = mean |w| of the group's non-salient weights; GPTQ
// compensation as above. Deviation: PB-LLM picks salient weights over a
// whole column block of all rows; here over each row of an α group, so that
// rows stay independent and the bits do not depend on the thread count.
#include <Eigen/Core>

#include <cstdint>
#include <span>
#include <vector>

#include "core/matrix.hpp"
#include "core/weights/weight_quantizer.hpp"
#include "core/weights/weight_tensor.hpp"

namespace spikesim {

enum class ColumnSaliency : std::uint8_t { hessian, obs, none };

struct TernarySpec {
  double equal_steps = 1.4;  // mean steps per column, 1..max_steps
  int max_steps = 2;         // 1..8
  int group = 0;             // inputs per α group; 0 = per output channel
  ColumnSaliency saliency = ColumnSaliency::hessian;
  bool compensate = true;  // GPTQ error compensation (else plain TWN steps)
};

struct PbllmSpec {
  double salient_fraction = 0.1;  // of each row's weights kept at 8 bits, 0..1
  int group = 0;
  bool compensate = true;
};

// Owns what TernaryWeights views.
struct TernaryResult {
  int rows = 0, cols = 0, group = 0, max_steps = 0;
  std::vector<std::uint8_t> steps;
  std::vector<std::int8_t> planes;   // [max_steps x rows x cols]
  std::vector<float> alphas;         // [max_steps x rows x groups]
  std::vector<std::int8_t> salient;  // [rows x cols] or empty
  std::vector<float> salient_scales;
  [[nodiscard]] TernaryWeights view() const;
  // Σ_k α B + σ q in float, in the order WeightTensor::value sums.
  [[nodiscard]] MatrixRM dequantized() const;
};

// Steps per column for `saliency` (see the header comment). Refuses
// (ExitCode::config, naming weights.steps / weights.max_steps) a budget
// outside 1..max_steps and, with uniform saliency, a fractional one.
std::vector<std::uint8_t> allocate_steps(std::span<const double> saliency, double equal_steps, int max_steps,
                                         bool uniform);

// Column saliency from the calibration Hessian H = 2/n XᵀX (undamped).
std::vector<double> column_saliency(const MatrixRM& w, const Eigen::MatrixXd& hessian, ColumnSaliency kind,
                                    double damp);

// `hessian` may be null only with saliency none and compensate off.
TernaryResult quantize_ternary(const MatrixRM& w, const Eigen::MatrixXd* hessian, const TernarySpec& spec,
                               const GptqOptions& options = {});
TernaryResult quantize_pbllm(const MatrixRM& w, const Eigen::MatrixXd& hessian, const PbllmSpec& spec,
                             const GptqOptions& options = {});

}  // namespace spikesim
