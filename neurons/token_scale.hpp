#pragma once
// The per-token decode scale of a population: threshold θ and zero point z
// of each group of neurons that share them (neurons/population.hpp).
#include <cstdint>
#include <vector>

namespace spikesim {

struct TokenScale {
  std::vector<float> theta;
  std::vector<std::int64_t> zero;
};

}  // namespace spikesim
