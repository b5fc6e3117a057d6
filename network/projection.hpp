#pragma once
// The projection interface: synapses from a population of d_in neurons to an
// integrator of d_out outputs. The loop (sim/simulator.hpp) delivers events
// through it, and all accounting of synaptic work goes through account():
// one place says what an event costs. Nothing outside a projection knows how
// its weights are stored.
//
// Kinds today:
//   DenseProjection (dense_projection.hpp)  static float weights (f32, bf16,
//       f16) W [d_out x d_in], double accumulators
//   IntProjection (int_projection.hpp)  static integer weights (int8, int4)
//       with per-group scales: integer synapses, integer accumulators
//   TernaryProjection (ternary_projection.hpp)  ternary weight spike trains:
//       events add or subtract their amplitude, integer accumulators
//   QkProjection, PvProjection (attention_projections.hpp)  attention's
//       dynamic weights: the query, or the softmax probabilities, applied to
//       cached K/V spikes
// A new static kind is one new file implementing StaticProjection plus one
// row in projection_kinds.cpp (docs/architecture.md shows one).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/counters.hpp"
#include "core/event.hpp"
#include "core/weights/weight_tensor.hpp"
#include "network/integrator.hpp"
#include "neurons/token_scale.hpp"

namespace spikesim {

// The amplitudes of a batch of events, summarised once so that each
// projection they reach only multiplies by its fan-out.
struct EventSummary {
  std::uint64_t events = 0;
  std::uint64_t amplitude_sum = 0;  // Σ |s|
  std::uint64_t shift_adds = 0;     // Σ ceil(log2(|s| + 1))
  std::uint64_t binary = 0;         // events with |s| = 1

  void add(std::int32_t amplitude);
  static EventSummary of(std::span<const SpikeEvent> events);
};

class Projection {
 public:
  virtual ~Projection() = default;

  [[nodiscard]] virtual const std::string& name() const = 0;
  // The kind and its weight format, for the graph, reports and run files
  // (e.g. "dense f32", "qk dynamic").
  [[nodiscard]] virtual std::string_view kind() const = 0;
  [[nodiscard]] virtual std::size_t d_in() const = 0;
  [[nodiscard]] virtual std::size_t d_out() const = 0;
  // Synapses one event reaches: d_out for all-to-all weights, 1 for
  // attention's replay of a cached spike onto one score or one channel.
  [[nodiscard]] virtual std::uint64_t fan_out() const = 0;
  // Weight bytes one event fetches: its line of weights in the stored
  // format (an int4 line is an eighth of an f32 one); 0 for dynamic weights,
  // which are activations already at hand.
  [[nodiscard]] virtual std::uint64_t weight_bytes_per_event() const = 0;
  // Synaptic arithmetic is integer (integer weights times integer
  // amplitudes), priced at the integer figures of the energy model.
  [[nodiscard]] virtual bool integer_synapses() const { return false; }

  // acc_{g(i), j} += s · w_ij for every event (i, s) and each output j it reaches.
  virtual void deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
                       Integrator& target) const = 0;

  // What delivering `events` through this projection costs (DESIGN.md §3):
  // synaptic events, ACs in both conventions, NeuroBench ACs/MACs, weight bytes.
  void account(const EventSummary& events, OpCounts& counts) const;
  // Synapses an event on input `neuron` does work on: fan_out() unless the
  // kind skips zero weights (ternary: its nonzero steps and salient weights).
  [[nodiscard]] virtual std::uint64_t synapses_of(NeuronId neuron) const {
    (void)neuron;
    return fan_out();
  }
  // The same for the events themselves: a projection whose cost depends on
  // which input fired (ternary: the nonzero steps of its line) overrides it.
  virtual void account_events(std::span<const SpikeEvent> events, const EventSummary& summary,
                              OpCounts& counts) const {
    (void)events;
    account(summary, counts);
  }
};

// A projection with fixed weights W [d_out x d_in] (the model's linear
// layers), held by reference: the model's tensor is the only copy. Read-out
// removes each source group's zero point, which needs Σ_{i∈g} W[j, i] per
// group g and output j, so a static projection is bound to its source's
// groups once.
class StaticProjection : public Projection {
 public:
  // `weights` [d_out x d_in]; a WeightTensor copy shares the model's storage.
  StaticProjection(std::string name, const WeightTensor& weights);

  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] std::string_view kind() const override { return kind_; }  // "dense <type>"
  [[nodiscard]] std::size_t d_in() const override { return w_.cols(); }
  [[nodiscard]] std::size_t d_out() const override { return w_.rows(); }
  // An event reaches every output of the whole weight, on whichever rank
  // holds it (core/partition.hpp): a rank that holds a slice counts the
  // network's synaptic work, not its share, so that counts do not depend on
  // the rank count.
  [[nodiscard]] std::uint64_t fan_out() const override { return w_.full_rows(); }
  [[nodiscard]] std::uint64_t weight_bytes_per_event() const override { return w_.full_line_bytes(); }
  [[nodiscard]] const WeightTensor& weights() const { return w_; }

  // `max_membrane`: the largest |V| a source neuron holds (A·T of its grid),
  // which bounds integer accumulators (network/int_projection.hpp).
  virtual void bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups, std::int64_t max_membrane) = 0;
  // Sizes `integrator` for this projection's accumulators (zeroed).
  virtual void prepare(Integrator& integrator) const = 0;
  // y_j = Σ_g θ_g · (acc_{g,j} − z_g · Σ_{i∈g} W[j, i]) + b_j, from the
  // accumulators `deliver` left; the work is counted into `ops` (dense).
  virtual void read_out(const Integrator& integrator, const TokenScale& scale, std::span<const float> bias,
                        std::span<float> y, DenseOpCounts* ops) const = 0;

 protected:
  std::string name_;
  std::string kind_;
  WeightTensor w_;
};

// One outgoing projection of an encoder, the integrator it feeds, and an
// optional per-projection account of what the events cost there.
struct DeliveryTarget {
  const Projection* projection = nullptr;
  Integrator* integrator = nullptr;
  OpCounts* account = nullptr;
};

}  // namespace spikesim
