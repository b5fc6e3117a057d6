#include "neurons/gif_population.hpp"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

#include "core/error.hpp"

namespace spikesim {

GifPopulation::GifPopulation(std::string name, PopulationId id, GifGrid grid)
    : name_(std::move(name)), id_(id), grid_(std::move(grid)) {
  injected_.assign(grid_.size(), 0);
  membrane_.assign(grid_.size(), 0);
  counters_.resize(grid_.size());
  totals_.neurons = grid_.size();
  owned_ = {0, grid_.size()};
}

void GifPopulation::inject(std::span<const float> x) {
  grid_.quantize(x, name_, scale_, injected_);
  std::copy(injected_.begin(), injected_.end(), membrane_.begin());
  for (auto& u : counters_.membrane_updates) ++u;
  totals_.membrane_updates += size();
  totals_.neuron_tokens += size();
}

void GifPopulation::step(unsigned t, Step now, std::vector<SpikeEvent>& out) {
  std::uint64_t updated = 0;
  for (std::size_t i = owned_.begin; i < owned_.end; ++i) {
    if (t > grid_.steps(i)) continue;  // this neuron's window has closed
    ++updated;
    ++counters_.membrane_updates[i];
    const std::int32_t v = membrane_[i];
    if (v == 0) continue;
    const std::int32_t a = grid_.amplitude(i);
    const std::int32_t s = v > 0 ? std::min(v, a) : -std::min(-v, a);
    membrane_[i] = v - s;
    out.push_back(SpikeEvent{now, id_, static_cast<NeuronId>(i), s});
    count_spike(i, s);
  }
  totals_.membrane_updates += updated;
}

void GifPopulation::set_owned(RowSlice owned) {
  if (owned.begin > owned.end || owned.end > size())
    throw Error(ExitCode::internal, fmt::format("population '{}': owned neurons [{}, {}) of {}", name_, owned.begin,
                                                owned.end, size()));
  owned_ = owned;
}

void GifPopulation::absorb(unsigned t, std::span<const SpikeEvent> all) {
  // The updates step() would have made on the owners, then their spikes.
  std::uint64_t updated = 0;
  auto clocked = [&](std::size_t begin, std::size_t end) {
    for (std::size_t i = begin; i < end; ++i)
      if (t <= grid_.steps(i)) ++updated, ++counters_.membrane_updates[i];
  };
  clocked(0, owned_.begin);
  clocked(owned_.end, size());
  totals_.membrane_updates += updated;
  for (const SpikeEvent& e : all) {
    if (owned_.contains(e.neuron)) continue;
    membrane_[e.neuron] -= e.amplitude;
    count_spike(e.neuron, e.amplitude);
  }
}

void GifPopulation::count_spike(std::size_t i, std::int32_t s) {
  const auto mag = static_cast<std::uint64_t>(std::abs(s));
  ++counters_.spikes[i];
  counters_.amplitude_sum[i] += mag;
  counters_.shift_adds[i] += shift_add_cost(static_cast<std::uint32_t>(mag));
  ++totals_.spikes;
  totals_.amplitude_sum += mag;
}

}  // namespace spikesim
