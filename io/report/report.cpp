#include "io/report/report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <variant>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "io/report/counts_json.hpp"
#include "io/runfile/hdf5.hpp"
#include "io/report/report_detail.hpp"

namespace spikesim {
namespace report_detail {

// Population energies cover the synaptic work of the population's own
// projections; K/V encoders have none (their cached spikes are replayed by
// the attention products, counted on the attention stage).
const char* const kKvNote =
    "population energy = its spikes' delivery through its own projections; the K/V encoders' spikes are "
    "replayed by QK^T and PV, whose work is counted on the layer<l>.attention stage";

}  // namespace report_detail

using namespace report_detail;

namespace {

// ---- Reading -------------------------------------------------------------------

std::uint64_t u64_attribute(const h5::File& f, const std::string& object, const std::string& name) {
  return h5::has_attribute(f, object, name) ? h5::read_attribute<std::uint64_t>(f, object, name) : 0;
}
double f64_attribute(const h5::File& f, const std::string& object, const std::string& name) {
  return h5::has_attribute(f, object, name) ? h5::read_attribute<double>(f, object, name) : 0.0;
}

// An OpCounts written by Hdf5Recorder::write_op_counts (absent fields: 0).
OpCounts read_op_counts(const h5::File& f, const std::string& group) {
  OpCounts c;
  if (!h5::exists(f, group)) return c;
  c.neurons = u64_attribute(f, group, "neurons");
  c.membrane_updates = u64_attribute(f, group, "membrane_updates");
  c.spikes = u64_attribute(f, group, "spikes");
  c.amplitude_sum = u64_attribute(f, group, "amplitude_sum");
  c.synaptic_events = u64_attribute(f, group, "synaptic_events");
  c.amplitude_acs = u64_attribute(f, group, "amplitude_acs");
  c.shift_add_acs = u64_attribute(f, group, "shift_add_acs");
  c.effective_acs = u64_attribute(f, group, "effective_acs");
  c.effective_macs = u64_attribute(f, group, "effective_macs");
  c.weight_bytes = u64_attribute(f, group, "weight_bytes");
  c.neuron_tokens = u64_attribute(f, group, "neuron_tokens");
  c.int_amplitude_acs = u64_attribute(f, group, "int_amplitude_acs");
  c.int_shift_add_acs = u64_attribute(f, group, "int_shift_add_acs");
  c.int_effective_acs = u64_attribute(f, group, "int_effective_acs");
  c.int_effective_macs = u64_attribute(f, group, "int_effective_macs");
  c.additive_acs = u64_attribute(f, group, "additive_acs");
  for (std::size_t k = 0; k < kDenseOpKinds; ++k)
    c.dense.n[k] = u64_attribute(f, group, fmt::format("dense_{}", dense_op_name(static_cast<DenseOp>(k))));
  return c;
}

// An EnergyBreakdown written by Hdf5Recorder::write_energy.
EnergyBreakdown read_energy(const h5::File& f, const std::string& group, const std::string& name) {
  EnergyBreakdown e;
  if (!h5::exists(f, group)) return e;
  e.synaptic_pj = f64_attribute(f, group, name + "_synaptic_pj");
  e.neuron_pj = f64_attribute(f, group, name + "_neuron_pj");
  e.dense_pj = f64_attribute(f, group, name + "_dense_pj");
  e.memory_pj = f64_attribute(f, group, name + "_memory_pj");
  return e;
}

EnergyBreakdown& operator+=(EnergyBreakdown& a, const EnergyBreakdown& b) {
  a.synaptic_pj += b.synaptic_pj;
  a.neuron_pj += b.neuron_pj;
  a.dense_pj += b.dense_pj;
  a.memory_pj += b.memory_pj;
  return a;
}

std::vector<std::string> subgroups(const h5::File& f, const std::string& path) {
  std::vector<std::string> out;
  if (!h5::is_group(f, path)) return out;
  for (auto& name : h5::list_children(f, path))
    if (h5::is_group(f, path + "/" + name)) out.push_back(std::move(name));
  return out;
}

std::uint64_t sum_dataset(const h5::File& f, const std::string& path) {
  if (!h5::exists(f, path)) return 0;
  std::uint64_t s = 0;
  for (std::uint64_t v : h5::read_dataset<std::uint64_t>(f, path)) s += v;
  return s;
}

constexpr const char* kEnergyModelGroup = "/spikesim/energy_model";

EnergyModel read_energy_model(const h5::File& f, const std::filesystem::path& path, AcConvention& convention) {
  EnergyModel m;
  const std::string g = kEnergyModelGroup;
  auto need = [&](const std::string& name) {
    if (!h5::has_attribute(f, g, name))
      throw Error(ExitCode::data, fmt::format("'{}' at '{}': attribute '{}' is missing", path.string(), g, name));
  };
  for (const auto& [name, field] : energy_model_figures()) {
    if (energy_figure_optional_in_run_files(name) && !h5::has_attribute(f, g, std::string(name))) continue;
    need(std::string(name));
    m.*field = h5::read_attribute<double>(f, g, std::string(name));
  }
  if (h5::has_attribute(f, g, "preset")) m.preset = h5::read_string_attribute(f, g, "preset");
  need("ac_convention");
  try {
    convention = parse_ac_convention(h5::read_string_attribute(f, g, "ac_convention"));
  } catch (const Error& e) {
    throw Error(ExitCode::data, fmt::format("'{}' at '{}': {}", path.string(), g, e.what()));
  }
  return m;
}

// Files written before the run file recorded the network's stage order
// and each population's stage: the stage order of the LLaMA mapper then.
int legacy_stage_rank(const std::string& name) {
  static const std::array<std::string_view, 14> kOrder{
      "embedding", "attn_norm", "attn_in",  "rope",     "attention",    "attn_out",   "attn_residual",
      "ffn_norm",  "mlp_in",    "silu_mul", "mlp_down", "mlp_residual", "final_norm", "lm_head"};
  const auto dot = name.find('.');
  const std::string_view leaf =
      dot == std::string::npos ? std::string_view(name) : std::string_view(name).substr(dot + 1);
  for (std::size_t i = 0; i < kOrder.size(); ++i)
    if (leaf == kOrder[i]) return static_cast<int>(i);
  return static_cast<int>(kOrder.size());
}

// Sort key of a stage in such a file: embedding first, then the layers, then the rest.
std::tuple<int, int, int, std::string> legacy_stage_key(const CountsRow& s) {
  const int rank = legacy_stage_rank(s.name);
  const int band = s.layer >= 0 ? 1 : (rank == 0 ? 0 : 2);
  return {band, s.layer, rank, s.name};
}

std::string legacy_stage_of_population(const std::string& pop, const std::set<std::string>& stages) {
  if (stages.count(pop)) return pop;
  const auto dot = pop.find('.');
  if (dot != std::string::npos) {
    const std::string prefix = pop.substr(0, dot), rest = pop.substr(dot + 1);
    if ((rest.rfind("k_enc", 0) == 0 || rest.rfind("v_enc", 0) == 0) && stages.count(prefix + ".attention"))
      return prefix + ".attention";
  }
  if (pop == "lm_head_in" && stages.count("lm_head")) return "lm_head";
  return {};
}

int layer_from_name(const std::string& name) {
  if (name.rfind("layer", 0) != 0) return -1;
  int l = 0;
  std::size_t i = 5;
  if (i >= name.size() || !std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) l = l * 10 + (name[i++] - '0');
  return l;
}

// The accuracy methods of sim/accuracy_methods.hpp as the summary records them.
std::string accuracy_methods_text(const nlohmann::json& j) {
  std::vector<std::string> parts;
  const auto text = [&](const char* key) { return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : ""; };
  const auto flag = [&](const char* key) { return j.contains(key) && j[key] == true; };
  if (flag("rotate")) parts.emplace_back("rotation");
  if (!text("smoothing").empty() && text("smoothing") != "none") parts.push_back("smoothing " + text("smoothing"));
  if (flag("weight_clip")) parts.emplace_back("weight clipping");
  if (flag("group_ranges")) parts.emplace_back("per-group ranges");
  if (!text("act_clip").empty() && text("act_clip") != "none") parts.push_back("activation clipping " + text("act_clip"));
  if (j.contains("bits_budget") && j["bits_budget"].is_number() && j["bits_budget"].get<double>() > 0)
    parts.push_back(fmt::format("mixed precision (budget {} bits)", j["bits_budget"].get<double>()));
  if (parts.empty()) return {};
  return fmt::format("{}, calibrated before the run", fmt::join(parts, ", "));
}

GridSummary read_grid(const h5::File& f, const std::string& group) {
  GridSummary g;
  if (!h5::exists(f, group + "/bits") || !h5::exists(f, group + "/steps")) return g;
  const auto bits = h5::read_dataset<std::uint32_t>(f, group + "/bits");
  const auto steps = h5::read_dataset<std::uint32_t>(f, group + "/steps");
  if (bits.size() != steps.size())
    throw Error(ExitCode::data, fmt::format("'{}' at '{}': bits has {} entries but steps has {}",
                                            f.path().string(), group, bits.size(), steps.size()));
  g.known = true;
  g.is_signed = u64_attribute(f, group, "signed") != 0;
  if (bits.empty()) return g;
  g.min_bits = *std::min_element(bits.begin(), bits.end());
  g.max_bits = *std::max_element(bits.begin(), bits.end());
  g.min_steps = *std::min_element(steps.begin(), steps.end());
  g.max_steps = *std::max_element(steps.begin(), steps.end());
  double sum = 0;
  for (std::size_t i = 0; i < bits.size(); ++i) {
    // Same formula as GifGrid::bits_per_token.
    const double levels = static_cast<double>((std::uint64_t{1} << bits[i]) - 1) * steps[i];
    sum += std::log2(g.is_signed ? 2 * levels + 1 : levels + 1);
    if (steps[i] > g.min_steps) ++g.salient;
  }
  g.bits_per_neuron_token = sum / static_cast<double>(bits.size());
  return g;
}

std::string value_text(const ConfigValue& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>)
          return x ? "true" : "false";
        else if constexpr (std::is_same_v<T, std::string>)
          return x.empty() ? "\"\"" : x;
        else if constexpr (std::is_same_v<T, std::int64_t>)
          return fmt::format("{}", x);
        else if constexpr (std::is_same_v<T, double>)
          return fmt::format("{}", x);
        else
          return fmt::format("[{}]", fmt::join(x, ", "));
      },
      v);
}

// ---- Formatting helpers ----------------------------------------------------------

std::string num(double v) {
  if (!std::isfinite(v)) return "-";
  return fmt::format("{:.4g}", v);
}

}  // namespace

namespace report_detail {

// Energies in the unit that suits them.
std::string energy_text(double pj) {
  static constexpr std::array<std::pair<double, const char*>, 5> kUnits{
      {{1e12, "J"}, {1e9, "mJ"}, {1e6, "µJ"}, {1e3, "nJ"}, {1, "pJ"}}};
  for (const auto& [scale, unit] : kUnits)
    if (std::abs(pj) >= scale) return fmt::format("{:.4g} {}", pj / scale, unit);
  return fmt::format("{:.4g} pJ", pj);
}

}  // namespace report_detail

namespace {

// A plain text table: first column left-aligned, the others right-aligned.
std::string text_table(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows,
                       const std::vector<std::size_t>& left = {0}) {
  std::vector<std::size_t> width(header.size());
  auto measure = [](const std::string& s) {
    std::size_t n = 0;  // UTF-8 code points
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
  };
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = measure(header[c]);
  for (const auto& r : rows)
    for (std::size_t c = 0; c < r.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], measure(r[c]));
  auto line = [&](const std::vector<std::string>& r) {
    std::string s = " ";
    for (std::size_t c = 0; c < r.size() && c < width.size(); ++c) {
      const std::string pad(width[c] - std::min(width[c], measure(r[c])), ' ');
      s += ' ';
      const bool to_left = std::find(left.begin(), left.end(), c) != left.end();
      s += to_left ? r[c] + pad : pad + r[c];
    }
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s + "\n";
  };
  std::string out = line(header);
  for (const auto& r : rows) out += line(r);
  return out;
}

}  // namespace

namespace report_detail {

const std::vector<std::string>& row_header() {
  static const std::vector<std::string> h{
      "",         "neurons",   "spikes", "spk/neuron/tok", "act. sparsity", "syn. events",    "ACs (amp.)",
      "Eff. ACs", "Eff. MACs", "energy", "dense energy",   "ratio",         "bits/neuron/tok"};
  return h;
}

std::vector<std::string> row_cells(const CountsRow& r) {
  const auto bits = r.bits_per_neuron_token();
  return {r.name,
          fmt::format("{}", r.run.neurons),
          fmt::format("{}", r.run.spikes),
          r.run.neuron_tokens > 0 ? fmt::format("{:.3f}", r.spikes_per_neuron_token()) : "-",
          r.run.neuron_tokens > 0 ? fmt::format("{:.3f}", r.activation_sparsity()) : "-",
          fmt::format("{}", r.run.synaptic_events),
          fmt::format("{}", r.run.amplitude_acs),
          fmt::format("{}", r.run.effective_acs),
          fmt::format("{}", r.run.effective_macs),
          energy_text(r.energy.total_pj()),
          energy_text(r.dense_energy.total_pj()),
          r.dense_energy.total_pj() > 0 ? fmt::format("{:.4f}", r.energy_ratio()) : "-",
          bits ? fmt::format("{:.3f}", *bits) : "-"};
}

}  // namespace report_detail

namespace {

nlohmann::json row_json(const CountsRow& r) {
  nlohmann::json j = {{"name", r.name},
                      {"layer", r.layer},
                      {"neurons", r.run.neurons},
                      {"spikes", r.run.spikes},
                      {"spikes_per_neuron_token", r.spikes_per_neuron_token()},
                      {"activation_sparsity", r.activation_sparsity()},
                      {"synaptic_events", r.run.synaptic_events},
                      {"amplitude_acs", r.run.amplitude_acs},
                      {"shift_add_acs", r.run.shift_add_acs},
                      {"effective_acs", r.run.effective_acs},
                      {"effective_macs", r.run.effective_macs},
                      {"additive_acs", r.run.additive_acs},
                      {"additive_fraction", r.run.synaptic_events > 0 ? static_cast<double>(r.run.additive_acs) /
                                                                            static_cast<double>(r.run.synaptic_events)
                                                                      : 0.0},
                      {"run_dense_ops", r.run.dense.total()},
                      {"dense_equivalent_macs", r.dense_equivalent.dense[DenseOp::mac]},
                      {"energy_pj", r.energy.total_pj()},
                      {"dense_energy_pj", r.dense_energy.total_pj()},
                      {"energy_ratio", r.energy_ratio()},
                      {"energy", to_json(r.energy)},
                      {"dense_energy", to_json(r.dense_energy)},
                      {"run", to_json(r.run)},
                      {"dense_equivalent", to_json(r.dense_equivalent)},
                      {"populations", r.populations}};
  if (!r.kind.empty()) j["kind"] = r.kind;
  const auto bits = r.bits_per_neuron_token();
  j["bits_per_neuron_token"] = bits ? nlohmann::json(*bits) : nlohmann::json(nullptr);
  return j;
}

nlohmann::json population_json(const PopulationReport& p) {
  nlohmann::json j = {{"name", p.name},
                      {"stage", p.stage},
                      {"layer", p.layer},
                      {"neurons", p.neurons},
                      {"spikes", p.totals.spikes},
                      {"spikes_per_neuron_token", p.spikes_per_neuron_token()},
                      {"activation_sparsity", p.activation_sparsity()},
                      {"synaptic_events", p.totals.synaptic_events},
                      {"counts_complete", p.has_totals}};
  // Without /totals only the per-neuron counters are known.
  for (const auto& [key, value] :
       {std::pair<const char*, std::uint64_t>{"amplitude_acs", p.totals.amplitude_acs},
        {"effective_acs", p.totals.effective_acs},
        {"effective_macs", p.totals.effective_macs}})
    j[key] = p.has_totals ? nlohmann::json(value) : nlohmann::json(nullptr);
  j["energy_pj"] = p.energy ? nlohmann::json(p.energy->total_pj()) : nlohmann::json(nullptr);
  if (p.grid.known) {
    j["grid"] = {{"signed", p.grid.is_signed},
                 {"bits", {p.grid.min_bits, p.grid.max_bits}},
                 {"steps", {p.grid.min_steps, p.grid.max_steps}},
                 {"salient_neurons", p.grid.salient},
                 {"bits_per_neuron_token", p.grid.bits_per_neuron_token}};
  } else {
    j["grid"] = nullptr;
  }
  return j;
}

}  // namespace

// ---- Derived figures -----------------------------------------------------------------

double PopulationReport::spikes_per_neuron_token() const {
  return totals.neuron_tokens > 0
             ? static_cast<double>(totals.spikes) / static_cast<double>(totals.neuron_tokens)
             : 0.0;
}

double CountsRow::energy_ratio() const {
  const double d = dense_energy.total_pj();
  return d > 0 ? energy.total_pj() / d : 0.0;
}

double CountsRow::spikes_per_neuron_token() const {
  return run.neuron_tokens > 0 ? static_cast<double>(run.spikes) / static_cast<double>(run.neuron_tokens)
                               : 0.0;
}

std::optional<double> CountsRow::bits_per_neuron_token() const {
  if (grid_neurons == 0) return std::nullopt;
  return bits_sum / static_cast<double>(grid_neurons);
}

double RunReport::energy_ratio() const {
  const double d = dense_energy.total_pj();
  return d > 0 ? energy.total_pj() / d : 0.0;
}

double RunReport::bits_per_neuron_token() const {
  double sum = 0;
  std::uint64_t n = 0;
  for (const auto& p : populations)
    if (p.grid.known) {
      sum += p.grid.bits_per_neuron_token * static_cast<double>(p.neurons);
      n += p.neurons;
    }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

const PopulationReport* RunReport::population(const std::string& name) const {
  for (const auto& p : populations)
    if (p.name == name) return &p;
  return nullptr;
}

// ---- read_run_report -------------------------------------------------------------------

RunReport read_run_report(const std::filesystem::path& path) {
  h5::File f = h5::File::open_read_only(path);
  if (!h5::has_attribute(f, "/", "spikesim_complete"))
    throw Error(ExitCode::data, fmt::format("'{}' is not a spikesim run file: the root attribute "
                                            "'spikesim_complete' is missing",
                                            path.string()));
  RunReport r;
  r.path = path;
  r.complete =
      h5::read_attribute<std::uint32_t>(f, "/", "spikesim_complete") == 1 && path.extension() != ".partial";
  if (h5::has_attribute(f, "/", "spikesim_version"))
    r.spikesim_version = h5::read_string_attribute(f, "/", "spikesim_version");
  for (const char* name : {"model", "model_format", "mode"}) {
    if (!h5::exists(f, "/spikesim") || !h5::has_attribute(f, "/spikesim", name)) continue;
    std::string v = h5::read_string_attribute(f, "/spikesim", name);
    if (std::string_view(name) == "model")
      r.model = std::move(v);
    else if (std::string_view(name) == "model_format")
      r.model_format = std::move(v);
    else
      r.mode = std::move(v);
  }
  if (h5::exists(f, "/spikesim") && h5::has_attribute(f, "/spikesim", "tokens"))
    r.tokens = h5::read_attribute<std::uint64_t>(f, "/spikesim", "tokens");
  else if (h5::exists(f, "/spikesim/tokens")) {
    // uint32 [tokens]; files before it stored float [1 x tokens].
    const auto shape = h5::dataset_shape(f, "/spikesim/tokens");
    if (!shape.empty()) r.tokens = shape.back();
  }
  if (h5::exists(f, "/spikesim/config")) r.config_text = h5::read_string_dataset(f, "/spikesim/config");

  // The energy model the run was priced with, as it stored it. Files written
  // before spikesim stored it are priced from their config text instead.
  std::optional<EnergyModel> em;
  AcConvention convention = AcConvention::amplitude;
  if (h5::exists(f, kEnergyModelGroup)) {
    em = read_energy_model(f, path, convention);
  }
  // The run's settings, for display, from its config text.
  if (!r.config_text.empty()) {
    try {
      const SimConfig cfg = parse_config(r.config_text, path.string() + ":/spikesim/config");
      static const std::array<std::string_view, 16> kShown{
          "run.workload",     "run.mode",         "run.tokens",          "model.path",
          "input.token_file", "encoding.bits",    "encoding.signed",     "encoding.saliency",
          "encoding.addbit",  "encoding.low_p",   "encoding.kv_spiking", "encoding.spike_lm_head",
          "energy.profile",   "energy.precision", "energy.memory",       "energy.ac_convention"};
      for (const ConfigKey& key : config_schema())
        if (std::find(kShown.begin(), kShown.end(), key.name) != kShown.end() && key.get)
          r.settings.emplace_back(std::string(key.name), value_text(key.get(cfg, key)));
      if (r.mode.empty()) r.mode = std::string(forward_mode_name(cfg.run.mode));
      if (!em) {
        em = EnergyModel::preset_named(cfg.energy.preset, cfg.energy.precision, cfg.energy.memory);
        convention = cfg.energy.ac_convention;
      }
    } catch (const Error& e) {
      if (!em)
        r.energy_note = fmt::format(
            "the config in the file could not be read back ({}): population energies unknown", e.what());
    }
  } else if (!em) {
    r.energy_note = "the file has no /spikesim/config: population energies unknown";
  }

  if (h5::exists(f, "/spikesim/summary")) {
    try {
      const auto j = nlohmann::json::parse(h5::read_string_dataset(f, "/spikesim/summary"));
      r.workload = j.value("workload", std::string());
      r.wall_s = j.value("wall_s", 0.0);
      r.accuracy_methods = accuracy_methods_text(j);
      if (j.contains("accuracy") && j["accuracy"].is_object()) {
        const auto& a = j["accuracy"];
        AccuracyFigures acc;
        acc.max_abs_diff = a.value("max_abs_diff", 0.0);
        acc.mean_cosine = a.value("mean_cosine", 0.0);
        acc.top1_agreement = a.value("top1_agreement", 0.0);
        acc.mean_kl = a.value("mean_kl", 0.0);
        acc.positions = a.value("positions", std::uint64_t{0});
        if (j.contains("ppl") && j["ppl"].is_number()) acc.ppl = j["ppl"].get<double>();
        if (j.contains("dense_ppl") && j["dense_ppl"].is_number())
          acc.dense_ppl = j["dense_ppl"].get<double>();
        r.accuracy = acc;
      }
    } catch (const nlohmann::json::exception& e) {
      throw Error(ExitCode::data,
                  fmt::format("'{}' at '/spikesim/summary': not valid JSON ({})", path.string(), e.what()));
    }
  }

  // Totals.
  if (h5::exists(f, "/spikesim/totals/run")) {
    r.has_totals = true;
    r.run = read_op_counts(f, "/spikesim/totals/run");
    r.dense_equivalent = read_op_counts(f, "/spikesim/totals/dense_equivalent");
    r.totals_energy_recorded = h5::has_attribute(f, "/spikesim/totals", "run_total_pj");
    r.energy = read_energy(f, "/spikesim/totals", "run");
    r.energy_neurobench = read_energy(f, "/spikesim/totals", "neurobench");
    r.dense_energy = read_energy(f, "/spikesim/totals", "dense");
  }

  // Stages.
  std::set<std::string> stage_names;
  for (const auto& name : subgroups(f, "/spikesim/stages")) {
    const std::string g = "/spikesim/stages/" + name;
    CountsRow s;
    s.name = name;
    s.layer = h5::has_attribute(f, g, "layer")
                  ? static_cast<int>(std::lround(h5::read_attribute<double>(f, g, "layer")))
                  : -1;
    if (h5::has_attribute(f, g, "kind")) s.kind = h5::read_string_attribute(f, g, "kind");
    if (h5::has_attribute(f, g, "order")) s.order = h5::read_attribute<std::uint64_t>(f, g, "order");
    s.run = read_op_counts(f, g + "/run");
    s.dense_equivalent = read_op_counts(f, g + "/dense_equivalent");
    s.energy = read_energy(f, g, "run");
    s.dense_energy = read_energy(f, g, "dense");
    stage_names.insert(name);
    r.stages.push_back(std::move(s));
  }
  // The network's stage order, as the run recorded it (older files: by name).
  if (!r.stages.empty() && std::all_of(r.stages.begin(), r.stages.end(), [](const CountsRow& s) { return s.order; }))
    std::sort(r.stages.begin(), r.stages.end(), [](const CountsRow& a, const CountsRow& b) { return *a.order < *b.order; });
  else
    std::sort(r.stages.begin(), r.stages.end(),
              [](const CountsRow& a, const CountsRow& b) { return legacy_stage_key(a) < legacy_stage_key(b); });
  if (!r.totals_energy_recorded) {
    r.energy = r.dense_energy = {};
    for (const CountsRow& s : r.stages) {
      r.energy += s.energy;
      r.dense_energy += s.dense_energy;
    }
  }

  // Populations.
  for (const auto& name : subgroups(f, "/spikesim/populations")) {
    const std::string g = "/spikesim/populations/" + name;
    PopulationReport p;
    p.name = name;
    p.stage = h5::has_attribute(f, g, "stage") ? h5::read_string_attribute(f, g, "stage")
                                                : legacy_stage_of_population(name, stage_names);
    p.has_totals = h5::exists(f, g + "/totals");
    if (p.has_totals) {
      p.totals = read_op_counts(f, g + "/totals");
      p.neurons = p.totals.neurons;
    } else {
      // Older files and the linear stack: what the per-neuron counters give.
      if (h5::exists(f, g + "/spikes")) p.neurons = h5::dataset_shape(f, g + "/spikes").at(0);
      p.totals.neurons = p.neurons;
      p.totals.membrane_updates = sum_dataset(f, g + "/membrane_updates");
      p.totals.spikes = sum_dataset(f, g + "/spikes");
      p.totals.amplitude_sum = sum_dataset(f, g + "/amplitude_sum");
      p.totals.synaptic_events = sum_dataset(f, g + "/synaptic_events");
      if (r.tokens) p.totals.neuron_tokens = p.neurons * *r.tokens;
    }
    p.grid = read_grid(f, g);
    if (em && p.has_totals) p.energy = spiking_energy(*em, p.totals, convention);
    r.populations.push_back(std::move(p));
  }
  if (!em && r.energy_note.empty())
    r.energy_note = "population energies unknown";
  else if (em && std::any_of(r.populations.begin(), r.populations.end(),
                             [](const auto& p) { return !p.has_totals; }))
    r.energy_note = "some populations have no /totals in the file: their energies are unknown";

  // Populations into stages, stages into layers.
  std::map<std::string, std::size_t> stage_index;
  for (std::size_t i = 0; i < r.stages.size(); ++i) stage_index[r.stages[i].name] = i;
  for (PopulationReport& p : r.populations) {
    if (const auto it = stage_index.find(p.stage); it != stage_index.end()) {
      CountsRow& s = r.stages[it->second];
      p.layer = s.layer;
      s.populations.push_back(p.name);
      if (p.grid.known) {
        s.grid_neurons += p.neurons;
        s.bits_sum += p.grid.bits_per_neuron_token * static_cast<double>(p.neurons);
      }
    } else {
      p.layer = layer_from_name(p.name);
    }
  }
  std::map<int, CountsRow> layers;
  for (const CountsRow& s : r.stages) {
    CountsRow& l = layers[s.layer];
    l.layer = s.layer;
    l.name = s.layer < 0 ? "other" : fmt::format("layer{}", s.layer);
    l.run += s.run;
    l.dense_equivalent += s.dense_equivalent;
    l.energy += s.energy;
    l.dense_energy += s.dense_energy;
    l.populations.insert(l.populations.end(), s.populations.begin(), s.populations.end());
    l.grid_neurons += s.grid_neurons;
    l.bits_sum += s.bits_sum;
  }
  for (auto& [layer, l] : layers)
    if (layer >= 0) r.layers.push_back(std::move(l));
  if (const auto it = layers.find(-1); it != layers.end()) r.layers.push_back(std::move(it->second));

  // NeuroBench.
  NeuroBenchFigures& nb = r.neurobench;
  nb.dense = r.dense_equivalent.dense[DenseOp::mac];
  nb.effective_macs_synaptic = r.run.effective_macs;
  nb.effective_macs_dense_units = r.run.dense[DenseOp::mac];
  nb.effective_macs = neurobench_effective_macs(r.run);
  nb.effective_acs = r.run.effective_acs;
  nb.activation_sparsity = activation_sparsity(r.run);
  nb.membrane_updates = r.run.membrane_updates;
  if (h5::exists(f, "/spikesim") && h5::has_attribute(f, "/spikesim", "footprint_bytes"))
    nb.footprint_bytes = h5::read_attribute<std::uint64_t>(f, "/spikesim", "footprint_bytes");
  if (h5::exists(f, "/spikesim") && h5::has_attribute(f, "/spikesim", "connection_sparsity"))
    nb.connection_sparsity = h5::read_attribute<double>(f, "/spikesim", "connection_sparsity");

  r.spike_populations = subgroups(f, "/spikes");
  r.traced = subgroups(f, "/report");
  for (const auto& name : subgroups(f, "/spikesim/weights")) {
    const std::string g = "/spikesim/weights/" + name;
    WeightReport w{name, h5::read_string_attribute(f, g, "format"), u64_attribute(f, g, "bytes"),
                   f64_attribute(f, g, "bits_per_weight")};
    r.weights.push_back(std::move(w));
  }
  return r;
}

std::vector<const PopulationReport*> top_active(const RunReport& r, std::size_t k) {
  std::vector<const PopulationReport*> out;
  for (const auto& p : r.populations) out.push_back(&p);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto* a, const auto* b) { return a->totals.spikes > b->totals.spikes; });
  if (out.size() > k) out.resize(k);
  return out;
}

std::vector<const PopulationReport*> top_energy(const RunReport& r, std::size_t k) {
  std::vector<const PopulationReport*> out;
  for (const auto& p : r.populations) out.push_back(&p);
  std::stable_sort(out.begin(), out.end(), [](const auto* a, const auto* b) {
    const double ea = a->energy ? a->energy->total_pj() : -1.0, eb = b->energy ? b->energy->total_pj() : -1.0;
    if (ea != eb) return ea > eb;
    return a->totals.amplitude_acs > b->totals.amplitude_acs;
  });
  if (out.size() > k) out.resize(k);
  return out;
}

// ---- Text --------------------------------------------------------------------------------

std::string format_report_text(const RunReport& r, std::size_t top_k) {
  std::string s;
  auto kv = [&](const std::string& k, const std::string& v) { s += fmt::format("  {:<34} {}\n", k, v); };
  s += fmt::format("spikesim report: {}\n", r.path.string());
  if (r.complete) {
    kv("status", "complete");
  } else {
    kv("status", "INCOMPLETE: the run did not finish; the figures cover only what was written");
  }
  kv("written by", r.spikesim_version.empty() ? "(version not recorded)" : "spikesim " + r.spikesim_version);
  kv("model", r.model.empty() ? "(not recorded)" : fmt::format("{} ({})", r.model, r.model_format));
  kv("mode / workload",
     fmt::format("{} / {}", r.mode.empty() ? "?" : r.mode, r.workload.empty() ? "?" : r.workload));
  kv("tokens", r.tokens ? fmt::format("{}", *r.tokens) : "(not recorded)");
  if (!r.accuracy_methods.empty()) kv("accuracy methods", r.accuracy_methods);
  if (!r.settings.empty()) {
    s += "\nConfig (selected keys; the full TOML is /spikesim/config)\n";
    for (const auto& [k, v] : r.settings) kv(k, v);
  }

  if (r.has_totals) {
    s += "\nRun totals\n";
    kv("neurons (GIF)", fmt::format("{}", r.run.neurons));
    kv("spikes", fmt::format("{}", r.run.spikes));
    kv("spikes per neuron per token",
       r.run.neuron_tokens > 0 ? fmt::format("{:.4f}", static_cast<double>(r.run.spikes) /
                                                           static_cast<double>(r.run.neuron_tokens))
                               : "-");
    kv("activation sparsity", r.clocked() ? fmt::format("{:.4f}", activation_sparsity(r.run)) : "-");
    kv("bits per neuron per token (grid)", fmt::format("{:.3f}", r.bits_per_neuron_token()));
    kv("synaptic events", fmt::format("{}", r.run.synaptic_events));
    if (r.run.additive_acs > 0)  // ternary weights (docs/concepts/weight-spiking.md)
      kv("  of which additions (ternary weights)",
         fmt::format("{} ({:.2f}%)", r.run.additive_acs,
                     100.0 * static_cast<double>(r.run.additive_acs) / static_cast<double>(r.run.synaptic_events)));
    kv("dense-unit ops in the run", fmt::format("{}", r.run.dense.total()));
    const std::string from_stages = r.totals_energy_recorded ? "" : " (sum of the stages)";
    const std::string nb_energy = r.totals_energy_recorded ? energy_text(r.energy_neurobench.total_pj())
                                                           : std::string("(not recorded)");
    kv("energy, spiking", energy_text(r.energy.total_pj()) + from_stages);
    kv("energy, spiking (NeuroBench conv.)", nb_energy);
    kv("energy, dense equivalent", energy_text(r.dense_energy.total_pj()) + from_stages);
    kv("energy ratio spiking / dense", fmt::format("{:.4f}", r.energy_ratio()));

    s += "\nNeuroBench metrics (docs/reference/neurobench.md) beside spikesim's own figures\n";
    const NeuroBenchFigures& nb = r.neurobench;
    const std::vector<std::vector<std::string>> rows{
        {"Dense", fmt::format("{}", nb.dense), "  ACs (1 per amplitude unit)",
         fmt::format("{}", r.run.amplitude_acs)},
        {"Effective_MACs", fmt::format("{}", nb.effective_macs), "  ACs (shift-add)",
         fmt::format("{}", r.run.shift_add_acs)},
        {"  synaptic (multi-level events)", fmt::format("{}", nb.effective_macs_synaptic),
         "  synaptic events", fmt::format("{}", r.run.synaptic_events)},
        {"  dense-unit MACs of the run", fmt::format("{}", nb.effective_macs_dense_units), "  amplitude sum",
         fmt::format("{}", r.run.amplitude_sum)},
        {"Effective_ACs", fmt::format("{}", nb.effective_acs), "  energy (spikesim conv.)",
         energy_text(r.energy.total_pj())},
        {"ActivationSparsity", r.clocked() ? fmt::format("{:.4f}", nb.activation_sparsity) : "-",
         "  energy (NeuroBench conv.)", nb_energy},
        {"MembraneUpdates", fmt::format("{}", nb.membrane_updates), "  energy (dense equivalent)",
         energy_text(r.dense_energy.total_pj())},
        {"Footprint (bytes)", nb.footprint_bytes ? fmt::format("{}", *nb.footprint_bytes) : "(not recorded)",
         "  weight bytes fetched", fmt::format("{}", r.run.weight_bytes)},
        {"ConnectionSparsity",
         nb.connection_sparsity ? fmt::format("{:.4f}", *nb.connection_sparsity) : "(not recorded)", "", ""}};
    s += text_table({"NeuroBench", "value", "  spikesim", "value"}, rows, {0, 2});
  }

  if (!r.weights.empty()) {
    // One row per format: the projections that hold it and their bytes.
    std::vector<std::vector<std::string>> rows;
    std::map<std::string, std::pair<std::size_t, std::uint64_t>> by_format;
    std::uint64_t total = 0;
    for (const WeightReport& w : r.weights) {
      auto& [count, bytes] = by_format[w.format];
      ++count;
      bytes += w.bytes;
      total += w.bytes;
    }
    for (const auto& [format, cb] : by_format)
      rows.push_back({format, fmt::format("{}", cb.first), fmt::format("{}", cb.second)});
    rows.push_back({"all", fmt::format("{}", r.weights.size()), fmt::format("{}", total)});
    s += "\nWeights as held (per projection: /spikesim/weights)\n";
    s += text_table({"format", "projections", "bytes"}, rows, {0});
  }

  if (r.accuracy) {
    const AccuracyFigures& a = *r.accuracy;
    s += "\nAccuracy against the dense model on the same tokens\n";
    kv("positions", fmt::format("{}", a.positions));
    kv("max |Δlogit|", num(a.max_abs_diff));
    kv("mean cosine of the logits", fmt::format("{:.6f}", a.mean_cosine));
    kv("top-1 agreement", fmt::format("{:.4f}", a.top1_agreement));
    kv("mean KL(dense || run), nats", num(a.mean_kl));
    if (a.ppl) kv("perplexity, run", fmt::format("{:.4f}", *a.ppl));
    if (a.dense_ppl) kv("perplexity, dense", fmt::format("{:.4f}", *a.dense_ppl));
  }

  if (!r.layers.empty()) {
    s += "\nPer layer (\"other\": embedding, final norm, lm_head)\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : r.layers) rows.push_back(row_cells(l));
    auto h = row_header();
    h[0] = "layer";
    s += text_table(h, rows);
  }
  if (!r.stages.empty()) {
    s += "\nPer stage\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& st : r.stages) rows.push_back(row_cells(st));
    auto h = row_header();
    h[0] = "stage";
    s += text_table(h, rows);
  }
  if (!r.populations.empty()) {
    s += fmt::format("\nMost active populations (top {} by spikes)\n", top_k);
    std::vector<std::vector<std::string>> rows;
    for (const auto* p : top_active(r, top_k))
      rows.push_back({p->name, fmt::format("{}", p->neurons), fmt::format("{}", p->totals.spikes),
                      fmt::format("{:.3f}", p->spikes_per_neuron_token()),
                      fmt::format("{:.3f}", p->activation_sparsity()),
                      p->grid.known ? fmt::format("{:.3f}", p->grid.bits_per_neuron_token) : "-",
                      p->grid.known ? fmt::format("{}", p->grid.salient) : "-"});
    s += text_table(
        {"population", "neurons", "spikes", "spk/neuron/tok", "act. sparsity", "bits/neuron/tok", "salient"},
        rows);
    s += fmt::format("\nMost energy-hungry populations (top {} by the spiking energy of their spikes)\n",
                     top_k);
    rows.clear();
    for (const auto* p : top_energy(r, top_k))
      rows.push_back({p->name, p->energy ? energy_text(p->energy->total_pj()) : "-",
                      p->energy ? energy_text(p->energy->synaptic_pj) : "-",
                      fmt::format("{}", p->totals.synaptic_events),
                      p->has_totals ? fmt::format("{}", p->totals.amplitude_acs) : "-",
                      p->has_totals ? fmt::format("{}", p->totals.effective_macs) : "-"});
    s += text_table({"population", "energy", "synaptic", "syn. events", "ACs (amp.)", "Eff. MACs"}, rows);
    if (!r.energy_note.empty()) s += fmt::format("  note: {}\n", r.energy_note);
    s += fmt::format("  note: {}\n", kKvNote);
  }
  s += fmt::format("\nRecorded: spikes of {} population{}, membrane traces of {}\n",
                   r.spike_populations.size(), r.spike_populations.size() == 1 ? "" : "s",
                   r.traced.empty() ? std::string("none") : fmt::format("{}", fmt::join(r.traced, ", ")));
  return s;
}

// ---- JSON --------------------------------------------------------------------------------

nlohmann::json report_json(const RunReport& r, std::size_t top_k) {
  nlohmann::json j;
  j["file"] = r.path.string();
  j["complete"] = r.complete;
  j["spikesim_version"] = r.spikesim_version;
  j["model"] = {{"source", r.model}, {"format", r.model_format}};
  j["mode"] = r.mode;
  j["workload"] = r.workload;
  if (!r.accuracy_methods.empty()) j["accuracy_methods"] = r.accuracy_methods;
  j["tokens"] = r.tokens ? nlohmann::json(*r.tokens) : nlohmann::json(nullptr);
  nlohmann::json settings = nlohmann::json::object();
  for (const auto& [k, v] : r.settings) settings[k] = v;
  j["settings"] = settings;
  j["config_toml"] = r.config_text;
  if (r.has_totals) {
    j["totals"] = {{"neurons", r.run.neurons},
                   {"spikes", r.run.spikes},
                   {"spikes_per_neuron_token",
                    r.run.neuron_tokens > 0
                        ? static_cast<double>(r.run.spikes) / static_cast<double>(r.run.neuron_tokens)
                        : 0.0},
                   {"activation_sparsity",
                    r.clocked() ? nlohmann::json(activation_sparsity(r.run)) : nlohmann::json(nullptr)},
                   {"bits_per_neuron_token", r.bits_per_neuron_token()},
                   {"energy_from_stages", !r.totals_energy_recorded},
                   {"synaptic_events", r.run.synaptic_events},
                   {"energy_ratio", r.energy_ratio()},
                   {"run", to_json(r.run)},
                   {"dense_equivalent", to_json(r.dense_equivalent)},
                   {"energy", to_json(r.energy)},
                   {"energy_neurobench",
                    r.totals_energy_recorded ? to_json(r.energy_neurobench) : nlohmann::json(nullptr)},
                   {"dense_energy", to_json(r.dense_energy)}};
    const NeuroBenchFigures& nb = r.neurobench;
    j["neurobench"] = {
        {"Dense", nb.dense},
        {"Effective_MACs", nb.effective_macs},
        {"Effective_ACs", nb.effective_acs},
        {"ActivationSparsity",
         r.clocked() ? nlohmann::json(nb.activation_sparsity) : nlohmann::json(nullptr)},
        {"MembraneUpdates", nb.membrane_updates},
        {"Footprint", nb.footprint_bytes ? nlohmann::json(*nb.footprint_bytes) : nlohmann::json(nullptr)},
        {"ConnectionSparsity",
         nb.connection_sparsity ? nlohmann::json(*nb.connection_sparsity) : nlohmann::json(nullptr)},
        {"Effective_MACs_parts",
         {{"synaptic", nb.effective_macs_synaptic}, {"dense_units", nb.effective_macs_dense_units}}}};
    j["spikesim_figures"] = {
        {"amplitude_acs", r.run.amplitude_acs},
        {"shift_add_acs", r.run.shift_add_acs},
        {"synaptic_events", r.run.synaptic_events},
        {"amplitude_sum", r.run.amplitude_sum},
        {"weight_bytes", r.run.weight_bytes},
        {"energy_pj", r.energy.total_pj()},
        {"energy_neurobench_pj",
         r.totals_energy_recorded ? nlohmann::json(r.energy_neurobench.total_pj()) : nlohmann::json(nullptr)},
        {"dense_energy_pj", r.dense_energy.total_pj()}};
  }
  if (!r.weights.empty()) {
    auto& weights = j["weights"] = nlohmann::json::array();
    for (const WeightReport& w : r.weights)
      weights.push_back({{"name", w.name}, {"format", w.format}, {"bytes", w.bytes},
                         {"bits_per_weight", w.bits_per_weight}});
  }
  if (r.accuracy) {
    const AccuracyFigures& a = *r.accuracy;
    j["accuracy"] = {{"max_abs_diff", a.max_abs_diff},
                     {"mean_cosine", a.mean_cosine},
                     {"top1_agreement", a.top1_agreement},
                     {"mean_kl", a.mean_kl},
                     {"positions", a.positions}};
    if (a.ppl) j["accuracy"]["ppl"] = *a.ppl;
    if (a.dense_ppl) j["accuracy"]["dense_ppl"] = *a.dense_ppl;
  } else {
    j["accuracy"] = nullptr;
  }
  j["layers"] = nlohmann::json::array();
  for (const auto& l : r.layers) j["layers"].push_back(row_json(l));
  j["stages"] = nlohmann::json::array();
  for (const auto& s : r.stages) j["stages"].push_back(row_json(s));
  j["populations"] = nlohmann::json::array();
  for (const auto& p : r.populations) j["populations"].push_back(population_json(p));
  j["top_active"] = nlohmann::json::array();
  for (const auto* p : top_active(r, top_k))
    j["top_active"].push_back({{"name", p->name}, {"spikes", p->totals.spikes}});
  j["top_energy"] = nlohmann::json::array();
  for (const auto* p : top_energy(r, top_k))
    j["top_energy"].push_back(
        {{"name", p->name},
         {"energy_pj", p->energy ? nlohmann::json(p->energy->total_pj()) : nlohmann::json(nullptr)},
         {"amplitude_acs", p->totals.amplitude_acs}});
  j["notes"] = nlohmann::json::array();
  if (!r.energy_note.empty()) j["notes"].push_back(r.energy_note);
  j["notes"].push_back(kKvNote);
  j["recorded"] = {{"spikes", r.spike_populations}, {"traces", r.traced}};
  return j;
}

// ---- HTML --------------------------------------------------------------------------------

}  // namespace spikesim
