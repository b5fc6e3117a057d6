#pragma once
// A ternary projection: the weights are spike trains themselves
// (core/weights/weight_tensor.hpp "ternary", docs/concepts/weight-spiking.md):
// input i carries T_i steps B_k ∈ {−1, 0, +1} with scales α[k, j, g], and
// optionally (PB-LLM) sparse int8 salient weights σ_j · q_ji. An event
// (i, s) adds +s or −s into one integer accumulator per output where B ≠ 0:
// no multiplication, with GIF amplitudes or whole codes alike. The salient
// weights, where present, multiply: s · q_ji into a separate row.
//
// Accumulators: one integer row per (source threshold group a, α group g,
// step k), and one salient row per a:
//
//   P_{a,g,k,j} = Σ_{events (i, s), i ∈ a ∩ g, k < T_i} s · B_k[j, i]
//   Q_{a,j}     = Σ_{events (i, s), i ∈ a} s · q_ji
//
// and the read-out (dense work, counted):
//
//   y_j = Σ_a θ_a ( Σ_g Σ_k α_{k,j,g} (P_{a,g,k,j} − z_a C_{a,g,k,j}) + σ_j (Q_{a,j} − z_a R_{a,j}) ) + b_j
//   C_{a,g,k,j} = Σ_{i ∈ a ∩ g, k < T_i} B_k[j, i],   R_{a,j} = Σ_{i ∈ a} q_ji        (fixed at bind)
//
// which is Σ_a θ_a Σ_{i∈a} (V_i − z_a) · w_ji. Integer sums are exact in any
// order, so spiking equals quantized exactly and every thread count gives
// the same bits (network/int_projection.hpp, the model followed here).
//
// Overflow: |P| <= n_g · L_max (|B| <= 1, n_g the inputs of an α group,
// L_max = A·T of the source grid), |Q| <= d_in · L_max · 127; int32 rows when
// both bounds are below 2^31, else int64.
//
// Accounting (account_events): an event on input i costs additions(i) (its
// nonzero B over its steps) plus multiplications(i) (its salient weights)
// synaptic operations, not d_out: zero weights do no work. The additions
// are what additive_acs counts.
#include <span>
#include <string>
#include <vector>

#include "network/projection.hpp"

namespace spikesim {

class TernaryProjection final : public StaticProjection {
 public:
  TernaryProjection(std::string name, const WeightTensor& weights);

  [[nodiscard]] bool integer_synapses() const override { return true; }
  void bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups,
                   std::int64_t max_membrane) override;
  void prepare(Integrator& integrator) const override;
  void deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
               Integrator& target) const override;
  // 2 MACs per (a, g, k) row and output, 2 more per salient row, one per a.
  void read_out(const Integrator& integrator, const TokenScale& scale, std::span<const float> bias,
                std::span<float> y, DenseOpCounts* ops) const override;
  void account_events(std::span<const SpikeEvent> events, const EventSummary& summary,
                      OpCounts& counts) const override;
  [[nodiscard]] std::uint64_t synapses_of(NeuronId neuron) const override {
    return w_.additions(neuron) + w_.multiplications(neuron);
  }

  [[nodiscard]] bool wide() const { return wide_; }
  [[nodiscard]] std::int64_t accumulator_bound() const { return bound_; }

 private:
  [[nodiscard]] std::size_t step_rows() const {
    return groups_ * w_.groups() * static_cast<std::size_t>(w_.max_steps());
  }
  [[nodiscard]] std::size_t rows() const { return step_rows() + (w_.has_salient() ? groups_ : 0); }

  std::size_t groups_ = 0;
  bool wide_ = false;
  std::int64_t bound_ = 0;
  std::vector<std::int64_t> c_;  // [rows() x d_out]: C, then R
};

}  // namespace spikesim
