#pragma once
// The read-only bandwidth probe the benchmarks compare weight streaming
// with: one parallel (TBB) sum of an array larger than any cache, which a
// kernel reading each weight once cannot beat.
#include <tbb/blocked_range.h>
#include <tbb/parallel_reduce.h>

#include <cstdint>
#include <vector>

namespace spikesim::bench {

inline std::uint64_t array_sum(const std::vector<std::uint64_t>& a) {
  return tbb::parallel_reduce(
      tbb::blocked_range<std::size_t>(0, a.size(), 1 << 16), std::uint64_t{0},
      [&](const auto& r, std::uint64_t acc) {
        for (std::size_t i = r.begin(); i < r.end(); ++i) acc += a[i];
        return acc;
      },
      [](std::uint64_t x, std::uint64_t y) { return x + y; });
}

}  // namespace spikesim::bench
