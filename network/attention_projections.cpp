#include "network/attention_projections.hpp"

namespace spikesim {

// Products of an integer amplitude and a float are exact in double, so the
// sum depends on the event order only through the additions, which run in
// the cache's order in both modes (network/integrator.hpp explains why).
void QkProjection::deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> /*group_of*/,
                           Integrator& target) const {
  double acc = target.row(0)[0];
  for (const SpikeEvent& e : events) acc += static_cast<double>(e.amplitude) * static_cast<double>(q_[e.neuron]);
  target.row(0)[0] = acc;
}

void PvProjection::deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> /*group_of*/,
                           Integrator& target) const {
  double* acc = target.row(0);
  for (const SpikeEvent& e : events) acc[e.neuron] += static_cast<double>(e.amplitude) * w_;
}

}  // namespace spikesim
