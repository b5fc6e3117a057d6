#pragma once
// A dense projection: all-to-all static synapses from a spiking population
// (d_in neurons) to an integrator (d_out outputs), weights W [d_out x d_in].
//
// Storage is transposed: presynaptic neuron i's outgoing weights W[:, i] are
// contiguous, so delivering an event streams one row of d_out floats.
// Delivery is memory-bound; see bench/delivery_bench.cpp.
//
// Parallelism: TBB splits the outputs into slices; each task applies every
// event of the step to its slice only. No two tasks write the same
// accumulator (no atomics) and each accumulator sums its events in event
// order whatever the slicing, so results are bit-identical for any thread
// count.
#include <span>
#include <string>
#include <vector>

#include "core/event.hpp"
#include "core/matrix.hpp"
#include "network/integrator.hpp"
#include "network/projection.hpp"

namespace spikesim {

class DenseProjection final : public StaticProjection {
 public:
  // Bytes of one stored weight (fp32).
  static constexpr std::uint64_t kBytesPerWeight = sizeof(float);

  DenseProjection() = default;
  // `weights` is W in PyTorch layout: [d_out x d_in], row-major.
  DenseProjection(std::string name, std::size_t d_in, std::size_t d_out, std::span<const float> weights);

  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] std::string_view kind() const override { return "dense f32"; }
  [[nodiscard]] std::size_t d_in() const override { return d_in_; }
  [[nodiscard]] std::size_t d_out() const override { return d_out_; }
  [[nodiscard]] std::uint64_t fan_out() const override { return d_out_; }
  [[nodiscard]] std::uint64_t weight_bytes_per_synapse() const override { return kBytesPerWeight; }
  [[nodiscard]] const float* outgoing(NeuronId i) const { return weights_t_.data() + std::size_t{i} * d_out_; }

  // Precomputes Σ_{i∈g} W[j, i] per source group for read-out.
  void bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups) override;
  void bind_groups(const GifGrid& source) { bind_groups(source.group_map(), source.groups()); }
  [[nodiscard]] std::span<const double> group_colsum() const override { return group_colsum_; }

  // acc_{g(i), j} += s · W[j, i] for every event (i, s) and every output j.
  void deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
               Integrator& target) const override;

 private:
  std::string name_;
  std::size_t d_in_ = 0;
  std::size_t d_out_ = 0;
  std::vector<float> weights_t_;   // [d_in x d_out]
  std::vector<double> group_colsum_;  // [G x d_out]
};

// What a dense matrix-vector product with `weights` (held as the model
// stores them, fp32) costs: one MAC and one weight fetch per element. The
// dense forward, the dense lm_head and the dense equivalent count with it.
void account_dense_matvec(const MatrixRM& weights, OpCounts& counts);
// Bytes the stored weights occupy (NeuroBench Footprint).
std::uint64_t stored_weight_bytes(const MatrixRM& weights);

}  // namespace spikesim
