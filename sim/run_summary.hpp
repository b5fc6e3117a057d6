#pragma once
// The figures a run reports (summary table, --json, HDF5): totals of the
// spiking run beside its dense equivalent, under both accounting
// conventions of DESIGN.md §3, per layer and per run.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "core/energy_model.hpp"
#include "io/report/counts_json.hpp"  // to_json(OpCounts), to_json(EnergyBreakdown)
#include "sim/transformer.hpp"

namespace spikesim {

struct LogitComparison {
  double max_abs_diff = 0;
  double mean_cosine = 0;
  double top1_agreement = 0;  // fraction of positions with the same argmax
  double mean_kl = 0;         // KL(dense || run) per position, nats
  std::uint64_t positions = 0;
};

// Compares `run` logits with `reference` logits row by row.
LogitComparison compare_logits(const MatrixRM& run, const MatrixRM& reference);

struct RunTotals {
  std::string mode;
  std::uint64_t tokens = 0;
  std::uint64_t neurons = 0;
  OpCounts run;                       // what the run did
  OpCounts dense_equivalent;          // the dense network on the same tokens
  EnergyBreakdown energy;             // spikesim convention (AC per amplitude unit or shift-add)
  EnergyBreakdown energy_neurobench;  // NeuroBench/syops convention
  EnergyBreakdown dense_energy;
  [[nodiscard]] double energy_ratio() const;         // run / dense (spikesim convention)
  [[nodiscard]] double activation_sparsity() const;  // spikesim::activation_sparsity(run), core/counters.hpp
  [[nodiscard]] double spikes_per_neuron_token() const;
};

struct LayerTotals {
  int layer = -1;  // -1: outside the layers (embedding, final norm, lm_head)
  OpCounts run, dense_equivalent;
  EnergyBreakdown energy, dense_energy;
};

RunTotals summarize(const std::vector<StageAccount>& accounts,
                    const std::vector<const Population*>& populations, const EnergyModel& model,
                    AcConvention convention, ForwardMode mode, std::uint64_t tokens);
std::vector<LayerTotals> layer_totals(const std::vector<StageAccount>& accounts, const EnergyModel& model,
                                      AcConvention convention);

nlohmann::json to_json(const RunTotals& totals);
nlohmann::json to_json(const LogitComparison& c);
// The human-readable summary table.
std::string format_summary(const RunTotals& totals, const std::vector<LayerTotals>& layers, double wall_s);

}  // namespace spikesim
