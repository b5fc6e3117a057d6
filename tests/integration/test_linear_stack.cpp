// A small spiking network end to end: the linear stack against its dense
// and quantized references.
#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <cstring>

#include "sim/linear_stack.hpp"

using namespace spikesim;

namespace {
double rel_error(const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
  return static_cast<double>((a - b).norm()) / std::max(1e-30, static_cast<double>(b.norm()));
}
}  // namespace

TEST_CASE("spiking linear stack equals the quantized reference within 1e-5", "[linear_stack]") {
  for (bool is_signed : {false, true}) {
    for (unsigned bits : {2u, 4u, 8u}) {
      LinearStackSpec spec;
      spec.sizes = {96, 200, 64, 50};
      spec.bits = bits;
      spec.is_signed = is_signed;
      spec.steps = bits == 4 ? 2 : 1;
      LinearStack stack(spec);
      Simulator sim;
      for (std::uint64_t token = 0; token < 4; ++token) {
        const auto x = stack.input(token);
        const auto y = stack.run_spiking(sim, x, nullptr);
        const auto ref = stack.run_quantized(x);
        INFO("signed=" << is_signed << " bits=" << bits << " token=" << token);
        CHECK(rel_error(y, ref) <= 1e-5);
        // Element-wise too, relative to the output scale.
        CHECK((y - ref).cwiseAbs().maxCoeff() <= 1e-5 * ref.cwiseAbs().maxCoeff());
      }
    }
  }
}

TEST_CASE("spiking output converges to the float result as bits grow", "[linear_stack]") {
  double previous = 1e9;
  for (unsigned bits : {2u, 4u, 6u, 8u, 12u}) {
    LinearStackSpec spec;
    spec.sizes = {128, 128, 128};
    spec.bits = bits;
    LinearStack stack(spec);
    Simulator sim;
    double err = 0;
    for (std::uint64_t token = 0; token < 4; ++token) {
      const auto x = stack.input(token);
      err = std::max(err, rel_error(stack.run_spiking(sim, x, nullptr), stack.run_dense(x)));
    }
    INFO("bits=" << bits << " error=" << err);
    CHECK(err < previous);  // strictly better with every added bit width
    previous = err;
  }
  CHECK(previous < 2e-3);  // 12-bit spikes track the float layer closely
}

TEST_CASE("the clock, counters and events agree across the stack", "[linear_stack]") {
  LinearStackSpec spec;
  spec.sizes = {64, 32, 16};
  spec.steps = 4;
  LinearStack stack(spec);
  Simulator sim;
  const auto x = stack.input(0);
  (void)stack.run_spiking(sim, x, nullptr);
  CHECK(sim.now() == 2 * (4 + 1));  // each stage: T_max emission steps + the last delivery
  const auto& enc0 = stack.encoders()[0];
  CHECK(enc0.totals().synaptic_events == enc0.totals().spikes * 32);
  CHECK(stack.projection_counts()[0].synaptic_events == enc0.totals().synaptic_events);
  CHECK(stack.projection_counts()[1].weight_bytes == stack.encoders()[1].totals().spikes * 16 * sizeof(float));
  CHECK(enc0.totals().effective_acs + enc0.totals().effective_macs == enc0.totals().synaptic_events);
}

TEST_CASE("linear stack results are bit-identical with 1 and 2 threads", "[linear_stack][threads]") {
  LinearStackSpec spec;
  spec.sizes = {256, 3000, 128};
  auto run = [&](int threads) {
    tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    LinearStack stack(spec);
    Simulator sim;
    return stack.run_spiking(sim, stack.input(1), nullptr);
  };
  const auto a = run(1);
  const auto b = run(2);
  CHECK(std::memcmp(a.data(), b.data(), static_cast<std::size_t>(a.size()) * sizeof(float)) == 0);
}
