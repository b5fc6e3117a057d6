#pragma once
// What every loader of io/formats/ is asked to accept, and the check it
// applies to every tensor it reads. Apart from model_loader.hpp (which picks
// a loader by the path) so that the loaders and the dispatcher do not
// include each other.
#include <span>
#include <string>

namespace spikesim {

struct LoadOptions {
  bool allow_non_finite = false;  // accept NaN/Inf weights (for fault-injection studies)
};

// Throws Error(ExitCode::numeric) "<file>: tensor '<tensor>' element <i> (row r, col c) is NaN"
// at the first non-finite value, unless options allow them. `cols` (> 0)
// only serves to print the row and column.
void check_finite(std::span<const float> values, const std::string& file, const std::string& tensor,
                  const LoadOptions& options, long cols = 0);

}  // namespace spikesim
