#pragma once
// An integer projection: all-to-all static synapses with integer weights
// (int8 or int4 codes c with per-group scales s and zero points z, held by
// the model: core/weights/weight_tensor.hpp), w_ji = s_jk · (c_ji − z_jk)
// for input i in weight group k. With GIF spike amplitudes, every synaptic
// operation is integer arithmetic (DESIGN.md §7).
//
// Accumulators: one integer row per (source threshold group a, weight group
// k) pair, and one integer amplitude sum per row:
//
//   P_{a,k,j} = Σ_{events (i, s), i ∈ a ∩ k} s · c_ji      S_{a,k} = Σ s
//
// Integer sums are exact in any order, so the spiking run (T steps of
// spikes) and the quantized reference (each channel's whole code at once)
// leave *equal* accumulators, and every thread count gives the same bits.
// Scales apply at read-out, as dense work:
//
//   y_j = Σ_a θ_a · ( Σ_k s_jk (P_{a,k,j} − z_jk S_{a,k}) − z_a D_{a,j} + z_a E_{a,j} ) + b_j
//   D_{a,j} = Σ_k s_jk Σ_{i∈a∩k} c_ji,   E_{a,j} = Σ_k s_jk z_jk |a ∩ k|     (fixed at bind)
//
// which is Σ_a θ_a Σ_{i∈a} (V_i − z_a) · w_ji for membranes V_i on the GIF grid.
//
// Overflow: |P| <= Σ_i |V_i| · |c| <= n_k · L_max · c_max, with n_k the
// inputs of a weight group, L_max = A·T the largest membrane of the source
// grid and c_max = 128 (int8) or 15 (int4). When that bound is below 2^31
// the rows are int32, else int64 (bind_groups chooses; `wide()` tells).
// Four events per pass add at most the same bound, so no intermediate
// overflows either.
#include <span>
#include <string>
#include <vector>

#include "core/weights/weight_tensor.hpp"
#include "network/integrator.hpp"
#include "network/projection.hpp"

namespace spikesim {

class IntProjection final : public StaticProjection {
 public:
  // `weights` by_input, int8 or int4.
  IntProjection(std::string name, const WeightTensor& weights);

  [[nodiscard]] bool integer_synapses() const override { return true; }

  // The source's threshold groups and the largest membrane |V| its neurons
  // can hold (the overflow bound above).
  void bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups, std::int64_t max_membrane) override;
  void prepare(Integrator& integrator) const override;
  void deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
               Integrator& target) const override;
  // The read-out above: 2·G·(K + 1)·d_out MACs (+ d_out adds for a bias).
  void read_out(const Integrator& integrator, const TokenScale& scale, std::span<const float> bias,
                std::span<float> y, DenseOpCounts* ops) const override;

  [[nodiscard]] bool wide() const { return wide_; }
  // The overflow bound n_k · L_max · c_max for the bound source.
  [[nodiscard]] std::int64_t accumulator_bound() const { return bound_; }

 private:
  std::size_t groups_ = 0;                 // source threshold groups (a)
  bool wide_ = false;
  std::int64_t bound_ = 0;
  std::vector<double> d_, e_;               // [G x d_out]
};

}  // namespace spikesim
