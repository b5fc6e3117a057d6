#pragma once
// What a run under several ranks reports of its traffic (the account of
// sim/communicator.hpp): per stage and per rank pair, in the summary JSON,
// the terminal table and the run file's summary; priced on the mesh when
// energy.communication is on.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "sim/communicator.hpp"

namespace spikesim {

// {"ranks", "total", "stages": [{"stage", ..., "pairs": [{"from", "to", ...}]}],
//  "pairs": [...], "energy_pj" (when priced), "hop_pj"}.
nlohmann::json communication_json(const CommAccount& account, const std::optional<MeshHopCosts>& priced);
// Stage totals and the rank-pair matrix of bytes, for the terminal.
std::string format_communication(const CommAccount& account, const std::optional<MeshHopCosts>& priced);

}  // namespace spikesim
