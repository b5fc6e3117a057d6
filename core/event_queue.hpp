#pragma once
// Time-bucketed event queue.
//
// An event emitted at step t with delay d (1 <= d <= max_delay) is delivered
// at step t + d. Buckets form a ring of max_delay + 1 slots indexed by
// delivery step, so push and take are O(1) per event and no event ever needs
// sorting: within a bucket events keep the order in which they were pushed,
// which makes delivery (and float summation order) deterministic.
//
// Owner: one simulator thread. push() and take() are not thread-safe; the
// parallel phases of the loop read a taken bucket, they never push.
#include <cstddef>
#include <vector>

#include "core/event.hpp"

namespace spikesim {

class EventQueue {
 public:
  explicit EventQueue(Step max_delay = 1);

  // Schedules `event` (emitted at event.step) for delivery at event.step + delay.
  void push(const SpikeEvent& event, Step delay = 1);

  // Moves out the events due at `step`, in push order, and advances the clock.
  // Steps must be taken in non-decreasing order; skipping steps that hold
  // events is an error (they would be lost).
  std::vector<SpikeEvent> take(Step step);

  [[nodiscard]] std::size_t pending() const { return pending_; }
  [[nodiscard]] Step max_delay() const { return max_delay_; }
  // First step that has not been taken yet.
  [[nodiscard]] Step next_step() const { return next_step_; }

 private:
  std::vector<SpikeEvent>& bucket(Step step) { return buckets_[step % buckets_.size()]; }

  Step max_delay_;
  Step next_step_ = 0;
  std::size_t pending_ = 0;
  std::vector<std::vector<SpikeEvent>> buckets_;
};

}  // namespace spikesim
