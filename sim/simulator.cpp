#include "sim/simulator.hpp"

#include "core/error.hpp"

namespace spikesim {

void Simulator::run_encoder(Population& encoder, std::span<const float> input,
                            std::span<const DeliveryTarget> targets, std::vector<SpikeEvent>* delivered) {
  for (const DeliveryTarget& t : targets) {
    if (t.projection->d_in() != encoder.size())
      throw Error(ExitCode::internal, fmt::format("projection '{}' has d_in {}, encoder '{}' has {} neurons",
                                                  t.projection->name(), t.projection->d_in(), encoder.name(),
                                                  encoder.size()));
    t.integrator->clear();
  }
  encoder.inject(input);
  if (observer_) observer_->on_membrane(encoder, now_, 0);

  const unsigned steps = encoder.max_steps();
  const auto group_of = encoder.group_of();
  for (unsigned k = 0; k <= steps; ++k, ++now_) {
    // 1. deliver (parallel inside each projection) and 2. account.
    const std::vector<SpikeEvent> due = queue_.take(now_);
    if (!due.empty()) {
      for (const DeliveryTarget& t : targets) t.projection->deliver(due, group_of, *t.integrator);
      account(encoder, due, targets);
      if (delivered) delivered->insert(delivered->end(), due.begin(), due.end());
    }
    if (k == steps) continue;  // the last step only delivers
    // 3. step and emit.
    emitted_.clear();
    encoder.step(k + 1, now_, emitted_);
    if (encoder.owned().size() != encoder.size()) {  // split across ranks: exchange the step's spikes
      if (!comm_)
        throw Error(ExitCode::internal, fmt::format("encoder '{}' is split across ranks, but the loop has no "
                                                    "communicator", encoder.name()));
      comm_->exchange_spikes(encoder.name(), now_, encoder.id(), emitted_, gathered_);
      encoder.absorb(k + 1, gathered_);
      std::swap(emitted_, gathered_);
    }
    for (const SpikeEvent& e : emitted_) queue_.push(e, 1);
    // 4. record.
    if (observer_) {
      if (!emitted_.empty()) observer_->on_spikes(encoder, emitted_);
      observer_->on_membrane(encoder, now_, k + 1);
    }
  }
  if (queue_.pending() != 0)
    throw Error(ExitCode::internal, fmt::format("encoder '{}': {} events left undelivered after its stage",
                                                encoder.name(), queue_.pending()));
}

void Simulator::share_outputs(const std::string& stage, std::span<float> y, RowSlice mine) {
  if (mine.size() == y.size()) return;
  const int ranks = comm_ ? comm_->size() : 1;
  slices_.clear();
  for (int r = 0; r < ranks; ++r) slices_.push_back(rank_rows(y.size(), ranks, r));
  if (!comm_ || slices_[static_cast<std::size_t>(comm_->rank())] != mine)
    throw Error(ExitCode::internal, fmt::format("stage '{}': rows [{}, {}) of {} are not this rank's share", stage,
                                                mine.begin, mine.end, y.size()));
  comm_->exchange_values(stage, y, slices_);
}

void Simulator::account(Population& encoder, std::span<const SpikeEvent> due,
                        std::span<const DeliveryTarget> targets) {
  NeuronCounters& per_neuron = encoder.counters();
  for (const DeliveryTarget& t : targets)
    for (const SpikeEvent& e : due) per_neuron.synaptic_events[e.neuron] += t.projection->synapses_of(e.neuron);
  const EventSummary summary = EventSummary::of(due);
  for (const DeliveryTarget& t : targets) {
    t.projection->account_events(due, summary, encoder.totals());
    if (t.account) t.projection->account_events(due, summary, *t.account);
  }
}

}  // namespace spikesim
