#pragma once
// `spikesim report`: a run file (docs/reference/hdf5-layout.md) read back
// into one RunReport, rendered as text, JSON or a self-contained HTML page
// with the plots of io/report/plots.hpp inlined.
//
// Every figure of the report is either a value stored in the file or a
// stated function of stored values, so a test can recompute it from the
// HDF5 content:
//
//   stages      /spikesim/stages/<stage>/{run,dense_equivalent} op counts,
//               the `run_*_pj` and `dense_*_pj` energies, `layer`, `kind`
//   layers      sums of the stages with the same `layer` (-1: outside the
//               layers: embedding, final norm, lm_head)
//   populations /spikesim/populations/<p>/{totals, per-neuron counters,
//               bits, steps}; a population belongs to the stage of the same
//               name, K/V encoders (layer<l>.k_enc.h<j>, .v_enc.h<j>) to
//               layer<l>.attention, lm_head_in to lm_head
//   run totals  /spikesim/totals/{run,dense_equivalent} and the run,
//               neurobench and dense energies on /spikesim/totals
//   accuracy    the "accuracy", "ppl" and "dense_ppl" of /spikesim/summary
//
// Derived figures (one definition each):
//   spikes per neuron per token = spikes / neuron_tokens
//   activation sparsity         = activation_sparsity(counts) (core/counters.hpp)
//   bits per neuron per token   = mean over neurons of log2(L+1) (unsigned)
//                                 or log2(2L+1) (signed), L = (2^bits-1)·steps
//   energy ratio                = spiking total pJ / dense-equivalent total pJ
//   population energy           = spiking_energy() of its totals under the
//                                 energy settings of the run's config
// The NeuroBench names and how each is computed: docs/reference/neurobench.md.
//
// Files written before the grid, token and footprint records existed are
// still read; what they lack is reported as unknown, never invented.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/counters.hpp"
#include "core/energy_model.hpp"

namespace spikesim {

// The GIF grid of a population, from /spikesim/populations/<p>/{bits,steps}.
struct GridSummary {
  bool known = false;  // false: the file has no grid for this population
  bool is_signed = false;
  unsigned min_bits = 0, max_bits = 0;
  unsigned min_steps = 0, max_steps = 0;
  std::uint64_t salient = 0;         // neurons with more steps than the fewest (saliency)
  double bits_per_neuron_token = 0;  // mean over the neurons
};

struct PopulationReport {
  std::string name;
  std::string stage;  // stage it belongs to ("" when none matches)
  int layer = -1;
  std::uint64_t neurons = 0;
  OpCounts totals;  // /totals, or what the per-neuron counters give when it is absent
  bool has_totals = false;
  GridSummary grid;
  std::optional<EnergyBreakdown> energy;  // spiking energy of its totals (config's energy model)
  [[nodiscard]] double spikes_per_neuron_token() const;
  [[nodiscard]] double activation_sparsity() const { return spikesim::activation_sparsity(totals); }
};

// One row of the stage and layer tables.
struct CountsRow {
  std::string name;  // stage name, or "layer<l>" / "other"
  int layer = -1;
  std::string kind;  // stages only: "linear", "attention", "dense"
  std::optional<std::uint64_t> order;  // stages only: position in the network's stage order
  OpCounts run, dense_equivalent;
  EnergyBreakdown energy, dense_energy;  // spiking (the run's convention) and dense equivalent
  std::vector<std::string> populations;
  std::uint64_t grid_neurons = 0;  // neurons of its populations with a known grid
  double bits_sum = 0;             // sum of their bits per token

  [[nodiscard]] double energy_ratio() const;  // 0 when the dense energy is 0
  [[nodiscard]] double spikes_per_neuron_token() const;
  [[nodiscard]] double activation_sparsity() const { return spikesim::activation_sparsity(run); }
  [[nodiscard]] std::optional<double> bits_per_neuron_token() const;
};

// The NeuroBench names (docs/reference/neurobench.md).
struct NeuroBenchFigures {
  std::uint64_t dense = 0;                       // Dense: dense-equivalent MACs
  std::uint64_t effective_macs = 0;              // Effective_MACs = synaptic + dense-unit MACs of the run
  std::uint64_t effective_macs_synaptic = 0;     //   multi-level events x fan-out
  std::uint64_t effective_macs_dense_units = 0;  //   MACs the run still does densely (lm_head, ...)
  std::uint64_t effective_acs = 0;               // Effective_ACs: binary events x fan-out
  double activation_sparsity = 0;                // ActivationSparsity
  std::uint64_t membrane_updates = 0;            // MembraneUpdates
  std::optional<std::uint64_t> footprint_bytes;  // Footprint
  std::optional<double> connection_sparsity;     // ConnectionSparsity
};

struct AccuracyFigures {
  double max_abs_diff = 0, mean_cosine = 0, top1_agreement = 0, mean_kl = 0;
  std::uint64_t positions = 0;
  std::optional<double> ppl, dense_ppl;
};

// One projection's weights as the run held them (/spikesim/weights/<name>).
struct WeightReport {
  std::string name, format;
  std::uint64_t bytes = 0;
  double bits_per_weight = 0;
};

struct RunReport {
  std::filesystem::path path;
  bool complete = false;
  std::string spikesim_version;
  std::string model, model_format, mode, workload;
  // What the accuracy methods changed before the run (summary's settings and "calibrated"); "" = none.
  std::string accuracy_methods;
  std::optional<std::uint64_t> tokens;
  std::string config_text;
  // Selected settings of the run's config ("encoding.bits" -> "4"), in schema order.
  std::vector<std::pair<std::string, std::string>> settings;
  std::string energy_note;  // why population energies are unknown, when they are

  bool has_totals = false;
  // The run, neurobench and dense energies of /spikesim/totals were in the
  // file. When not (the linear-stack workload writes none), `energy` and
  // `dense_energy` are the sums of the stages and the NeuroBench energy is unknown.
  bool totals_energy_recorded = false;
  OpCounts run, dense_equivalent;
  EnergyBreakdown energy, energy_neurobench, dense_energy;
  NeuroBenchFigures neurobench;
  std::optional<AccuracyFigures> accuracy;
  double wall_s = 0;

  std::vector<CountsRow> stages;               // in run order
  std::vector<CountsRow> layers;               // layer0, layer1, ..., then "other" (-1)
  std::vector<PopulationReport> populations;   // in name order
  std::vector<std::string> spike_populations;  // /spikes groups
  std::vector<std::string> traced;             // /report groups
  std::vector<WeightReport> weights;           // /spikesim/weights, in name order (empty in older files)

  [[nodiscard]] double energy_ratio() const;
  [[nodiscard]] double bits_per_neuron_token() const;  // over all populations with a grid; 0 when none
  [[nodiscard]] bool clocked() const {
    return run.membrane_updates > run.neuron_tokens;
  }  // any neuron stepped
  [[nodiscard]] const PopulationReport* population(const std::string& name) const;
};

// Reads a run file. Not a spikesim file: Error(ExitCode::data) naming it.
RunReport read_run_report(const std::filesystem::path& path);

// The populations ordered by spikes (most active) and by energy (most
// energy-hungry; by amplitude ACs when energies are unknown), first k.
std::vector<const PopulationReport*> top_active(const RunReport& report, std::size_t k);
std::vector<const PopulationReport*> top_energy(const RunReport& report, std::size_t k);

std::string format_report_text(const RunReport& report, std::size_t top_k = 5);
nlohmann::json report_json(const RunReport& report, std::size_t top_k = 5);
// A single HTML page: the text tables, and the energy, raster, rates and
// (when traces were recorded) membrane plots as inline SVG.
std::string report_html(const RunReport& report, std::size_t top_k = 5);

}  // namespace spikesim
