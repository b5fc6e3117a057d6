#pragma once
// Integrators: the postsynaptic accumulators of one projection.
//
// A projection fed by a population whose neurons fall into G threshold
// groups (see neurons/gif_grid.hpp) keeps G rows of d_out accumulators:
// acc_{g,j} = Σ_{events from group g} s · W[j, i]. Read-out applies each
// group's θ and zero point (DESIGN.md §2):
//
//   y_j = Σ_g θ_g · (acc_{g,j} - z_g · Σ_{i∈g} W[j, i]) + b_j
//
// The correction term is dense work and is counted as such.
//
// Accumulators are double: a product s·w of an integer amplitude (< 2^17)
// and a float weight is exact in double, so the sum barely depends on the
// order events arrive in. That is what lets the spiking run equal the
// quantized reference (which applies each channel's whole code at once):
// a float accumulator would differ in the last bits, and on a 4-bit grid a
// last-bit difference that lands on a rounding boundary flips a level in the
// next encoder, which the KV cache then carries to every later position.
#include <Eigen/Core>

#include <span>
#include <vector>

#include "core/counters.hpp"
#include "neurons/gif_grid.hpp"

namespace spikesim {

class Integrator {
 public:
  Integrator() = default;
  Integrator(std::size_t groups, std::size_t outputs) { resize(groups, outputs); }

  void resize(std::size_t groups, std::size_t outputs);
  void clear();  // start of a token

  [[nodiscard]] std::size_t groups() const { return groups_; }
  [[nodiscard]] std::size_t outputs() const { return outputs_; }
  double* row(std::size_t g) { return acc_.data() + g * outputs_; }
  [[nodiscard]] const double* row(std::size_t g) const { return acc_.data() + g * outputs_; }

  // y = Σ_g θ_g (acc_g - z_g colsum_g) (+ bias when non-empty). `group_colsum`
  // is [G x d_out] row-major. Counts 2·G·d_out MACs (+ d_out adds for a bias).
  void read_out(const TokenScale& scale, std::span<const double> group_colsum, std::span<const float> bias,
                std::span<float> y, DenseOpCounts* ops) const;

 private:
  std::size_t groups_ = 0;
  std::size_t outputs_ = 0;
  std::vector<double> acc_;
};

}  // namespace spikesim
