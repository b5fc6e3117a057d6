// spikesim graph CONFIG.toml [-o net.dot]
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "network/llama/mapper.hpp"
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
    const LlamaModel model = model_for(cfg);
    const NetworkGraph g = map_transformer(model.config, {cfg.encoding.kv_spiking, cfg.encoding.spike_lm_head});
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
