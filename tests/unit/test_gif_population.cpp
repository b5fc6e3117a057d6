// GIF population: DESIGN.md §1 pinned down.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <map>

#include "core/error.hpp"
#include "core/random.hpp"
#include "neurons/gif_population.hpp"

using namespace spikesim;

namespace {

struct Train {
  std::map<NeuronId, std::int64_t> sum;
  std::map<NeuronId, unsigned> last_step;  // local step of the last spike
  std::size_t events = 0;
};

// Runs one token through the population and collects the spike trains.
Train run_token(GifPopulation& pop, const std::vector<float>& x) {
  pop.inject(x);
  Train train;
  std::vector<SpikeEvent> out;
  for (unsigned t = 1; t <= pop.max_steps(); ++t) {
    out.clear();
    pop.step(t, 100 + t, out);
    for (const auto& e : out) {
      REQUIRE(e.amplitude != 0);
      REQUIRE(e.step == 100 + t);
      REQUIRE(e.population == pop.id());
      REQUIRE(std::abs(e.amplitude) <= pop.grid().amplitude(e.neuron));
      train.sum[e.neuron] += e.amplitude;
      train.last_step[e.neuron] = t;
      ++train.events;
    }
  }
  return train;
}

GifGrid mixed_grid(std::size_t n, unsigned bits, bool is_signed) {
  // Every fourth neuron is salient with 4 steps, as Optimal Brain Spiking assigns.
  std::vector<std::uint8_t> b(n, static_cast<std::uint8_t>(bits));
  std::vector<std::uint16_t> s(n, 1);
  for (std::size_t i = 0; i < n; i += 4) s[i] = 4;
  return GifGrid(b, s, is_signed);
}

std::vector<float> random_token(std::size_t n, std::uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> x(n);
  for (auto& v : x) v = scale * static_cast<float>(rng.normal());
  return x;
}

}  // namespace

TEST_CASE("spike trains sum to the injected membrane and empty it", "[gif]") {
  for (bool is_signed : {false, true}) {
    for (unsigned bits : {1u, 2u, 4u, 8u}) {
      GifPopulation pop("enc", 3, mixed_grid(64, bits, is_signed));
      for (std::uint64_t seed = 0; seed < 20; ++seed) {
        auto x = random_token(64, seed, seed % 2 ? 0.01f : 50.0f);
        // Pin the extremes into the token too.
        x[5] = -100.0f;
        x[6] = 100.0f;
        const Train train = run_token(pop, x);
        for (std::size_t i = 0; i < pop.size(); ++i) {
          const auto it = train.sum.find(static_cast<NeuronId>(i));
          const std::int64_t sum = it == train.sum.end() ? 0 : it->second;
          INFO("signed=" << is_signed << " bits=" << bits << " seed=" << seed << " neuron=" << i);
          CHECK(sum == pop.injected()[i]);
          CHECK(pop.membrane()[i] == 0);
        }
      }
    }
  }
}

// round(x/θ) + round(-x_min/θ) can fall one level short of L when both
// roundings go down (as in torch's quantizer too); x_min maps to 0 exactly.
TEST_CASE("x_min maps to 0 and x_max to the top of the grid (unsigned)", "[gif]") {
  GifPopulation pop("enc", 0, mixed_grid(16, 4, false));
  auto x = random_token(16, 7);
  x[1] = -3.0f;  // x_min, plain neuron (T = 1)
  x[2] = 5.0f;   // x_max, plain neuron
  x[4] = 5.0f;   // x_max, salient neuron (T = 4)
  x[8] = -3.0f;  // x_min, salient neuron
  pop.inject(x);
  CHECK(pop.injected()[1] == 0);
  CHECK(pop.injected()[8] == 0);
  CHECK(pop.injected()[2] >= 14);
  CHECK(pop.injected()[2] <= 15);
  CHECK(pop.injected()[4] >= 59);
  CHECK(pop.injected()[4] <= 60);
  // Decoding recovers the extremes within half a level.
  const auto& s = pop.scale();
  const auto g = pop.grid().group_of(2);
  CHECK(std::abs(s.theta[g] * static_cast<float>(pop.injected()[2] - s.zero[g]) - 5.0f) <= s.theta[g] + 1e-6f);
}

TEST_CASE("a neuron uses exactly ceil(V / A) steps and never more than T", "[gif]") {
  GifPopulation pop("enc", 0, mixed_grid(32, 2, false));  // A = 3
  auto x = random_token(32, 11);
  const Train train = run_token(pop, x);
  for (std::size_t i = 0; i < pop.size(); ++i) {
    const std::int32_t v = pop.injected()[i];
    const unsigned used = train.last_step.count(static_cast<NeuronId>(i)) ? train.last_step.at(static_cast<NeuronId>(i)) : 0;
    CHECK(used == static_cast<unsigned>((v + 2) / 3));
    CHECK(used <= pop.grid().steps(i));
  }
  // Salient neuron at the top of its grid fires A at every one of its 4 steps.
  x.assign(32, 0.0f);
  x[0] = 1.0f;
  const Train top = run_token(pop, x);
  CHECK(top.sum.at(0) == 12);
  CHECK(top.last_step.at(0) == 4);
}

TEST_CASE("a constant token is encoded without loss and fires nothing (unsigned)", "[gif]") {
  GifPopulation pop("enc", 0, mixed_grid(8, 4, false));
  const std::vector<float> x(8, 0.75f);
  const Train train = run_token(pop, x);
  CHECK(train.events == 0);
  for (std::size_t g = 0; g < pop.grid().groups(); ++g) CHECK(pop.scale().theta[g] == Approx(kMinThreshold));
  std::vector<float> x_hat(8);
  pop.grid().decode(pop.scale(), pop.injected(), x_hat);
  for (float v : x_hat) CHECK(v == Approx(0.75f).margin(kMinThreshold));
}

TEST_CASE("signed encoding: zero inputs emit nothing", "[gif]") {
  GifPopulation pop("enc", 0, mixed_grid(64, 4, true));
  auto x = random_token(64, 3);
  for (std::size_t i = 0; i < x.size(); i += 2) x[i] = 0.0f;
  const Train train = run_token(pop, x);
  for (std::size_t i = 0; i < x.size(); i += 2) {
    CHECK(pop.injected()[i] == 0);
    CHECK(train.sum.count(static_cast<NeuronId>(i)) == 0);
  }
  CHECK(pop.scale().zero[0] == 0);
  // Unsigned encoding of the same token fires for zeros (z > 0): the sparsity difference.
  GifPopulation unsigned_pop("enc_u", 1, mixed_grid(64, 4, false));
  const Train unsigned_train = run_token(unsigned_pop, x);
  CHECK(unsigned_train.events > train.events);
}

TEST_CASE("NaN or Inf input is an error naming the population and neuron", "[gif]") {
  GifPopulation pop("layer2.attn_in", 0, mixed_grid(8, 4, false));
  for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> x(8, 1.0f);
    x[5] = bad;
    try {
      pop.inject(x);
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::numeric);
      CHECK_THAT(e.what(), Catch::Contains("layer2.attn_in") && Catch::Contains("neuron 5"));
    }
  }
}

TEST_CASE("counters: updates, spikes and amplitudes per neuron", "[gif]") {
  GifPopulation pop("enc", 0, mixed_grid(16, 3, false));
  const auto x = random_token(16, 5);
  const Train train = run_token(pop, x);
  std::uint64_t spikes = 0, amp = 0, updates = 0;
  for (std::size_t i = 0; i < pop.size(); ++i) {
    CHECK(pop.counters().membrane_updates[i] == 1 + pop.grid().steps(i));
    CHECK(pop.counters().amplitude_sum[i] == static_cast<std::uint64_t>(pop.injected()[i]));
    spikes += pop.counters().spikes[i];
    amp += pop.counters().amplitude_sum[i];
    updates += pop.counters().membrane_updates[i];
  }
  CHECK(spikes == train.events);
  CHECK(pop.totals().spikes == spikes);
  CHECK(pop.totals().amplitude_sum == amp);
  CHECK(pop.totals().membrane_updates == updates);
}

TEST_CASE("grid groups share θ by level count and report bits per token", "[gif]") {
  const GifGrid grid = mixed_grid(8, 4, false);
  CHECK(grid.groups() == 2);
  CHECK(grid.levels(0) == 60);
  CHECK(grid.levels(1) == 15);
  CHECK(grid.bits_per_token(1) == Approx(4.0));
  CHECK(grid.bits_per_token(0) == Approx(std::log2(61.0)));
  CHECK_THROWS_AS(GifGrid::uniform(4, 0, 1, false), Error);
  CHECK_THROWS_AS(GifGrid::uniform(4, 4, 0, false), Error);
}
