// spikesim config [--keys] [--set key=value ...]: the defaults at hand, as
// NEST's GetDefaults gives them. Without --keys it prints the effective
// config (every key, with its meaning as a comment), which `spikesim run`
// accepts as it is; with --keys, one line per key: name, type, default,
// allowed values.
#include <iostream>
#include <memory>

#include "io/config/config.hpp"
#include "sim/cli/commands.hpp"

namespace spikesim::cli {

void add_config_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> overrides;
    bool keys = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("config", "Print the default config with every key's meaning (a valid config)");
  cmd->add_flag("--keys", o->keys, "List the keys with their types, defaults and allowed values instead");
  cmd->add_option("--set", o->overrides, "Override a config key: key=value (repeatable)");
  cmd->callback([o] {
    if (o->keys) {
      std::cout << config_keys_table();
      return;
    }
    std::cout << parse_config("", "<defaults>", o->overrides).source_text;
  });
}

}  // namespace spikesim::cli
