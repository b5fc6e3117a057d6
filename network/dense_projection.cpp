#include "network/dense_projection.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <tbb/task_arena.h>

#include <algorithm>

// SPIKESIM_TSAN: built with -fsanitize=thread (gcc or clang); see TsanForkJoin.
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

#include "core/error.hpp"

namespace spikesim {
namespace {

// Outputs per task. Long contiguous runs of each weight row keep the
// hardware prefetcher streaming (bench/delivery_bench: 1024-float slices
// reach ~45% of copy bandwidth on 4096x11008, 8192-float slices ~65%); the
// accumulator slice (up to 64 KiB of doubles) stays in L2. One slice per core when
// that fits, so two cores split a 4096-wide projection too.
std::size_t slice_grain(std::size_t d_out) {
  const auto cores = static_cast<std::size_t>(std::max(1, tbb::this_task_arena::max_concurrency()));
  const std::size_t per_core = (d_out + cores - 1) / cores;
  return std::clamp<std::size_t>((per_core + 15) / 16 * 16, 1024, 8192);
}

// Under ThreadSanitizer two things change, neither of them a result:
//  - The kernels below are cloned for AVX2 and the baseline; the dynamic
//    loader picks the clone by running an ifunc resolver while it relocates
//    the program, before the TSan runtime is up. TSan instruments that
//    resolver and crashes in it (gcc 12, before main), so a TSan build keeps
//    the baseline kernels only. Both clones round alike (no FMA).
//  - Debian's libtbb is not built with -fsanitize=thread, so TSan cannot see
//    how parallel_for hands each slice to a worker (fork) and waits for them
//    all (join). TsanForkJoin tells it; the slices stay unordered with each
//    other, so two slices touching one accumulator would still be reported.
#ifdef SPIKESIM_TSAN
#define SPIKESIM_KERNEL_CLONES
struct TsanForkJoin {
  char fork = 0, join = 0;
  void before_fork() { __tsan_release(&fork); }
  void slice_begins() { __tsan_acquire(&fork); }
  void slice_ends() { __tsan_release(&join); }
  void after_join() { __tsan_acquire(&join); }
};
#else
#define SPIKESIM_KERNEL_CLONES [[gnu::target_clones("avx2", "default")]]
struct TsanForkJoin {
  void before_fork() {}
  void slice_begins() {}
  void slice_ends() {}
  void after_join() {}
};
#endif

// The kernels stream weight rows into one accumulator slice. Four events are
// applied per pass so each accumulator is loaded and stored once per four
// rows: the loop is then bound by weight bandwidth, not by accumulator
// traffic. The summation order depends only on the event order, never on
// the slicing or the instruction set, so results stay bit-identical; the
// AVX2 clone (picked at run time, no build flag read from the host) has no
// FMA, so it rounds exactly as the baseline one does.
SPIKESIM_KERNEL_CLONES void add_rows4(double* __restrict acc, const float* __restrict w0,
                                      const float* __restrict w1, const float* __restrict w2,
                                      const float* __restrict w3, double s0, double s1, double s2, double s3,
                                      std::size_t n) {
  for (std::size_t j = 0; j < n; ++j)
    acc[j] += (s0 * static_cast<double>(w0[j]) + s1 * static_cast<double>(w1[j])) +
              (s2 * static_cast<double>(w2[j]) + s3 * static_cast<double>(w3[j]));
}

SPIKESIM_KERNEL_CLONES void add_row(double* __restrict acc, const float* __restrict w, double s,
                                    std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) acc[j] += s * static_cast<double>(w[j]);
}

}  // namespace

DenseProjection::DenseProjection(std::string name, std::size_t d_in, std::size_t d_out,
                                 std::span<const float> weights)
    : name_(std::move(name)), d_in_(d_in), d_out_(d_out), weights_t_(d_in * d_out) {
  if (weights.size() != d_in * d_out)
    throw Error(ExitCode::internal, fmt::format("projection '{}': {} weights for a {} x {} matrix", name_,
                                                weights.size(), d_out, d_in));
  for (std::size_t j = 0; j < d_out; ++j)
    for (std::size_t i = 0; i < d_in; ++i) weights_t_[i * d_out + j] = weights[j * d_in + i];
}

void account_dense_matvec(const MatrixRM& weights, OpCounts& counts) {
  const auto macs = static_cast<std::uint64_t>(weights.size());
  counts.dense.add(DenseOp::mac, macs);
  counts.weight_bytes += macs * DenseProjection::kBytesPerWeight;
}

std::uint64_t stored_weight_bytes(const MatrixRM& weights) {
  return static_cast<std::uint64_t>(weights.size()) * DenseProjection::kBytesPerWeight;
}

void DenseProjection::bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups) {
  if (group_of.size() != d_in_)
    throw Error(ExitCode::internal, fmt::format("projection '{}': source has {} neurons, expected d_in = {}",
                                                name_, group_of.size(), d_in_));
  group_colsum_.assign(groups * d_out_, 0.0);
  for (std::size_t i = 0; i < d_in_; ++i) {
    double* sum = group_colsum_.data() + group_of[i] * d_out_;
    const float* w = outgoing(static_cast<NeuronId>(i));
    for (std::size_t j = 0; j < d_out_; ++j) sum[j] += w[j];
  }
}

void DenseProjection::deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
                              Integrator& target) const {
  if (events.empty()) return;
  if (target.outputs() != d_out_)
    throw Error(ExitCode::internal, fmt::format("projection '{}': integrator has {} outputs, expected {}",
                                                name_, target.outputs(), d_out_));
  const std::size_t d_out = d_out_;
  const float* weights = weights_t_.data();
  auto apply_slice = [&](const tbb::blocked_range<std::size_t>& r) {
    const std::size_t j0 = r.begin();
    const std::size_t n = r.end() - r.begin();
    auto row = [&](const SpikeEvent& e) { return weights + std::size_t{e.neuron} * d_out + j0; };
    std::size_t k = 0;
    while (k < events.size()) {
      const std::uint32_t g = group_of[events[k].neuron];
      double* acc = target.row(g) + j0;
      if (k + 4 <= events.size() && group_of[events[k + 1].neuron] == g &&
          group_of[events[k + 2].neuron] == g && group_of[events[k + 3].neuron] == g) {
        const SpikeEvent* e = &events[k];
        add_rows4(acc, row(e[0]), row(e[1]), row(e[2]), row(e[3]), e[0].amplitude, e[1].amplitude,
                  e[2].amplitude, e[3].amplitude, n);
        k += 4;
      } else {
        add_row(acc, row(events[k]), events[k].amplitude, n);
        ++k;
      }
    }
  };
  const std::size_t grain = slice_grain(d_out);
  if (d_out <= grain)
    apply_slice(tbb::blocked_range<std::size_t>(0, d_out));
  else {
    TsanForkJoin tsan;
    tsan.before_fork();
    tbb::parallel_for(
        tbb::blocked_range<std::size_t>(0, d_out, grain),
        [&](const tbb::blocked_range<std::size_t>& r) {
          tsan.slice_begins();
          apply_slice(r);
          tsan.slice_ends();
        },
        tbb::simple_partitioner());
    tsan.after_join();
  }
}

}  // namespace spikesim
