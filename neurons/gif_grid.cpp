#include "neurons/gif_grid.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.hpp"

namespace spikesim {

GifGrid::GifGrid(std::vector<std::uint8_t> bits, std::vector<std::uint16_t> steps, bool is_signed)
    : bits_(std::move(bits)), steps_(std::move(steps)), signed_(is_signed) {
  if (bits_.size() != steps_.size())
    throw Error(ExitCode::internal, fmt::format("GIF grid: {} bit widths for {} step counts", bits_.size(),
                                                steps_.size()));
  std::map<std::int32_t, std::uint32_t> group_by_levels;
  for (std::size_t i = 0; i < bits_.size(); ++i) {
    if (bits_[i] < 1 || bits_[i] > 16)
      throw Error(ExitCode::config, fmt::format("GIF grid: neuron {} has {} bits, expected 1..16", i, bits_[i]));
    if (steps_[i] < 1 || steps_[i] > (1u << 15))
      throw Error(ExitCode::config, fmt::format("GIF grid: neuron {} has {} steps, expected 1..32768", i, steps_[i]));
    group_by_levels.emplace(levels(i), 0);
    max_steps_ = std::max<unsigned>(max_steps_, steps_[i]);
  }
  for (auto& [lv, g] : group_by_levels) {
    g = static_cast<std::uint32_t>(group_levels_.size());
    group_levels_.push_back(lv);
  }
  group_of_.resize(bits_.size());
  for (std::size_t i = 0; i < bits_.size(); ++i) group_of_[i] = group_by_levels.at(levels(i));
}

GifGrid GifGrid::uniform(std::size_t n, unsigned bits, unsigned steps, bool is_signed) {
  return GifGrid(std::vector<std::uint8_t>(n, static_cast<std::uint8_t>(bits)),
                 std::vector<std::uint16_t>(n, static_cast<std::uint16_t>(steps)), is_signed);
}

double GifGrid::bits_per_token(std::size_t i) const {
  const double states = signed_ ? 2.0 * levels(i) + 1.0 : levels(i) + 1.0;
  return std::log2(states);
}

void GifGrid::quantize(std::span<const float> x, std::string_view owner, TokenScale& scale,
                       std::span<std::int32_t> q) const {
  if (x.size() != size() || q.size() != size())
    throw Error(ExitCode::internal,
                fmt::format("population '{}': input has {} values, expected {}", owner, x.size(), size()));
  float lo = 0, hi = 0, absmax = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    if (!std::isfinite(v))
      throw Error(ExitCode::numeric,
                  fmt::format("population '{}': neuron {} received a non-finite input ({})", owner, i, v));
    if (i == 0 || v < lo) lo = v;
    if (i == 0 || v > hi) hi = v;
    absmax = std::max(absmax, std::fabs(v));
  }
  const std::size_t G = groups();
  scale.theta.resize(G);
  scale.zero.resize(G);
  for (std::size_t g = 0; g < G; ++g) {
    const float L = static_cast<float>(group_levels_[g]);
    const float range = signed_ ? absmax : hi - lo;
    const float theta = std::max(range / L, kMinThreshold);
    scale.theta[g] = theta;
    scale.zero[g] = signed_ ? 0 : static_cast<std::int64_t>(std::nearbyint(-lo / theta));
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::uint32_t g = group_of_[i];
    const double L = group_levels_[g];
    const double v = static_cast<double>(std::nearbyint(x[i] / scale.theta[g])) + static_cast<double>(scale.zero[g]);
    q[i] = static_cast<std::int32_t>(std::clamp(v, signed_ ? -L : 0.0, L));
  }
}

void GifGrid::decode(const TokenScale& scale, std::span<const std::int32_t> q, std::span<float> x_hat) const {
  for (std::size_t i = 0; i < size(); ++i) {
    const std::uint32_t g = group_of_[i];
    x_hat[i] = scale.theta[g] * static_cast<float>(q[i] - scale.zero[g]);
  }
}

}  // namespace spikesim
