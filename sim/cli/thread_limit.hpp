#pragma once
// --threads / run.threads: caps TBB's worker count for the command's lifetime.
#include <tbb/global_control.h>

#include <memory>

namespace spikesim::cli {

inline std::unique_ptr<tbb::global_control> limit_threads(int threads) {
  if (threads <= 0) return nullptr;  // all cores
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                               static_cast<std::size_t>(threads));
}

}  // namespace spikesim::cli
