// spikesim graph CONFIG.toml [-o net.dot]
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "sim/cli/commands.hpp"
#include "sim/run_driver.hpp"

namespace spikesim::cli {

void add_graph_command(CLI::App& app) {
  struct Options {
    std::string config, output;
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("graph", "Write the network graph of a config as GraphViz DOT");
  cmd->add_option("config", o->config, "TOML config")->required();
  cmd->add_option("-o,--output", o->output, "DOT file (default: stdout)");
  cmd->add_option("--set", o->overrides, "Override a config key: key=value (repeatable)");
  cmd->callback([o] {
    const SimConfig cfg = load_config(o->config, o->overrides);
    // Shapes only: a 70B config is drawn without reading or drawing a weight.
    const NetworkGraph g = network_for(cfg);
    if (o->output.empty()) {
      g.write_dot(std::cout);
      return;
    }
    std::ofstream f(o->output);
    if (!f) throw Error(ExitCode::output, fmt::format("cannot write '{}'", o->output));
    g.write_dot(f);
  });
}

}  // namespace spikesim::cli
