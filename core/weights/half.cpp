#include "core/weights/half.hpp"

#include <cmath>

namespace spikesim {

float f16_to_f32(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16;
  const std::uint32_t exp = (h >> 10) & 0x1fU;
  const std::uint32_t mant = h & 0x3ffU;
  if (exp == 0) {
    // ±0 and subnormals: mant * 2^-24, exact in float.
    const float mag = std::ldexp(static_cast<float>(mant), -24);
    return sign != 0 ? -mag : mag;
  }
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000U | (mant << 13));  // inf, NaN (payload kept)
  return std::bit_cast<float>(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

std::uint16_t f32_to_f16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000U);
  const std::uint32_t abs = x & 0x7fffffffU;
  if (abs >= 0x7f800000U) {  // inf or NaN (kept quiet and non-zero)
    const std::uint32_t nan_bits = abs > 0x7f800000U ? (0x200U | ((abs >> 13) & 0x3ffU)) : 0U;
    return static_cast<std::uint16_t>(sign | 0x7c00U | nan_bits);
  }
  if (abs >= 0x477ff000U) return static_cast<std::uint16_t>(sign | 0x7c00U);  // >= 65520 rounds to inf
  if (abs < 0x38800000U) {
    // Below the smallest normal half (2^-14): a subnormal count of 2^-24,
    // rounded to nearest even (the scaling by 2^24 is exact).
    const float scaled = std::bit_cast<float>(abs) * 16777216.0f;
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(std::nearbyint(scaled)));
  }
  std::uint32_t h = (((abs >> 23) - 127 + 15) << 10) | ((abs >> 13) & 0x3ffU);
  const std::uint32_t rest = abs & 0x1fffU;
  if (rest > 0x1000U || (rest == 0x1000U && (h & 1U) != 0)) ++h;  // carries into the exponent correctly
  return static_cast<std::uint16_t>(sign | h);
}

std::uint16_t f32_to_bf16(float f) {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffU) > 0x7f800000U) return static_cast<std::uint16_t>((x >> 16) | 0x40U);  // quiet NaN
  return static_cast<std::uint16_t>((x + 0x7fffU + ((x >> 16) & 1U)) >> 16);
}

}  // namespace spikesim
