// Why this benchmark exists: event delivery (s · W[:, i] into the integrators)
// is the simulator's hot loop and it is memory-bound, so its honest measure
// is the weight bandwidth it achieves relative to what the machine can
// stream. For projections of LLaMA-7B shapes, each weight format (f32, bf16,
// int8, int4: core/weights/weight_tensor.hpp) and 10/50/100% presynaptic
// activity with 1 and 2 threads, it reports synaptic events/s and weight
// bytes/s, as a ratio to the read-only bandwidth of a large array sum
// measured in the same run and thread count (the limit a kernel that reads
// each weight once can reach).
//
// Ternary weight spike trains (docs/concepts/weight-spiking.md) run as
// formats ternary1 and ternary2 (1 and 2 steps per weight, TWN without
// calibration): their events add or subtract the amplitude under two bit
// masks per step. Synaptic events are events x d_out for every format (the
// synapse slots an event reaches), so the rates compare per connection;
// weight GB/s counts the masks actually read.
//
// Run: ./build/bench/delivery_bench [--reps N] [--formats f32,bf16,int8,int4,ternary1,ternary2]
// Results: the weights issue's note (docs/concepts/weights.md explains the
// layout) and the weight-spiking issue's (12).
#include <tbb/global_control.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/array_sum.hpp"
#include "core/random.hpp"
#include "core/weights/ternary_quantizer.hpp"
#include "core/weights/weight_quantizer.hpp"
#include "network/integrator.hpp"
#include "network/projection_kinds.hpp"
#include "neurons/gif_grid.hpp"

using namespace spikesim;
using Clock = std::chrono::steady_clock;

namespace {

// Streams a buffer larger than any last-level cache so that every timed
// repetition reads its weights from memory, as a real layer-by-layer run does.
void evict_caches() {
  static std::vector<char> junk(512u << 20, 1);
  volatile char sink = 0;
  for (std::size_t i = 0; i < junk.size(); i += 64) sink = sink + junk[i];
  junk[0] = sink;
}

template <class F>
double best_seconds(int reps, F&& f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    evict_caches();
    const auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

// Read-only bandwidth: the sum of a large array (bytes read / s).
double read_bandwidth(std::size_t bytes, int reps) {
  std::vector<std::uint64_t> a(bytes / 8, 1);
  volatile std::uint64_t sink = 0;
  const double s = best_seconds(reps, [&] { sink = sink + bench::array_sum(a); });
  return static_cast<double>(a.size() * 8) / s;
}

// A format: a weight type, and for ternary its steps per weight.
struct Format {
  WeightType type;
  int steps = 0;
  [[nodiscard]] std::string name() const {
    return type == WeightType::ternary ? fmt::format("tern{}", steps) : std::string(weight_type_name(type));
  }
};

Format parse_format(const std::string& name) {
  if (name == "ternary1" || name == "ternary2") return {WeightType::ternary, name.back() - '0'};
  return {parse_weight_type(name, "--formats"), 0};
}

WeightTensor make_weights(std::size_t d_in, std::size_t d_out, Format format) {
  const WeightType type = format.type;
  Rng rng(42);
  MatrixRM w(static_cast<Eigen::Index>(d_out), static_cast<Eigen::Index>(d_in));
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>(rng.normal() * 0.02);
  if (type == WeightType::ternary)
    return WeightTensor::from_ternary(
        quantize_ternary(w, nullptr, {static_cast<double>(format.steps), format.steps, 0, ColumnSaliency::none, false})
            .view());
  if (!is_integer(type)) return WeightTensor::from_f32(w, type, WeightOrder::by_input);
  const QuantizedWeights q = quantize_rtn(w, {type == WeightType::int4 ? 4 : 8, 128, false});
  return WeightTensor::from_integer({q.rows, q.cols, q.bits, q.group, q.codes, q.scales, q.zeros},
                                    WeightOrder::by_input);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::vector<Format> formats = {{WeightType::f32},  {WeightType::bf16},       {WeightType::int8},
                                 {WeightType::int4}, {WeightType::ternary, 1}, {WeightType::ternary, 2}};
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--reps") reps = std::max(1, std::stoi(argv[i + 1]));
    if (std::string(argv[i]) == "--formats") {
      formats.clear();
      std::stringstream list(argv[i + 1]);
      for (std::string name; std::getline(list, name, ',');) formats.push_back(parse_format(name));
    }
  }
  struct Shape {
    std::size_t d_in, d_out;
  };
  const Shape shapes[] = {{4096, 4096}, {4096, 11008}};
  const double activities[] = {0.1, 0.5, 1.0};

  fmt::print("{:>12} {:>6} {:>8} {:>7} {:>8} {:>14} {:>12} {:>12} {:>7}\n", "projection", "format", "threads",
             "active", "events", "syn.events/s", "weight GB/s", "read GB/s", "ratio");
  for (const Shape& shape : shapes)
    for (const Format& format : formats) {
      const WeightTensor w = make_weights(shape.d_in, shape.d_out, format);
      const auto proj = make_projection(projection_kind_for(w), "W", w);
      const GifGrid grid = GifGrid::uniform(shape.d_in, 4, 1, false);
      proj->bind_groups(grid.group_map(), grid.groups(), grid.group_levels(0));
      Integrator acc;
      proj->prepare(acc);
      Rng rng(7);
      for (int threads : {1, 2}) {
        tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
        const double read_bw = read_bandwidth(std::size_t{1} << 30, reps);
        for (double activity : activities) {
          std::vector<SpikeEvent> events;
          for (std::size_t i = 0; i < shape.d_in; ++i)
            if (rng.uniform() < activity)
              events.push_back({1, 0, static_cast<NeuronId>(i), static_cast<Amplitude>(1 + rng.next() % 15)});
          const double s = best_seconds(reps, [&] { proj->deliver(events, grid.group_map(), acc); });
          const double syn = static_cast<double>(events.size() * shape.d_out) / s;
          const double bytes = static_cast<double>(events.size() * proj->weight_bytes_per_event()) / s;
          fmt::print("{:>12} {:>6} {:>8} {:>6.0f}% {:>8} {:>14.3e} {:>12.2f} {:>12.2f} {:>7.2f}\n",
                     fmt::format("{}x{}", shape.d_in, shape.d_out), format.name(), threads,
                     activity * 100, events.size(), syn, bytes / 1e9, read_bw / 1e9, bytes / read_bw);
        }
      }
    }
  return 0;
}
