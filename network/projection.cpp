#include "network/projection.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace spikesim {

void EventSummary::add(std::int32_t amplitude) {
  const auto mag = static_cast<std::uint32_t>(std::abs(amplitude));
  ++events;
  amplitude_sum += mag;
  shift_adds += shift_add_cost(mag);
  binary += mag == 1;
}

EventSummary EventSummary::of(std::span<const SpikeEvent> events) {
  EventSummary s;
  for (const SpikeEvent& e : events) s.add(e.amplitude);
  return s;
}

StaticProjection::StaticProjection(std::string name, const WeightTensor& weights)
    : name_(std::move(name)), kind_(fmt::format("dense {}", weight_type_name(weights.type()))), w_(weights) {}

void Projection::account(const EventSummary& e, OpCounts& c) const {
  const std::uint64_t f = fan_out();
  c.synaptic_events += e.events * f;
  c.amplitude_acs += e.amplitude_sum * f;
  c.shift_add_acs += e.shift_adds * f;
  c.effective_acs += e.binary * f;
  c.effective_macs += (e.events - e.binary) * f;
  c.weight_bytes += e.events * weight_bytes_per_event();
  if (integer_synapses()) {
    c.int_amplitude_acs += e.amplitude_sum * f;
    c.int_shift_add_acs += e.shift_adds * f;
    c.int_effective_acs += e.binary * f;
    c.int_effective_macs += (e.events - e.binary) * f;
  }
}

}  // namespace spikesim
