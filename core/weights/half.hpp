#pragma once
// IEEE half (f16) and bfloat16 (bf16), the 16-bit weight formats of
// checkpoints: exact widening to float for every input (subnormals, ±0, ±inf
// and NaN payloads included), and rounding back to nearest-even.
//
// The inline widenings are what the delivery kernels use per weight; the
// out-of-line ones are the reference the tests hold them to.
#include <bit>
#include <cstdint>

namespace spikesim {

float f16_to_f32(std::uint16_t h);
std::uint16_t f32_to_f16(float f);
std::uint16_t f32_to_bf16(float f);

inline float bf16_to_f32(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

// f16 to float without a branch on the hot path: normals and zero by bit
// arithmetic; subnormals, inf and NaN (rare in weights) through f16_to_f32.
inline float f16_to_f32_fast(std::uint16_t h) {
  const std::uint32_t exp = (h >> 10) & 0x1fU;
  if (exp == 0 || exp == 0x1f) [[unlikely]]
    return f16_to_f32(h);
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000U) << 16;
  return std::bit_cast<float>(sign | ((exp + 112U) << 23) | ((h & 0x3ffU) << 13));
}

}  // namespace spikesim
