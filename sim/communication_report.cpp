#include "sim/communication_report.hpp"

#include <fmt/format.h>

namespace spikesim {
namespace {

nlohmann::json traffic_json(const CommTraffic& t) {
  return {{"messages", t.messages}, {"spikes", t.spikes}, {"values", t.values}, {"bytes", t.bytes}};
}

nlohmann::json pair_json(int from, int to, const CommTraffic& t) {
  nlohmann::json j = traffic_json(t);
  j["from"] = from;
  j["to"] = to;
  return j;
}

}  // namespace

nlohmann::json communication_json(const CommAccount& a, const std::optional<MeshHopCosts>& priced) {
  const int R = a.ranks();
  nlohmann::json j;
  j["ranks"] = R;
  j["total"] = traffic_json(a.total());
  nlohmann::json stages = nlohmann::json::array();
  for (std::size_t s = 0; s < a.stages().size(); ++s) {
    nlohmann::json st = traffic_json(a.stage_total(s));
    st["stage"] = a.stages()[s];
    nlohmann::json pairs = nlohmann::json::array();
    for (int from = 0; from < R; ++from)
      for (int to = 0; to < R; ++to)
        if (from != to) pairs.push_back(pair_json(from, to, a.at(s, from, to)));
    st["pairs"] = std::move(pairs);
    stages.push_back(std::move(st));
  }
  j["stages"] = std::move(stages);
  nlohmann::json pairs = nlohmann::json::array();
  for (int from = 0; from < R; ++from)
    for (int to = 0; to < R; ++to)
      if (from != to) pairs.push_back(pair_json(from, to, a.pair_total(from, to)));
  j["pairs"] = std::move(pairs);
  if (priced) {
    j["energy_pj"] = communication_energy_pj(a, *priced);
    j["hop_pj"] = {{"east_west", priced->east_west_pj}, {"north_south", priced->north_south_pj}};
  }
  return j;
}

std::string format_communication(const CommAccount& a, const std::optional<MeshHopCosts>& priced) {
  const int R = a.ranks();
  const CommTraffic total = a.total();
  std::string out = fmt::format("\n  communication between {} ranks: {} spikes, {} values, {:.1f} KiB in {} messages", R,
                                total.spikes, total.values, static_cast<double>(total.bytes) / 1024.0,
                                total.messages);
  if (priced) out += fmt::format(", {:.4g} pJ on the mesh", communication_energy_pj(a, *priced));
  out += "\n\n  stage                      spikes       values        bytes\n";
  for (std::size_t s = 0; s < a.stages().size(); ++s) {
    const CommTraffic t = a.stage_total(s);
    out += fmt::format("  {:<22} {:>10} {:>12} {:>12}\n", a.stages()[s], t.spikes, t.values, t.bytes);
  }
  out += "\n  bytes from rank (row) to rank (column)\n        ";
  for (int to = 0; to < R; ++to) out += fmt::format("{:>12}", to);
  out += "\n";
  for (int from = 0; from < R; ++from) {
    out += fmt::format("  {:>4}  ", from);
    for (int to = 0; to < R; ++to) out += fmt::format("{:>12}", from == to ? 0 : a.pair_total(from, to).bytes);
    out += "\n";
  }
  return out;
}

}  // namespace spikesim
