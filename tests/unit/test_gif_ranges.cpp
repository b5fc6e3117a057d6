// GIF grid ranges (issue 13, items 3 and 4): per-group ranges and range
// clipping, against values worked out by hand from DESIGN.md §1's formulas.
#include <catch2/catch.hpp>

#include <cmath>

#include "core/error.hpp"
#include "neurons/gif_grid.hpp"
#include "neurons/saliency.hpp"

using namespace spikesim;

namespace {

// The gif-neuron page's token: channel 3 salient (T = 2), 2-bit neurons (A = 3).
const std::vector<float> kToken = {-0.9f, 0.4f, 1.6f, 3.6f};

GifGrid worked_grid(bool is_signed = false) {
  return salient_grid({false, false, false, true}, 2, 1, is_signed);
}

}  // namespace

TEST_CASE("grid ranges: unclipped, per-token ranges are the contract's, bit for bit", "[gif][ranges]") {
  GifGrid grid = worked_grid();
  TokenScale before, after;
  std::vector<std::int32_t> q0(4), q1(4);
  grid.quantize(kToken, "p", before, q0);
  grid.set_range({false, 1.0f});
  grid.quantize(kToken, "p", after, q1);
  CHECK(before.theta == after.theta);
  CHECK(before.zero == after.zero);
  CHECK(q0 == q1);
  CHECK(q0 == std::vector<std::int32_t>{0, 1, 2, 6});  // docs/concepts/gif-neuron.md
}

TEST_CASE("grid ranges: with per-group ranges each group takes θ and z from its own channels", "[gif][ranges]") {
  GifGrid grid = worked_grid();
  grid.set_range({true, 1.0f});
  TokenScale s;
  std::vector<std::int32_t> q(4);
  grid.quantize(kToken, "p", s, q);
  // Group 0 (L = 3): channels 0..2, range [-0.9, 1.6] -> θ = 2.5 / 3, z = round(0.9 / θ) = 1.
  // Group 1 (L = 6): channel 3 alone, range [3.6, 3.6] -> θ = 1e-5 (the floor), z = round(-3.6 / 1e-5).
  REQUIRE(grid.group_levels(0) == 3);
  CHECK(s.theta[0] == Approx(2.5f / 3.0f));
  CHECK(s.zero[0] == 1);
  CHECK(s.theta[1] == kMinThreshold);
  CHECK(s.zero[1] == std::llround(-3.6f / kMinThreshold));
  // A constant group is decoded without loss.
  std::vector<float> x_hat(4);
  grid.decode(s, q, x_hat);
  CHECK(x_hat[3] == Approx(3.6f).margin(1e-4));
  // The non-salient channels are finer than with the token's range (θ 1.5 in the worked example).
  CHECK(std::abs(x_hat[1] - 0.4f) < 0.45f);
  CHECK(std::abs(x_hat[2] - 1.6f) <= 2.5f / 6.0f + 1e-6f);
}

TEST_CASE("grid ranges: a clip ratio scales the range and the values beyond it clip to the grid's ends",
          "[gif][ranges]") {
  GifGrid grid = GifGrid::uniform(4, 2, 1, false);
  grid.set_range({false, 0.5f});
  TokenScale s;
  std::vector<std::int32_t> q(4);
  grid.quantize(kToken, "p", s, q);
  // Range 0.5 · 4.5 = 2.25 from 0.5 · -0.9 = -0.45: θ = 0.75, z = round(0.6) = 1.
  CHECK(s.theta[0] == Approx(0.75f));
  CHECK(s.zero[0] == 1);
  CHECK(q == std::vector<std::int32_t>{0, 2, 3, 3});  // 1.6 and 3.6 clip to L = 3
  GifGrid signed_grid = GifGrid::uniform(4, 2, 1, true);
  signed_grid.set_range({false, 0.5f});
  signed_grid.quantize(kToken, "p", s, q);
  CHECK(s.theta[0] == Approx(1.8f / 3.0f));  // 0.5 · max|x| / L
  CHECK(q[1] == 1);
  CHECK(q[2] == 3);
  CHECK(q[3] == 3);  // 3.6 / 0.6 = 6 clips to L = 3
}

TEST_CASE("grid ranges: a clip ratio outside 0 < c <= 1 is refused", "[gif][ranges]") {
  GifGrid grid = GifGrid::uniform(4, 4, 1, false);
  CHECK_THROWS_AS(grid.set_range({false, 0.0f}), Error);
  CHECK_THROWS_AS(grid.set_range({false, 1.5f}), Error);
  CHECK_THROWS_WITH(grid.set_range({false, -1.0f}), Catch::Contains("clip ratio"));
}
