#include "core/event_queue.hpp"

#include <utility>

#include "core/error.hpp"

namespace spikesim {

EventQueue::EventQueue(Step max_delay) : max_delay_(max_delay), buckets_(max_delay + 1) {
  if (max_delay < 1) throw Error(ExitCode::internal, "event queue: max_delay must be >= 1");
}

void EventQueue::push(const SpikeEvent& event, Step delay) {
  if (delay < 1 || delay > max_delay_)
    throw Error(ExitCode::internal,
                fmt::format("event queue: delay {} outside [1, {}]", delay, max_delay_));
  if (event.step + delay < next_step_)
    throw Error(ExitCode::internal,
                fmt::format("event queue: event emitted at step {} with delay {} is due before step {}",
                            event.step, delay, next_step_));
  bucket(event.step + delay).push_back(event);
  ++pending_;
}

std::vector<SpikeEvent> EventQueue::take(Step step) {
  if (step < next_step_)
    throw Error(ExitCode::internal,
                fmt::format("event queue: step {} taken twice (next is {})", step, next_step_));
  // Skipped steps must be empty, or their events would silently alias later ones.
  for (Step s = next_step_; s < step && pending_ > 0 && s < next_step_ + buckets_.size(); ++s)
    if (!bucket(s).empty())
      throw Error(ExitCode::internal,
                  fmt::format("event queue: step {} skipped with {} events due", s, bucket(s).size()));
  std::vector<SpikeEvent> due;
  due.swap(bucket(step));
  pending_ -= due.size();
  next_step_ = step + 1;
  return due;
}

}  // namespace spikesim
