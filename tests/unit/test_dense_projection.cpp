#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <cstring>

#include "core/error.hpp"
#include "core/random.hpp"
#include "network/dense_projection.hpp"
#include "network/projection_kinds.hpp"
#include "neurons/gif_grid.hpp"

using namespace spikesim;

namespace {

std::vector<float> random_weights(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> w(n);
  for (auto& v : w) v = static_cast<float>(rng.normal());
  return w;
}

WeightTensor by_input(std::size_t d_in, std::size_t d_out, const std::vector<float>& w) {
  return WeightTensor::from_f32(d_out, d_in, w, WeightType::f32, WeightOrder::by_input);
}

std::vector<SpikeEvent> random_events(std::size_t d_in, std::size_t count, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<SpikeEvent> ev;
  for (std::size_t k = 0; k < count; ++k)
    ev.push_back({1, 0, static_cast<NeuronId>(rng.next() % d_in), static_cast<Amplitude>(rng.next() % 15) - 7});
  for (auto& e : ev)
    if (e.amplitude == 0) e.amplitude = 1;
  return ev;
}

}  // namespace

TEST_CASE("delivery adds s * W[:, i] into the group's accumulators", "[projection]") {
  const std::size_t d_in = 37, d_out = 2500;  // d_out above one slice: the parallel path runs
  const auto w = random_weights(d_in * d_out, 1);
  DenseProjection proj("W", by_input(d_in, d_out, w));
  std::vector<std::uint8_t> bits(d_in, 4);
  std::vector<std::uint16_t> steps(d_in, 1);
  steps[3] = steps[10] = 2;
  const GifGrid grid(bits, steps, true);
  proj.bind_groups(grid.group_map(), grid.groups(), 30);
  Integrator acc;
  proj.prepare(acc);
  CHECK(acc.rows() == grid.groups());
  const auto events = random_events(d_in, 300, 2);
  proj.deliver(events, grid.group_map(), acc);

  // Reference: per group, W · (sum of amplitudes per neuron), in double.
  std::vector<std::vector<double>> amp(grid.groups(), std::vector<double>(d_in, 0.0));
  for (const auto& e : events) amp[grid.group_of(e.neuron)][e.neuron] += e.amplitude;
  for (std::size_t g = 0; g < grid.groups(); ++g)
    for (std::size_t j = 0; j < d_out; j += 97) {
      double ref = 0;
      for (std::size_t i = 0; i < d_in; ++i) ref += amp[g][i] * w[j * d_in + i];
      CHECK(acc.row(g)[j] == Approx(ref).margin(1e-3));
    }
}

TEST_CASE("delivery is bit-identical with 1 and 2 threads", "[projection][threads]") {
  const std::size_t d_in = 512, d_out = 4100;
  const auto w = random_weights(d_in * d_out, 3);
  DenseProjection proj("W", by_input(d_in, d_out, w));
  const GifGrid grid = GifGrid::uniform(d_in, 4, 1, false);
  proj.bind_groups(grid.group_map(), grid.groups(), 15);
  const auto events = random_events(d_in, 2000, 4);
  auto run = [&](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    Integrator acc;
    proj.prepare(acc);
    proj.deliver(events, grid.group_map(), acc);
    return std::vector<double>(acc.row(0), acc.row(0) + d_out);
  };
  const auto one = run(1);
  const auto two = run(2);
  CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(double)) == 0);
}

TEST_CASE("read-out applies θ and the zero-point correction per group", "[projection]") {
  // y_j = Σ_g θ_g (acc_gj - z_g colsum_gj) + b_j on a 2 x 3 example by hand:
  // input 0 in group 0 (column sums 1), input 1 in group 1 (column sums 2).
  DenseProjection proj("W", by_input(2, 3, {1, 2, 1, 2, 1, 2}));
  const std::uint32_t group_of[2] = {0, 1};
  proj.bind_groups(group_of, 2, 15);
  Integrator acc;
  proj.prepare(acc);
  const float a0[3] = {1, 2, 3}, a1[3] = {4, 5, 6};
  std::copy(a0, a0 + 3, acc.row(0));
  std::copy(a1, a1 + 3, acc.row(1));
  TokenScale scale{{0.5f, 0.25f}, {2, 1}};
  const std::vector<float> bias = {10, 20, 30};
  std::vector<float> y(3);
  DenseOpCounts ops;
  proj.read_out(acc, scale, bias, y, &ops);
  CHECK(y[0] == Approx(10 + 0.5 * (1 - 2) + 0.25 * (4 - 2)));
  CHECK(y[2] == Approx(30 + 0.5 * (3 - 2) + 0.25 * (6 - 2)));
  CHECK(ops[DenseOp::mac] == 12);
  CHECK(ops[DenseOp::add] == 3);
}

TEST_CASE("projection kinds: each row makes a projection of its kind, an unknown kind is refused by name",
          "[projection]") {
  MatrixRM w(3, 5);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>(i) - 7.0f;
  REQUIRE_FALSE(projection_kinds().empty());
  const std::vector<std::uint8_t> codes(15, 3);
  const std::vector<float> scales(3, 0.5f);
  const std::vector<std::int16_t> zeros(3, 1);
  for (const ProjectionKind& k : projection_kinds()) {
    INFO(k.name);
    const std::vector<std::uint8_t> steps(5, 1);
    const std::vector<std::int8_t> planes(15, 1);
    const WeightTensor t =
        k.weights == WeightType::ternary
            ? WeightTensor::from_ternary({3, 5, 5, 1, steps, planes, scales, {}, {}})
        : is_integer(k.weights)
            ? WeightTensor::from_integer({3, 5, k.weights == WeightType::int4 ? 4 : 8, 5, codes, scales, zeros},
                                         WeightOrder::by_input)
            : WeightTensor::from_f32(w, k.weights, WeightOrder::by_input);
    REQUIRE(t.type() == k.weights);
    CHECK(projection_kind_for(t) == k.name);
    const auto p = make_projection(k.name, "layer0.wq", t);
    CHECK(p->kind() == k.name);
    CHECK(p->name() == "layer0.wq");
    CHECK(p->d_in() == 5);
    CHECK(p->d_out() == 3);
  }
  const WeightTensor f32 = WeightTensor::from_f32(w, WeightType::f32, WeightOrder::by_input);
  CHECK_THROWS_WITH(make_projection("dense int8", "layer0.wq", f32),
                    Catch::Contains("holds int8 weights, got f32"));
  try {
    (void)make_projection("binary", "layer0.wq", f32);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::config);
    CHECK_THAT(e.what(), Catch::Contains("layer0.wq") && Catch::Contains("'binary'") &&
                             Catch::Contains("'dense f32'"));
  }
}
