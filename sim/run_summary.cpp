#include "sim/run_summary.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>

namespace spikesim {

LogitComparison compare_logits(const MatrixRM& run, const MatrixRM& ref) {
  LogitComparison c;
  c.positions = static_cast<std::uint64_t>(run.rows());
  if (run.rows() == 0) return c;
  for (Eigen::Index r = 0; r < run.rows(); ++r) {
    const Eigen::VectorXd a = run.row(r).transpose().cast<double>();
    const Eigen::VectorXd b = ref.row(r).transpose().cast<double>();
    c.max_abs_diff = std::max(c.max_abs_diff, (a - b).cwiseAbs().maxCoeff());
    c.mean_cosine += a.dot(b) / std::max(1e-300, a.norm() * b.norm());
    Eigen::Index ia = 0, ib = 0;
    a.maxCoeff(&ia);
    b.maxCoeff(&ib);
    c.top1_agreement += ia == ib ? 1.0 : 0.0;
    // KL(p_ref || p_run) from log-softmaxes.
    const double ma = a.maxCoeff(), mb = b.maxCoeff();
    const double lza = ma + std::log((a.array() - ma).exp().sum());
    const double lzb = mb + std::log((b.array() - mb).exp().sum());
    const Eigen::ArrayXd lpa = a.array() - lza, lpb = b.array() - lzb;
    c.mean_kl += (lpb.exp() * (lpb - lpa)).sum();
  }
  const auto n = static_cast<double>(run.rows());
  c.mean_cosine /= n;
  c.top1_agreement /= n;
  c.mean_kl /= n;
  return c;
}

double RunTotals::energy_ratio() const {
  const double d = dense_energy.total_pj();
  return d > 0 ? energy.total_pj() / d : 0.0;
}

// Fraction of neuron-steps without a spike (core/counters.hpp).
double RunTotals::activation_sparsity() const {
  return spikesim::activation_sparsity(run);
}

double RunTotals::spikes_per_neuron_token() const {
  // Bits per neuron per token come from the grid (the report has it); this
  // is the mean number of spikes.
  return run.neuron_tokens > 0 ? static_cast<double>(run.spikes) / static_cast<double>(run.neuron_tokens)
                               : 0.0;
}

RunTotals summarize(const std::vector<StageAccount>& accounts,
                    const std::vector<const Population*>& populations, const EnergyModel& model,
                    AcConvention convention, ForwardMode mode, std::uint64_t tokens) {
  RunTotals t;
  t.mode = std::string(forward_mode_name(mode));
  t.tokens = tokens;
  for (const StageAccount& a : accounts) {
    t.run += a.run;
    t.dense_equivalent += a.dense_equivalent;
  }
  for (const Population* p : populations) t.neurons += p->size();
  t.run.neurons = t.neurons;
  t.energy = spiking_energy(model, t.run, convention);
  t.energy_neurobench = neurobench_energy(model, t.run);
  t.dense_energy = dense_energy(model, t.dense_equivalent);
  return t;
}

std::vector<LayerTotals> layer_totals(const std::vector<StageAccount>& accounts, const EnergyModel& model,
                                      AcConvention convention) {
  std::map<int, LayerTotals> by_layer;
  for (const StageAccount& a : accounts) {
    LayerTotals& l = by_layer[a.layer];
    l.layer = a.layer;
    l.run += a.run;
    l.dense_equivalent += a.dense_equivalent;
  }
  std::vector<LayerTotals> out;
  for (auto& [layer, l] : by_layer) {
    l.energy = spiking_energy(model, l.run, convention);
    l.dense_energy = dense_energy(model, l.dense_equivalent);
    out.push_back(l);
  }
  return out;
}

nlohmann::json to_json(const RunTotals& t) {
  const bool spiking = t.mode == forward_mode_name(ForwardMode::spiking);
  return {{"mode", t.mode},
          {"tokens", t.tokens},
          {"neurons", t.neurons},
          {"spikes", t.run.spikes},
          {"synaptic_events", t.run.synaptic_events},
          {"amplitude_acs", t.run.amplitude_acs},
          {"effective_acs", t.run.effective_acs},
          {"effective_macs", t.run.effective_macs},
          {"dense_macs", t.dense_equivalent.dense[DenseOp::mac]},
          {"run_dense_ops", t.run.dense.total()},
          {"energy_pj", t.energy.total_pj()},
          {"energy_neurobench_pj", t.energy_neurobench.total_pj()},
          {"dense_energy_pj", t.dense_energy.total_pj()},
          // null where the figure is undefined: no dense energy, or no spike in a dense or quantized run.
          {"energy_ratio", t.dense_energy.total_pj() > 0 ? nlohmann::json(t.energy_ratio()) : nlohmann::json()},
          {"activation_sparsity", spiking ? nlohmann::json(t.activation_sparsity()) : nlohmann::json()},
          {"spikes_per_neuron_token", spiking ? nlohmann::json(t.spikes_per_neuron_token()) : nlohmann::json()},
          // The NeuroBench names, each as the report computes it (core/counters.hpp).
          {"neurobench", {{"Effective_MACs", neurobench_effective_macs(t.run)},
                          {"Effective_MACs_synaptic", t.run.effective_macs},
                          {"Effective_MACs_dense_units", t.run.dense[DenseOp::mac]},
                          {"Effective_ACs", t.run.effective_acs},
                          {"Dense", t.dense_equivalent.dense[DenseOp::mac]},
                          {"ActivationSparsity", spiking ? nlohmann::json(t.activation_sparsity()) : nlohmann::json()},
                          {"MembraneUpdates", t.run.membrane_updates}}},
          {"run", to_json(t.run)},
          {"dense_equivalent", to_json(t.dense_equivalent)},
          {"energy", to_json(t.energy)},
          {"energy_neurobench", to_json(t.energy_neurobench)},
          {"dense_energy", to_json(t.dense_energy)}};
}

nlohmann::json to_json(const LogitComparison& c) {
  return {{"max_abs_diff", c.max_abs_diff},
          {"mean_cosine", c.mean_cosine},
          {"top1_agreement", c.top1_agreement},
          {"mean_kl", c.mean_kl},
          {"positions", c.positions}};
}

std::string format_summary(const RunTotals& t, const std::vector<LayerTotals>& layers, double wall_s) {
  std::string s;
  auto line = [&](const std::string& k, const std::string& v) {
    s += fmt::format("  {:<34} {:>20}\n", k, v);
  };
  auto num = [](double v) { return fmt::format("{:.4g}", v); };
  s += fmt::format("spikesim run summary ({} mode, {} tokens)\n", t.mode, t.tokens);
  // Dense and quantized runs emit no spike: what only spikes define is n/a
  // there, not 0.
  const bool spiking = t.mode == forward_mode_name(ForwardMode::spiking);
  auto count = [&](std::uint64_t v) { return spiking ? fmt::format("{}", v) : std::string("n/a"); };
  line("neurons (GIF)", fmt::format("{}", t.neurons));
  line("spikes", count(t.run.spikes));
  line("activation sparsity", spiking ? fmt::format("{:.3f}", t.activation_sparsity()) : "n/a");
  line("synaptic events", count(t.run.synaptic_events));
  line("ACs (amplitude units)", count(t.run.amplitude_acs));
  line("ACs (shift-add)", count(t.run.shift_add_acs));
  line("Effective_ACs (NeuroBench)", count(t.run.effective_acs));
  line("Effective_MACs (NeuroBench)", fmt::format("{}", neurobench_effective_macs(t.run)));
  line("  of which multi-level spikes", count(t.run.effective_macs));
  line("dense-unit ops in the run", fmt::format("{}", t.run.dense.total()));
  line("dense-equivalent MACs", fmt::format("{}", t.dense_equivalent.dense[DenseOp::mac]));
  line("energy, spiking (pJ)", num(t.energy.total_pj()));
  line("energy, spiking NeuroBench (pJ)", num(t.energy_neurobench.total_pj()));
  line("energy, dense equivalent (pJ)", num(t.dense_energy.total_pj()));
  line("energy ratio spiking / dense", t.dense_energy.total_pj() > 0 ? fmt::format("{:.4f}", t.energy_ratio()) : "n/a");
  line("wall time (s)", fmt::format("{:.3f}", wall_s));
  if (!layers.empty()) {
    s += fmt::format("\n  {:<10} {:>12} {:>16} {:>14} {:>14} {:>8}\n", "layer", "spikes", "synaptic ev.",
                     "energy pJ", "dense pJ", "ratio");
    for (const LayerTotals& l : layers) {
      const double d = l.dense_energy.total_pj();
      s += fmt::format("  {:<10} {:>12} {:>16} {:>14.4g} {:>14.4g} {:>8}\n",
                       l.layer < 0 ? std::string("other") : fmt::format("layer{}", l.layer), count(l.run.spikes),
                       count(l.run.synaptic_events), l.energy.total_pj(), d,
                       d > 0 ? fmt::format("{:.4f}", l.energy.total_pj() / d) : std::string("n/a"));
    }
  }
  return s;
}

}  // namespace spikesim
