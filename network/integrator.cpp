#include "network/integrator.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace spikesim {

void Integrator::resize(std::size_t groups, std::size_t outputs) {
  groups_ = groups;
  outputs_ = outputs;
  acc_.assign(groups * outputs, 0.0);
}

void Integrator::clear() { std::fill(acc_.begin(), acc_.end(), 0.0); }

void Integrator::read_out(const TokenScale& scale, std::span<const double> group_colsum, std::span<const float> bias,
                          std::span<float> y, DenseOpCounts* ops) const {
  if (scale.theta.size() != groups_ || group_colsum.size() != groups_ * outputs_ || y.size() != outputs_)
    throw Error(ExitCode::internal, fmt::format("integrator read-out: {} groups x {} outputs, got {} scales, "
                                                "{} column sums, {} outputs",
                                                groups_, outputs_, scale.theta.size(), group_colsum.size(),
                                                y.size()));
  for (std::size_t j = 0; j < outputs_; ++j) {
    double v = bias.empty() ? 0.0 : static_cast<double>(bias[j]);
    for (std::size_t g = 0; g < groups_; ++g)
      v += static_cast<double>(scale.theta[g]) *
           (row(g)[j] - static_cast<double>(scale.zero[g]) * group_colsum[g * outputs_ + j]);
    y[j] = static_cast<float>(v);
  }
  if (ops) {
    ops->add(DenseOp::mac, 2 * groups_ * outputs_);
    if (!bias.empty()) ops->add(DenseOp::add, outputs_);
  }
}

}  // namespace spikesim
