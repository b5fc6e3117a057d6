#pragma once
// A matrix of standard normal values from a seed, the weights of unit tests.
#include <cstdint>

#include "core/matrix.hpp"
#include "core/random.hpp"

namespace spikesim::test {

inline MatrixRM random_matrix(long rows, long cols, std::uint64_t seed) {
  Rng rng(seed);
  MatrixRM m(rows, cols);
  for (long i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.normal());
  return m;
}

}  // namespace spikesim::test
