#pragma once
// The projection interface: synapses from a population of d_in neurons to an
// integrator of d_out outputs. The loop (sim/simulator.hpp) delivers events
// through it, and all accounting of synaptic work goes through account():
// one place says what an event costs. Nothing outside a projection knows how
// its weights are stored.
//
// Kinds today:
//   DenseProjection (dense_projection.hpp)  static fp32 weights W [d_out x d_in]
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
#include "network/integrator.hpp"

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
  // Weight bytes fetched per synapse an event reaches (the stored format;
  // 0 for dynamic weights, which are activations already at hand).
  [[nodiscard]] virtual std::uint64_t weight_bytes_per_synapse() const = 0;

  // acc_{g(i), j} += s · w_ij for every event (i, s) and each output j it reaches.
  virtual void deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
                       Integrator& target) const = 0;

  // What delivering `events` through this projection costs (DESIGN.md §3):
  // synaptic events, ACs in both conventions, NeuroBench ACs/MACs, weight bytes.
  void account(const EventSummary& events, OpCounts& counts) const;
};

// A projection with fixed weights W [d_out x d_in] (the model's linear
// layers). Read-out removes each source group's zero point, which needs
// Σ_{i∈g} W[j, i] per group g and output j (network/integrator.hpp), so a
// static projection is bound to its source's groups once.
class StaticProjection : public Projection {
 public:
  virtual void bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups) = 0;
  // [groups x d_out] row-major.
  [[nodiscard]] virtual std::span<const double> group_colsum() const = 0;
};

// One outgoing projection of an encoder, the integrator it feeds, and an
// optional per-projection account of what the events cost there.
struct DeliveryTarget {
  const Projection* projection = nullptr;
  Integrator* integrator = nullptr;
  OpCounts* account = nullptr;
};

}  // namespace spikesim
