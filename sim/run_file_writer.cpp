#include "sim/run_file_writer.hpp"

#include <fnmatch.h>

#include <sstream>

#include "network/dense_projection.hpp"

namespace spikesim {
namespace {

// Stage accounts in the network's stage order, which `order` records.
void write_accounts(Hdf5Recorder& rec, const std::vector<StageAccount>& accounts, const EnergyModel& em,
                    AcConvention conv) {
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const StageAccount& a = accounts[i];
    const std::string g = "stages/" + a.name;
    rec.write_op_counts(g + "/run", a.run);
    rec.write_op_counts(g + "/dense_equivalent", a.dense_equivalent);
    rec.write_energy(g, "run", spiking_energy(em, a.run, conv));
    rec.write_energy(g, "dense", dense_energy(em, a.dense_equivalent));
    rec.write_attribute("/spikesim/" + g, "layer", static_cast<double>(a.layer));
    rec.write_attribute("/spikesim/" + g, "kind", a.kind);
    rec.write_attribute("/spikesim/" + g, "order", static_cast<std::uint64_t>(i));
  }
}

// The energy figures the run was priced with, so that a report prices it
// the same way without knowing today's presets or config schema.
void write_energy_model(Hdf5Recorder& rec, const EnergyModel& em, AcConvention conv) {
  const std::string g = "/spikesim/energy_model";
  rec.write_attribute(g, "preset", em.preset);
  rec.write_attribute(g, "precision", std::string(precision_name(em.precision)));
  rec.write_attribute(g, "memory", std::string(memory_level_name(em.memory)));
  rec.write_attribute(g, "ac_convention", std::string(ac_convention_name(conv)));
  for (const auto& [name, field] : energy_model_figures()) rec.write_attribute(g, std::string(name), em.*field);
}

// The network that ran, as `spikesim graph` draws it.
void write_network(Hdf5Recorder& rec, const NetworkGraph& network) {
  std::ostringstream dot;
  network.write_dot(dot);
  rec.write_text("/spikesim/network", dot.str());
}

// The grid of a GIF population (DESIGN.md §1), for reports: per neuron its
// amplitude bits (A = 2^bits - 1) and steps T, and whether it is signed.
void write_population_grid(Hdf5Recorder& rec, const Population& pop) {
  std::vector<std::uint8_t> bits(pop.size());
  std::vector<std::uint32_t> steps(pop.size());
  for (std::size_t i = 0; i < pop.size(); ++i) {
    bits[i] = static_cast<std::uint8_t>(shift_add_cost(static_cast<std::uint32_t>(pop.max_amplitude(i))));
    steps[i] = pop.steps(i);
  }
  const std::string group = "/spikesim/populations/" + pop.name();
  rec.write_vector(group + "/bits", bits);
  rec.write_vector(group + "/steps", steps);
  rec.write_attribute(group, "signed", static_cast<std::uint64_t>(pop.is_signed() ? 1 : 0));
}

// Each projection's weight format and bytes (/spikesim/weights/<name>), and
// the NeuroBench Footprint and ConnectionSparsity of all of them
// (docs/reference/neurobench.md): their bytes and the fraction of exact
// zeros.
void write_footprint(Hdf5Recorder& rec, const std::vector<WeightFootprint>& weights, std::uint64_t bias_bytes) {
  std::uint64_t count = 0, zeros = 0, bytes = bias_bytes;
  for (const WeightFootprint& w : weights) {
    const std::string group = "/spikesim/weights/" + w.name;
    rec.write_attribute(group, "format", w.format);
    rec.write_attribute(group, "type", std::string(weight_type_name(w.type)));
    rec.write_attribute(group, "bytes", w.bytes);
    rec.write_attribute(group, "bits_per_weight", w.bits_per_weight);
    rec.write_attribute(group, "rows", w.rows);
    rec.write_attribute(group, "cols", w.cols);
    count += w.rows * w.cols;
    zeros += w.zeros;
    bytes += w.bytes;
  }
  rec.write_attribute("/spikesim", "footprint_bytes", bytes);
  rec.write_attribute("/spikesim", "connection_sparsity",
                      count > 0 ? static_cast<double>(zeros) / static_cast<double>(count) : 0.0);
}

}  // namespace

std::vector<WeightFootprint> weight_footprints(const std::vector<std::pair<std::string, const WeightTensor*>>& weights) {
  std::vector<WeightFootprint> out;
  for (const auto& [name, w] : weights)
    out.push_back({name, w->format(), w->type(), w->stored_bytes(), w->bits_per_weight(),
                   static_cast<std::uint64_t>(w->rows()), static_cast<std::uint64_t>(w->cols()), w->count_zeros()});
  return out;
}

bool RecordingObserver::matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns)
    if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

void write_run_identity(Hdf5Recorder& rec, RecordingObserver& observer, const RunFileContents& f) {
  const SimConfig& cfg = f.config;
  for (const auto& [p, stage] : f.populations) {
    observer.ensure(*p);
    write_population_grid(rec, *p);
    rec.write_attribute("/spikesim/populations/" + p->name(), "stage", stage);
  }
  write_network(rec, f.network);
  write_energy_model(rec, f.energy, cfg.energy.ac_convention);
  write_footprint(rec, f.weights, f.bias_bytes);
  if (const auto& t = f.transformer) {
    rec.write_attribute("/spikesim", "model", t->model_source);
    rec.write_attribute("/spikesim", "model_format", t->model_format);
    rec.write_attribute("/spikesim", "mode", std::string(forward_mode_name(t->mode)));
  }
  rec.write_text("/spikesim/config", cfg.source_text);
}

void write_run_counts(Hdf5Recorder& rec, const RunFileContents& f) {
  const SimConfig& cfg = f.config;
  for (const auto& [p, stage] : f.populations) {
    rec.write_neuron_counters(p->name(), p->counters());
    if (f.population_totals) rec.write_op_counts("populations/" + p->name() + "/totals", p->totals());
    rec.write_vector("/spikesim/populations/" + p->name() + "/energy_pj",
                     std::span<const double>(neuron_energy_pj(f.energy, p->counters(), p->totals(),
                                                              cfg.energy.ac_convention)));
  }
  rec.write_attribute("/spikesim", "tokens", f.tokens);
  rec.write_vector("/spikesim/token_steps", f.token_steps);
  write_accounts(rec, f.accounts, f.energy, cfg.energy.ac_convention);
  rec.write_op_counts("totals/run", f.totals.run);
  rec.write_op_counts("totals/dense_equivalent", f.totals.dense_equivalent);
  if (const auto& t = f.transformer) {
    rec.write_energy("totals", "run", f.totals.energy);
    rec.write_energy("totals", "neurobench", f.totals.energy_neurobench);
    rec.write_energy("totals", "dense", f.totals.dense_energy);
    if (cfg.record.logits && t->logits != nullptr) {
      for (const auto& [path, m] : {std::pair{"/spikesim/logits", t->logits}, std::pair{"/spikesim/dense_logits", t->dense_logits}})
        rec.write_matrix(path, m->data(), static_cast<std::size_t>(m->rows()), static_cast<std::size_t>(m->cols()));
    }
    const std::vector<std::uint32_t> ids(t->token_ids.begin(), t->token_ids.end());
    rec.write_vector("/spikesim/tokens", ids);
  }
  rec.write_text("/spikesim/summary", f.summary.dump(2));
  if (f.complete) rec.finalize();
}

void write_run_file(Hdf5Recorder& rec, RecordingObserver& observer, const RunFileContents& f) {
  write_run_identity(rec, observer, f);
  write_run_counts(rec, f);
}

}  // namespace spikesim
