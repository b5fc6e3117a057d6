#pragma once
// A dense projection: all-to-all static synapses from a spiking population
// (d_in neurons) to an integrator (d_out outputs), with float weights (f32,
// bf16 or f16) W [d_out x d_in] held by the model (core/weights/).
//
// The tensor is stored by input: presynaptic neuron i's outgoing weights
// W[:, i] are one contiguous line, so delivering an event streams exactly
// its line. Delivery is memory-bound; see bench/delivery_bench.cpp.
//
// Accumulators are double (network/integrator.hpp): every product of an
// integer amplitude and a float weight is exact, which keeps the spiking run
// equal to the quantized reference.
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
#include "core/weights/weight_tensor.hpp"
#include "network/integrator.hpp"
#include "network/projection.hpp"

namespace spikesim {

class DenseProjection final : public StaticProjection {
 public:
  // `weights` by_input, of a float type; the projection keeps a reference to
  // the same storage (a WeightTensor copy shares it).
  DenseProjection(std::string name, const WeightTensor& weights);

  // Precomputes Σ_{i∈g} W[j, i] per source group for read-out.
  void bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups, std::int64_t max_membrane) override;
  void prepare(Integrator& integrator) const override;
  // acc_{g(i), j} += s · W[j, i] for every event (i, s) and every output j.
  void deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
               Integrator& target) const override;
  // y_j = Σ_g θ_g (acc_{g,j} − z_g Σ_{i∈g} W[j, i]) + b_j: 2·G·d_out MACs (+ d_out adds for a bias).
  void read_out(const Integrator& integrator, const TokenScale& scale, std::span<const float> bias,
                std::span<float> y, DenseOpCounts* ops) const override;

 private:
  std::size_t groups_ = 0;
  std::vector<double> group_colsum_;  // [G x d_out]
};

// What a dense matrix-vector product with `weights` costs: one MAC and one
// weight fetch (in the stored format) per element, plus, for integer
// weights, one MAC per output and group for the scales. The dense forward,
// the dense lm_head and the dense equivalent count with it.
void account_dense_matvec(const WeightTensor& weights, OpCounts& counts);

}  // namespace spikesim
