#pragma once
// The population interface: all that the simulator loop (sim/simulator.hpp),
// the recording observer and the integrators see of a neuron model. A new
// neuron model (LIF, a GIF variant) implements it in one new file here.
//
// Per token the loop calls inject(x) once, then step(t, now, out) for
// t = 1 .. max_steps(); every spike is a SpikeEvent with an integer
// amplitude. After the token, scale() and group_of() say how the integers
// the population emitted decode back to values: neuron i belongs to group
// g = group_of()[i] and its spike train sums to q_i, with
// x̂_i = θ_g · (q_i − z_g). Integrators keep one accumulator row per group
// and apply θ_g and z_g at read-out (network/integrator.hpp).
//
// Data by role, as NEST models split theirs: parameters (each model's own),
// per-token state (scale, membrane), and the run's counters.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/counters.hpp"
#include "core/event.hpp"
#include "core/partition.hpp"
#include "neurons/token_scale.hpp"

namespace spikesim {

class Population {
 public:
  virtual ~Population() = default;

  [[nodiscard]] virtual const std::string& name() const = 0;
  [[nodiscard]] virtual PopulationId id() const = 0;
  [[nodiscard]] virtual std::size_t size() const = 0;

  // Steps the loop must clock after inject() for every spike of the token to
  // be emitted (T_max).
  [[nodiscard]] virtual unsigned max_steps() const = 0;
  // Starts a token: sets the per-token decode scale and the membrane.
  virtual void inject(std::span<const float> x) = 0;
  // Local step t (1-based) at global step `now`; appends this step's spikes
  // of the neurons this rank owns.
  virtual void step(unsigned t, Step now, std::vector<SpikeEvent>& out) = 0;

  // Ranks (core/partition.hpp): the neurons this rank clocks; all of them
  // when the population is not split.
  [[nodiscard]] virtual RowSlice owned() const = 0;
  // After step t, every spike of that step from all ranks, in neuron order
  // (the loop's exchange, sim/simulator.hpp): the membranes and counters of
  // neurons other ranks own follow them, so that every rank holds the whole
  // population's state and account.
  virtual void absorb(unsigned t, std::span<const SpikeEvent> all) = 0;

  // Decode scale of the current token and the group of each neuron.
  [[nodiscard]] virtual const TokenScale& scale() const = 0;
  [[nodiscard]] virtual std::span<const std::uint32_t> group_of() const = 0;
  [[nodiscard]] virtual std::size_t groups() const = 0;

  // Per-neuron shape, for the run file: the largest amplitude of one spike,
  // the steps the neuron may spike in per token, and whether spikes carry a
  // sign.
  [[nodiscard]] virtual std::int32_t max_amplitude(std::size_t i) const = 0;
  [[nodiscard]] virtual unsigned steps(std::size_t i) const = 0;
  [[nodiscard]] virtual bool is_signed() const = 0;

  // Membrane of every neuron now (grid levels), for traces.
  [[nodiscard]] virtual std::span<const std::int32_t> membrane() const = 0;

  // The run's account: per neuron and in total.
  [[nodiscard]] virtual const NeuronCounters& counters() const = 0;
  virtual NeuronCounters& counters() = 0;
  [[nodiscard]] virtual const OpCounts& totals() const = 0;
  virtual OpCounts& totals() = 0;
};

}  // namespace spikesim
