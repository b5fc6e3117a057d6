#include <catch2/catch.hpp>
#include <tbb/global_control.h>

#include "core/error.hpp"
#include "core/random.hpp"
#include "core/weights/weight_quantizer.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace spikesim;

namespace {

MatrixRM matrix(int rows, int cols, std::vector<float> values) {
  return Eigen::Map<MatrixRM>(values.data(), rows, cols);
}

MatrixRM normal_matrix(Rng& rng, int rows, int cols, float sd = 1.0f) {
  MatrixRM m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = sd * static_cast<float>(rng.normal());
  return m;
}

// Correlated layer inputs x = A z: the case where GPTQ's error feedback pays.
MatrixRM correlated_inputs(Rng& rng, int samples, int cols) {
  const MatrixRM mixing = normal_matrix(rng, cols, cols);
  return normal_matrix(rng, samples, cols) * mixing.transpose();
}

Eigen::MatrixXd hessian_of(const MatrixRM& x) {
  HessianAccumulator acc(static_cast<int>(x.cols()));
  acc.add_rows(x);
  return acc.hessian();
}

double output_error(const MatrixRM& x, const MatrixRM& w, const QuantizedWeights& q) {
  return (x * (w - q.dequantized()).transpose()).norm();
}

void check_same(const QuantizedWeights& a, const QuantizedWeights& b) {
  CHECK(a.codes == b.codes);
  CHECK(a.scales == b.scales);
  CHECK(a.zeros == b.zeros);
}

template <typename F>
void check_refused(F&& f, ExitCode code, const std::string& words) {
  try {
    f();
    FAIL("expected an Error mentioning: " << words);
  } catch (const Error& e) {
    CHECK(e.code() == code);
    CHECK_THAT(e.what(), Catch::Matchers::Contains(words));
  }
}

}  // namespace

// Expected values are worked by hand in float32 (scripts/gptq_reference.py's
// find_params agrees): 3/15 rounds to 0.2f, 1/0.2f to 5.
TEST_CASE("RTN per channel: min-max grid widened to 0, ties to even", "[weights]") {
  const auto q = quantize_rtn(matrix(3, 4, {-1, 0, 0.5f, 2,  //
                                            0.3f, 0.6f, 0.9f, 1.5f,  //
                                            0, 0, 0, 0}),
                              {.bits = 4});
  CHECK(q.rows == 3);
  CHECK(q.cols == 4);
  CHECK(q.group == 4);
  CHECK(q.groups() == 1);
  // Row 0: scale 0.2, zero 5; 0.5 / 0.2 = 2.5 rounds to 2.
  // Row 1: no negative value, so xmin = 0: scale 0.1, zero 0.
  // Row 2, all zero: range [-1, 1], scale 2/15; 1 / (2/15 in float) = 7.4999996, zero 7.
  CHECK(q.codes == std::vector<std::uint8_t>{0, 5, 7, 15, 3, 6, 9, 15, 7, 7, 7, 7});
  CHECK(q.scales == std::vector<float>{3.0f / 15, 1.5f / 15, 2.0f / 15});
  CHECK(q.zeros == std::vector<std::int16_t>{5, 0, 7});
  const MatrixRM d = q.dequantized();
  CHECK(d(0, 2) == 0.2f * 2);
  CHECK(d.row(2).isZero(0));
}

TEST_CASE("RTN with groups of 2 at 2 bits", "[weights]") {
  const auto q = quantize_rtn(matrix(1, 4, {-1, 0.5f, 0.2f, 0.6f}), {.bits = 2, .group = 2});
  CHECK(q.group == 2);
  CHECK(q.groups() == 2);
  CHECK(q.codes == std::vector<std::uint8_t>{0, 3, 1, 3});
  CHECK(q.scales == std::vector<float>{0.5f, 0.6f / 3});
  CHECK(q.zeros == std::vector<std::int16_t>{2, 0});
}

TEST_CASE("RTN symmetric: zero at mid-grid, the reference's clip of non-negative rows", "[weights]") {
  const auto q = quantize_rtn(matrix(3, 4, {-1, 0.25f, 0.5f, 0.75f,  //
                                            0, 1, 2, 3,  //
                                            0, 0, 0, 0}),
                              {.bits = 4, .symmetric = true});
  CHECK(q.symmetric);
  // Row 0: [-1, 1], scale 2/15; -1 / scale = -7.4999996 rounds to -7.
  // Row 1: no negative value keeps xmin = 0 (quant.py), scale 3/15 with zero 8,
  // so 2 and 3 clip to code 15 = 1.4.
  CHECK(q.codes == std::vector<std::uint8_t>{1, 10, 12, 14, 8, 13, 15, 15, 8, 8, 8, 8});
  CHECK(q.scales == std::vector<float>{2.0f / 15, 3.0f / 15, 2.0f / 15});
  CHECK(q.zeros == std::vector<std::int16_t>{8, 8, 8});
  CHECK(q.dequantized()(1, 3) == Approx(1.4f));
}

TEST_CASE("RTN at 8 bits", "[weights]") {
  const auto q = quantize_rtn(matrix(1, 4, {-1, 1, 0.3f, -0.2f}), {.bits = 8});
  CHECK(q.scales == std::vector<float>{2.0f / 255});
  CHECK(q.zeros == std::vector<std::int16_t>{127});  // 1 / (2/255 in float) = 127.49999
  CHECK(q.codes == std::vector<std::uint8_t>{0, 254, 165, 102});
}

TEST_CASE("RTN error is at most half a step per element", "[weights]") {
  Rng rng(7);
  const MatrixRM w = normal_matrix(rng, 16, 64);
  for (const int bits : {2, 3, 4, 8})
    for (const int group : {0, 16})
      for (const bool symmetric : {false, true}) {
        const auto q = quantize_rtn(w, {bits, group, symmetric});
        const MatrixRM d = q.dequantized();
        for (int r = 0; r < q.rows; ++r)
          for (int c = 0; c < q.cols; ++c) {
            const float scale = q.scales[static_cast<std::size_t>(r) * q.groups() + c / q.group];
            // Slack: the float rounding of x / scale and of the dequantized value.
            const double slack = 4 * std::numeric_limits<float>::epsilon() * std::abs(w(r, c));
            CHECK(std::abs(double{w(r, c)} - double{d(r, c)}) <= 0.5 * scale + slack);
          }
      }
}

TEST_CASE("HessianAccumulator equals 2/n X^T X", "[weights]") {
  Rng rng(3);
  const MatrixRM x = normal_matrix(rng, 10, 5);
  HessianAccumulator acc(5);
  CHECK(acc.hessian().isZero(0));
  acc.add_rows(x.topRows(6));
  acc.add(std::span<const float>(x.row(6).data(), 5));
  acc.add_rows(x.bottomRows(3));
  CHECK(acc.samples() == 10);
  const Eigen::MatrixXd xd = x.cast<double>();
  const Eigen::MatrixXd expected = 2.0 / 10 * xd.transpose() * xd;
  CHECK((acc.hessian() - expected).norm() <= 1e-12 * expected.norm());
  CHECK(acc.hessian() == acc.hessian().transpose());
}

TEST_CASE("GPTQ with a diagonal Hessian is RTN", "[weights][gptq]") {
  Rng rng(11);
  const MatrixRM w = normal_matrix(rng, 24, 64);
  Eigen::MatrixXd h = Eigen::MatrixXd::Zero(64, 64);
  for (int i = 0; i < 64; ++i) h(i, i) = 0.5 + rng.uniform();
  for (const int group : {0, 16})
    for (const bool symmetric : {false, true})
      for (const bool act_order : {false, true}) {
        const WeightQuantSpec spec{3, group, symmetric};
        check_same(quantize_gptq(w, h, spec, {.block = 24, .act_order = act_order}), quantize_rtn(w, spec));
      }
}

// Expected: scripts/gptq_reference.py, a numpy transcription of fasterquant.
TEST_CASE("GPTQ on a 3x4 case matches the numpy transcription of fasterquant", "[weights][gptq]") {
  const MatrixRM w = matrix(3, 4, {0.9f, -0.3f, 0.45f, -1.2f,  //
                                   0.1f, 0.25f, -0.7f, 0.6f,  //
                                   -0.5f, 0.8f, 0.05f, 0.35f});
  Eigen::MatrixXd h(4, 4);
  h << 4.0, 1.2, -0.6, 0.3,  //
      1.2, 2.0, 0.5, -0.4,  //
      -0.6, 0.5, 3.0, 0.9,  //
      0.3, -0.4, 0.9, 1.5;
  SECTION("2 bits per channel") {
    const auto q = quantize_gptq(w, h, {.bits = 2});
    CHECK(q.codes == std::vector<std::uint8_t>{3, 2, 2, 1, 2, 3, 0, 3, 0, 3, 1, 2});
    CHECK(q.scales == std::vector<float>{0x1.666666p-1f, 0x1.bbbbbap-2f, 0x1.bbbbbap-2f});
    CHECK(q.zeros == std::vector<std::int16_t>{2, 2, 1});
    // act_order in blocks of 2 lands on the same codes here.
    CHECK(quantize_gptq(w, h, {.bits = 2}, {.block = 2, .act_order = true}).codes == q.codes);
  }
  SECTION("3 bits per channel") {
    CHECK(quantize_gptq(w, h, {.bits = 3}).codes ==
          std::vector<std::uint8_t>{7, 3, 6, 0, 5, 5, 0, 7, 0, 7, 3, 5});
  }
  SECTION("3 bits symmetric in blocks of 2") {
    const auto q = quantize_gptq(w, h, {.bits = 3, .symmetric = true}, {.block = 2});
    CHECK(q.codes == std::vector<std::uint8_t>{7, 3, 5, 1, 4, 6, 0, 7, 2, 7, 4, 5});
    CHECK(q.zeros == std::vector<std::int16_t>{4, 4, 4});
  }
  SECTION("groups of 2: parameters from W as it stood at the block's start") {
    const std::vector<std::uint8_t> codes{3, 0, 3, 0, 1, 3, 0, 3, 0, 3, 0, 3};
    const std::vector<std::int16_t> zeros{1, 2, 0, 2, 1, 0};
    // One block of 4: the second group's grid sees W before the first
    // group's errors were fed back.
    const auto q4 = quantize_gptq(w, h, {.bits = 2, .group = 2}, {.block = 4});
    CHECK(q4.codes == codes);
    CHECK(q4.zeros == zeros);
    CHECK(q4.scales ==
          std::vector<float>{0x1.99999ap-2f, 0x1.19999ap-1f, 0x1.555556p-4f, 0x1.bbbbbap-2f, 0x1.bbbbbap-2f,
                             0x1.dddddep-4f});
    // Blocks of 1: it sees them.
    const auto q1 = quantize_gptq(w, h, {.bits = 2, .group = 2}, {.block = 1});
    CHECK(q1.codes == codes);
    CHECK(q1.zeros == zeros);
    const std::vector<float> scales1{0x1.99999ap-2f, 0x1.1a45acp-1f, 0x1.555556p-4f,
                                     0x1.bfaabep-2f, 0x1.bbbbbap-2f, 0x1.e2f2a8p-4f};
    for (std::size_t i = 0; i < scales1.size(); ++i) CHECK(q1.scales[i] == Approx(scales1[i]).epsilon(1e-6));
  }
}

TEST_CASE("GPTQ beats RTN on the layer output with correlated inputs", "[weights][gptq]") {
  Rng rng(2024);
  const int cols = 128;
  const MatrixRM x = correlated_inputs(rng, 512, cols);
  const MatrixRM w = normal_matrix(rng, 48, cols, 0.05f);
  const Eigen::MatrixXd h = hessian_of(x);
  for (const int bits : {3, 4})
    for (const int group : {0, 32}) {
      const WeightQuantSpec spec{bits, group, false};
      const double rtn = output_error(x, w, quantize_rtn(w, spec));
      const double gptq = output_error(x, w, quantize_gptq(w, h, spec, {.block = 32}));
      INFO("bits " << bits << " group " << group << ": RTN " << rtn << ", GPTQ " << gptq);
      CHECK(gptq < 0.8 * rtn);
    }
}

TEST_CASE("act_order does not hurt when a few inputs dominate", "[weights][gptq]") {
  Rng rng(5);
  const int cols = 96;
  MatrixRM x = correlated_inputs(rng, 400, cols);
  for (const int c : {70, 81, 90}) x.col(c) *= 30.0f;  // late columns, so plain order reaches them last
  const MatrixRM w = normal_matrix(rng, 32, cols, 0.05f);
  const Eigen::MatrixXd h = hessian_of(x);
  for (const int group : {0, 32}) {
    const WeightQuantSpec spec{3, group, false};
    const double plain = output_error(x, w, quantize_gptq(w, h, spec));
    const double ordered = output_error(x, w, quantize_gptq(w, h, spec, {.act_order = true}));
    INFO("group " << group << ": plain " << plain << ", act_order " << ordered);
    CHECK(ordered <= plain);
  }
}

TEST_CASE("GPTQ zeroes dead inputs and keeps the grid of the weights as given", "[weights][gptq]") {
  Rng rng(9);
  const MatrixRM x = correlated_inputs(rng, 64, 8);
  Eigen::MatrixXd h = hessian_of(x);
  h.row(5).setZero();
  h.col(5).setZero();
  const MatrixRM w = normal_matrix(rng, 4, 8);
  const auto q = quantize_gptq(w, h, {.bits = 4});
  const auto rtn = quantize_rtn(w, {.bits = 4});
  CHECK(q.scales == rtn.scales);  // per channel: found before the dead column is zeroed
  for (int r = 0; r < 4; ++r) CHECK(q.codes[static_cast<std::size_t>(r) * 8 + 5] == q.zeros[r]);
}

TEST_CASE("GPTQ gives the same bits on one thread and on all", "[weights][gptq]") {
  Rng rng(13);
  const MatrixRM x = correlated_inputs(rng, 256, 64);
  const MatrixRM w = normal_matrix(rng, 300, 64);
  const Eigen::MatrixXd h = hessian_of(x);
  const WeightQuantSpec spec{4, 16, false};
  const auto all = quantize_gptq(w, h, spec, {.block = 16});
  tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
  check_same(quantize_gptq(w, h, spec, {.block = 16}), all);
}

TEST_CASE("a group that does not divide the columns leaves a shorter last group", "[weights]") {
  // stories260K's d_ff of 172 in groups of 32: five groups of 32 and one of 12.
  const MatrixRM w = matrix(2, 4, {1, -2, 3, 4, -5, 6, 7, 0.5f});
  const QuantizedWeights q = quantize_rtn(w, {.bits = 3, .group = 3});
  REQUIRE(q.groups() == 2);
  CHECK(q.group_size(0) == 3);
  CHECK(q.group_size(1) == 1);
  // Each group's grid is the grid of its own columns alone.
  const QuantizedWeights first = quantize_rtn(w.leftCols(3), {.bits = 3});
  const QuantizedWeights last = quantize_rtn(w.rightCols(1), {.bits = 3});
  for (int r = 0; r < 2; ++r) {
    CHECK(q.scales[static_cast<std::size_t>(2 * r)] == first.scales[static_cast<std::size_t>(r)]);
    CHECK(q.scales[static_cast<std::size_t>(2 * r + 1)] == last.scales[static_cast<std::size_t>(r)]);
    CHECK(q.codes[static_cast<std::size_t>(4 * r + 3)] == last.codes[static_cast<std::size_t>(r)]);
  }
  const Eigen::MatrixXd h = Eigen::MatrixXd::Identity(4, 4);
  CHECK(quantize_gptq(w, h, {.bits = 3, .group = 3}).codes == q.codes);
}

TEST_CASE("weight quantization refuses bad settings by name", "[weights]") {
  const MatrixRM w = matrix(2, 4, {1, 2, 3, 4, 5, 6, 7, 8});
  const Eigen::MatrixXd h = Eigen::MatrixXd::Identity(4, 4);
  check_refused([&] { quantize_rtn(w, {.bits = 1}); }, ExitCode::config, "bits = 1, expected 2..8");
  check_refused([&] { quantize_gptq(w, h, {.bits = 9}); }, ExitCode::config, "bits = 9, expected 2..8");
  check_refused([&] { quantize_rtn(w, {.group = -1}); }, ExitCode::config, "group = -1");
  check_refused([&] { quantize_gptq(w, Eigen::MatrixXd::Identity(3, 3), {}); }, ExitCode::config,
                "Hessian is 3x3, expected 4x4");
  check_refused([&] { quantize_gptq(w, h, {}, {.damp = -1}); }, ExitCode::config, "damp = -1");
  check_refused([&] { quantize_gptq(w, h, {}, {.block = 0}); }, ExitCode::config, "block = 0");
  MatrixRM nan = w;
  nan(1, 2) = std::numeric_limits<float>::quiet_NaN();
  check_refused([&] { quantize_rtn(nan, {}); }, ExitCode::numeric, "NaN or Inf");
  Eigen::MatrixXd indefinite(4, 4);
  indefinite << 1, 2, 0, 0, 2, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1;
  check_refused([&] { quantize_gptq(w, indefinite, {}, {.damp = 0}); }, ExitCode::config, "increase the GPTQ damping");
  HessianAccumulator acc(4);
  check_refused([&] { acc.add_rows(MatrixRM::Ones(2, 3)); }, ExitCode::config, "has 3 values, expected 4");
}
