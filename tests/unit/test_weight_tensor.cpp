// The typed weight tensor (core/weights/weight_tensor.hpp), the integer
// projection (network/int_projection.hpp) and the dense product
// (network/weight_kernels.hpp).
#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <cmath>

#include "core/random.hpp"
#include "core/weights/half.hpp"
#include "core/weights/weight_quantizer.hpp"
#include "network/int_projection.hpp"
#include "network/weight_kernels.hpp"
#include "neurons/gif_grid.hpp"
#include "tests/support/random_matrix.hpp"

using namespace spikesim;

namespace {

using test::random_matrix;

WeightTensor quantized(const MatrixRM& w, int bits, int group, bool symmetric, WeightOrder order) {
  const QuantizedWeights q = quantize_rtn(w, {bits, group, symmetric});
  return WeightTensor::from_integer({q.rows, q.cols, q.bits, q.group == 0 ? q.cols : q.group, q.codes, q.scales, q.zeros},
                                    order);
}

}  // namespace

TEST_CASE("float weights keep their type and values in either order", "[weights]") {
  const MatrixRM w = random_matrix(70, 33, 1);
  for (const WeightType type : {WeightType::f32, WeightType::bf16, WeightType::f16})
    for (const WeightOrder order : {WeightOrder::by_input, WeightOrder::by_output}) {
      INFO(weight_type_name(type) << (order == WeightOrder::by_input ? " by input" : " by output"));
      const WeightTensor t = WeightTensor::from_f32(w, type, order);
      CHECK(t.type() == type);
      CHECK(t.line_stride() % kLineAlignment == 0);
      CHECK(t.stored_bytes() == static_cast<std::uint64_t>(w.size()) * storage_bits(type) / 8);
      const MatrixRM back = t.to_f32();
      for (long r = 0; r < w.rows(); ++r)
        for (long c = 0; c < w.cols(); ++c) {
          const float want = type == WeightType::f32    ? w(r, c)
                             : type == WeightType::bf16 ? bf16_to_f32(f32_to_bf16(w(r, c)))
                                                        : f16_to_f32(f32_to_f16(w(r, c)));
          REQUIRE(back(r, c) == want);
        }
      CHECK(t.reordered(order == WeightOrder::by_input ? WeightOrder::by_output : WeightOrder::by_input).to_f32() ==
            back);
    }
}

TEST_CASE("integer weights: w = s (q - z) in int8 and int4, with a shorter last group", "[weights]") {
  const MatrixRM w = random_matrix(100, 70, 2);  // 70 inputs in groups of 32: 32, 32, 6
  for (const int bits : {2, 3, 4, 6, 8})
    for (const bool sym : {false, true})
      for (const WeightOrder order : {WeightOrder::by_input, WeightOrder::by_output}) {
        INFO("bits " << bits << (sym ? " sym" : " asym"));
        const QuantizedWeights q = quantize_rtn(w, {bits, 32, sym});
        const WeightTensor t = WeightTensor::from_integer(
            {q.rows, q.cols, q.bits, q.group, q.codes, q.scales, q.zeros}, order);
        CHECK(t.type() == (bits <= 4 ? WeightType::int4 : WeightType::int8));
        CHECK(t.groups() == 3);
        CHECK(t.symmetric() == sym);
        CHECK(t.to_f32() == q.dequantized());
        // int4 holds a weight in half a byte: an eighth of f32, plus scales (and zero points).
        const std::uint64_t codes = static_cast<std::uint64_t>(w.size()) * storage_bits(t.type()) / 8;
        CHECK(t.stored_bytes() == codes + 100 * 3 * (4 + (sym ? 0 : 1)));
      }
}

TEST_CASE("the dense product agrees with the dequantized matrix for every type and order", "[weights]") {
  const MatrixRM w = random_matrix(130, 96, 3);
  Rng rng(4);
  std::vector<float> x(96);
  for (float& v : x) v = static_cast<float>(rng.normal());
  std::vector<WeightTensor> tensors;
  for (const WeightOrder order : {WeightOrder::by_input, WeightOrder::by_output}) {
    for (const WeightType type : {WeightType::f32, WeightType::bf16, WeightType::f16})
      tensors.push_back(WeightTensor::from_f32(w, type, order));
    tensors.push_back(quantized(w, 8, 0, true, order));
    tensors.push_back(quantized(w, 4, 32, false, order));
  }
  for (const WeightTensor& t : tensors) {
    INFO(t.format());
    const MatrixRM d = t.to_f32();
    std::vector<float> y(130);
    matvec(t, x, y);
    for (long j = 0; j < 130; ++j) {
      double ref = 0;
      for (long i = 0; i < 96; ++i) ref += static_cast<double>(d(j, i)) * x[static_cast<std::size_t>(i)];
      REQUIRE(y[static_cast<std::size_t>(j)] == Approx(ref).margin(1e-4));
    }
  }
}

namespace {

// A source of d_in neurons whose membranes V_i (codes on the GIF grid) are
// delivered once (the quantized reference) or as T steps of spikes of at
// most A (the spiking run).
struct IntegerCase {
  std::size_t d_in, d_out;
  WeightTensor w;
  GifGrid grid;
  std::vector<std::int32_t> membrane;

  std::vector<SpikeEvent> codes() const {
    std::vector<SpikeEvent> ev;
    for (std::size_t i = 0; i < d_in; ++i)
      if (membrane[i] != 0) ev.push_back({0, 0, static_cast<NeuronId>(i), membrane[i]});
    return ev;
  }
  std::vector<std::vector<SpikeEvent>> steps() const {
    std::vector<std::vector<SpikeEvent>> out(grid.max_steps());
    std::vector<std::int32_t> v = membrane;
    for (unsigned t = 0; t < grid.max_steps(); ++t)
      for (std::size_t i = 0; i < d_in; ++i) {
        const std::int32_t a = grid.amplitude(i);
        const std::int32_t s = v[i] > 0 ? std::min(v[i], a) : -std::min(-v[i], a);
        v[i] -= s;
        if (s != 0) out[t].push_back({t, 0, static_cast<NeuronId>(i), s});
      }
    return out;
  }
};

// `abits`: 4 keeps products in the 16-bit kernels, 8 takes the 32-bit ones.
IntegerCase integer_case(WeightType type, int group, bool is_signed, unsigned abits = 4) {
  const std::size_t d_in = 200, d_out = 2600;  // above one slice: the parallel path runs
  IntegerCase c{d_in, d_out, quantized(random_matrix(static_cast<long>(d_out), static_cast<long>(d_in), 5),
                                       type == WeightType::int4 ? 4 : 8, group, false, WeightOrder::by_input),
                {}, {}};
  std::vector<std::uint8_t> bits(d_in, static_cast<std::uint8_t>(abits));
  std::vector<std::uint16_t> steps(d_in, 1);
  for (std::size_t i = 0; i < d_in; i += 9) steps[i] = 4;  // salient channels
  c.grid = GifGrid(bits, steps, is_signed);
  Rng rng(6);
  for (std::size_t i = 0; i < d_in; ++i) {
    const auto levels = static_cast<std::uint64_t>(c.grid.levels(i));
    auto v = static_cast<std::int32_t>(rng.next() % (levels + 1));
    if (is_signed && (rng.next() & 1)) v = -v;
    c.membrane.push_back(v);
  }
  return c;
}

}  // namespace

TEST_CASE("integer synapses: spiking and quantized accumulators are equal, not close", "[weights][threads]") {
  for (const WeightType type : {WeightType::int8, WeightType::int4})
    for (const int group : {0, 32})
      for (const bool is_signed : {false, true})
      for (const unsigned abits : {4u, 8u}) {
        INFO(weight_type_name(type) << " group " << group << (is_signed ? " signed" : " unsigned") << " A" << abits);
        const IntegerCase c = integer_case(type, group, is_signed, abits);
        IntProjection proj("W", c.w);
        std::int64_t max_membrane = 0;
        for (std::size_t g = 0; g < c.grid.groups(); ++g)
          max_membrane = std::max<std::int64_t>(max_membrane, c.grid.group_levels(g));
        proj.bind_groups(c.grid.group_map(), c.grid.groups(), max_membrane);
        CHECK_FALSE(proj.wide());  // 200 inputs x 1020 levels x 128 is below 2^31

        Integrator quantized_acc, spiking_acc, two_threads;
        proj.prepare(quantized_acc);
        proj.prepare(spiking_acc);
        proj.prepare(two_threads);
        {
          tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
          proj.deliver(c.codes(), c.grid.group_map(), quantized_acc);
          for (const auto& step : c.steps()) proj.deliver(step, c.grid.group_map(), spiking_acc);
        }
        {
          tbb::global_control two(tbb::global_control::max_allowed_parallelism, 2);
          for (const auto& step : c.steps()) proj.deliver(step, c.grid.group_map(), two_threads);
        }
        CHECK(quantized_acc.equals(spiking_acc));
        CHECK(spiking_acc.equals(two_threads));

        // The read-out is Σ_g θ_g Σ_i (V_i − z_g) w_ji with the dequantized weights.
        TokenScale scale;
        scale.theta = {0.03f, 0.011f};
        scale.zero = {is_signed ? 0 : 7, is_signed ? 0 : 21};
        scale.theta.resize(c.grid.groups());
        scale.zero.resize(c.grid.groups());
        std::vector<float> y(c.d_out);
        DenseOpCounts ops;
        proj.read_out(spiking_acc, scale, {}, y, &ops);
        const MatrixRM d = c.w.to_f32();
        for (std::size_t j = 0; j < c.d_out; j += 37) {
          double ref = 0;
          for (std::size_t i = 0; i < c.d_in; ++i) {
            const auto g = c.grid.group_of(i);
            ref += static_cast<double>(scale.theta[g]) * static_cast<double>(c.membrane[i] - scale.zero[g]) *
                   static_cast<double>(d(static_cast<long>(j), static_cast<long>(i)));
          }
          REQUIRE(y[j] == Approx(ref).epsilon(1e-5).margin(1e-4));
        }
        CHECK(ops[DenseOp::mac] == 2 * c.grid.groups() * (c.w.groups() + 1) * c.d_out);
      }
}

TEST_CASE("integer accumulators widen to int64 when the bound reaches 2^31", "[weights]") {
  const IntegerCase c = integer_case(WeightType::int8, 0, false);
  IntProjection proj("W", c.w);
  // 200 inputs x 2^24 levels x 128 > 2^31: the bound says int64.
  proj.bind_groups(c.grid.group_map(), c.grid.groups(), std::int64_t{1} << 24);
  CHECK(proj.wide());
  CHECK(proj.accumulator_bound() == 200 * (std::int64_t{1} << 24) * 128);
  Integrator acc;
  proj.prepare(acc);
  CHECK(acc.kind() == Integrator::Kind::int64);
  // Inputs 1..3 share a threshold group (one row: per channel, one weight group).
  const std::vector<SpikeEvent> big{{0, 0, 1, 1 << 24}, {0, 0, 2, 1 << 24}, {0, 0, 3, 1 << 24}};
  proj.deliver(big, c.grid.group_map(), acc);
  const std::size_t row = c.grid.group_of(1);
  for (std::size_t j = 0; j < c.d_out; j += 101)
    CHECK(acc.integer(row, j) ==
          (std::int64_t{1} << 24) * (std::int64_t{c.w.code(j, 1)} + c.w.code(j, 2) + c.w.code(j, 3)));
}
