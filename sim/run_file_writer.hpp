#pragma once
// What `spikesim run` writes into its HDF5 file (docs/reference/hdf5-layout.md),
// for both workloads:
//   while it runs  RecordingObserver streams SONATA spikes and membrane
//                  frames of the configured populations;
//   at the start   write_run_identity: every population's grid and stage,
//                  the network that ran, the energy figures used, NeuroBench
//                  footprint, the model's identity, the config text;
//   every few seconds, and at the end (or an interruption)
//                  write_run_counts: counters, per-neuron energy, the stage
//                  accounts in the network's order, the totals, token steps,
//                  logits and tokens, the summary; at the end it finalizes
//                  the file (renamed into place only then), otherwise the
//                  ".partial" file says what it holds.
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/energy_model.hpp"
#include "io/config/config.hpp"
#include "io/runfile/recorder.hpp"
#include "network/network_graph.hpp"
#include "sim/run_summary.hpp"
#include "sim/simulator.hpp"
#include "sim/transformer.hpp"

namespace spikesim {

// Records what the loop emits into the HDF5 file, for the configured populations.
class RecordingObserver : public SpikeObserver {
 public:
  RecordingObserver(Hdf5Recorder& rec, const RecordConfig& cfg) : rec_(rec), cfg_(cfg) {}

  void on_spikes(const Population& pop, std::span<const SpikeEvent> events) override {
    if (const auto id = spike_id(pop)) rec_.append_spikes(*id, events);
  }
  void on_membrane(const Population& pop, Step step, unsigned t) override {
    const auto id = trace_id(pop);
    if (!id) return;
    const auto n = std::min<std::size_t>(pop.size(), static_cast<std::size_t>(cfg_.trace_neurons));
    frame_.resize(n);
    for (std::size_t i = 0; i < n; ++i) frame_[i] = static_cast<float>(pop.membrane()[i]);
    rec_.append_frame(*id, step, frame_);
    if (t == 0) {  // the injection: this token's θ and z, so that plots can show V in value units
      theta_.resize(n);
      zero_.resize(n);
      const TokenScale& scale = pop.scale();
      const auto group = pop.group_of();
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t g = i < group.size() ? group[i] : 0;
        theta_[i] = g < scale.theta.size() ? scale.theta[g] : 0.0f;
        zero_[i] = g < scale.zero.size() ? static_cast<std::int32_t>(scale.zero[g]) : 0;
      }
      rec_.append_token_scale(*id, step, theta_, zero_);
    }
  }
  // Registers populations that never spiked so that the file lists them all.
  void ensure(const Population& pop) { (void)spike_id(pop); }

 private:
  static bool matches_any(const std::vector<std::string>& patterns, const std::string& name);
  std::optional<std::size_t> spike_id(const Population& pop) {
    const auto it = spikes_.find(&pop);
    if (it != spikes_.end()) return it->second;
    std::optional<std::size_t> id;
    if (cfg_.spikes && (cfg_.populations.empty() || matches_any(cfg_.populations, pop.name())))
      id = rec_.add_spike_population(pop.name());
    spikes_.emplace(&pop, id);
    return id;
  }
  std::optional<std::size_t> trace_id(const Population& pop) {
    const auto it = traces_.find(&pop);
    if (it != traces_.end()) return it->second;
    std::optional<std::size_t> id;
    if (cfg_.trace_neurons > 0 && matches_any(cfg_.trace_populations, pop.name())) {
      std::vector<NeuronId> ids(std::min<std::size_t>(pop.size(), static_cast<std::size_t>(cfg_.trace_neurons)));
      for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<NeuronId>(i);
      id = rec_.add_trace_population(pop.name(), std::move(ids), "membrane (grid levels)");
    }
    traces_.emplace(&pop, id);
    return id;
  }

  Hdf5Recorder& rec_;
  const RecordConfig& cfg_;
  std::map<const Population*, std::optional<std::size_t>> spikes_, traces_;
  std::vector<float> frame_, theta_;
  std::vector<std::int32_t> zero_;
};

// What only a transformer run writes.
struct TransformerRunContents {
  std::string model_source, model_format;
  ForwardMode mode = ForwardMode::spiking;
  const MatrixRM* logits = nullptr;        // written when record.logits and given (not at checkpoints)
  const MatrixRM* dense_logits = nullptr;
  std::vector<int> token_ids;
};

// One weight tensor as the footprint counts it, taken while the model is
// whole: a rank that later keeps only its rows still writes the whole
// model's footprint (core/partition.hpp).
struct WeightFootprint {
  std::string name;
  std::string format;
  WeightType type = WeightType::f32;
  std::uint64_t bytes = 0;
  double bits_per_weight = 0;
  std::uint64_t rows = 0, cols = 0;
  std::uint64_t zeros = 0;
};
// Every tensor of `weights` (a scan of every weight).
std::vector<WeightFootprint> weight_footprints(const std::vector<std::pair<std::string, const WeightTensor*>>& weights);

struct RunFileContents {
  const SimConfig& config;
  const EnergyModel& energy;
  const std::vector<StageAccount>& accounts;  // in the network's stage order
  const RunTotals& totals;
  const NetworkGraph& network;
  std::vector<std::pair<const Population*, std::string>> populations;  // with their stage
  bool population_totals = true;  // write each population's OpCounts
  // Every weight tensor by projection name: NeuroBench Footprint and
  // ConnectionSparsity, and /spikesim/weights/<name> (format and bytes).
  std::vector<WeightFootprint> weights;
  std::uint64_t bias_bytes = 0;  // Footprint only: a bias is no connection
  std::uint64_t tokens = 0;
  std::vector<std::uint64_t> token_steps;  // first global step of each token, then the end
  std::optional<TransformerRunContents> transformer;
  nlohmann::json summary;
  bool complete = true;  // false: a checkpoint or an interrupted run; the file stays ".partial"
};

// What does not change while a run goes (populations' grids and stages, the
// network, the energy figures, the footprint, the model's identity, the
// config): written once, when recording starts.
void write_run_identity(Hdf5Recorder& recorder, RecordingObserver& observer, const RunFileContents& contents);
// The counts so far (counters, per-neuron energy, stage accounts, totals,
// token steps, logits when given, summary); finalizes the file when
// `contents.complete`. Written at every checkpoint and at the end.
void write_run_counts(Hdf5Recorder& recorder, const RunFileContents& contents);
// Both, for a run written once at its end.
void write_run_file(Hdf5Recorder& recorder, RecordingObserver& observer, const RunFileContents& contents);

}  // namespace spikesim
