#pragma once
// One function per `spikesim` subcommand. Each adds its subcommand to the
// app, with its options, and a callback that runs it; the callback throws
// spikesim::Error for anything the user must fix (main maps it to the exit
// code of docs/reference/cli.md).
#include <CLI/CLI.hpp>

namespace spikesim::cli {

void add_run_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_info_command(CLI::App& app);
void add_graph_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_plot_command(CLI::App& app);
void add_config_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_plan_command(CLI::App& app);

}  // namespace spikesim::cli
