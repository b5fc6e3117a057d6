#include "core/logging.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace spikesim {

void init_logging(int verbosity) {
  static auto logger = [] {
    auto l = spdlog::stderr_color_mt("spikesim");
    l->set_pattern("%^[%l]%$ %v");
    spdlog::set_default_logger(l);
    return l;
  }();
  logger->set_level(verbosity <= 0 ? spdlog::level::warn
                                   : verbosity == 1 ? spdlog::level::info
                                                    : spdlog::level::debug);
}

}  // namespace spikesim
