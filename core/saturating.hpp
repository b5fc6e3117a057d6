#pragma once
// Saturating unsigned arithmetic for sizes computed from untrusted numbers
// (a checkpoint header, a config): an absurd value must come out as "too
// large", never wrap around into a small, plausible size.
#include <cstdint>
#include <limits>

namespace spikesim {

inline std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<std::uint64_t>::max() : r;
}

inline std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<std::uint64_t>::max() : r;
}

}  // namespace spikesim
