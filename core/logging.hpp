#pragma once
// Logging goes to stderr through spdlog so that stdout stays clean for
// summaries and --json output.
#include <spdlog/spdlog.h>

namespace spikesim {

// Sets the global level: 0 = warnings and errors, 1 = info, 2 = debug.
void init_logging(int verbosity);

}  // namespace spikesim
