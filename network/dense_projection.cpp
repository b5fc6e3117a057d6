#include "network/dense_projection.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "network/weight_kernels.hpp"

namespace spikesim {

DenseProjection::DenseProjection(std::string name, const WeightTensor& weights)
    : StaticProjection(std::move(name), weights) {
  if (is_integer(w_.type()) || w_.order() != WeightOrder::by_input)
    throw Error(ExitCode::internal, fmt::format("projection '{}': needs float weights stored by input, got {}", name_,
                                                w_.format()));
}

void account_dense_matvec(const WeightTensor& w, OpCounts& counts) {
  // The whole matvec, however many ranks hold its rows (core/partition.hpp).
  const auto rows = static_cast<std::uint64_t>(w.full_rows());
  counts.dense.add(DenseOp::mac, rows * w.cols() + static_cast<std::uint64_t>(w.groups()) * rows);
  counts.weight_bytes += w.full_stored_bytes();
}

void DenseProjection::bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups,
                                  std::int64_t /*max_membrane: exact in double for any*/) {
  const std::size_t d_out = w_.rows();
  if (group_of.size() != w_.cols())
    throw Error(ExitCode::internal, fmt::format("projection '{}': source has {} neurons, expected d_in = {}",
                                                name_, group_of.size(), w_.cols()));
  groups_ = groups;
  group_colsum_.assign(groups * d_out, 0.0);
  std::vector<double> col(d_out);
  for (std::size_t i = 0; i < w_.cols(); ++i) {
    double* sum = group_colsum_.data() + group_of[i] * d_out;
    const std::byte* line = w_.line(i);
    const double one = 1.0;
    std::fill(col.begin(), col.end(), 0.0);
    add_float_lines(w_.type(), col.data(), {&line, 1}, {&one, 1}, 0, d_out);
    for (std::size_t j = 0; j < d_out; ++j) sum[j] += col[j];
  }
}

void DenseProjection::prepare(Integrator& integrator) const {
  integrator.resize(Integrator::Kind::real, groups_, w_.rows());
}

void DenseProjection::deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
                              Integrator& target) const {
  if (events.empty()) return;
  if (target.outputs() != w_.rows() || target.kind() != Integrator::Kind::real)
    throw Error(ExitCode::internal, fmt::format("projection '{}': integrator has {} outputs, expected {}", name_,
                                                target.outputs(), w_.rows()));
  const WeightType type = w_.type();
  for_each_output_slice(w_.rows(), [&](std::size_t j0, std::size_t j1) {
    std::size_t k = 0;
    while (k < events.size()) {
      // Up to four consecutive events of one source group share an accumulator row.
      const std::uint32_t g = group_of[events[k].neuron];
      std::size_t m = 1;
      while (m < kMaxLinesPerPass && k + m < events.size() && group_of[events[k + m].neuron] == g) ++m;
      if (m < kMaxLinesPerPass) m = 1;  // the one-line kernel, as the four-line one sums differently
      const std::byte* lines[kMaxLinesPerPass];
      double s[kMaxLinesPerPass];
      for (std::size_t q = 0; q < m; ++q) {
        lines[q] = w_.line(events[k + q].neuron);
        s[q] = events[k + q].amplitude;
      }
      add_float_lines(type, target.row(g) + j0, {lines, m}, {s, m}, j0, j1 - j0);
      k += m;
    }
  });
}

void DenseProjection::read_out(const Integrator& integrator, const TokenScale& scale, std::span<const float> bias,
                               std::span<float> y, DenseOpCounts* ops) const {
  const std::size_t d_out = w_.rows();
  if (scale.theta.size() != groups_ || integrator.rows() != groups_ || y.size() != d_out)
    throw Error(ExitCode::internal, fmt::format("projection '{}' read-out: {} groups x {} outputs, got {} scales, "
                                                "{} accumulator rows, {} outputs",
                                                name_, groups_, d_out, scale.theta.size(), integrator.rows(), y.size()));
  for (std::size_t j = 0; j < d_out; ++j) {
    double v = bias.empty() ? 0.0 : static_cast<double>(bias[j]);
    for (std::size_t g = 0; g < groups_; ++g)
      v += static_cast<double>(scale.theta[g]) *
           (integrator.row(g)[j] - static_cast<double>(scale.zero[g]) * group_colsum_[g * d_out + j]);
    y[j] = static_cast<float>(v);
  }
  if (ops) {
    // The work of every rank's rows: the network's, however it is split.
    ops->add(DenseOp::mac, 2 * groups_ * w_.full_rows());
    if (!bias.empty()) ops->add(DenseOp::add, w_.full_rows());
  }
}

}  // namespace spikesim
