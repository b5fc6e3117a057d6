#include "network/dense_projection.hpp"

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "core/error.hpp"

namespace spikesim {
namespace {

// Outputs per task: large enough to stream whole cache lines of every weight
// row and amortize task overhead, small enough to balance two or more cores.
constexpr std::size_t kSliceGrain = 1024;

}  // namespace

DenseProjection::DenseProjection(std::string name, std::size_t d_in, std::size_t d_out,
                                 std::span<const float> weights)
    : name_(std::move(name)), d_in_(d_in), d_out_(d_out), weights_t_(d_in * d_out) {
  if (weights.size() != d_in * d_out)
    throw Error(ExitCode::internal, fmt::format("projection '{}': {} weights for a {} x {} matrix", name_,
                                                weights.size(), d_out, d_in));
  for (std::size_t j = 0; j < d_out; ++j)
    for (std::size_t i = 0; i < d_in; ++i) weights_t_[i * d_out + j] = weights[j * d_in + i];
}

void DenseProjection::bind_groups(const GifGrid& source) {
  if (source.size() != d_in_)
    throw Error(ExitCode::internal, fmt::format("projection '{}': source has {} neurons, expected d_in = {}",
                                                name_, source.size(), d_in_));
  group_colsum_.assign(source.groups() * d_out_, 0.0f);
  for (std::size_t i = 0; i < d_in_; ++i) {
    float* sum = group_colsum_.data() + source.group_of(i) * d_out_;
    const float* w = outgoing(static_cast<NeuronId>(i));
    for (std::size_t j = 0; j < d_out_; ++j) sum[j] += w[j];
  }
}

void DenseProjection::deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
                              Integrator& target) const {
  if (events.empty()) return;
  if (target.outputs() != d_out_)
    throw Error(ExitCode::internal, fmt::format("projection '{}': integrator has {} outputs, expected {}",
                                                name_, target.outputs(), d_out_));
  const std::size_t d_out = d_out_;
  const float* weights = weights_t_.data();
  auto apply_slice = [&](const tbb::blocked_range<std::size_t>& r) {
    const std::size_t j0 = r.begin();
    const std::size_t n = r.end() - r.begin();
    for (const SpikeEvent& e : events) {
      const float s = static_cast<float>(e.amplitude);
      const float* __restrict w = weights + std::size_t{e.neuron} * d_out + j0;
      float* __restrict acc = target.row(group_of[e.neuron]) + j0;
      for (std::size_t j = 0; j < n; ++j) acc[j] += s * w[j];
    }
  };
  if (d_out <= kSliceGrain)
    apply_slice(tbb::blocked_range<std::size_t>(0, d_out));
  else
    tbb::parallel_for(tbb::blocked_range<std::size_t>(0, d_out, kSliceGrain), apply_slice);
}

}  // namespace spikesim
