#pragma once
// The simulator loop: how one token's spikes travel from a GIF encoder
// through its projections into integrators.
//
// A global step clock orders everything (SONATA timestamps are these steps).
// Each call to run_encoder() simulates one encoder stage for the current
// token, occupying steps [t0, t0 + T_max]:
//
//   step t0 + k, k = 0 .. T_max:
//     1. deliver  take the events due now (emitted at the previous step) from
//                 the event queue and add s·W[:, i] into every target
//                 integrator.                          PARALLEL (TBB, output slices)
//     2. account  per-neuron and per-projection synaptic events, ACs, MACs,
//                 weight bytes for those events, as each Projection
//                 prices them (network/projection.hpp).  serial
//     3. step     (k < T_max) local step k+1 of every neuron: soft reset and
//                 emit, events pushed with delay 1.    serial
//     4. record   hand the emitted events and membrane to the observer.  serial
//
//   ranks: when the encoder's neurons are split across ranks (each rank
//     owns a slice, core/partition.hpp), phase 3 clocks this rank's neurons
//     only, and before phase 4 the ranks exchange the step's spikes
//     through the communicator (sim/communicator.hpp): every rank then
//     holds all of them, in neuron order, queues them, records them and
//     lets the population follow the neurons it does not own (absorb).
//     Each rank delivers every event into the output rows it holds; after
//     read-out share_outputs() gathers the rows (the communicator's
//     second exchange). One exchange per step and one per output vector,
//     in the same order on every rank, is the whole of the traffic.
//
//   before the first step: inject (quantize the input, V_i = q_i);
//   after the last:        read out (integrators -> dense values) is the
//                          caller's, through Integrator::read_out.
//
// The network's stages (network/linear_stage.hpp, network/attention.hpp) see
// this loop only as an EncoderLoop; the loop sees populations only as
// Population and projections only as Projection.
//
// Buffers and owners: the event queue and the clock belong to the
// Simulator; each population owns its membrane and counters; each
// Integrator is written only by the delivery phase, one output slice per TBB
// task, and read after the stage by its owner. Nothing is shared between
// concurrent tasks except read-only weights and the taken event bucket.
#include <span>
#include <vector>

#include "core/event_queue.hpp"
#include "network/encoder_loop.hpp"
#include "neurons/population.hpp"
#include "sim/communicator.hpp"

namespace spikesim {

// Receives what the loop emits, for recording. Called from the loop thread.
class SpikeObserver {
 public:
  virtual ~SpikeObserver() = default;
  virtual void on_spikes(const Population& population, std::span<const SpikeEvent> events) = 0;
  // Membrane of the population after local step `t` (t = 0: just injected).
  virtual void on_membrane(const Population& population, Step step, unsigned t) = 0;
};

class Simulator final : public EncoderLoop {
 public:
  // `comm`: the ranks this loop runs among; null for one rank.
  explicit Simulator(SpikeObserver* observer = nullptr, Communicator* comm = nullptr)
      : observer_(observer), comm_(comm) {}

  // Runs one encoder stage for the current token (see the contract above).
  // Target integrators are cleared first. When `delivered` is given, every
  // event is also appended to it at its delivery step (the KV cache keeps
  // K and V spike trains this way).
  void run_encoder(Population& encoder, std::span<const float> input, std::span<const DeliveryTarget> targets,
                   std::vector<SpikeEvent>* delivered = nullptr) override;
  void share_outputs(const std::string& stage, std::span<float> y, RowSlice mine) override;

  [[nodiscard]] Step now() const { return now_; }
  void set_observer(SpikeObserver* observer) { observer_ = observer; }

 private:
  static void account(Population& encoder, std::span<const SpikeEvent> due, std::span<const DeliveryTarget> targets);

  SpikeObserver* observer_;
  Communicator* comm_;
  EventQueue queue_{1};
  Step now_ = 0;
  std::vector<SpikeEvent> emitted_, gathered_;
  std::vector<RowSlice> slices_;
};

}  // namespace spikesim
