#include "sim/linear_stack.hpp"

#include <cmath>

#include "core/error.hpp"
#include "core/random.hpp"
#include "network/weight_kernels.hpp"

namespace spikesim {

LinearStack::LinearStack(const LinearStackSpec& spec) : spec_(spec), graph_(map_linear_stack(spec.sizes)) {
  Rng rng(spec.seed);
  const std::size_t L = spec.sizes.size() - 1;
  for (std::size_t k = 0; k < L; ++k) {
    const std::size_t d_in = spec.sizes[k], d_out = spec.sizes[k + 1];
    MatrixRM w(d_out, d_in);
    const double sd = 1.0 / std::sqrt(static_cast<double>(d_in));
    for (Eigen::Index r = 0; r < w.rows(); ++r)
      for (Eigen::Index c = 0; c < w.cols(); ++c) w(r, c) = static_cast<float>(sd * rng.normal());
    weights_.push_back(WeightTensor::from_f32(w, WeightType::f32, WeightOrder::by_input));

    const std::string enc = fmt::format("layer{}.encoder", k);
    const std::string proj = fmt::format("layer{}.W", k);
    encoders_.emplace_back(enc, static_cast<PopulationId>(k),
                           GifGrid::uniform(d_in, spec.bits, spec.steps, spec.is_signed));
    projections_.emplace_back(proj, weights_.back());
    const GifGrid& grid = encoders_.back().grid();
    projections_.back().bind_groups(grid.group_map(), grid.groups(), grid.group_levels(0));
    integrators_.emplace_back();
    projections_.back().prepare(integrators_.back());
  }
  projection_counts_.resize(L);
}

Eigen::VectorXf LinearStack::input(std::uint64_t token) const {
  Rng rng(spec_.seed * 1000003u + token + 1);
  Eigen::VectorXf x(input_size());
  for (Eigen::Index i = 0; i < x.size(); ++i) x[i] = static_cast<float>(rng.normal());
  // A few outlier channels, as LLM activations have.
  for (int k = 0; k < 3 && k < x.size(); ++k) x[static_cast<Eigen::Index>(rng.next() % x.size())] *= 8.0f;
  return x;
}

Eigen::VectorXf LinearStack::run_spiking(Simulator& sim, const Eigen::VectorXf& x, DenseOpCounts* dense_ops) {
  Eigen::VectorXf v = x;
  for (std::size_t k = 0; k < layers(); ++k) {
    const DeliveryTarget target{&projections_[k], &integrators_[k], &projection_counts_[k]};
    sim.run_encoder(encoders_[k], std::span<const float>(v.data(), v.size()), {&target, 1});
    Eigen::VectorXf y(projections_[k].d_out());
    projections_[k].read_out(integrators_[k], encoders_[k].scale(), {}, std::span<float>(y.data(), y.size()),
                             dense_ops);
    v = std::move(y);
  }
  return v;
}

Eigen::VectorXf LinearStack::run_dense(const Eigen::VectorXf& x) const {
  Eigen::VectorXf v = x;
  for (const WeightTensor& w : weights_) {
    Eigen::VectorXf y(static_cast<Eigen::Index>(w.rows()));
    matvec(w, std::span<const float>(v.data(), v.size()), std::span<float>(y.data(), y.size()));
    v = std::move(y);
  }
  return v;
}

Eigen::VectorXf LinearStack::run_quantized(const Eigen::VectorXf& x) const {
  Eigen::VectorXf v = x;
  TokenScale scale;
  for (std::size_t k = 0; k < layers(); ++k) {
    const GifGrid& grid = encoders_[k].grid();
    std::vector<std::int32_t> q(grid.size());
    Eigen::VectorXf x_hat(grid.size());
    grid.quantize(std::span<const float>(v.data(), v.size()), encoders_[k].name(), scale, q);
    grid.decode(scale, q, std::span<float>(x_hat.data(), x_hat.size()));
    v.resize(static_cast<Eigen::Index>(weights_[k].rows()));
    matvec(weights_[k], std::span<const float>(x_hat.data(), x_hat.size()), std::span<float>(v.data(), v.size()));
  }
  return v;
}

std::uint64_t LinearStack::dense_macs_per_token() const {
  std::uint64_t macs = 0;
  for (const WeightTensor& w : weights_) macs += static_cast<std::uint64_t>(w.size());
  return macs;
}

}  // namespace spikesim
