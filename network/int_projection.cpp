#include "network/int_projection.hpp"

#include <algorithm>
#include <limits>

#include "core/error.hpp"
#include "network/weight_kernels.hpp"

namespace spikesim {
IntProjection::IntProjection(std::string name, const WeightTensor& weights)
    : StaticProjection(std::move(name), weights) {
  if (!is_integer(w_.type()) || w_.order() != WeightOrder::by_input)
    throw Error(ExitCode::internal, fmt::format("projection '{}': needs integer weights stored by input, got {}",
                                                name_, w_.format()));
}

void IntProjection::bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups,
                                std::int64_t max_membrane) {
  const std::size_t d_out = w_.rows(), K = w_.groups(), n = w_.group();
  if (group_of.size() != w_.cols())
    throw Error(ExitCode::internal, fmt::format("projection '{}': source has {} neurons, expected d_in = {}", name_,
                                                group_of.size(), w_.cols()));
  groups_ = groups;
  const std::int64_t c_max = w_.type() == WeightType::int8 ? 128 : 15;
  bound_ = static_cast<std::int64_t>(n) * max_membrane * c_max;
  wide_ = bound_ >= std::numeric_limits<std::int32_t>::max();
  d_.assign(groups * d_out, 0.0);
  e_.assign(groups * d_out, 0.0);
  // Σ_{i∈a∩k} c_ji per group pair, one weight group at a time.
  std::vector<std::int64_t> colsum(groups * d_out);
  std::vector<std::int64_t> count(groups);
  for (std::size_t k = 0; k < K; ++k) {
    std::fill(colsum.begin(), colsum.end(), 0);
    std::fill(count.begin(), count.end(), 0);
    for (std::size_t i = w_.group_begin(k); i < w_.group_end(k); ++i) {
      const std::uint32_t a = group_of[i];
      ++count[a];
      std::int64_t* sum = colsum.data() + a * d_out;
      if (w_.type() == WeightType::int8) {
        const auto* c = w_.line_as<std::int8_t>(i);
        for (std::size_t j = 0; j < d_out; ++j) sum[j] += c[j];
      } else {
        const auto* c = w_.line_as<std::uint8_t>(i);
        for (std::size_t j = 0; j < d_out; ++j) sum[j] += int4_at(c, j);
      }
    }
    for (std::size_t a = 0; a < groups; ++a)
      for (std::size_t j = 0; j < d_out; ++j) {
        const double s = w_.scale(j, k);
        d_[a * d_out + j] += s * static_cast<double>(colsum[a * d_out + j]);
        e_[a * d_out + j] += s * static_cast<double>(w_.zero(j, k)) * static_cast<double>(count[a]);
      }
  }
}

void IntProjection::prepare(Integrator& integrator) const {
  integrator.resize(wide_ ? Integrator::Kind::int64 : Integrator::Kind::int32, groups_ * w_.groups(), w_.rows());
}

void IntProjection::deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
                            Integrator& target) const {
  if (events.empty()) return;
  const std::size_t K = w_.groups(), n = w_.group();
  if (target.outputs() != w_.rows() || target.rows() != groups_ * K ||
      target.kind() != (wide_ ? Integrator::Kind::int64 : Integrator::Kind::int32))
    throw Error(ExitCode::internal, fmt::format("projection '{}': integrator of {} rows x {} outputs, expected {} x {}",
                                                name_, target.rows(), target.outputs(), groups_ * K, w_.rows()));
  auto row_of = [&](const SpikeEvent& e) { return group_of[e.neuron] * K + e.neuron / n; };
  std::span<std::int64_t> sums = target.amplitude_sums();
  for (const SpikeEvent& e : events) sums[row_of(e)] += e.amplitude;
  const WeightType type = w_.type();
  for_each_output_slice(w_.rows(), [&](std::size_t j0, std::size_t j1) {
    std::size_t k = 0;
    while (k < events.size()) {
      // Up to four consecutive events of one accumulator row per pass.
      const std::size_t row = row_of(events[k]);
      std::size_t m = 1;
      while (m < kMaxLinesPerPass && k + m < events.size() && row_of(events[k + m]) == row) ++m;
      const std::byte* lines[kMaxLinesPerPass];
      std::int32_t s[kMaxLinesPerPass];
      for (std::size_t q = 0; q < m; ++q) {
        lines[q] = w_.line(events[k + q].neuron);
        s[q] = events[k + q].amplitude;
      }
      if (wide_)
        add_int_lines(type, target.row_i64(row) + j0, {lines, m}, {s, m}, j0, j1 - j0);
      else
        add_int_lines(type, target.row_i32(row) + j0, {lines, m}, {s, m}, j0, j1 - j0);
      k += m;
    }
  });
}

void IntProjection::read_out(const Integrator& acc, const TokenScale& scale, std::span<const float> bias,
                             std::span<float> y, DenseOpCounts* ops) const {
  const std::size_t d_out = w_.rows(), K = w_.groups();
  if (scale.theta.size() != groups_ || acc.rows() != groups_ * K || y.size() != d_out)
    throw Error(ExitCode::internal, fmt::format("projection '{}' read-out: {} groups x {} outputs, got {} scales, "
                                                "{} accumulator rows, {} outputs",
                                                name_, groups_, d_out, scale.theta.size(), acc.rows(), y.size()));
  const std::span<const std::int64_t> sums = acc.amplitude_sums();
  for (std::size_t j = 0; j < d_out; ++j) {
    double v = bias.empty() ? 0.0 : static_cast<double>(bias[j]);
    for (std::size_t a = 0; a < groups_; ++a) {
      double t = 0;
      for (std::size_t k = 0; k < K; ++k) {
        const std::size_t r = a * K + k;
        t += static_cast<double>(w_.scale(j, k)) *
             static_cast<double>(acc.integer(r, j) - static_cast<std::int64_t>(w_.zero(j, k)) * sums[r]);
      }
      const auto z = static_cast<double>(scale.zero[a]);
      v += static_cast<double>(scale.theta[a]) * (t - z * d_[a * d_out + j] + z * e_[a * d_out + j]);
    }
    y[j] = static_cast<float>(v);
  }
  if (ops) {
    // The work of every rank's rows: the network's, however it is split.
    ops->add(DenseOp::mac, 2 * groups_ * (K + 1) * w_.full_rows());
    if (!bias.empty()) ops->add(DenseOp::add, w_.full_rows());
  }
}

}  // namespace spikesim
