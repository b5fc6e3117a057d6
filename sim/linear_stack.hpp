#pragma once
// The first workload: a stack of spiking linear layers built from generated
// weights. Layer k is  encoder E_k (sizes[k] GIF neurons) -> projection W_k
// [sizes[k+1] x sizes[k]] -> integrator I_k, whose read-out feeds E_{k+1}.
//
// Besides the event-driven run it offers the two references the spiking
// output is tested against: the dense float forward, and the same forward
// with every layer input quantized on its GIF grid (which the spiking run
// must equal up to float summation order).
#include <memory>
#include <vector>

#include "network/llama/model.hpp"
#include "network/linear_stack_mapper.hpp"
#include "network/network_graph.hpp"
#include "network/dense_projection.hpp"
#include "neurons/gif_population.hpp"
#include "sim/simulator.hpp"

namespace spikesim {

struct LinearStackSpec {
  std::vector<std::size_t> sizes{256, 512, 256};
  unsigned bits = 4;
  unsigned steps = 1;
  bool is_signed = false;
  std::uint64_t seed = 1;
};

class LinearStack {
 public:
  explicit LinearStack(const LinearStackSpec& spec);

  [[nodiscard]] std::size_t layers() const { return weights_.size(); }
  [[nodiscard]] std::size_t input_size() const { return spec_.sizes.front(); }
  [[nodiscard]] std::size_t output_size() const { return spec_.sizes.back(); }
  [[nodiscard]] const NetworkGraph& graph() const { return graph_; }
  [[nodiscard]] const LinearStackSpec& spec() const { return spec_; }
  [[nodiscard]] const WeightTensor& weights(std::size_t k) const { return weights_[k]; }
  [[nodiscard]] std::vector<GifPopulation>& encoders() { return encoders_; }
  [[nodiscard]] const std::vector<GifPopulation>& encoders() const { return encoders_; }
  [[nodiscard]] const std::vector<OpCounts>& projection_counts() const { return projection_counts_; }

  // A seeded input token (a few large channels, the rest ~N(0, 1)).
  [[nodiscard]] Eigen::VectorXf input(std::uint64_t token) const;

  // Event-driven forward of one token. Read-out work is added to `dense_ops`.
  Eigen::VectorXf run_spiking(Simulator& sim, const Eigen::VectorXf& x, DenseOpCounts* dense_ops);
  // References.
  [[nodiscard]] Eigen::VectorXf run_dense(const Eigen::VectorXf& x) const;
  [[nodiscard]] Eigen::VectorXf run_quantized(const Eigen::VectorXf& x) const;
  // MACs of the dense-equivalent forward for one token.
  [[nodiscard]] std::uint64_t dense_macs_per_token() const;

 private:
  LinearStackSpec spec_;
  std::vector<WeightTensor> weights_;  // f32, by input
  std::vector<DenseProjection> projections_;
  std::vector<GifPopulation> encoders_;
  std::vector<Integrator> integrators_;
  std::vector<OpCounts> projection_counts_;
  NetworkGraph graph_;
};

}  // namespace spikesim
