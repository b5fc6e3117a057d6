// Ternary weight spike trains (issue 12): the tensor's packing, the
// quantizers' budget and error, and the ternary projection's exactness.
#include <catch2/catch.hpp>

#include <tbb/global_control.h>

#include <cstring>
#include <numeric>

#include "core/error.hpp"
#include "core/random.hpp"
#include "core/weights/ternary_quantizer.hpp"
#include "network/projection_kinds.hpp"
#include "network/ternary_projection.hpp"
#include "neurons/gif_grid.hpp"
#include "sim/weight_quantization.hpp"

using namespace spikesim;

namespace {

MatrixRM random_matrix(int rows, int cols, std::uint64_t seed) {
  Rng rng(seed);
  MatrixRM w(rows, cols);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>(rng.normal());
  return w;
}

// H = 2/n XᵀX of correlated inputs with a few loud channels (as activations have).
Eigen::MatrixXd random_hessian(int cols, std::uint64_t seed) {
  Rng rng(seed);
  const int n = 4 * cols;
  Eigen::MatrixXd x(n, cols);
  for (int t = 0; t < n; ++t) {
    const double common = rng.normal();
    for (int c = 0; c < cols; ++c) x(t, c) = (c % 7 == 0 ? 4.0 : 1.0) * (rng.normal() + 0.5 * common);
  }
  return 2.0 / n * x.transpose() * x;
}

double error_norm(const MatrixRM& a, const MatrixRM& b) {
  return (a - b).cast<double>().norm();
}

// A ternary tensor [rows x cols] with random steps and planes.
TernaryResult random_ternary(int rows, int cols, int group, int max_steps, bool salient, std::uint64_t seed) {
  Rng rng(seed);
  TernaryResult t;
  t.rows = rows;
  t.cols = cols;
  t.group = group;
  t.max_steps = max_steps;
  const int groups = (cols + group - 1) / group;
  for (int c = 0; c < cols; ++c) t.steps.push_back(static_cast<std::uint8_t>(rng.next() % (max_steps + 1)));
  t.planes.assign(static_cast<std::size_t>(max_steps) * rows * cols, 0);
  for (int k = 0; k < max_steps; ++k)
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c)
        if (k < t.steps[static_cast<std::size_t>(c)])
          t.planes[(static_cast<std::size_t>(k) * rows + r) * cols + c] =
              static_cast<std::int8_t>(rng.next() % 3) - 1;
  for (int i = 0; i < max_steps * rows * groups; ++i) t.alphas.push_back(static_cast<float>(rng.uniform()));
  if (salient) {
    t.salient.assign(static_cast<std::size_t>(rows) * cols, 0);
    for (int r = 0; r < rows; ++r) {
      t.salient_scales.push_back(0.01f * static_cast<float>(r + 1));
      for (int c = 0; c < cols; ++c)
        if (rng.next() % 10 == 0) {
          const int code = static_cast<int>(rng.next() % 255) - 127;  // −127..127
          t.salient[static_cast<std::size_t>(r) * cols + c] = static_cast<std::int8_t>(code);
          for (int k = 0; k < max_steps; ++k)
            t.planes[(static_cast<std::size_t>(k) * rows + r) * cols + c] = 0;
        }
    }
  }
  return t;
}

}  // namespace

TEST_CASE("ternary tensor: planes, α and salient weights round-trip through the packing",
          "[weights][ternary]") {
  for (const bool salient : {false, true}) {
    const TernaryResult t = random_ternary(130, 21, 8, 3, salient, 7);  // 130 rows: a partial 64-bit word
    const WeightTensor w = WeightTensor::from_ternary(t.view());
    INFO("salient " << salient);
    CHECK(w.type() == WeightType::ternary);
    CHECK(w.groups() == 3);
    CHECK(w.to_f32() == t.dequantized());  // exactly: the same float sums in the same order
    std::uint64_t adds = 0, steps = 0;
    for (int c = 0; c < t.cols; ++c) {
      CHECK(w.steps(static_cast<std::size_t>(c)) == t.steps[static_cast<std::size_t>(c)]);
      steps += t.steps[static_cast<std::size_t>(c)];
      for (int k = 0; k < t.max_steps; ++k)
        for (int r = 0; r < t.rows; ++r) {
          const int b = t.planes[(static_cast<std::size_t>(k) * t.rows + r) * t.cols + c];
          REQUIRE(w.step_sign(static_cast<std::size_t>(r), static_cast<std::size_t>(c), k) == b);
          adds += b != 0;
        }
    }
    std::uint64_t counted = 0, muls = 0;
    for (std::size_t c = 0; c < w.cols(); ++c) {
      counted += w.additions(c);
      muls += w.multiplications(c);
    }
    CHECK(counted == adds);
    CHECK(w.equal_steps() == Approx(static_cast<double>(steps) / t.cols));
    CHECK((muls > 0) == salient);
    CHECK(w.format().rfind("ternary", 0) == 0);
    // Two bits per weight and real step, at least.
    CHECK(w.stored_bytes() >= (2 * steps * static_cast<std::uint64_t>(t.rows) + 7) / 8);
    CHECK_THROWS_AS(w.reordered(WeightOrder::by_output), Error);
  }
}

TEST_CASE("ternary steps: each residual step lowers the error", "[weights][ternary]") {
  const MatrixRM w = random_matrix(48, 40, 11);
  double last = w.cast<double>().norm();
  for (const double steps : {1.0, 2.0, 3.0, 4.0}) {
    const TernaryResult t = quantize_ternary(w, nullptr, {steps, 4, 0, ColumnSaliency::none, false});
    const double err = error_norm(w, t.dequantized());
    INFO(steps << " steps: error " << err << ", before " << last);
    CHECK(err < 0.8 * last);
    last = err;
  }
}

TEST_CASE("ternary steps: the budget is honoured and goes to the salient columns", "[weights][ternary]") {
  std::vector<double> saliency(50);
  std::iota(saliency.begin(), saliency.end(), 1.0);  // column 49 is the most salient
  const auto two = allocate_steps(saliency, 1.4, 2, false);
  CHECK(std::accumulate(two.begin(), two.end(), 0) == 70);
  for (std::size_t c = 0; c < 50; ++c) CHECK(two[c] == (c >= 30 ? 2 : 1));
  const auto four = allocate_steps(saliency, 1.4, 4, false);
  CHECK(std::accumulate(four.begin(), four.end(), 0) == 70);
  CHECK(*std::max_element(four.begin(), four.end()) <= 4);
  CHECK(four[49] >= four[30]);
  CHECK(allocate_steps(saliency, 2.0, 2, false) == std::vector<std::uint8_t>(50, 2));
  // A whole tensor: its equal steps is the budget.
  const MatrixRM w = random_matrix(16, 50, 3);
  const Eigen::MatrixXd h = random_hessian(50, 4);
  for (const ColumnSaliency s : {ColumnSaliency::hessian, ColumnSaliency::obs}) {
    const WeightTensor t = WeightTensor::from_ternary(quantize_ternary(w, &h, {1.4, 2, 0, s, true}).view());
    CHECK(t.equal_steps() == Approx(1.4));
  }
}

TEST_CASE("ternary steps: bad budgets are refused by name", "[weights][ternary]") {
  const std::vector<double> s(10, 1.0);
  CHECK_THROWS_WITH(allocate_steps(s, 0.5, 2, false),
                    Catch::Contains("weights.steps") && Catch::Contains("1..2"));
  CHECK_THROWS_WITH(allocate_steps(s, 2.5, 2, false), Catch::Contains("weights.steps"));
  CHECK_THROWS_WITH(allocate_steps(s, 1.4, 2, true), Catch::Contains("column_saliency"));
  CHECK_THROWS_WITH(allocate_steps(s, 1.0, 9, false), Catch::Contains("weights.max_steps"));
  CHECK_THROWS_WITH(
      quantize_ternary(random_matrix(4, 10, 1), nullptr, {1.4, 2, 0, ColumnSaliency::hessian, true}),
      Catch::Contains("Hessian"));
  LlamaModel model;
  auto refused = [&](WeightsConfig cfg, const char* key) {
    INFO(key);
    CHECK_THROWS_WITH(quantize_weights(model, cfg, {}), Catch::Contains(key));
  };
  WeightsConfig ternary;
  ternary.method = WeightMethod::ternary;
  WeightsConfig c = ternary;
  c.bits = 4;
  refused(c, "weights.bits");
  c = ternary;
  c.act_order = true;
  refused(c, "weights.act_order");
  c = ternary;
  c.symmetric = true;
  refused(c, "weights.symmetric");
  c = ternary;
  c.steps = 3;
  refused(c, "weights.steps");
  c = ternary;
  refused(c, "calibration tokens");
  WeightsConfig rtn;
  rtn.bits = 4;
  rtn.steps = 1.4;
  refused(rtn, "weights.steps");
  rtn.steps = 1.0;
  rtn.salient_fraction = 0.2;
  refused(rtn, "weights.salient_fraction");
}

TEST_CASE("ternary GPTQ: compensation lowers the output error on correlated inputs", "[weights][ternary]") {
  const MatrixRM w = random_matrix(32, 64, 5);
  const Eigen::MatrixXd h = random_hessian(64, 6);
  auto output_error = [&](const MatrixRM& q) {
    const Eigen::MatrixXd d = (w - q).cast<double>();
    return (d * h * d.transpose()).trace();
  };
  const double plain =
      output_error(quantize_ternary(w, &h, {1.4, 2, 0, ColumnSaliency::hessian, false}).dequantized());
  const double gptq =
      output_error(quantize_ternary(w, &h, {1.4, 2, 0, ColumnSaliency::hessian, true}).dequantized());
  CHECK(gptq < 0.9 * plain);
  // More steps, less error, with compensation too.
  const double two =
      output_error(quantize_ternary(w, &h, {2.0, 2, 0, ColumnSaliency::hessian, true}).dequantized());
  CHECK(two < gptq);
}

TEST_CASE("PB-LLM: the salient fraction is kept at 8 bits, the rest binarized", "[weights][ternary]") {
  const MatrixRM w = random_matrix(16, 40, 8);
  const Eigen::MatrixXd h = random_hessian(40, 9);
  const TernaryResult t = quantize_pbllm(w, h, {0.1, 0, true});
  const WeightTensor p = WeightTensor::from_ternary(t.view());
  std::uint64_t adds = 0, muls = 0;
  for (std::size_t c = 0; c < p.cols(); ++c) {
    adds += p.additions(c);
    muls += p.multiplications(c);
  }
  CHECK(muls <= 16 * 4);  // 4 of each row's 40 weights
  CHECK(muls >= 16 * 3);  // (a code may round to 0)
  CHECK(adds + muls >= 16 * 40 - 2);
  CHECK(p.to_f32() == t.dequantized());
  CHECK(p.format().find("int8 salient") != std::string::npos);
  const double none = error_norm(w, quantize_pbllm(w, h, {0.0, 0, true}).dequantized());
  CHECK(error_norm(w, t.dequantized()) < none);
}

TEST_CASE("ternary projection: spiking equals the whole codes exactly, with 1 and 2 threads",
          "[projection][ternary][threads]") {
  const std::size_t d_in = 70, d_out = 4200;  // above one slice: the parallel path runs
  for (const bool salient : {false, true}) {
    const TernaryResult t =
        random_ternary(static_cast<int>(d_out), static_cast<int>(d_in), 16, 3, salient, 21);
    const WeightTensor w = WeightTensor::from_ternary(t.view());
    REQUIRE(projection_kind_for(w) == "ternary");
    const auto proj = make_projection("ternary", "W", w);
    std::vector<std::uint8_t> bits(d_in, 4);
    std::vector<std::uint16_t> steps(d_in, 1);
    steps[3] = steps[10] = 4;
    const GifGrid grid(bits, steps, false);
    proj->bind_groups(grid.group_map(), grid.groups(), 60);
    // Membranes V on the grid; the codes are one event per channel, the
    // spikes min(V, 15) per step.
    Rng rng(5);
    std::vector<SpikeEvent> codes, spikes;
    for (std::size_t i = 0; i < d_in; ++i) {
      std::int32_t v = static_cast<std::int32_t>(rng.next() % static_cast<std::uint64_t>(grid.levels(i) + 1));
      if (v != 0) codes.push_back({0, 0, static_cast<NeuronId>(i), v});
      for (; v > 0; v -= std::min(v, 15)) spikes.push_back({1, 0, static_cast<NeuronId>(i), std::min(v, 15)});
    }
    TokenScale scale;
    for (std::size_t g = 0; g < grid.groups(); ++g) {
      scale.theta.push_back(0.1f * static_cast<float>(g + 1));
      scale.zero.push_back(static_cast<std::int64_t>(3 + g));
    }
    auto run = [&](const std::vector<SpikeEvent>& events, int threads, Integrator& acc) {
      tbb::global_control limit(tbb::global_control::max_allowed_parallelism,
                                static_cast<std::size_t>(threads));
      proj->prepare(acc);
      proj->deliver(events, grid.group_map(), acc);
      std::vector<float> y(d_out);
      proj->read_out(acc, scale, {}, y, nullptr);
      return y;
    };
    Integrator a, b, c;
    const auto whole = run(codes, 1, a);
    const auto one = run(spikes, 1, b);
    const auto two = run(spikes, 2, c);
    INFO("salient " << salient);
    CHECK(a.equals(b));
    CHECK(b.equals(c));
    CHECK(std::memcmp(whole.data(), one.data(), d_out * sizeof(float)) == 0);
    CHECK(std::memcmp(one.data(), two.data(), d_out * sizeof(float)) == 0);
    // And it is the layer: y_j = Σ_a θ_a Σ_{i∈a} (V_i − z_a) w_ji.
    std::vector<double> v(d_in, 0.0);
    for (const auto& e : codes) v[e.neuron] = e.amplitude;
    const MatrixRM dense = w.to_f32();
    for (std::size_t j = 0; j < d_out; j += 101) {
      double ref = 0;
      for (std::size_t i = 0; i < d_in; ++i) {
        const std::size_t g = grid.group_of(i);
        ref += scale.theta[g] * (v[i] - static_cast<double>(scale.zero[g])) *
               dense(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i));
      }
      CHECK(one[j] == Approx(ref).epsilon(1e-5).margin(1e-4));
    }
    // Accounting: an event costs its nonzero steps (additions) and salient weights.
    OpCounts counts;
    proj->account_events(spikes, EventSummary::of(spikes), counts);
    std::uint64_t adds = 0, muls = 0;
    for (const auto& e : spikes) {
      adds += w.additions(e.neuron);
      muls += w.multiplications(e.neuron);
    }
    CHECK(counts.additive_acs == adds);
    CHECK(counts.synaptic_events == adds + muls);
  }
}

TEST_CASE("weight spiking: the worked example of docs/concepts/weight-spiking.md", "[weights][ternary]") {
  // One output row of 8 inputs, H = I (no cross-input compensation, saliency ∝ w²), 1.5 equal steps.
  MatrixRM w(1, 8);
  w << 0.8f, -0.3f, 0.05f, -1.1f, 0.45f, 0.2f, -0.6f, 0.1f;
  const Eigen::MatrixXd h = Eigen::MatrixXd::Identity(8, 8);
  const TernaryResult t = quantize_ternary(w, &h, {1.5, 2, 0, ColumnSaliency::hessian, true});
  const WeightTensor q = WeightTensor::from_ternary(t.view());
  // The four largest |w| get the two extra... four extra steps (12 = 1.5 · 8).
  CHECK(t.steps == std::vector<std::uint8_t>{2, 1, 1, 2, 2, 1, 2, 1});
  CHECK(t.alphas[0] == Approx(0.7375));  // TWN: Δ = 0.7 · 0.45; mean of 0.8, 1.1, 0.45, 0.6
  CHECK(t.alphas[1] == Approx(0.325));  // residuals 0.0625, −0.3625, −0.2875, 0.1375: mean of 0.3625, 0.2875
  CHECK(t.planes == std::vector<std::int8_t>{1, 0, 0, -1, 1, 0, -1, 0, 0, 0, 0, -1, -1, 0, 0, 0});
  const float values[8] = {0.7375f, 0, 0, -1.0625f, 0.4125f, 0, -0.7375f, 0};
  for (std::size_t c = 0; c < 8; ++c) CHECK(q.value(0, c) == Approx(values[c]));
  CHECK(q.stored_bytes() == 19);  // 24 bits of planes, two α's, eight step counts
  // An event of amplitude 3 on input 4 adds +3 to step 1's row and −3 to step 2's.
  const auto proj = make_projection("ternary", "w", q);
  const std::vector<std::uint32_t> group_of(8, 0);
  proj->bind_groups(group_of, 1, 15);
  Integrator acc;
  proj->prepare(acc);
  const SpikeEvent e{0, 0, 4, 3};
  proj->deliver({&e, 1}, group_of, acc);
  CHECK(acc.integer(0, 0) == 3);
  CHECK(acc.integer(1, 0) == -3);
  float y = 0;
  proj->read_out(acc, TokenScale{{0.5f}, {0}}, {}, {&y, 1}, nullptr);
  CHECK(y == Approx(0.5 * 3 * 0.4125));
}
