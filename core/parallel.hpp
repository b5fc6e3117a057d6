#pragma once
// Every parallel loop of spikesim runs through here.
//
// Normally oneTBB does the work. Under ThreadSanitizer the same loops run on
// two plain threads instead: Debian's libtbb is not built with
// -fsanitize=thread, so TSan cannot see how TBB hands a task to a worker and
// waits for it, and reports the caller's writes against the tasks' reads
// (and TBB's own bookkeeping) as races. Annotating the fork and join with
// __tsan_release/__tsan_acquire silenced our data but left a stream of
// reports inside TBB's headers. So under TSan the range is split in two, one
// half runs on a std::thread (whose start and join TSan sees) and the other
// on the caller: the halves stay unordered with each other, so two of them
// touching the same data are reported, and nothing of TBB is involved. Every
// body here accepts any subrange, so the split changes no result.
//
// The names differ from TBB's on purpose: an unqualified parallel_for(range,
// ...) would find tbb::parallel_for by argument-dependent lookup through the
// tbb::blocked_range, win overload resolution, and bypass this file.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <cstddef>
#include <exception>
#include <thread>
#include <utility>

#if defined(__SANITIZE_THREAD__)
#define SPIKESIM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPIKESIM_TSAN 1
#endif
#endif

namespace spikesim {
namespace detail {

// f(second) on a new thread while the caller runs g(first); rethrows the
// first exception of either after both are done.
template <class F, class G>
void run_pair(const F& on_worker, const G& on_caller) {
  std::exception_ptr worker_error;
  std::thread worker([&] {
    try {
      on_worker();
    } catch (...) {
      worker_error = std::current_exception();
    }
  });
  try {
    on_caller();
  } catch (...) {
    worker.join();
    throw;
  }
  worker.join();
  if (worker_error) std::rethrow_exception(worker_error);
}

}  // namespace detail

// tbb::parallel_for(range, body[, partitioner]): body(subrange) on blocks of range.
template <class Range, class Body, class... Partitioner>
void parallel_blocks(const Range& range, const Body& body, Partitioner&&... partitioner) {
#ifdef SPIKESIM_TSAN
  (void)sizeof...(partitioner);
  if (!range.is_divisible()) {
    body(range);
    return;
  }
  Range first(range);
  const Range second(first, tbb::split());  // `first` keeps the first half
  detail::run_pair([&] { body(second); }, [&] { body(first); });
#else
  tbb::parallel_for(range, body, std::forward<Partitioner>(partitioner)...);
#endif
}

// f(i) for every i in [first, last).
template <class Index, class F>
void parallel_indices(Index first, Index last, const F& f) {
  parallel_blocks(tbb::blocked_range<Index>(first, last), [&](const tbb::blocked_range<Index>& r) {
    for (Index i = r.begin(); i != r.end(); ++i) f(i);
  });
}

// tbb::parallel_reduce(range, identity, body, join): body(range, value) -> value.
template <class Range, class T, class Body, class Join>
T parallel_reduce_blocks(const Range& range, const T& identity, const Body& body, const Join& join) {
#ifdef SPIKESIM_TSAN
  if (!range.is_divisible()) return body(range, identity);
  Range first(range);
  const Range second(first, tbb::split());
  T a = identity, b = identity;
  detail::run_pair([&] { b = body(second, std::move(b)); }, [&] { a = body(first, std::move(a)); });
  return join(std::move(a), std::move(b));
#else
  return tbb::parallel_reduce(range, identity, body, join);
#endif
}

}  // namespace spikesim
