#pragma once
// The JSON spelling of operation counts and energy. One place, so that the
// run summary (`spikesim run --json`, sim/run_summary) and the report of a
// finished run (`spikesim report --json`, io/report) cannot drift apart.
#include <nlohmann/json.hpp>

#include "core/counters.hpp"
#include "core/energy_model.hpp"

namespace spikesim {

// Every field of op_count_fields() plus "dense_ops": {name: count}.
nlohmann::json to_json(const OpCounts& counts);
// The four energy terms and their total, in pJ.
nlohmann::json to_json(const EnergyBreakdown& energy);

}  // namespace spikesim
