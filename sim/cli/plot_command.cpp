// spikesim plot OUT.h5 raster|membrane|energy|rates [--population NAME]
//              [--tokens A:B] [--neurons 0,1,2] [-o FILE.svg]
// spikesim plot SWEEP.jsonl pareto [-o FILE.svg]
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "core/error.hpp"
#include "io/report/plots.hpp"
#include "io/report/report.hpp"
#include "sim/cli/commands.hpp"
#include "sim/sweep.hpp"

namespace spikesim::cli {

void add_plot_command(CLI::App& app) {
  struct Options {
    std::string file, kind, population, tokens, neurons, output;
    bool values = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("plot",
                                 "Draw a run as SVG: raster (spikes of a population, amplitude as colour), "
                                 "membrane (traced neurons' membrane "
                                 "and multi-level spikes), energy (energy and operations per layer, spiking "
                                 "vs dense), rates (spikes per token "
                                 "per channel, salient channels marked); or a sweep's JSONL as pareto (ppl against energy per "
                                 "token, the non-dominated settings joined)");
  cmd->add_option("file", o->file, "HDF5 file written by spikesim run (pareto: JSONL written by spikesim sweep)")->required();
  cmd->add_option("kind", o->kind, "raster, membrane, energy, rates or pareto")
      ->required()
      ->check(CLI::IsMember({"raster", "membrane", "energy", "rates", "pareto"}));
  cmd->add_option("--population", o->population,
                  "Population (raster, rates: required; membrane: default the first traced one)");
  cmd->add_option(
      "--tokens", o->tokens,
      "Token range A:B = tokens A..B-1 (also A:, :B, A); raster: default all, membrane: default 0:8");
  cmd->add_option("--neurons", o->neurons,
                  "membrane: traced neurons to show, e.g. 0,1,2 or 0-3 (default the first 3)");
  cmd->add_flag("--values", o->values,
                "membrane: V and s in value units, θ·levels with θ of each token (default: grid levels)");
  cmd->add_option("-o,--output", o->output, "SVG file to write (default <kind>.svg)");
  cmd->callback([o] {
    const auto usage = [](const std::string& message) { throw Error(ExitCode::usage, message); };
    if (o->output.empty()) o->output = o->kind + ".svg";
    if (std::filesystem::path(o->output).extension() != ".svg")
      usage(fmt::format(
          "-o '{}': plots are written as SVG (name the file *.svg; convert with rsvg-convert if a "
          "bitmap is needed)",
          o->output));
    if ((o->kind == "raster" || o->kind == "rates") && o->population.empty())
      usage(fmt::format("plot {} needs --population NAME (spikesim report {} lists them)", o->kind, o->file));
    if (!o->tokens.empty() && o->kind != "raster" && o->kind != "membrane")
      usage(fmt::format("--tokens applies to raster and membrane plots, not {}", o->kind));
    if (!o->neurons.empty() && o->kind != "membrane") usage("--neurons applies to the membrane plot only");
    if (o->values && o->kind != "membrane") usage("--values applies to the membrane plot only");
    if (!o->population.empty() && o->kind == "energy")
      usage("--population does not apply to the energy plot");

    if (o->kind == "pareto" && !o->population.empty()) usage("--population does not apply to the pareto plot");

    svg::Figure figure("");
    if (o->kind == "pareto") {
      if (!std::filesystem::is_regular_file(o->file))
        throw Error(ExitCode::data, fmt::format("{}: no such sweep output (spikesim sweep writes it)", o->file));
      figure = pareto_plot(read_sweep_rows(o->file), std::filesystem::path(o->file).filename().string());
    } else if (const RunReport report = read_run_report(o->file); o->kind == "raster") {
      RasterOptions ro;
      ro.population = o->population;
      if (!o->tokens.empty()) ro.tokens = parse_token_range(o->tokens);
      figure = raster_plot(report, ro);
    } else if (o->kind == "membrane") {
      MembraneOptions mo;
      mo.population = o->population;
      if (!o->tokens.empty()) mo.tokens = parse_token_range(o->tokens);
      if (!o->neurons.empty()) mo.neurons = parse_index_list(o->neurons);
      mo.value_units = o->values;
      figure = membrane_plot(report, mo);
    } else if (o->kind == "energy") {
      figure = energy_plot(report);
    } else {
      figure = rates_plot(report, RatesOptions{o->population});
    }
    std::ofstream out(o->output, std::ios::binary);
    if (!out) throw Error(ExitCode::output, fmt::format("cannot write output '{}'", o->output));
    out << figure.render(true);
    out.close();
    if (!out) throw Error(ExitCode::output, fmt::format("cannot write output '{}'", o->output));
    std::cout << "wrote " << o->output << "\n";
  });
}

}  // namespace spikesim::cli
