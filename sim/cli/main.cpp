// The `spikesim` command line: global options, the subcommands of
// commands.hpp, and the mapping of errors to exit codes (docs/reference/cli.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "sim/cli/commands.hpp"
#include "sim/ranks.hpp"

using namespace spikesim;

namespace {

int run_cli(int argc, char** argv) {
  CLI::App app{"spikesim: event-driven simulation of spiking LLMs (multi-level GIF neurons, SpikeLLM)"};
  app.set_version_flag("--version", std::string("spikesim ") + SPIKESIM_VERSION);
  app.require_subcommand(1);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "More log output on stderr (repeat for debug)");
  app.parse_complete_callback([&] {
    init_logging(verbosity);
    // Only `run` and `eval` split their work across ranks; any other command would
    // run whole on every rank and write its outputs several times over.
    if (world().size() > 1)
      for (const CLI::App* sub : app.get_subcommands())
        if (sub->get_name() != "run" && sub->get_name() != "eval")
          throw Error(ExitCode::usage, fmt::format("`spikesim {}` runs on one rank; under mpirun/srun only `spikesim "
                                                   "run` and `spikesim eval` are split across ranks "
                                                   "(docs/concepts/ranks.md)",
                                                   sub->get_name()));
    // Under mpirun every rank runs the same command: rank 0 speaks for all
    // (its summary, its progress); the others only warn and fail.
    if (world().rank() != 0) {
      spdlog::set_level(spdlog::level::warn);
      std::cout.rdbuf(nullptr);
    }
  });

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
    // One write per line: the ranks share stderr under mpirun.
    std::cerr << ("spikesim: error: " + rank_prefix() + e.what() + "\n") << std::flush;
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << ("spikesim: internal error: " + rank_prefix() + e.what() + "\n") << std::flush;
    return static_cast<int>(ExitCode::failure);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    start_ranks(argc, argv);
  } catch (const Error& e) {
    std::cerr << "spikesim: error: " << e.what() << "\n";
    return e.exit_code();
  }
  const int code = run_cli(argc, argv);
  // A rank that fails may leave the others inside a collective: end them
  // all, with this rank's exit code (mpirun reports it).
  if (code != 0 && world().size() > 1) {
    std::cerr << std::flush;
    abort_ranks(code);
  }
  stop_ranks();
  return code;
}
