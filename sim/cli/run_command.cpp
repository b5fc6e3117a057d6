// spikesim run CONFIG.toml [-o OUT.h5] [--set key=value ...] [--max-memory SIZE] [--json]
#include <iostream>
#include <memory>
#include <optional>

#include "io/config/config.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/thread_limit.hpp"
#include "sim/interrupt.hpp"
#include "sim/memory_estimate.hpp"
#include "sim/ranks.hpp"
#include "sim/run_driver.hpp"

namespace spikesim::cli {

void add_run_command(CLI::App& app) {
  struct Options {
    std::string config, output;
    std::vector<std::string> overrides;
    std::string max_memory, rank_memory;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("run", "Simulate a TOML config; writes HDF5 and prints a summary");
  cmd->add_option("config", o->config, "TOML config (e.g. examples/default.toml)")->required();
  cmd->add_option("-o,--output", o->output, "Output HDF5 file (overrides record.output)");
  cmd->add_option("--set", o->overrides, "Override a config key: key=value (repeatable)");
  cmd->add_option("--max-memory", o->max_memory,
                  "Refuse a run estimated to need more than SIZE (e.g. 512M, 8G); the available memory "
                  "is a limit too")
      ->type_name("SIZE");
  cmd->add_option("--rank-memory", o->rank_memory,
                  "Under mpirun: refuse a rank estimated to need more than SIZE; default: the available "
                  "memory shared among the ranks of its node (see `spikesim plan`)")
      ->type_name("SIZE");
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  cmd->callback([o] {
    // From here SIGINT/SIGTERM only set a flag, checked once per token: the
    // run unwinds (a recorded one leaves "<out>.partial", spikesim_complete
    // = 0) and main exits 130 (sim/interrupt.hpp).
    install_interrupt_handlers();
    auto overrides = o->overrides;
    if (!o->output.empty()) overrides.push_back("record.output=" + o->output);
    const SimConfig cfg = load_config(o->config, overrides);
    std::optional<std::uint64_t> max_memory;
    if (!o->max_memory.empty()) max_memory = parse_memory_size(o->max_memory);
    const Communicator& ranks = world();
    if (ranks.size() == 1) {
      check_run_memory(cfg, max_memory, o->max_memory);  // before any weight is loaded
    } else if (cfg.run.workload == Workload::transformer) {
      // Each rank against its own limit: its steady share of the model, and
      // the whole model it reads before keeping its rows (today's loader).
      std::optional<std::uint64_t> rank_memory;
      if (!o->rank_memory.empty()) rank_memory = parse_memory_size(o->rank_memory, "--rank-memory");
      const LlamaConfig shape = model_config_for(cfg);
      const MemoryLimit limit = rank_memory_limit(rank_memory, o->rank_memory);
      // main names the rank in front of the message.
      check_memory(estimate_run_memory(cfg, shape, {ranks.size(), ranks.rank()}), limit,
                   "this rank's share of the model",
                   "Use more ranks (`spikesim plan CONFIG.toml --rank-memory SIZE` says how many) or raise "
                   "--rank-memory");
      const LoadPeak peak = estimate_load_peak(cfg, shape);
      if (peak.total() > limit.bytes)
        throw Error(ExitCode::resource,
                    fmt::format("this rank reads the whole model before it keeps its rows: about {} while "
                                "loading; limit is {} ({}). Give each rank more memory, or fewer ranks per node",
                                format_bytes(peak.total()), format_bytes(limit.bytes), limit.source));
    }
    const auto guard = limit_threads(cfg.run.threads);
    const bool stream_text = !o->json && !cfg.input.prompt.empty();
    RunOutcome out;
    try {
      out = run_simulation(cfg, [&](const std::string& piece) {
        if (stream_text) std::cout << piece << std::flush;
      });
    } catch (const RunInterrupted& stopped) {
      // The summary of the tokens done ("complete": false), then main's one
      // error line and exit 130.
      if (o->json) std::cout << stopped.partial().summary.dump(2) << "\n" << std::flush;
      throw;
    }
    if (stream_text) std::cout << "\n\n";
    if (o->json) {
      std::cout << out.summary.dump(2) << "\n";
    } else {
      std::cout << out.table;
      if (out.output) std::cout << "\n  output: " << out.output->string() << "\n";
    }
  });
}

}  // namespace spikesim::cli
