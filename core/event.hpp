#pragma once
// The spike event: what travels through the event queue.
#include "core/types.hpp"

namespace spikesim {

// A multi-level spike: neuron `neuron` of population `population` emitted
// amplitude `amplitude` (never 0) at global step `step`.
struct SpikeEvent {
  Step step = 0;
  PopulationId population = 0;
  NeuronId neuron = 0;
  Amplitude amplitude = 0;

  friend bool operator==(const SpikeEvent&, const SpikeEvent&) = default;
};

static_assert(sizeof(SpikeEvent) == 16, "events are streamed; keep them 16 bytes");

}  // namespace spikesim
