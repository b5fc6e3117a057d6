#include "sim/communicator.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.hpp"

namespace spikesim {
namespace {

// A spike on the wire: step and population are the exchange's.
struct WireSpike {
  NeuronId neuron;
  Amplitude amplitude;
};
static_assert(sizeof(WireSpike) == 8, "spikes cross ranks as 8 bytes");

}  // namespace

CommTraffic& CommTraffic::operator+=(const CommTraffic& o) {
  messages += o.messages;
  spikes += o.spikes;
  values += o.values;
  bytes += o.bytes;
  return *this;
}

const CommTraffic& CommAccount::at(std::size_t s, int from, int to) const {
  return traffic_.at(s).at(static_cast<std::size_t>(from * ranks_ + to));
}

CommTraffic CommAccount::stage_total(std::size_t s) const {
  CommTraffic t;
  for (const CommTraffic& p : traffic_.at(s)) t += p;
  return t;
}

CommTraffic CommAccount::pair_total(int from, int to) const {
  CommTraffic t;
  for (std::size_t s = 0; s < stages_.size(); ++s) t += at(s, from, to);
  return t;
}

CommTraffic CommAccount::total() const {
  CommTraffic t;
  for (std::size_t s = 0; s < stages_.size(); ++s) t += stage_total(s);
  return t;
}

void CommAccount::add(const std::string& stage, int from, int to, const CommTraffic& t) {
  auto it = index_.find(stage);
  if (it == index_.end()) {
    it = index_.emplace(stage, stages_.size()).first;
    stages_.push_back(stage);
    traffic_.emplace_back(static_cast<std::size_t>(ranks_ * ranks_));
  }
  traffic_[it->second].at(static_cast<std::size_t>(from * ranks_ + to)) += t;
}

double communication_energy_pj(const CommAccount& account, const MeshHopCosts& costs) {
  const int R = account.ranks();
  const int width = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(R))));
  double pj = 0;
  for (int from = 0; from < R; ++from)
    for (int to = 0; to < R; ++to) {
      if (from == to) continue;
      const CommTraffic t = account.pair_total(from, to);
      const double hop = std::abs(from % width - to % width) * costs.east_west_pj +
                         std::abs(from / width - to / width) * costs.north_south_pj;
      pj += static_cast<double>(t.spikes + t.values) * hop;
    }
  return pj;
}

void Communicator::exchange_spikes(const std::string& stage, Step step, PopulationId population,
                                   std::span<const SpikeEvent> local, std::vector<SpikeEvent>& all) {
  wire_.resize(local.size() * sizeof(WireSpike));
  for (std::size_t i = 0; i < local.size(); ++i) {
    const WireSpike w{local[i].neuron, local[i].amplitude};
    std::memcpy(wire_.data() + i * sizeof(WireSpike), &w, sizeof w);
  }
  allgather(wire_, counts_, received_);
  if (counts_.size() != static_cast<std::size_t>(size()))
    throw Error(ExitCode::internal, fmt::format("stage '{}': {} spike counts from {} ranks", stage, counts_.size(), size()));
  all.resize(received_.size() / sizeof(WireSpike));
  for (std::size_t i = 0; i < all.size(); ++i) {
    WireSpike w{};
    std::memcpy(&w, received_.data() + i * sizeof(WireSpike), sizeof w);
    all[i] = SpikeEvent{step, population, w.neuron, w.amplitude};
  }
  // Each rank's spikes went to every other rank.
  for (int from = 0; from < size(); ++from) {
    const std::uint64_t bytes = counts_[static_cast<std::size_t>(from)];
    for (int to = 0; to < size(); ++to)
      if (to != from) account_.add(stage, from, to, {1, bytes / sizeof(WireSpike), 0, bytes});
  }
}

void Communicator::exchange_values(const std::string& stage, std::span<float> values,
                                   std::span<const RowSlice> slices) {
  if (slices.size() != static_cast<std::size_t>(size()) || slices.back().end != values.size())
    throw Error(ExitCode::internal, fmt::format("stage '{}': {} output slices of {} values for {} ranks", stage,
                                                slices.size(), values.size(), size()));
  std::vector<std::uint64_t> offsets;
  for (const RowSlice& s : slices) offsets.push_back(s.begin * sizeof(float));
  offsets.push_back(values.size() * sizeof(float));
  allgather_in_place(std::as_writable_bytes(values), offsets);
  for (int from = 0; from < size(); ++from) {
    const std::uint64_t n = slices[static_cast<std::size_t>(from)].size();
    for (int to = 0; to < size(); ++to)
      if (to != from) account_.add(stage, from, to, {1, 0, n, n * sizeof(float)});
  }
}

std::vector<std::uint64_t> Communicator::gather_all(std::uint64_t value) {
  std::vector<std::byte> local(sizeof value), all;
  std::memcpy(local.data(), &value, sizeof value);
  std::vector<std::uint64_t> counts;
  allgather(local, counts, all);
  std::vector<std::uint64_t> out(all.size() / sizeof value);
  std::memcpy(out.data(), all.data(), out.size() * sizeof value);
  return out;
}

void LocalCommunicator::allgather(std::span<const std::byte> local, std::vector<std::uint64_t>& counts,
                                  std::vector<std::byte>& all) {
  counts.assign(1, local.size());
  all.assign(local.begin(), local.end());
}

}  // namespace spikesim
