#pragma once
// Every parallel loop of spikesim runs through here: oneTBB does the work,
// and ThreadSanitizer is told where each loop forks and joins.
//
// Debian's libtbb is not built with -fsanitize=thread, so TSan cannot see
// how a parallel_for hands a task to a worker (fork) and waits for all of
// them (join); it would report the caller's writes against the tasks' reads
// of the same data. Under TSan each loop therefore releases a fork token
// before it starts, every task acquires it when it begins and releases a
// join token when it ends, and the caller acquires that after the loop. The
// tasks stay unordered with each other, so two tasks touching the same data
// are still reported. Without TSan the annotations compile to nothing.
// TBB's own bookkeeping in its headers is suppressed in
// tests/sanitizers/tsan.supp.
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <cstddef>
#include <utility>

#if defined(__SANITIZE_THREAD__)
#define SPIKESIM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SPIKESIM_TSAN 1
#endif
#endif
#ifdef SPIKESIM_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace spikesim {
namespace detail {

#ifdef SPIKESIM_TSAN
struct ForkJoin {
  char fork = 0, join = 0;
  void before_fork() { __tsan_release(&fork); }
  void task_begins() { __tsan_acquire(&fork); }
  void task_ends() { __tsan_release(&join); }
  void after_join() { __tsan_acquire(&join); }
};
#else
struct ForkJoin {
  void before_fork() {}
  void task_begins() {}
  void task_ends() {}
  void after_join() {}
};
#endif

}  // namespace detail

// tbb::parallel_for(range, body[, partitioner]).
template <class Range, class Body, class... Partitioner>
void parallel_for(const Range& range, const Body& body, Partitioner&&... partitioner) {
  detail::ForkJoin sync;
  sync.before_fork();
  tbb::parallel_for(
      range,
      [&](const Range& r) {
        sync.task_begins();
        body(r);
        sync.task_ends();
      },
      std::forward<Partitioner>(partitioner)...);
  sync.after_join();
}

// f(i) for every i in [first, last).
template <class Index, class F>
void parallel_for_each_index(Index first, Index last, const F& f) {
  parallel_for(tbb::blocked_range<Index>(first, last), [&](const tbb::blocked_range<Index>& r) {
    for (Index i = r.begin(); i != r.end(); ++i) f(i);
  });
}

// tbb::parallel_reduce(range, identity, body, join): body(range, value) -> value.
template <class Range, class T, class Body, class Join>
T parallel_reduce(const Range& range, const T& identity, const Body& body, const Join& join) {
  detail::ForkJoin sync;
  sync.before_fork();
  T result = tbb::parallel_reduce(
      range, identity,
      [&](const Range& r, T value) {
        sync.task_begins();
        value = body(r, std::move(value));
        sync.task_ends();
        return value;
      },
      [&](T a, T b) {
        // A join combines what two finished tasks left.
        sync.task_begins();
        sync.after_join();
        T out = join(std::move(a), std::move(b));
        sync.task_ends();
        return out;
      });
  sync.after_join();
  return result;
}

}  // namespace spikesim
