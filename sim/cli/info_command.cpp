// spikesim info OUT.h5
#include <iostream>
#include <memory>

#include "io/runfile/run_file.hpp"
#include "sim/cli/commands.hpp"

namespace spikesim::cli {

void add_info_command(CLI::App& app) {
  auto file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("info", "Summarize a spikesim HDF5 file (says INCOMPLETE for an interrupted run)");
  cmd->add_option("file", *file, "HDF5 file written by spikesim run")->required();
  cmd->callback([file] { std::cout << format_run_file_summary(read_run_file(*file)); });
}

}  // namespace spikesim::cli
