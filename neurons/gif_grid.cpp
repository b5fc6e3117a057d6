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

void GifGrid::set_range(const GridRange& range) {
  if (!(range.clip > 0.0f && range.clip <= 1.0f))
    throw Error(ExitCode::config, fmt::format("GIF grid: clip ratio {} outside (0, 1]", range.clip));
  if (range.per_group && groups() > kMaxRangeGroups)
    throw Error(ExitCode::config, fmt::format("GIF grid: {} groups, per-group ranges take at most {}", groups(),
                                              kMaxRangeGroups));
  range_ = range;
}

void GifGrid::quantize(std::span<const float> x, std::string_view owner, TokenScale& scale,
                       std::span<std::int32_t> q) const {
  if (x.size() != size() || q.size() != size())
    throw Error(ExitCode::internal,
                fmt::format("population '{}': input has {} values, expected {}", owner, x.size(), size()));
  const std::size_t G = groups();
  // One range per group with per-group ranges, else the token's for all.
  const std::size_t R = range_.per_group ? G : 1;
  float lo[kMaxRangeGroups], hi[kMaxRangeGroups], absmax[kMaxRangeGroups];
  bool seen[kMaxRangeGroups];
  std::fill_n(lo, R, 0.0f), std::fill_n(hi, R, 0.0f), std::fill_n(absmax, R, 0.0f), std::fill_n(seen, R, false);
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float v = x[i];
    if (!std::isfinite(v))
      throw Error(ExitCode::numeric,
                  fmt::format("population '{}': neuron {} received a non-finite input ({})", owner, i, v));
    const std::size_t r = range_.per_group ? group_of_[i] : 0;
    if (!seen[r] || v < lo[r]) lo[r] = v;
    if (!seen[r] || v > hi[r]) hi[r] = v;
    seen[r] = true;
    absmax[r] = std::max(absmax[r], std::fabs(v));
  }
  scale.theta.resize(G);
  scale.zero.resize(G);
  const float c = range_.clip;
  for (std::size_t g = 0; g < G; ++g) {
    const std::size_t r = range_.per_group ? g : 0;
    const float L = static_cast<float>(group_levels_[g]);
    // Unclipped (c = 1) this is the contract's arithmetic to the bit.
    const float low = c == 1.0f ? lo[r] : c * lo[r];
    const float range = signed_ ? (c == 1.0f ? absmax[r] : c * absmax[r]) : (c == 1.0f ? hi[r] - lo[r] : c * (hi[r] - lo[r]));
    const float theta = std::max(range / L, kMinThreshold);
    scale.theta[g] = theta;
    scale.zero[g] = signed_ ? 0 : static_cast<std::int64_t>(std::nearbyint(-low / theta));
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
