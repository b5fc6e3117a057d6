#include "network/ternary_projection.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "core/error.hpp"
#include "network/weight_kernels.hpp"

namespace spikesim {

TernaryProjection::TernaryProjection(std::string name, const WeightTensor& weights)
    : StaticProjection(std::move(name), weights) {
  kind_ = "ternary";
  if (w_.type() != WeightType::ternary)
    throw Error(ExitCode::internal,
                fmt::format("projection '{}': needs ternary weights, got {}", name_, w_.format()));
}

void TernaryProjection::bind_groups(std::span<const std::uint32_t> group_of, std::size_t groups,
                                    std::int64_t max_membrane) {
  const std::size_t d_out = w_.rows(), K = w_.groups(), T = static_cast<std::size_t>(w_.max_steps());
  if (group_of.size() != w_.cols())
    throw Error(ExitCode::internal, fmt::format("projection '{}': source has {} neurons, expected d_in = {}",
                                                name_, group_of.size(), w_.cols()));
  groups_ = groups;
  bound_ = static_cast<std::int64_t>(w_.group()) * max_membrane;
  if (w_.has_salient())
    bound_ = std::max<std::int64_t>(bound_, static_cast<std::int64_t>(w_.cols()) * max_membrane * 127);
  wide_ = bound_ >= std::numeric_limits<std::int32_t>::max();
  c_.assign(rows() * d_out, 0);
  for (std::size_t i = 0; i < w_.cols(); ++i) {
    const std::size_t a = group_of[i], base = (a * K + i / w_.group()) * T;
    for (int k = 0; k < w_.steps(i); ++k) {
      std::int64_t* c = c_.data() + (base + static_cast<std::size_t>(k)) * d_out;
      for (std::size_t j = 0; j < d_out; ++j) c[j] += w_.step_sign(j, i, k);
    }
    const SalientLine s = w_.salient(i);
    std::int64_t* r = c_.data() + (step_rows() + a) * d_out;
    for (std::size_t q = 0; q < s.rows.size(); ++q) r[s.rows[q]] += s.codes[q];
  }
}

void TernaryProjection::prepare(Integrator& integrator) const {
  integrator.resize(wide_ ? Integrator::Kind::int64 : Integrator::Kind::int32, rows(), w_.rows());
}

void TernaryProjection::deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
                                Integrator& target) const {
  if (events.empty()) return;
  const std::size_t K = w_.groups(), T = static_cast<std::size_t>(w_.max_steps());
  if (target.outputs() != w_.rows() || target.rows() != rows() ||
      target.kind() != (wide_ ? Integrator::Kind::int64 : Integrator::Kind::int32))
    throw Error(ExitCode::internal,
                fmt::format("projection '{}': integrator of {} rows x {} outputs, expected {} x {}", name_,
                            target.rows(), target.outputs(), rows(), w_.rows()));
  auto run = [&](auto tag) {
    using Acc = decltype(tag);
    auto row = [&](std::size_t r) -> Acc* {
      if constexpr (std::is_same_v<Acc, std::int32_t>)
        return target.row_i32(r);
      else
        return target.row_i64(r);
    };
    for_each_output_slice(w_.rows(), [&](std::size_t j0, std::size_t j1) {
      const std::size_t w0 = j0 / 64, words = (j1 - j0 + 63) / 64;
      for (const SpikeEvent& e : events) {
        const std::size_t i = e.neuron, a = group_of[i], base = (a * K + i / w_.group()) * T;
        const auto s = static_cast<Acc>(e.amplitude);
        for (int k = 0; k < w_.steps(i); ++k)
          add_ternary_plane(row(base + static_cast<std::size_t>(k)) + j0, w_.plus_mask(i, k) + w0,
                            w_.minus_mask(i, k) + w0, s, words);
        const SalientLine sal = w_.salient(i);
        if (sal.rows.empty()) continue;
        Acc* q = row(step_rows() + a);
        const auto first = std::lower_bound(sal.rows.begin(), sal.rows.end(), static_cast<std::uint32_t>(j0));
        for (auto it = first; it != sal.rows.end() && *it < j1; ++it)
          q[*it] += s * static_cast<Acc>(sal.codes[static_cast<std::size_t>(it - sal.rows.begin())]);
      }
    });
  };
  if (wide_)
    run(std::int64_t{});
  else
    run(std::int32_t{});
}

void TernaryProjection::read_out(const Integrator& acc, const TokenScale& scale, std::span<const float> bias,
                                 std::span<float> y, DenseOpCounts* ops) const {
  const std::size_t d_out = w_.rows(), K = w_.groups(), T = static_cast<std::size_t>(w_.max_steps());
  if (scale.theta.size() != groups_ || acc.rows() != rows() || y.size() != d_out)
    throw Error(ExitCode::internal,
                fmt::format("projection '{}' read-out: {} groups x {} outputs, got {} scales, "
                            "{} accumulator rows, {} outputs",
                            name_, groups_, d_out, scale.theta.size(), acc.rows(), y.size()));
  const bool salient = w_.has_salient();
  for (std::size_t j = 0; j < d_out; ++j) {
    double v = bias.empty() ? 0.0 : static_cast<double>(bias[j]);
    for (std::size_t a = 0; a < groups_; ++a) {
      const auto z = static_cast<double>(scale.zero[a]);
      double t = 0;
      for (std::size_t g = 0; g < K; ++g)
        for (std::size_t k = 0; k < T; ++k) {
          const std::size_t r = (a * K + g) * T + k;
          t += static_cast<double>(w_.alpha(static_cast<int>(k), j, g)) *
               (static_cast<double>(acc.integer(r, j)) - z * static_cast<double>(c_[r * d_out + j]));
        }
      if (salient) {
        const std::size_t r = step_rows() + a;
        t += static_cast<double>(w_.salient_scale(j)) *
             (static_cast<double>(acc.integer(r, j)) - z * static_cast<double>(c_[r * d_out + j]));
      }
      v += static_cast<double>(scale.theta[a]) * t;
    }
    y[j] = static_cast<float>(v);
  }
  if (ops) {
    ops->add(DenseOp::mac, 2 * rows() * d_out + groups_ * d_out);
    if (!bias.empty()) ops->add(DenseOp::add, d_out);
  }
}

void TernaryProjection::account_events(std::span<const SpikeEvent> events, const EventSummary&,
                                       OpCounts& c) const {
  const std::uint64_t plane_bytes = (2 * static_cast<std::uint64_t>(w_.rows()) + 7) / 8;
  const std::uint64_t index_bytes = w_.rows() <= 65536 ? 2 : 4;
  for (const SpikeEvent& e : events) {
    const std::uint64_t adds = w_.additions(e.neuron), muls = w_.multiplications(e.neuron),
                        f = synapses_of(e.neuron);
    const auto mag = static_cast<std::uint32_t>(std::abs(e.amplitude));
    const std::uint64_t shifts = shift_add_cost(mag);
    c.synaptic_events += f;
    c.amplitude_acs += mag * f;
    c.shift_add_acs += shifts * f;
    c.int_amplitude_acs += mag * f;
    c.int_shift_add_acs += shifts * f;
    if (mag == 1) {
      c.effective_acs += f;
      c.int_effective_acs += f;
    } else {
      c.effective_macs += f;
      c.int_effective_macs += f;
    }
    c.additive_acs += adds;
    c.weight_bytes += static_cast<std::uint64_t>(w_.steps(e.neuron)) * plane_bytes + muls * (index_bytes + 1);
  }
}

}  // namespace spikesim
