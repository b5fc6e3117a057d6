#include "io/formats/load_options.hpp"

#include <cmath>

#include "core/error.hpp"

namespace spikesim {

void check_finite(std::span<const float> values, const std::string& file, const std::string& tensor,
                  const LoadOptions& options, long cols) {
  if (options.allow_non_finite) return;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (std::isfinite(v)) continue;
    const std::string where =
        cols > 0 ? fmt::format(" (row {}, col {})", static_cast<long>(i) / cols, static_cast<long>(i) % cols)
                 : std::string();
    throw Error(ExitCode::numeric,
                fmt::format("{}: tensor '{}' element {}{} is {} (load with allow_non_finite to accept it)",
                            file, tensor, i, where, std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf")));
  }
}

}  // namespace spikesim
