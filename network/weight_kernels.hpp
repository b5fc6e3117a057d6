#pragma once
// The kernels that stream weight lines (core/weights/weight_tensor.hpp):
// event delivery into accumulators, and the dense matrix-vector product.
//
// Delivery adds s_k · line_k[j0 .. j0+n) for up to four events k at once, so
// each accumulator is loaded and stored once per four lines: the loop is then
// bound by weight bandwidth, not by accumulator traffic
// (bench/delivery_bench.cpp measures it).
//
//   float lines (f32, bf16, f16) into double accumulators: products of an
//     integer amplitude and a float weight are exact in double; the sum
//     order depends only on the event order, never on the slicing or the
//     instruction set (the clones have no FMA), so results are bit-identical
//     for every thread count.
//   integer lines (int8, int4) into int32 or int64 accumulators: exact in
//     any order.
//
// Slices of a line start at multiples of 64 elements (an int4 block).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "core/weights/weight_tensor.hpp"

namespace spikesim {

inline constexpr std::size_t kMaxLinesPerPass = 4;

// acc[0..n) += Σ_k s[k] · line_k[j0 + 0..n), for float line types.
void add_float_lines(WeightType type, double* acc, std::span<const std::byte* const> lines,
                     std::span<const double> s, std::size_t j0, std::size_t n);
// The same for integer line types and integer amplitudes.
void add_int_lines(WeightType type, std::int32_t* acc, std::span<const std::byte* const> lines,
                   std::span<const std::int32_t> s, std::size_t j0, std::size_t n);
void add_int_lines(WeightType type, std::int64_t* acc, std::span<const std::byte* const> lines,
                   std::span<const std::int32_t> s, std::size_t j0, std::size_t n);
// Integer lines with real amplitudes, into doubles: Σ_k s[k] · code_k[j]
// (the dense product of integer weights; scales are the caller's).
void add_int_lines_real(WeightType type, double* acc, std::span<const std::byte* const> lines,
                        std::span<const double> s, std::size_t j0, std::size_t n);

// One ternary step plane (core/weights/weight_tensor.hpp): acc[j] += s
// where bit j of `plus` is set, −= s where bit j of `minus` is, for
// j in [0, 64·words) (acc at output j0, the masks at word j0/64). Masks and
// integer adds only: lanes select s with an AND, no multiplication.
void add_ternary_plane(std::int32_t* acc, const std::uint64_t* plus, const std::uint64_t* minus, std::int32_t s,
                       std::size_t words);
void add_ternary_plane(std::int64_t* acc, const std::uint64_t* plus, const std::uint64_t* minus, std::int64_t s,
                       std::size_t words);

// Runs `slice(j0, j1)` over [0, n) in slices that TBB may run in parallel:
// one slice per core where it fits, each a multiple of 64 outputs and long
// enough to keep the hardware prefetcher streaming.
void for_each_output_slice(std::size_t n, const std::function<void(std::size_t, std::size_t)>& slice);

// y = W x (+ nothing: biases are the caller's), in double, for any type and
// order; the dense forward's only product.
void matvec(const WeightTensor& w, std::span<const float> x, std::span<float> y);

}  // namespace spikesim
