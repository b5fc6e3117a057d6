// The `spikesim` command line: global options, the subcommands of
// commands.hpp, and the mapping of errors to exit codes (docs/reference/cli.md).
#include <CLI/CLI.hpp>

#include <iostream>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "sim/cli/commands.hpp"

using namespace spikesim;

int main(int argc, char** argv) {
  CLI::App app{"spikesim: event-driven simulation of spiking LLMs (multi-level GIF neurons, SpikeLLM)"};
  app.set_version_flag("--version", std::string("spikesim ") + SPIKESIM_VERSION);
  app.require_subcommand(1);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "More log output on stderr (repeat for debug)");
  app.parse_complete_callback([&] { init_logging(verbosity); });

  cli::add_run_command(app);
  cli::add_eval_command(app);
  cli::add_info_command(app);
  cli::add_graph_command(app);
  cli::add_report_command(app);
  cli::add_plot_command(app);
  cli::add_config_command(app);
  cli::add_sweep_command(app);
  cli::add_plan_command(app);
  // -v counts before or after the subcommand (`spikesim run -v x.toml`).
  for (CLI::App* sub : app.get_subcommands({}))
    sub->add_flag("-v,--verbose", verbosity, "More log output on stderr (repeat for debug)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a bad command line exits 2 (ExitCode::usage).
    const int code = app.exit(e);
    return code == 0 ? 0 : static_cast<int>(ExitCode::usage);
  } catch (const Error& e) {
    std::cerr << "spikesim: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "spikesim: internal error: " << e.what() << "\n";
    return static_cast<int>(ExitCode::failure);
  }
  return 0;
}
