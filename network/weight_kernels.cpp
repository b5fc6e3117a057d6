#include "network/weight_kernels.hpp"

#include <tbb/task_arena.h>

#include <algorithm>
#include <vector>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/weights/half.hpp"

namespace spikesim {
namespace {

// Under ThreadSanitizer (SPIKESIM_TSAN, core/parallel.hpp) the kernels below
// are not cloned per instruction set: the dynamic loader picks a clone by
// running an ifunc resolver while it relocates the program, before the TSan
// runtime is up; TSan instruments that resolver and crashes in it (gcc 12,
// before main). A TSan build keeps the baseline kernels, with the same results.
// Float kernels get no AVX-512 clone: gcc would contract their products and
// sums into FMAs there, which round differently from the baseline clone.
#ifdef SPIKESIM_TSAN
#define SPIKESIM_FLOAT_CLONES
#define SPIKESIM_INT_CLONES
#else
#define SPIKESIM_FLOAT_CLONES [[gnu::target_clones("avx2", "default")]]
#define SPIKESIM_INT_CLONES [[gnu::target_clones("arch=x86-64-v4", "avx2", "default")]]
#endif

// ---- Element widening --------------------------------------------------------

struct Bf16 {
  std::uint16_t bits;
};
struct F16 {
  std::uint16_t bits;
};
[[gnu::always_inline]] inline double widen(float w) { return static_cast<double>(w); }
[[gnu::always_inline]] inline double widen(Bf16 w) { return static_cast<double>(bf16_to_f32(w.bits)); }
[[gnu::always_inline]] inline double widen(F16 w) { return static_cast<double>(f16_to_f32_fast(w.bits)); }

// ---- Float lines -----------------------------------------------------------------

template <class E>
[[gnu::always_inline]] inline void float_rows4(double* __restrict acc, const E* __restrict w0, const E* __restrict w1,
                                               const E* __restrict w2, const E* __restrict w3, double s0, double s1,
                                               double s2, double s3, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j)
    acc[j] += (s0 * widen(w0[j]) + s1 * widen(w1[j])) + (s2 * widen(w2[j]) + s3 * widen(w3[j]));
}
template <class E>
[[gnu::always_inline]] inline void float_row(double* __restrict acc, const E* __restrict w, double s, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) acc[j] += s * widen(w[j]);
}

#define SPIKESIM_FLOAT_KERNELS(E, NAME)                                                                      \
  SPIKESIM_FLOAT_CLONES void NAME##_rows4(double* acc, const E* w0, const E* w1, const E* w2, const E* w3,   \
                                          double s0, double s1, double s2, double s3, std::size_t n) {       \
    float_rows4(acc, w0, w1, w2, w3, s0, s1, s2, s3, n);                                                     \
  }                                                                                                          \
  SPIKESIM_FLOAT_CLONES void NAME##_row(double* acc, const E* w, double s, std::size_t n) {                  \
    float_row(acc, w, s, n);                                                                                 \
  }
SPIKESIM_FLOAT_KERNELS(float, f32)
SPIKESIM_FLOAT_KERNELS(Bf16, bf16)
SPIKESIM_FLOAT_KERNELS(F16, f16)
#undef SPIKESIM_FLOAT_KERNELS

template <class E>
void float_lines(void (*rows4)(double*, const E*, const E*, const E*, const E*, double, double, double, double,
                               std::size_t),
                 void (*row)(double*, const E*, double, std::size_t), double* acc,
                 std::span<const std::byte* const> lines, std::span<const double> s, std::size_t j0, std::size_t n) {
  auto at = [&](std::size_t k) { return reinterpret_cast<const E*>(lines[k]) + j0; };
  if (lines.size() == 4)
    rows4(acc, at(0), at(1), at(2), at(3), s[0], s[1], s[2], s[3], n);
  else
    for (std::size_t k = 0; k < lines.size(); ++k) row(acc, at(k), s[k], n);
}

// ---- Integer lines ---------------------------------------------------------------
// An int4 line is blocks of 64 codes in 32 bytes: byte k holds code k (low
// nibble) and code k + 32 (high nibble), so both halves are contiguous runs.

template <class Acc, class S>
[[gnu::always_inline]] inline void int8_rows4(Acc* __restrict acc, const std::int8_t* __restrict c0,
                                              const std::int8_t* __restrict c1, const std::int8_t* __restrict c2,
                                              const std::int8_t* __restrict c3, S s0, S s1, S s2, S s3,
                                              std::size_t n) {
  for (std::size_t j = 0; j < n; ++j)
    acc[j] += (s0 * static_cast<S>(c0[j]) + s1 * static_cast<S>(c1[j])) +
              (s2 * static_cast<S>(c2[j]) + s3 * static_cast<S>(c3[j]));
}

template <class Acc, class S>
[[gnu::always_inline]] inline void int4_rows4(Acc* __restrict acc, const std::uint8_t* __restrict b0,
                                              const std::uint8_t* __restrict b1, const std::uint8_t* __restrict b2,
                                              const std::uint8_t* __restrict b3, S s0, S s1, S s2, S s3,
                                              std::size_t n) {
  for (std::size_t blk = 0; blk < n; blk += kInt4Block) {
    Acc* __restrict a = acc + blk;
    const std::size_t o = blk / 2;
    for (std::size_t k = 0; k < kInt4Block / 2; ++k) {
      a[k] += (s0 * static_cast<S>(b0[o + k] & 15) + s1 * static_cast<S>(b1[o + k] & 15)) +
              (s2 * static_cast<S>(b2[o + k] & 15) + s3 * static_cast<S>(b3[o + k] & 15));
      a[k + 32] += (s0 * static_cast<S>(b0[o + k] >> 4) + s1 * static_cast<S>(b1[o + k] >> 4)) +
                   (s2 * static_cast<S>(b2[o + k] >> 4) + s3 * static_cast<S>(b3[o + k] >> 4));
    }
  }
}

// The same sums with 16-bit products, twice as many lanes per instruction,
// for amplitudes small enough that four products of a pass cannot leave
// int16 (narrow_amplitudes): the result is the same integer.
[[gnu::always_inline]] inline std::int16_t mul16(std::int16_t s, std::int16_t c) {
  return static_cast<std::int16_t>(s * c);
}
[[gnu::always_inline]] inline std::int16_t sum16(std::int16_t a, std::int16_t b, std::int16_t c, std::int16_t d) {
  return static_cast<std::int16_t>(static_cast<std::int16_t>(a + b) + static_cast<std::int16_t>(c + d));
}

SPIKESIM_INT_CLONES void narrow_int8(std::int32_t* __restrict acc, const std::int8_t* __restrict c0,
                                     const std::int8_t* __restrict c1, const std::int8_t* __restrict c2,
                                     const std::int8_t* __restrict c3, std::int16_t s0, std::int16_t s1,
                                     std::int16_t s2, std::int16_t s3, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j)
    acc[j] += sum16(mul16(s0, c0[j]), mul16(s1, c1[j]), mul16(s2, c2[j]), mul16(s3, c3[j]));
}

SPIKESIM_INT_CLONES void narrow_int4(std::int32_t* __restrict acc, const std::uint8_t* __restrict b0,
                                     const std::uint8_t* __restrict b1, const std::uint8_t* __restrict b2,
                                     const std::uint8_t* __restrict b3, std::int16_t s0, std::int16_t s1,
                                     std::int16_t s2, std::int16_t s3, std::size_t n) {
  for (std::size_t blk = 0; blk < n; blk += kInt4Block) {
    std::int32_t* __restrict a = acc + blk;
    const std::size_t o = blk / 2;
    for (std::size_t k = 0; k < kInt4Block / 2; ++k) {
      auto lo = [&](const std::uint8_t* b) { return static_cast<std::int16_t>(b[o + k] & 15); };
      auto hi = [&](const std::uint8_t* b) { return static_cast<std::int16_t>(b[o + k] >> 4); };
      a[k] += sum16(mul16(s0, lo(b0)), mul16(s1, lo(b1)), mul16(s2, lo(b2)), mul16(s3, lo(b3)));
      a[k + 32] += sum16(mul16(s0, hi(b0)), mul16(s1, hi(b1)), mul16(s2, hi(b2)), mul16(s3, hi(b3)));
    }
  }
}

// Four products of codes up to c_max and amplitudes up to `max_amplitude`
// stay inside int16.
bool narrow_amplitudes(WeightType type, std::int32_t max_amplitude) {
  const std::int32_t c_max = type == WeightType::int8 ? 128 : 15;
  return static_cast<std::int64_t>(4) * c_max * max_amplitude <= 32767;
}

// Fewer than four lines: the missing ones read line 0 with amplitude 0.
#define SPIKESIM_INT_KERNEL(ACC, S, NAME, CLONES)                                                              \
  CLONES void NAME##_int8(ACC* acc, const std::int8_t* c0, const std::int8_t* c1, const std::int8_t* c2,       \
                          const std::int8_t* c3, S s0, S s1, S s2, S s3, std::size_t n) {                      \
    int8_rows4<ACC, S>(acc, c0, c1, c2, c3, s0, s1, s2, s3, n);                                                \
  }                                                                                                            \
  CLONES void NAME##_int4(ACC* acc, const std::uint8_t* b0, const std::uint8_t* b1, const std::uint8_t* b2,    \
                          const std::uint8_t* b3, S s0, S s1, S s2, S s3, std::size_t n) {                     \
    int4_rows4<ACC, S>(acc, b0, b1, b2, b3, s0, s1, s2, s3, n);                                                \
  }
SPIKESIM_INT_KERNEL(std::int32_t, std::int32_t, i32, SPIKESIM_INT_CLONES)
SPIKESIM_INT_KERNEL(std::int64_t, std::int64_t, i64, SPIKESIM_INT_CLONES)
SPIKESIM_INT_KERNEL(double, double, real, SPIKESIM_FLOAT_CLONES)
#undef SPIKESIM_INT_KERNEL

template <class Acc, class S, class Amp>
void int_lines(void (*k8)(Acc*, const std::int8_t*, const std::int8_t*, const std::int8_t*, const std::int8_t*, S, S,
                          S, S, std::size_t),
               void (*k4)(Acc*, const std::uint8_t*, const std::uint8_t*, const std::uint8_t*, const std::uint8_t*,
                          S, S, S, S, std::size_t),
               WeightType type, Acc* acc, std::span<const std::byte* const> lines, std::span<const Amp> s,
               std::size_t j0, std::size_t n) {
  if (lines.empty()) return;
  if (j0 % kInt4Block != 0)
    throw Error(ExitCode::internal, "integer delivery: a slice must start at a multiple of 64 outputs");
  S amp[4] = {0, 0, 0, 0};
  const std::byte* l[4] = {lines[0], lines[0], lines[0], lines[0]};
  for (std::size_t k = 0; k < lines.size(); ++k) {
    amp[k] = static_cast<S>(s[k]);
    l[k] = lines[k];
  }
  if (type == WeightType::int8) {
    auto at = [&](int k) { return reinterpret_cast<const std::int8_t*>(l[k]) + j0; };
    k8(acc, at(0), at(1), at(2), at(3), amp[0], amp[1], amp[2], amp[3], n);
  } else {
    auto at = [&](int k) { return reinterpret_cast<const std::uint8_t*>(l[k]) + j0 / 2; };
    // Whole blocks: accumulators are padded to them (network/integrator.hpp).
    k4(acc, at(0), at(1), at(2), at(3), amp[0], amp[1], amp[2], amp[3], (n + kInt4Block - 1) / kInt4Block * kInt4Block);
  }
}

std::size_t slice_grain(std::size_t n) {
  const auto cores = static_cast<std::size_t>(std::max(1, tbb::this_task_arena::max_concurrency()));
  const std::size_t per_core = (n + cores - 1) / cores;
  // Long contiguous runs of each weight line keep the hardware prefetcher
  // streaming (bench/delivery_bench: 1024-float slices reach ~45% of copy
  // bandwidth on 4096x11008, 8192-float slices ~65%); the accumulator slice
  // stays in L2. One slice per core when that fits, so two cores split a
  // 4096-wide projection too.
  return std::clamp<std::size_t>((per_core + 63) / 64 * 64, 1024, 8192);
}

SPIKESIM_FLOAT_CLONES void f32_axpy4(float* __restrict acc, const float* __restrict w0, const float* __restrict w1,
                                      const float* __restrict w2, const float* __restrict w3, float s0, float s1,
                                      float s2, float s3, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) acc[j] += (s0 * w0[j] + s1 * w1[j]) + (s2 * w2[j] + s3 * w3[j]);
}

// Σ w[c] · x[c] in double, four partial sums (the order is fixed, so the
// result does not depend on the clone).
SPIKESIM_FLOAT_CLONES double dot_f32(const float* __restrict w, const float* __restrict x, std::size_t n) {
  double s[4] = {0, 0, 0, 0};
  std::size_t c = 0;
  for (; c + 4 <= n; c += 4)
    for (std::size_t k = 0; k < 4; ++k) s[k] += static_cast<double>(w[c + k]) * static_cast<double>(x[c + k]);
  for (; c < n; ++c) s[0] += static_cast<double>(w[c]) * static_cast<double>(x[c]);
  return (s[0] + s[1]) + (s[2] + s[3]);
}

}  // namespace

void add_float_lines(WeightType type, double* acc, std::span<const std::byte* const> lines, std::span<const double> s,
                     std::size_t j0, std::size_t n) {
  switch (type) {
    case WeightType::f32:
      return float_lines<float>(&f32_rows4, &f32_row, acc, lines, s, j0, n);
    case WeightType::bf16:
      return float_lines<Bf16>(&bf16_rows4, &bf16_row, acc, lines, s, j0, n);
    case WeightType::f16:
      return float_lines<F16>(&f16_rows4, &f16_row, acc, lines, s, j0, n);
    default:
      throw Error(ExitCode::internal, "add_float_lines: not a float weight type");
  }
}

void add_int_lines(WeightType type, std::int32_t* acc, std::span<const std::byte* const> lines,
                   std::span<const std::int32_t> s, std::size_t j0, std::size_t n) {
  std::int32_t max_amplitude = 0;
  for (const std::int32_t a : s) max_amplitude = std::max(max_amplitude, a < 0 ? -a : a);
  if (narrow_amplitudes(type, max_amplitude))
    int_lines<std::int32_t, std::int16_t, std::int32_t>(&narrow_int8, &narrow_int4, type, acc, lines, s, j0, n);
  else
    int_lines<std::int32_t, std::int32_t, std::int32_t>(&i32_int8, &i32_int4, type, acc, lines, s, j0, n);
}

void add_int_lines(WeightType type, std::int64_t* acc, std::span<const std::byte* const> lines,
                   std::span<const std::int32_t> s, std::size_t j0, std::size_t n) {
  int_lines<std::int64_t, std::int64_t, std::int32_t>(&i64_int8, &i64_int4, type, acc, lines, s, j0, n);
}

void add_int_lines_real(WeightType type, double* acc, std::span<const std::byte* const> lines,
                        std::span<const double> s, std::size_t j0, std::size_t n) {
  int_lines<double, double, double>(&real_int8, &real_int4, type, acc, lines, s, j0, n);
}

// 32 outputs per half word: gcc vectorizes the shift by the lane index
// (vpsrlvd) when mask and accumulator lanes have one width. Little-endian:
// the low half of a 64-bit mask word holds outputs 0..31.
#define SPIKESIM_TERNARY_PLANE(ACC, MASK)                                                                       \
  SPIKESIM_INT_CLONES void add_ternary_plane(ACC* __restrict acc, const std::uint64_t* plus,                   \
                                             const std::uint64_t* minus, ACC s, std::size_t words) {         \
    for (std::size_t w = 0; w < words; ++w) {                                                                 \
      if ((plus[w] | minus[w]) == 0) continue;                                                                \
      for (unsigned h = 0; h < 64 / (8 * sizeof(MASK)); ++h) {                                                \
        const auto p = static_cast<MASK>(plus[w] >> (8 * sizeof(MASK) * h));                                  \
        const auto m = static_cast<MASK>(minus[w] >> (8 * sizeof(MASK) * h));                                 \
        ACC* a = acc + 64 * w + 8 * sizeof(MASK) * h;                                                         \
        for (unsigned b = 0; b < 8 * sizeof(MASK); ++b) {                                                     \
          const auto pb = static_cast<ACC>(0 - static_cast<ACC>((p >> b) & 1U));                              \
          const auto mb = static_cast<ACC>(0 - static_cast<ACC>((m >> b) & 1U));                              \
          a[b] += (s & pb) - (s & mb);                                                                        \
        }                                                                                                     \
      }                                                                                                       \
    }                                                                                                         \
  }
SPIKESIM_TERNARY_PLANE(std::int32_t, std::uint32_t)
SPIKESIM_TERNARY_PLANE(std::int64_t, std::uint64_t)
#undef SPIKESIM_TERNARY_PLANE

void for_each_output_slice(std::size_t n, const std::function<void(std::size_t, std::size_t)>& slice) {
  const std::size_t grain = slice_grain(n);
  if (n <= grain) {
    slice(0, n);
    return;
  }
  // Slices of whole grains: the int4 kernel needs 64-aligned starts.
  const std::size_t count = (n + grain - 1) / grain;
  parallel_blocks(
      tbb::blocked_range<std::size_t>(0, count, 1),
      [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t s = r.begin(); s < r.end(); ++s) slice(s * grain, std::min(n, (s + 1) * grain));
      },
      tbb::simple_partitioner());
}

namespace {
// Ternary weights with real inputs: per α group and step, Σ ±x over the
// plane's set bits, then one α per output; salient weights σ_j Σ q x. In
// double, in a fixed order: no thread count changes the bits.
void ternary_matvec(const WeightTensor& w, std::span<const float> x, std::span<float> y) {
  const std::size_t rows = w.rows(), words = w.plane_words();
  std::vector<double> acc(rows, 0.0), part(words * 64);
  for (std::size_t g = 0; g < w.groups(); ++g)
    for (int k = 0; k < w.max_steps(); ++k) {
      std::fill(part.begin(), part.end(), 0.0);
      bool any = false;
      for (std::size_t i = w.group_begin(g); i < w.group_end(g); ++i) {
        if (w.steps(i) <= k) continue;
        any = true;
        const std::uint64_t* plus = w.plus_mask(i, k);
        const std::uint64_t* minus = w.minus_mask(i, k);
        const auto xi = static_cast<double>(x[i]);
        for (std::size_t q = 0; q < words; ++q)
          for (unsigned b = 0; b < 64; ++b)
            part[64 * q + b] +=
                xi * (static_cast<double>((plus[q] >> b) & 1U) - static_cast<double>((minus[q] >> b) & 1U));
      }
      if (!any) continue;
      for (std::size_t j = 0; j < rows; ++j) acc[j] += static_cast<double>(w.alpha(k, j, g)) * part[j];
    }
  if (w.has_salient()) {
    std::fill(part.begin(), part.end(), 0.0);
    for (std::size_t i = 0; i < w.cols(); ++i) {
      const SalientLine s = w.salient(i);
      for (std::size_t q = 0; q < s.rows.size(); ++q)
        part[s.rows[q]] += static_cast<double>(s.codes[q]) * static_cast<double>(x[i]);
    }
    for (std::size_t j = 0; j < rows; ++j) acc[j] += static_cast<double>(w.salient_scale(j)) * part[j];
  }
  for (std::size_t j = 0; j < rows; ++j) y[j] = static_cast<float>(acc[j]);
}
}  // namespace

void matvec(const WeightTensor& w, std::span<const float> x, std::span<float> y) {
  if (x.size() != w.cols() || y.size() != w.rows())
    throw Error(ExitCode::internal, fmt::format("matvec: {} x {} weights, {} inputs, {} outputs", w.rows(), w.cols(),
                                                x.size(), y.size()));
  if (w.type() == WeightType::ternary) {
    ternary_matvec(w, x, y);
    return;
  }
  const bool integer = is_integer(w.type());
  if (w.order() == WeightOrder::by_output) {
    // One dot product per output, in double; integer rows by group. Small
    // products (stories260K's lm_head) stay on the calling thread.
    auto rows = [&](const tbb::blocked_range<std::size_t>& r) {
      thread_local std::vector<float> row;
      row.resize(w.cols());
      for (std::size_t j = r.begin(); j < r.end(); ++j) {
        double v = 0;
        if (w.type() == WeightType::f32) {
          v = dot_f32(w.line_as<float>(j), x.data(), w.cols());
        } else if (!integer) {
          w.row_to_f32(j, row);
          v = dot_f32(row.data(), x.data(), w.cols());
        } else {
          for (std::size_t g = 0; g < w.groups(); ++g) {
            double dot = 0, sum = 0;
            for (std::size_t c = w.group_begin(g); c < w.group_end(g); ++c) {
              dot += static_cast<double>(w.code(j, c)) * static_cast<double>(x[c]);
              sum += static_cast<double>(x[c]);
            }
            v += static_cast<double>(w.scale(j, g)) * (dot - static_cast<double>(w.zero(j, g)) * sum);
          }
        }
        y[j] = static_cast<float>(v);
      }
    };
    const tbb::blocked_range<std::size_t> all(0, w.rows(), 256);
    if (w.size() < (std::size_t{1} << 18))
      rows(all);
    else
      parallel_blocks(all, rows);
    return;
  }
  // by_input: y += x_i · line_i, four lines per pass; integer weights sum
  // each group's codes first and apply its scales once.
  const std::size_t rows = w.rows();
  thread_local std::vector<double> acc, part;
  acc.assign((rows + kInt4Block - 1) / kInt4Block * kInt4Block, 0.0);
  part.resize(integer ? acc.size() : 0);
  auto run_lines = [&](std::size_t i0, std::size_t i1, double* out) {
    for_each_output_slice(rows, [&](std::size_t j0, std::size_t j1) {
      for (std::size_t i = i0; i < i1; i += kMaxLinesPerPass) {
        const std::size_t k = std::min(kMaxLinesPerPass, i1 - i);
        const std::byte* lines[kMaxLinesPerPass];
        double s[kMaxLinesPerPass];
        for (std::size_t q = 0; q < k; ++q) {
          lines[q] = w.line(i + q);
          s[q] = static_cast<double>(x[i + q]);
        }
        if (integer)
          add_int_lines_real(w.type(), out + j0, {lines, k}, {s, k}, j0, j1 - j0);
        else
          add_float_lines(w.type(), out + j0, {lines, k}, {s, k}, j0, j1 - j0);
      }
    });
  };
  if (w.type() == WeightType::f32) {
    // The dense f32 product accumulates in float, as a dense fp32 network
    // does (and twice as wide as double): it feeds no exact comparison.
    thread_local std::vector<float> facc;
    facc.assign(acc.size(), 0.0f);
    float* const out = facc.data();  // slices run on other threads: not their thread_local
    for_each_output_slice(rows, [&](std::size_t j0, std::size_t j1) {
      std::size_t i = 0;
      for (; i + 4 <= w.cols(); i += 4)
        f32_axpy4(out + j0, w.line_as<float>(i) + j0, w.line_as<float>(i + 1) + j0,
                  w.line_as<float>(i + 2) + j0, w.line_as<float>(i + 3) + j0, x[i], x[i + 1], x[i + 2], x[i + 3],
                  j1 - j0);
      for (; i < w.cols(); ++i)
        f32_axpy4(out + j0, w.line_as<float>(i) + j0, w.line_as<float>(i) + j0, w.line_as<float>(i) + j0,
                  w.line_as<float>(i) + j0, x[i], 0.0f, 0.0f, 0.0f, j1 - j0);
    });
    std::copy(facc.begin(), facc.begin() + static_cast<std::ptrdiff_t>(rows), y.begin());
    return;
  }
  if (!integer) {
    run_lines(0, w.cols(), acc.data());
  } else {
    for (std::size_t g = 0; g < w.groups(); ++g) {
      std::fill(part.begin(), part.end(), 0.0);
      const std::size_t i0 = w.group_begin(g), i1 = w.group_end(g);
      run_lines(i0, i1, part.data());
      double sum = 0;
      for (std::size_t i = i0; i < i1; ++i) sum += static_cast<double>(x[i]);
      for (std::size_t j = 0; j < rows; ++j)
        acc[j] += static_cast<double>(w.scale(j, g)) * (part[j] - static_cast<double>(w.zero(j, g)) * sum);
    }
  }
  for (std::size_t j = 0; j < rows; ++j) y[j] = static_cast<float>(acc[j]);
}

}  // namespace spikesim
