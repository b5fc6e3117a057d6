#pragma once
// The GIF quantization grid (DESIGN.md §1), shared by the GIF population and
// the dense quantized reference so that both quantize with the same code.
//
// Neuron i has A_i = 2^bits_i - 1 levels per step and T_i steps, so its
// membrane lives on the grid {0 .. L_i} with L_i = A_i·T_i (unsigned) or
// {-L_i .. L_i} (signed). Per token, with x_min/x_max over all channels:
//
//   unsigned: θ_i = max((x_max - x_min) / L_i, 1e-5),  z_i = round(-x_min / θ_i)
//             q_i = clamp(round(x_i / θ_i) + z_i, 0, L_i)
//   signed:   θ_i = max(max|x| / L_i, 1e-5),            z_i = 0
//             q_i = clamp(round(x_i / θ_i), -L_i, L_i)
//   decoded:  x̂_i = θ_i · (q_i - z_i)
//
// θ_i depends on i only through L_i, so neurons with the same L form a group
// that shares θ and z; integrators keep one accumulator row per group.
//
// Two departures from the contract, off by default (GridRange):
//   per-group ranges  x_min/x_max (max|x|) run over the group's own channels,
//                     so the salient outliers no longer set the others' θ;
//   clip c in (0, 1]  the range is c·(x_max − x_min) from c·x_min (signed:
//                     c·max|x|); the clamp to the grid clips the values
//                     outside. Both paths (quantized and spiking) quantize
//                     here, so spiking still equals quantized exactly.
// Rounding is to nearest, ties to even, as torch.round (SpikeLLM/OmniQuant).
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "neurons/token_scale.hpp"

namespace spikesim {

inline constexpr float kMinThreshold = 1e-5f;

// Per-group ranges are kept on the stack of quantize(): a saliency grid has two groups.
inline constexpr std::size_t kMaxRangeGroups = 16;

struct GridRange {
  bool per_group = false;
  float clip = 1.0f;
  bool operator==(const GridRange&) const = default;
};

class GifGrid {
 public:
  GifGrid() = default;
  // Per-neuron amplitude bits (1..16) and steps (1..2^15).
  GifGrid(std::vector<std::uint8_t> bits, std::vector<std::uint16_t> steps, bool is_signed);
  // All neurons alike.
  static GifGrid uniform(std::size_t n, unsigned bits, unsigned steps, bool is_signed);

  [[nodiscard]] std::size_t size() const { return bits_.size(); }
  [[nodiscard]] bool is_signed() const { return signed_; }
  [[nodiscard]] std::int32_t amplitude(std::size_t i) const { return (1 << bits_[i]) - 1; }
  [[nodiscard]] unsigned steps(std::size_t i) const { return steps_[i]; }
  [[nodiscard]] unsigned max_steps() const { return max_steps_; }
  [[nodiscard]] std::int32_t levels(std::size_t i) const { return amplitude(i) * static_cast<std::int32_t>(steps_[i]); }
  [[nodiscard]] std::size_t groups() const { return group_levels_.size(); }
  [[nodiscard]] std::uint32_t group_of(std::size_t i) const { return group_of_[i]; }
  [[nodiscard]] std::span<const std::uint32_t> group_map() const { return group_of_; }
  [[nodiscard]] std::int32_t group_levels(std::size_t g) const { return group_levels_[g]; }
  // Bits a neuron carries per token: log2(L_i + 1) unsigned, log2(2 L_i + 1) signed.
  [[nodiscard]] double bits_per_token(std::size_t i) const;
  // Error(config) for a clip outside (0, 1].
  void set_range(const GridRange& range);
  [[nodiscard]] const GridRange& range() const { return range_; }

  // Quantizes one token. `owner` names the population in errors: a NaN or
  // Inf input is an Error(numeric) naming it and the neuron.
  void quantize(std::span<const float> x, std::string_view owner, TokenScale& scale,
                std::span<std::int32_t> q) const;
  // x̂_i = θ_g(i) · (q_i - z_g(i)).
  void decode(const TokenScale& scale, std::span<const std::int32_t> q, std::span<float> x_hat) const;

 private:
  std::vector<std::uint8_t> bits_;
  std::vector<std::uint16_t> steps_;
  bool signed_ = false;
  unsigned max_steps_ = 0;
  std::vector<std::uint32_t> group_of_;
  std::vector<std::int32_t> group_levels_;
  GridRange range_;
};

}  // namespace spikesim
