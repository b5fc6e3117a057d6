#pragma once
// The plots of `spikesim plot` and of the HTML report, built from a run
// file with the SVG writer of io/report/svg_plot.hpp. Each mark carries data-*
// attributes with the values it shows, read straight from the file.
//
//   raster    spikes of one population over a token range: x = token and
//             local step, y = neuron, colour = amplitude (sequential scale
//             for unsigned grids, diverging for signed ones). Marks:
//             <rect class="spike" data-step data-neuron data-amplitude data-token>.
//   membrane  for chosen traced neurons, the membrane V after injection and
//             after every local step (step line, grid levels) and the spike
//             of each step (stems, amplitude s), with the level A = 2^bits-1
//             that one step can emit: the picture of a multi-level GIF
//             neuron. Marks: <circle class="membrane" data-step data-neuron
//             data-v> per frame, <g class="spike" data-step data-neuron data-amplitude>.
//   energy    per layer, energy (spiking vs dense equivalent) and operations
//             (amplitude ACs, dense-unit ops of the run, dense-equivalent
//             MACs) as grouped bars. Marks: <rect class="bar" data-layer
//             data-series data-value>, values in pJ and counts.
//   rates     per channel of one population, spikes per token and amplitude
//             per token, salient channels (more GIF steps) in their own
//             colour. Marks: <rect class="rate" data-neuron data-value data-salient>.
//
// Time. Timestamps are global steps; /spikesim/token_steps gives the first
// step of each token (and the end of the last), so a token range A:B is the
// steps [token_steps[A], token_steps[B]). A population is active only during
// its own stage of each token (T_max consecutive steps, then the other
// stages run), so the raster and membrane plots show only those steps: each
// token gets T_max columns (membrane: T_max + 1 frames, injection first),
// ticks mark the tokens, and data-step keeps the true global step. The
// window's offset inside a token is the smallest offset any of the
// population's spikes (or trace frames) has; it is the same for every token
// because the stages of a token always run in the same order.
//
// Missing data is an Error(ExitCode::data) naming the file, the population
// and the config key that records it (record.spikes / record.populations,
// record.trace_populations / record.trace_neurons).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/report/report.hpp"
#include "io/report/svg_plot.hpp"

namespace spikesim {

// Tokens [first, end); end = nullopt: to the last token.
struct TokenRange {
  std::uint64_t first = 0;
  std::optional<std::uint64_t> end;
};
// "A:B" (tokens A..B-1), "A:" (A to the end), ":B", "A" (token A alone).
// Anything else is Error(ExitCode::usage).
TokenRange parse_token_range(std::string_view text);
// "0,1,2" or "0-3,7": Error(ExitCode::usage) on anything else.
std::vector<std::uint64_t> parse_index_list(std::string_view text);

struct RasterOptions {
  std::string population;
  TokenRange tokens;
};
struct MembraneOptions {
  std::string population;              // "" = the first traced population
  std::vector<std::uint64_t> neurons;  // empty = the first three traced neurons
  TokenRange tokens{0, 8};
  // Show V and s in value units, θ·levels (θ of each token, from
  // /report/<population>/scale), instead of grid levels.
  bool value_units = false;
};
struct RatesOptions {
  std::string population;
};

svg::Figure raster_plot(const RunReport& report, const RasterOptions& options);
svg::Figure membrane_plot(const RunReport& report, const MembraneOptions& options);
svg::Figure energy_plot(const RunReport& report);
svg::Figure rates_plot(const RunReport& report, const RatesOptions& options);

// The first step of each token and the end of the last, from
// /spikesim/token_steps; Error(data) when the file predates it.
std::vector<std::uint64_t> read_token_steps(const std::filesystem::path& path);

}  // namespace spikesim
