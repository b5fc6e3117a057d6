#pragma once
// Basic scalar types shared by every spikesim library.
#include <cstdint>

namespace spikesim {

using Step = std::uint32_t;          // global step clock; SONATA timestamps are these steps
using PopulationId = std::uint32_t;  // index of a population in its network
using NeuronId = std::uint32_t;      // index of a neuron inside its population
using Amplitude = std::int32_t;      // multi-level spike amplitude, sign included

}  // namespace spikesim
