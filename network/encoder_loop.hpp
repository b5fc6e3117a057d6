#pragma once
// The simulator loop as the network's stages see it. A linear stage or the
// attention of a layer hands one encoder stage to the loop, which injects
// the input, clocks the population, queues its events and delivers them
// through the targets on the global step clock. sim/simulator.hpp implements
// it (and documents the phases); network/ only depends on this interface, so
// includes run downwards (network <- sim).
#include <span>
#include <string>
#include <vector>

#include "core/event.hpp"
#include "network/projection.hpp"
#include "neurons/population.hpp"

namespace spikesim {

class EncoderLoop {
 public:
  virtual ~EncoderLoop() = default;
  // Runs one encoder stage for the current token. Target integrators are
  // cleared first. When `delivered` is given, every event is also appended
  // to it at its delivery step (the KV cache keeps K and V spike trains so).
  virtual void run_encoder(Population& encoder, std::span<const float> input,
                           std::span<const DeliveryTarget> targets, std::vector<SpikeEvent>* delivered) = 0;
  // After a read-out that this rank did for its rows `mine` of y only (a
  // projection split across ranks, core/partition.hpp): on return y is
  // whole on every rank. `stage` names the exchange in the communication
  // account. Nothing to do on one rank.
  virtual void share_outputs(const std::string& stage, std::span<float> y, RowSlice mine) = 0;
};

}  // namespace spikesim
