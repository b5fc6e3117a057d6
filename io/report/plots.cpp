#include "io/report/plots.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <tuple>

#include "core/error.hpp"
#include "io/runfile/hdf5.hpp"
#include "io/runfile/run_file.hpp"

namespace spikesim {
namespace {

using svg::Attrs;
using svg::Axis;
using svg::Point;

std::uint64_t parse_u64(std::string_view text, std::string_view what, std::string_view whole) {
  std::uint64_t v = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end)
    throw Error(ExitCode::usage,
                fmt::format("{} '{}': '{}' is not a non-negative integer", what, whole, text));
  return v;
}

bool contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string list_or_none(const std::vector<std::string>& v) {
  return v.empty() ? std::string("none") : fmt::format("{}", fmt::join(v, ", "));
}

// Resolved token range [first, end) of a run with `n` tokens.
struct Tokens {
  std::uint64_t first, end;
};
Tokens resolve(const TokenRange& range, std::uint64_t n, const RunReport& r) {
  const std::uint64_t end = std::min(range.end.value_or(n), n);
  if (range.first >= end)
    throw Error(ExitCode::usage,
                fmt::format("token range {}:{} is empty: '{}' has {} tokens (0..{})", range.first,
                            range.end ? fmt::format("{}", *range.end) : std::string(), r.path.string(), n,
                            n == 0 ? 0 : n - 1));
  return {range.first, end};
}

// Token of a global step (token_steps[t] <= step < token_steps[t + 1]);
// steps.size() - 1 when outside the run.
std::size_t token_of(const std::vector<std::uint64_t>& token_steps, double step) {
  const auto it = std::upper_bound(token_steps.begin(), token_steps.end(), static_cast<std::uint64_t>(step));
  if (it == token_steps.begin()) return token_steps.size() - 1;
  return static_cast<std::size_t>(it - token_steps.begin()) - 1;
}

// Ticks at token centres (x = column units, `per_token` columns each),
// thinned to at most ~16 labels.
std::vector<std::pair<double, std::string>> token_ticks(Tokens t, double per_token) {
  const std::uint64_t n = t.end - t.first;
  std::uint64_t every = 1;
  while (n / every > 16) every = every == 1 ? 2 : every == 2 ? 5 : every * 2;
  std::vector<std::pair<double, std::string>> ticks;
  for (std::uint64_t k = 0; k < n; ++k)
    if ((t.first + k) % every == 0)
      ticks.emplace_back((static_cast<double>(k) + 0.5) * per_token, fmt::format("{}", t.first + k));
  return ticks;
}

// Dashed lines between tokens; left out beyond 24 tokens, where they would
// hide the marks (the tick labels still name the tokens).
void token_separators(svg::Panel& panel, Tokens t, double per_token) {
  constexpr svg::Rgb kBoundary{90, 90, 90};
  if (t.end - t.first > 24) return;
  for (std::uint64_t k = 1; k < t.end - t.first; ++k)
    panel.vline(static_cast<double>(k) * per_token, kBoundary, true);
  panel.legend("token boundary", kBoundary, svg::LegendShape::dashed_line);
}

std::string unknown_population(const RunReport& r, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& p : r.populations) names.push_back(p.name);
  return fmt::format("'{}' has no population '{}' (it has: {})", r.path.string(), name, list_or_none(names));
}

// Energy in a readable unit: the scale and its name.
std::pair<double, const char*> energy_unit(double max_pj) {
  static constexpr std::array<std::pair<double, const char*>, 5> kUnits{
      {{1e12, "J"}, {1e9, "mJ"}, {1e6, "µJ"}, {1e3, "nJ"}, {1, "pJ"}}};
  for (const auto& u : kUnits)
    if (max_pj >= u.first) return u;
  return {1, "pJ"};
}

}  // namespace

TokenRange parse_token_range(std::string_view text) {
  TokenRange r;
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    r.first = parse_u64(text, "--tokens", text);
    r.end = r.first + 1;
    return r;
  }
  const auto a = text.substr(0, colon), b = text.substr(colon + 1);
  if (!a.empty()) r.first = parse_u64(a, "--tokens", text);
  if (!b.empty()) r.end = parse_u64(b, "--tokens", text);
  if (r.end && *r.end <= r.first)
    throw Error(
        ExitCode::usage,
        fmt::format("--tokens '{}': the end must be greater than the start (A:B is tokens A..B-1)", text));
  return r;
}

std::vector<std::uint64_t> parse_index_list(std::string_view text) {
  std::vector<std::uint64_t> out;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto comma = std::min(text.find(',', pos), text.size());
    const auto item = text.substr(pos, comma - pos);
    if (const auto dash = item.find('-'); dash != std::string_view::npos) {
      const std::uint64_t a = parse_u64(item.substr(0, dash), "--neurons", text);
      const std::uint64_t b = parse_u64(item.substr(dash + 1), "--neurons", text);
      if (b < a || b - a > 4096)
        throw Error(ExitCode::usage, fmt::format("--neurons '{}': bad range '{}'", text, item));
      for (std::uint64_t v = a; v <= b; ++v) out.push_back(v);
    } else {
      out.push_back(parse_u64(item, "--neurons", text));
    }
    pos = comma + 1;
  }
  return out;
}

std::vector<std::uint64_t> read_token_steps(const std::filesystem::path& path) {
  const h5::File f = h5::File::open_read_only(path);
  if (!h5::exists(f, "/spikesim/token_steps"))
    throw Error(ExitCode::data,
                fmt::format("'{}' has no /spikesim/token_steps, which places tokens in time: spikesim "
                            "run writes it when a run completes (this file is incomplete, or was "
                            "written by an older spikesim); rerun its config to plot by token",
                            path.string()));
  auto steps = h5::read_dataset<std::uint64_t>(f, "/spikesim/token_steps");
  if (steps.size() < 2 || !std::is_sorted(steps.begin(), steps.end()))
    throw Error(ExitCode::data,
                fmt::format("'{}' at '/spikesim/token_steps': expected a non-decreasing list of at "
                            "least 2 steps, found {} entries",
                            path.string(), steps.size()));
  return steps;
}

// ---- raster ------------------------------------------------------------------------

svg::Figure raster_plot(const RunReport& r, const RasterOptions& o) {
  if (!contains(r.spike_populations, o.population)) {
    if (r.population(o.population))
      throw Error(ExitCode::data,
                  fmt::format("'{}': the spikes of population '{}' were not recorded; record them with "
                              "record.spikes = true and record.populations including \"{}\"",
                              r.path.string(), o.population, o.population));
    throw Error(ExitCode::data,
                fmt::format("'{}' has no recorded spikes of population '{}' (recorded: {})", r.path.string(),
                            o.population, list_or_none(r.spike_populations)));
  }
  const auto token_steps = read_token_steps(r.path);
  const std::uint64_t n_tokens = token_steps.size() - 1;
  const Tokens t = resolve(o.tokens, n_tokens, r);
  const SpikeData spikes = read_spikes(r.path, o.population);
  const PopulationReport* pop = r.population(o.population);

  // The population's window inside a token (see plots.hpp).
  std::uint64_t window = pop && pop->grid.known ? std::max(1u, pop->grid.max_steps) : 1;
  std::uint64_t offset = std::numeric_limits<std::uint64_t>::max(), last_offset = 0;
  std::uint64_t neurons = pop ? pop->neurons : 0;
  std::int32_t max_amp = 1, min_amp = 0;
  for (std::size_t i = 0; i < spikes.timestamps.size(); ++i) {
    const std::size_t tok = token_of(token_steps, spikes.timestamps[i]);
    if (tok >= n_tokens) continue;
    const auto off = static_cast<std::uint64_t>(spikes.timestamps[i]) - token_steps[tok];
    offset = std::min(offset, off);
    last_offset = std::max(last_offset, off);
    neurons = std::max<std::uint64_t>(neurons, spikes.node_ids[i] + 1);
    max_amp = std::max(max_amp, spikes.amplitudes[i]);
    min_amp = std::min(min_amp, spikes.amplitudes[i]);
  }
  if (offset == std::numeric_limits<std::uint64_t>::max()) offset = 0;
  window = std::max(window, last_offset - offset + 1);
  const bool is_signed = (pop && pop->grid.known && pop->grid.is_signed) || min_amp < 0;
  std::int32_t amp_limit = max_amp;
  if (pop && pop->grid.known) amp_limit = static_cast<std::int32_t>((1u << pop->grid.max_bits) - 1);
  amp_limit = std::max({amp_limit, max_amp, -min_amp});

  svg::Figure fig(
      fmt::format("Spike raster of {}, tokens {}..{}", o.population, t.first, t.end - 1),
      fmt::format("Spikes of population {} in {} (SONATA /spikes/{}), tokens {} to {}; colour is the "
                  "spike amplitude in grid levels; each token shows the population's {} local steps.",
                  o.population, r.path.filename().string(), o.population, t.first, t.end - 1, window));
  // The spikes in the token range, counted before the panel is made: the
  // count goes in its title. (It was a legend entry with a dark swatch that
  // matched no mark: every mark is coloured by its amplitude.)
  std::vector<std::size_t> shown;
  for (std::size_t i = 0; i < spikes.timestamps.size(); ++i) {
    const std::size_t tok = token_of(token_steps, spikes.timestamps[i]);
    if (tok >= t.first && tok < t.end) shown.push_back(i);
  }
  const double height = std::clamp(static_cast<double>(neurons) * 3.0, 160.0, 560.0);
  svg::Panel& p = fig.add_panel(fmt::format("{} neurons, {} local step{} per token, {} spike{} shown", neurons,
                                            window, window == 1 ? "" : "s", shown.size(),
                                            shown.size() == 1 ? "" : "s"),
                                height);
  const auto per_token = static_cast<double>(window);
  Axis x{"token", fmt::format("{} local step{} each", window, window == 1 ? "" : "s")};
  x.min = 0;
  x.max = static_cast<double>(t.end - t.first) * per_token;
  x.ticks = token_ticks(t, per_token);
  Axis y{"neuron", "index"};
  y.min = 0;
  y.max = static_cast<double>(std::max<std::uint64_t>(neurons, 1));
  y.integer = true;  // neuron 0 at the bottom, as NEST and Brian2 draw rasters
  p.x_axis(x).y_axis(y);
  if (is_signed)
    p.colour_bar(svg::ScaleKind::diverging, -amp_limit, amp_limit, "amplitude s (levels)", true);
  else
    p.colour_bar(svg::ScaleKind::sequential, 1, std::max(2, amp_limit), "amplitude s (levels)", true);
  for (const std::size_t i : shown) {
    const std::size_t tok = token_of(token_steps, spikes.timestamps[i]);
    const auto off = static_cast<std::uint64_t>(spikes.timestamps[i]) - token_steps[tok] - offset;
    const double col = static_cast<double>(tok - t.first) * per_token + static_cast<double>(off);
    const auto n = static_cast<double>(spikes.node_ids[i]);
    p.rect(col, n, col + 1, n + 1, p.colour_of(spikes.amplitudes[i]), "spike",
           {{"data-step", svg::number(spikes.timestamps[i])},
            {"data-neuron", fmt::format("{}", spikes.node_ids[i])},
            {"data-amplitude", fmt::format("{}", spikes.amplitudes[i])},
            {"data-token", fmt::format("{}", tok)}});
  }
  token_separators(p, t, per_token);  // drawn over the marks
  return fig;
}

// ---- membrane ------------------------------------------------------------------------

svg::Figure membrane_plot(const RunReport& r, const MembraneOptions& o) {
  const std::string pop_name =
      o.population.empty() ? (r.traced.empty() ? std::string() : r.traced.front()) : o.population;
  if (pop_name.empty() || !contains(r.traced, pop_name))
    throw Error(
        ExitCode::data,
        fmt::format("'{}' has no membrane traces of {}; record them with record.trace_populations = [\"{}\"] "
                    "(and record.trace_neurons for how many neurons){}",
                    r.path.string(), pop_name.empty() ? "any population" : "population '" + pop_name + "'",
                    pop_name.empty() ? "layer0.mlp_in" : pop_name,
                    r.traced.empty() ? "" : fmt::format(" (traced: {})", list_or_none(r.traced))));
  const auto token_steps = read_token_steps(r.path);
  const std::uint64_t n_tokens = token_steps.size() - 1;
  const Tokens t = resolve(o.tokens, n_tokens, r);

  const h5::File f = h5::File::open_read_only(r.path);
  const std::string g = "/report/" + pop_name;
  const auto node_ids = h5::read_dataset<std::uint64_t>(f, g + "/mapping/node_ids");
  const auto steps = h5::read_dataset<std::uint64_t>(f, g + "/mapping/steps");
  const auto data = h5::read_dataset<float>(f, g + "/data");
  const std::size_t traced = node_ids.size();
  if (traced == 0 || data.size() != steps.size() * traced)
    throw Error(ExitCode::data, fmt::format("'{}' at '{}': data has {} values for {} frames of {} neurons",
                                            r.path.string(), g, data.size(), steps.size(), traced));
  // θ of each traced neuron at each token, for value units: row r holds the
  // token injected at scale_steps[r].
  std::vector<float> theta;
  std::vector<std::uint32_t> scale_steps;
  if (o.value_units) {
    if (!h5::exists(f, g + "/scale/theta") || !h5::exists(f, g + "/scale/steps"))
      throw Error(ExitCode::data,
                  fmt::format("'{}' has no decode scale of '{}' ({}/scale/theta: written by runs of spikesim since "
                              "it stores θ per token); plot it in grid levels, without --values",
                              r.path.string(), pop_name, g));
    theta = h5::read_dataset<float>(f, g + "/scale/theta");
    scale_steps = h5::read_dataset<std::uint32_t>(f, g + "/scale/steps");
    if (theta.size() != scale_steps.size() * traced)
      throw Error(ExitCode::data, fmt::format("'{}' at '{}/scale': theta has {} values for {} tokens of {} neurons",
                                              r.path.string(), g, theta.size(), scale_steps.size(), traced));
  }
  // θ of traced column c at the frame of `step` (the last token injected at or before it).
  const auto theta_at = [&](std::uint64_t step, std::size_t c) -> double {
    const auto it = std::upper_bound(scale_steps.begin(), scale_steps.end(), step);
    if (it == scale_steps.begin()) return 0.0;
    return theta[static_cast<std::size_t>(it - scale_steps.begin() - 1) * traced + c];
  };
  std::vector<std::uint32_t> grid_bits, grid_steps;
  if (const std::string pg = "/spikesim/populations/" + pop_name;
      h5::exists(f, pg + "/bits") && h5::exists(f, pg + "/steps")) {
    grid_bits = h5::read_dataset<std::uint32_t>(f, pg + "/bits");
    grid_steps = h5::read_dataset<std::uint32_t>(f, pg + "/steps");
  }
  std::vector<std::uint64_t> neurons = o.neurons;
  if (neurons.empty()) {
    // The first traced neurons, and the first traced salient one (more steps) when there is one.
    for (std::size_t i = 0; i < std::min<std::size_t>(3, traced); ++i) neurons.push_back(node_ids[i]);
    if (!grid_steps.empty()) {
      const std::uint32_t fewest = *std::min_element(grid_steps.begin(), grid_steps.end());
      const auto salient = std::find_if(node_ids.begin(), node_ids.end(), [&](std::uint64_t n) {
        return n < grid_steps.size() && grid_steps[n] > fewest;
      });
      if (salient != node_ids.end() && std::find(neurons.begin(), neurons.end(), *salient) == neurons.end()) {
        if (neurons.size() == 3) neurons.pop_back();
        neurons.push_back(*salient);
      }
    }
  }
  std::vector<std::size_t> columns;
  for (std::uint64_t n : neurons) {
    const auto it = std::find(node_ids.begin(), node_ids.end(), n);
    if (it == node_ids.end())
      throw Error(ExitCode::data,
                  fmt::format("'{}': neuron {} of '{}' is not traced (traced: {} neurons, ids {}..{}); "
                              "raise record.trace_neurons to trace it",
                              r.path.string(), n, pop_name, traced, node_ids.front(), node_ids.back()));
    columns.push_back(static_cast<std::size_t>(it - node_ids.begin()));
  }

  // Frames in the token range, with their column: frame k of token `tok`.
  struct Frame {
    std::size_t row;
    std::size_t token;
    std::size_t k;
  };
  std::vector<Frame> frames;
  std::map<std::size_t, std::size_t> per_token;
  for (std::size_t row = 0; row < steps.size(); ++row) {
    const std::size_t tok = token_of(token_steps, static_cast<double>(steps[row]));
    if (tok < t.first || tok >= t.end) continue;
    frames.push_back({row, tok, per_token[tok]++});
  }
  std::size_t frames_per_token = 1;
  for (const auto& [tok, n] : per_token) frames_per_token = std::max(frames_per_token, n);
  const auto fpt = static_cast<double>(frames_per_token);

  // Spikes of the traced neurons: recorded ones, else the membrane's drops.
  const bool recorded = contains(r.spike_populations, pop_name);
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::int32_t> spike_at;  // (neuron, step) -> amplitude
  if (recorded) {
    const SpikeData sd = read_spikes(r.path, pop_name);
    for (std::size_t i = 0; i < sd.timestamps.size(); ++i)
      if (std::find(neurons.begin(), neurons.end(), sd.node_ids[i]) != neurons.end())
        spike_at[{sd.node_ids[i], static_cast<std::uint64_t>(sd.timestamps[i])}] = sd.amplitudes[i];
  }

  const PopulationReport* pop = r.population(pop_name);
  svg::Figure fig(
      fmt::format("Membrane and spikes of {} neurons {}, tokens {}..{}", pop_name, fmt::join(neurons, ", "),
                  t.first, t.end - 1),
      fmt::format("Membrane V of traced GIF neurons of {} in {} (SONATA /report/{}), after injection and "
                  "after each local step, with the spike s emitted at each step ({}){}.",
                  pop_name, r.path.filename().string(), pop_name,
                  recorded ? "recorded spikes" : "spikes not recorded: s = drop of V at the step",
                  o.value_units ? fmt::format("; in value units: θ·V and θ·s, θ of each token from /report/{}/scale",
                                              pop_name)
                                : std::string()));
  const std::string units = h5::has_attribute(f, g + "/data", "units")
                                ? h5::read_string_attribute(f, g + "/data", "units")
                                : std::string("grid levels");
  for (std::size_t ni = 0; ni < neurons.size(); ++ni) {
    const std::uint64_t n = neurons[ni];
    const std::size_t c = columns[ni];
    // Grid of this neuron, when recorded.
    std::optional<std::int64_t> amplitude;
    std::optional<std::uint32_t> neuron_steps;
    if (n < grid_bits.size() && n < grid_steps.size()) {
      amplitude = (std::int64_t{1} << grid_bits[n]) - 1;
      neuron_steps = grid_steps[n];
    }
    std::vector<Point> line;
    // V of a frame as drawn: grid levels, or θ·levels in value units.
    const auto scale_of = [&](const Frame& fr) { return o.value_units ? theta_at(steps[fr.row], c) : 1.0; };
    const bool show_amplitude = amplitude && !o.value_units;  // A is a level count; θ·A changes per token
    double vmin = 0, vmax = show_amplitude ? static_cast<double>(*amplitude) : 0.0;
    for (const Frame& fr : frames) {
      const double v = data[fr.row * traced + c] * scale_of(fr);
      vmin = std::min(vmin, v);
      vmax = std::max(vmax, v);
    }
    if (vmax <= vmin) vmax = vmin + 1.0;
    const bool is_signed = (pop && pop->grid.known && pop->grid.is_signed) || vmin < 0;
    if (is_signed && show_amplitude) vmin = std::min(vmin, -static_cast<double>(*amplitude));
    const std::string grid_text =
        amplitude ? fmt::format(": A = {} levels per step, T = {} step{}, membrane grid 0..{}", *amplitude,
                                *neuron_steps, *neuron_steps == 1 ? "" : "s", *amplitude * *neuron_steps)
                  : std::string(" (grid not recorded)");
    svg::Panel& p = fig.add_panel(fmt::format("neuron {}{}", n, grid_text), 190);
    Axis x{"token", fmt::format("{} frames each: injection, then local steps 1..{}", frames_per_token,
                                frames_per_token - 1)};
    x.min = 0;
    x.max = static_cast<double>(t.end - t.first) * fpt;
    x.ticks = token_ticks(t, fpt);
    Axis y = o.value_units
                 ? Axis{"θ·V, θ·s", "value units"}
                 : Axis{"V, s", units.find("grid levels") != std::string::npos ? std::string("grid levels") : units};
    y.min = is_signed ? -svg::nice_ceiling(-vmin) : 0;
    y.max = svg::nice_ceiling(vmax * 1.05);
    p.x_axis(x).y_axis(y);
    if (show_amplitude) {
      p.hline(static_cast<double>(*amplitude), svg::series(2), true, fmt::format("A = {}", *amplitude));
      if (is_signed) p.hline(-static_cast<double>(*amplitude), svg::series(2), true);
    }
    token_separators(p, t, fpt);
    double prev_v = 0;
    std::size_t prev_token = static_cast<std::size_t>(-1);
    std::vector<std::tuple<double, double, Attrs>> dots;
    for (const Frame& fr : frames) {
      const double level = data[fr.row * traced + c];
      const double v = level * scale_of(fr);
      const double col = static_cast<double>(fr.token - t.first) * fpt + static_cast<double>(fr.k);
      line.push_back({col, v});
      line.push_back({col + 1, v});
      Attrs dot{{"data-step", fmt::format("{}", steps[fr.row])},
                {"data-neuron", fmt::format("{}", n)},
                {"data-frame", fmt::format("{}", fr.row)},
                {"data-v", svg::number(v)}};
      if (o.value_units) dot.emplace_back("data-theta", svg::number(scale_of(fr)));
      dots.emplace_back(col + 0.5, v, std::move(dot));
      // The spike of this step: frame k >= 1 is the state after local step k.
      if (fr.k >= 1 && fr.token == prev_token) {
        std::int32_t s = 0;
        if (recorded) {
          const auto it = spike_at.find({n, steps[fr.row]});
          if (it != spike_at.end()) s = it->second;
        } else {
          s = static_cast<std::int32_t>(std::lround(prev_v - level));
        }
        if (s != 0)
          p.stem(col + 0.5, 0, s * scale_of(fr), svg::series(1), 2, "spike",
                 {{"data-step", fmt::format("{}", steps[fr.row])},
                  {"data-neuron", fmt::format("{}", n)},
                  {"data-amplitude", fmt::format("{}", s)}});
      }
      prev_v = level;
      prev_token = fr.token;
    }
    p.line(line, svg::series(0), 1.6, false, "membrane-line", {{"data-neuron", fmt::format("{}", n)}});
    for (auto& [x_, y_, a] : dots) p.dot({x_, y_}, 2.2, svg::series(0), "membrane", std::move(a));
    p.legend(o.value_units ? "membrane θ·V (after injection / each step)" : "membrane V (after injection / each step)",
             svg::series(0), svg::LegendShape::line);
    p.legend(o.value_units ? "spike value θ·s" : "spike amplitude s", svg::series(1), svg::LegendShape::stem);
    if (show_amplitude)
      p.legend("A = 2^bits - 1: most one step emits", svg::series(2), svg::LegendShape::dashed_line);
  }
  return fig;
}

// ---- energy ------------------------------------------------------------------------

svg::Figure energy_plot(const RunReport& r) {
  if (r.layers.empty())
    throw Error(ExitCode::data,
                fmt::format("'{}' has no /spikesim/stages: nothing to plot per layer (the run did not "
                            "finish writing its accounts)",
                            r.path.string()));
  std::vector<std::string> categories;
  for (const auto& l : r.layers) categories.push_back(l.name);
  // "other" is what the run file puts outside the layers, named from its stages.
  std::vector<std::string> outside;
  for (const auto& s : r.stages)
    if (s.layer < 0) outside.push_back(s.name);
  svg::Figure fig("Energy and operations per layer, spiking vs dense equivalent",
                  fmt::format("Per layer of {}: sums of /spikesim/stages/<stage> energies (run_total_pj, "
                              "dense_total_pj) and op counts{}.",
                              r.path.filename().string(),
                              outside.empty() ? std::string()
                                              : fmt::format("; \"other\" holds the stages outside the layers: {}",
                                                            fmt::join(outside, ", "))));
  // Energy.
  double max_pj = 0;
  for (const auto& l : r.layers) max_pj = std::max({max_pj, l.energy.total_pj(), l.dense_energy.total_pj()});
  const auto [scale, unit] = energy_unit(max_pj);
  auto bars = [&](std::string name, svg::Rgb colour, const char* id, auto value, double divide) {
    svg::BarSeries s{std::move(name), colour, {}, {}};
    for (const auto& l : r.layers) {
      const double v = value(l);
      s.values.push_back(v / divide);
      s.attrs.push_back({{"data-layer", l.name}, {"data-series", id}, {"data-value", svg::number(v)}});
    }
    return s;
  };
  svg::Panel& e = fig.add_panel("Energy", 260);
  Axis ey{"energy", unit};
  ey.min = 0;
  ey.max = svg::nice_ceiling(max_pj / scale * 1.12);
  e.y_axis(ey);
  e.grouped_bars(categories,
                 {bars(
                      "spiking run", svg::series(0), "spiking_energy_pj",
                      [](const CountsRow& l) { return l.energy.total_pj(); }, scale),
                  bars(
                      "dense equivalent", svg::series(1), "dense_energy_pj",
                      [](const CountsRow& l) { return l.dense_energy.total_pj(); }, scale)},
                 "bar", "layer");
  for (std::size_t c = 0; c < r.layers.size(); ++c) {
    const auto& l = r.layers[c];
    if (l.dense_energy.total_pj() > 0)
      e.text({static_cast<double>(c), std::max(l.energy.total_pj(), l.dense_energy.total_pj()) / scale},
             fmt::format("ratio {:.3f}", l.energy_ratio()), svg::Anchor::middle, -5);
  }
  // Operations.
  double max_ops = 0;
  for (const auto& l : r.layers)
    max_ops = std::max({max_ops, static_cast<double>(l.run.amplitude_acs),
                        static_cast<double>(l.run.effective_macs), static_cast<double>(l.run.dense.total()),
                        static_cast<double>(l.dense_equivalent.dense.total())});
  svg::Panel& o = fig.add_panel("Operations", 260);
  Axis oy{"operations", "count"};
  oy.min = 0;
  oy.max = svg::nice_ceiling(max_ops * 1.05);
  oy.si = true;
  o.y_axis(oy);
  o.grouped_bars(
      categories,
      {bars(
           "spiking: ACs (1 per amplitude unit)", svg::series(0), "amplitude_acs",
           [](const CountsRow& l) { return static_cast<double>(l.run.amplitude_acs); }, 1),
       bars(
           "spiking: Effective_MACs (multi-level)", svg::series(5), "effective_macs",
           [](const CountsRow& l) { return static_cast<double>(l.run.effective_macs); }, 1),
       bars(
           "spiking: dense-unit ops", svg::series(3), "run_dense_ops",
           [](const CountsRow& l) { return static_cast<double>(l.run.dense.total()); }, 1),
       bars(
           "dense equivalent: MACs + dense-unit ops", svg::series(1), "dense_equivalent_ops",
           [](const CountsRow& l) { return static_cast<double>(l.dense_equivalent.dense.total()); }, 1)},
      "bar", "layer");
  return fig;
}

// ---- rates ---------------------------------------------------------------------------

svg::Figure rates_plot(const RunReport& r, const RatesOptions& o) {
  const PopulationReport* pop = r.population(o.population);
  if (!pop) throw Error(ExitCode::data, unknown_population(r, o.population));
  const h5::File f = h5::File::open_read_only(r.path);
  const std::string g = "/spikesim/populations/" + o.population;
  const auto spikes = h5::read_dataset<std::uint64_t>(f, g + "/spikes");
  const auto amplitude = h5::read_dataset<std::uint64_t>(f, g + "/amplitude_sum");
  std::vector<std::uint32_t> steps;
  if (pop->grid.known) steps = h5::read_dataset<std::uint32_t>(f, g + "/steps");
  std::uint64_t tokens = r.tokens.value_or(0);
  if (tokens == 0 && pop->neurons > 0) tokens = pop->totals.neuron_tokens / pop->neurons;
  if (tokens == 0)
    throw Error(ExitCode::data, fmt::format("'{}': the number of tokens is not recorded (/spikesim attribute "
                                            "'tokens'), so rates per token of '{}' cannot be computed",
                                            r.path.string(), o.population));
  const std::size_t n = spikes.size();
  const std::uint32_t min_steps = steps.empty() ? 0 : *std::min_element(steps.begin(), steps.end());
  const std::uint32_t max_steps = steps.empty() ? 0 : *std::max_element(steps.begin(), steps.end());
  const bool saliency = max_steps > min_steps;

  svg::Figure fig(
      fmt::format("Firing rate per channel of {}", o.population),
      fmt::format("Per neuron (channel) of {} in {}: spikes and amplitude levels per token over the {} "
                  "tokens of the run (/spikesim/populations/{}/spikes, amplitude_sum); salient channels "
                  "have more GIF steps T.",
                  o.population, r.path.filename().string(), tokens, o.population));
  const svg::Rgb normal = svg::series(0), salient = svg::series(1);
  const auto colour_of = [&](std::size_t i) { return saliency && steps[i] > min_steps ? salient : normal; };
  auto panel = [&](const std::string& title, const std::string& label, const std::string& unit,
                   const std::vector<std::uint64_t>& counts, const char* cls, const char* raw_name,
                   double at_least) {
    svg::Panel& p = fig.add_panel(title, 220);
    double vmax = at_least;
    for (std::uint64_t c : counts)
      vmax = std::max(vmax, static_cast<double>(c) / static_cast<double>(tokens));
    Axis x{"channel", "neuron index"};
    x.min = -0.5;
    x.max = static_cast<double>(n) - 0.5;
    x.integer = true;
    Axis y{label, unit};
    y.min = 0;
    y.max = svg::nice_ceiling(std::max(vmax, 1e-9) * 1.08);
    p.x_axis(x).y_axis(y);
    for (std::size_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(counts[i]) / static_cast<double>(tokens);
      if (counts[i] == 0) continue;
      p.rect(static_cast<double>(i) - 0.4, 0, static_cast<double>(i) + 0.4, v, colour_of(i), cls,
             {{"data-neuron", fmt::format("{}", i)},
              {"data-value", svg::number(v)},
              {raw_name, fmt::format("{}", counts[i])},
              {"data-salient", saliency && steps[i] > min_steps ? "1" : "0"}});
    }
    if (saliency) {
      p.legend(fmt::format("salient channel (T = {} steps)", max_steps), salient, svg::LegendShape::box);
      p.legend(fmt::format("other channel (T = {} step{})", min_steps, min_steps == 1 ? "" : "s"), normal,
               svg::LegendShape::box);
    } else {
      p.legend(pop->grid.known ? fmt::format("channel (all T = {})", min_steps)
                               : std::string("channel (grid not recorded)"),
               normal, svg::LegendShape::box);
    }
    return &p;
  };
  svg::Panel* sp = panel("Spikes per token", "spikes per token", "events / token", spikes, "rate",
                         "data-spikes", saliency ? static_cast<double>(max_steps) : 0.0);
  if (saliency) {
    sp->hline(static_cast<double>(max_steps), salient, true,
              fmt::format("T = {}: most a salient channel fires", max_steps));
    sp->legend("T: spikes per token at most", salient, svg::LegendShape::dashed_line);
  }
  panel("Amplitude per token", "amplitude per token", "levels / token", amplitude, "amplitude",
        "data-amplitude-sum", 0.0);
  return fig;
}

}  // namespace spikesim
