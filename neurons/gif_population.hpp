#pragma once
// A population of multi-level Generalized Integrate-and-Fire neurons
// (SpikeLLM, arXiv 2407.04752; DESIGN.md §1).
//
// For each token the population is injected once and then stepped T_max
// times. With A_i = 2^bits_i - 1 and T_i steps:
//
//   inject:   V_i = q_i, the token's value on the GIF grid (see gif_grid.hpp)
//   step t:   s_t = min(V_i, A_i)              (unsigned)
//             s_t = sign(V_i)·min(|V_i|, A_i)   (signed)
//             V_i -= s_t                         (soft reset)
//             a spike event of amplitude s_t is emitted when s_t != 0
//   decode:   x̂_i = θ_i · (Σ_t s_t - z_i)
//
// Because |V_i| <= A_i·T_i the membrane is empty after T_i steps: the spike
// train sums exactly to the injected membrane, so a spiking layer equals a
// quantized layer on the grid {0..A_i·T_i}.
//
// Data split by role (as NEST models do): parameters (the grid: bits, steps,
// signedness), per-token state (θ, z, membrane, injected value), and the
// per-neuron counters accumulated over the run.
#include <span>
#include <string>
#include <vector>

#include "core/counters.hpp"
#include "core/event.hpp"
#include "neurons/gif_grid.hpp"
#include "neurons/population.hpp"

namespace spikesim {

class GifPopulation final : public Population {
 public:
  GifPopulation(std::string name, PopulationId id, GifGrid grid);

  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] PopulationId id() const override { return id_; }
  [[nodiscard]] std::size_t size() const override { return grid_.size(); }
  [[nodiscard]] const GifGrid& grid() const { return grid_; }
  [[nodiscard]] unsigned max_steps() const override { return grid_.max_steps(); }

  // Starts a token: computes θ and z and injects the membrane.
  void inject(std::span<const float> x) override;
  // Local step t (1-based, t <= max_steps()) at global step `now`: steps every
  // neuron whose window is still open and appends its spike, if any, to `out`.
  void step(unsigned t, Step now, std::vector<SpikeEvent>& out) override;

  // Ranks: step() clocks only `owned` (a rank's share of the neurons);
  // absorb() follows the rest from the spikes the other ranks emitted.
  void set_owned(RowSlice owned);
  [[nodiscard]] RowSlice owned() const override { return owned_; }
  void absorb(unsigned t, std::span<const SpikeEvent> all) override;

  // Per-token state.
  [[nodiscard]] const TokenScale& scale() const override { return scale_; }
  [[nodiscard]] std::span<const std::uint32_t> group_of() const override { return grid_.group_map(); }
  [[nodiscard]] std::size_t groups() const override { return grid_.groups(); }
  [[nodiscard]] std::span<const std::int32_t> membrane() const override { return membrane_; }
  [[nodiscard]] std::span<const std::int32_t> injected() const { return injected_; }

  // Parameters, per neuron.
  [[nodiscard]] std::int32_t max_amplitude(std::size_t i) const override { return grid_.amplitude(i); }
  [[nodiscard]] unsigned steps(std::size_t i) const override { return grid_.steps(i); }
  [[nodiscard]] bool is_signed() const override { return grid_.is_signed(); }

  // Run account.
  [[nodiscard]] const NeuronCounters& counters() const override { return counters_; }
  NeuronCounters& counters() override { return counters_; }
  [[nodiscard]] const OpCounts& totals() const override { return totals_; }
  OpCounts& totals() override { return totals_; }

 private:
  std::string name_;
  PopulationId id_;
  GifGrid grid_;
  TokenScale scale_;
  std::vector<std::int32_t> injected_;
  std::vector<std::int32_t> membrane_;
  NeuronCounters counters_;
  OpCounts totals_;
  RowSlice owned_;

  void count_spike(std::size_t i, std::int32_t s);
};

}  // namespace spikesim
