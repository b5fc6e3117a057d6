#include "neurons/gif_population.hpp"

#include <algorithm>
#include <cstdlib>

namespace spikesim {

GifPopulation::GifPopulation(std::string name, PopulationId id, GifGrid grid)
    : name_(std::move(name)), id_(id), grid_(std::move(grid)) {
  injected_.assign(grid_.size(), 0);
  membrane_.assign(grid_.size(), 0);
  counters_.resize(grid_.size());
  totals_.neurons = grid_.size();
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
  for (std::size_t i = 0; i < membrane_.size(); ++i) {
    if (t > grid_.steps(i)) continue;  // this neuron's window has closed
    ++updated;
    ++counters_.membrane_updates[i];
    const std::int32_t v = membrane_[i];
    if (v == 0) continue;
    const std::int32_t a = grid_.amplitude(i);
    const std::int32_t s = v > 0 ? std::min(v, a) : -std::min(-v, a);
    membrane_[i] = v - s;
    out.push_back(SpikeEvent{now, id_, static_cast<NeuronId>(i), s});
    const auto mag = static_cast<std::uint64_t>(std::abs(s));
    ++counters_.spikes[i];
    counters_.amplitude_sum[i] += mag;
    counters_.shift_adds[i] += shift_add_cost(static_cast<std::uint32_t>(mag));
    ++totals_.spikes;
    totals_.amplitude_sum += mag;
  }
  totals_.membrane_updates += updated;
}

}  // namespace spikesim
