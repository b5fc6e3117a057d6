#include "network/integrator.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace spikesim {

void Integrator::resize(std::size_t groups, std::size_t outputs) {
  groups_ = groups;
  outputs_ = outputs;
  acc_.assign(groups * outputs, 0.0f);
}

void Integrator::clear() { std::fill(acc_.begin(), acc_.end(), 0.0f); }

void Integrator::read_out(const TokenScale& scale, std::span<const float> group_colsum, std::span<const float> bias,
                          std::span<float> y, DenseOpCounts* ops) const {
  if (scale.theta.size() != groups_ || group_colsum.size() != groups_ * outputs_ || y.size() != outputs_)
    throw Error(ExitCode::internal, fmt::format("integrator read-out: {} groups x {} outputs, got {} scales, "
                                                "{} column sums, {} outputs",
                                                groups_, outputs_, scale.theta.size(), group_colsum.size(),
                                                y.size()));
  if (bias.empty())
    std::fill(y.begin(), y.end(), 0.0f);
  else
    std::copy(bias.begin(), bias.end(), y.begin());
  for (std::size_t g = 0; g < groups_; ++g) {
    const float theta = scale.theta[g];
    const float zero = static_cast<float>(scale.zero[g]);
    const float* acc = row(g);
    const float* colsum = group_colsum.data() + g * outputs_;
    for (std::size_t j = 0; j < outputs_; ++j) y[j] += theta * (acc[j] - zero * colsum[j]);
  }
  if (ops) {
    ops->add(DenseOp::mac, 2 * groups_ * outputs_);
    if (!bias.empty()) ops->add(DenseOp::add, outputs_);
  }
}

}  // namespace spikesim
