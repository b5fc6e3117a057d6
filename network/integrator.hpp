#pragma once
// Integrators: the postsynaptic accumulators of one projection.
//
// A projection fed by a population whose neurons fall into G threshold
// groups (see neurons/gif_grid.hpp) keeps one accumulator row of d_out
// outputs per group, or, with integer weights quantized in K input groups,
// per (threshold group, weight group) pair. What a row accumulates and how
// it is read out is the projection's business (network/projection.hpp):
//
//   real rows (float weights):  acc_{g,j} = Σ_{events from group g} s · w_ji
//     in double: a product of an integer amplitude (< 2^17) and a float
//     weight is exact in double, so the sum barely depends on the order
//     events arrive in. That is what lets the spiking run equal the
//     quantized reference (which applies each channel's whole code at once):
//     a float accumulator would differ in the last bits, and on a 4-bit grid
//     a last-bit difference that lands on a rounding boundary flips a level
//     in the next encoder, which the KV cache then carries to every later
//     position.
//   integer rows (int8/int4 weights): acc_{r,j} = Σ s · code_ji in int32 or
//     int64 (network/int_projection.hpp states the bound that picks one),
//     plus one integer amplitude sum Σ s per row. Exact in any order.
#include <cstdint>
#include <span>
#include <vector>

namespace spikesim {

class Integrator {
 public:
  enum class Kind : std::uint8_t { real, int32, int64 };

  Integrator() = default;
  Integrator(std::size_t rows, std::size_t outputs) { resize(Kind::real, rows, outputs); }

  // Rows of `outputs` accumulators (padded to whole 64-output blocks, which
  // the int4 kernel writes), zeroed.
  void resize(Kind kind, std::size_t rows, std::size_t outputs);
  void clear();  // start of a token

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] std::size_t rows() const { return rows_; }
  [[nodiscard]] std::size_t outputs() const { return outputs_; }
  double* row(std::size_t r) { return real_.data() + r * stride_; }
  [[nodiscard]] const double* row(std::size_t r) const { return real_.data() + r * stride_; }
  std::int32_t* row_i32(std::size_t r) { return i32_.data() + r * stride_; }
  [[nodiscard]] const std::int32_t* row_i32(std::size_t r) const { return i32_.data() + r * stride_; }
  std::int64_t* row_i64(std::size_t r) { return i64_.data() + r * stride_; }
  [[nodiscard]] const std::int64_t* row_i64(std::size_t r) const { return i64_.data() + r * stride_; }
  // Integer rows: accumulator (r, j) widened to int64, whatever the kind.
  [[nodiscard]] std::int64_t integer(std::size_t r, std::size_t j) const {
    return kind_ == Kind::int32 ? row_i32(r)[j] : row_i64(r)[j];
  }
  // Integer rows: Σ s of the events each row received.
  std::span<std::int64_t> amplitude_sums() { return sums_; }
  [[nodiscard]] std::span<const std::int64_t> amplitude_sums() const { return sums_; }

  // Same kind, shape and accumulator values, compared exactly (tests).
  [[nodiscard]] bool equals(const Integrator& other) const;

 private:
  Kind kind_ = Kind::real;
  std::size_t rows_ = 0, outputs_ = 0, stride_ = 0;
  std::vector<double> real_;
  std::vector<std::int32_t> i32_;
  std::vector<std::int64_t> i64_;
  std::vector<std::int64_t> sums_;
};

}  // namespace spikesim
