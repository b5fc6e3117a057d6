#include "io/report/counts_json.hpp"

#include <string>

namespace spikesim {

nlohmann::json to_json(const OpCounts& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, value] : op_count_fields(counts)) j[std::string(name)] = value;
  nlohmann::json dense = nlohmann::json::object();
  for (std::size_t k = 0; k < kDenseOpKinds; ++k)
    dense[std::string(dense_op_name(static_cast<DenseOp>(k)))] = counts.dense.n[k];
  j["dense_ops"] = dense;
  return j;
}

nlohmann::json to_json(const EnergyBreakdown& energy) {
  return {{"synaptic_pj", energy.synaptic_pj},
          {"neuron_pj", energy.neuron_pj},
          {"dense_pj", energy.dense_pj},
          {"memory_pj", energy.memory_pj},
          {"total_pj", energy.total_pj()}};
}

}  // namespace spikesim
