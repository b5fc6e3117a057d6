#pragma once
// The row layouts of the GGUF tensor types spikesim accepts (gguf.hpp), and
// llama.cpp's reference quantization into them.
//
// A row is ne[0] elements. F32/F16/BF16 rows are plain little-endian arrays.
// A Q8_0 or Q4_0 row is ne[0] / 32 blocks of 32 elements:
//   Q8_0, 34 bytes:  uint16 d (IEEE half), int8 q[32];      w[j] = d * q[j]
//   Q4_0, 18 bytes:  uint16 d (IEEE half), uint8 qs[16];    w[j] = d * (q[j] - 8)
//                    with q[k] = qs[k] & 0x0F and q[k + 16] = qs[k] >> 4
// (ggml's block_q8_0 / block_q4_0). The scale widens to float exactly; the
// codes are integers, so a block maps onto an int8 / int4 weight group of 32
// with one float scale (Q4_0 with the fixed zero point 8) without rounding.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "io/formats/gguf.hpp"

namespace spikesim {

inline constexpr std::size_t kGgufQuantBlock = 32;  // elements per Q8_0 / Q4_0 block
inline constexpr std::size_t kQ8_0BlockBytes = 2 + 32;
inline constexpr std::size_t kQ4_0BlockBytes = 2 + 16;
inline constexpr int kQ4_0ZeroPoint = 8;

struct Q8_0Block {
  float scale = 0;                      // d, exactly widened from f16
  std::array<std::int8_t, 32> codes{};  // q
};
struct Q4_0Block {
  float scale = 0;                       // d, exactly widened from f16
  std::array<std::uint8_t, 32> codes{};  // q in 0..15; the weight is scale * (q - 8)
};

// One block from its bytes (kQ8_0BlockBytes / kQ4_0BlockBytes of them).
Q8_0Block decode_q8_0_block(const std::byte* block);
Q4_0Block decode_q4_0_block(const std::byte* block);

// A whole row: one scale per block into `scales` (ne0 / 32 of them) and one
// code per element into `codes` (ne0). The sizes must agree with `row`.
void decode_q8_0_row(std::span<const std::byte> row, std::span<float> scales, std::span<std::int8_t> codes);
void decode_q4_0_row(std::span<const std::byte> row, std::span<float> scales, std::span<std::uint8_t> codes);

// One row of any accepted type to float: out.size() elements from `row`
// (which holds exactly their bytes). Plain loops, for tests and loading.
void dequantize_row(GgufTensorType type, std::span<const std::byte> row, std::span<float> out);

// llama.cpp's quantize_row_q8_0_ref / quantize_row_q4_0_ref (ggml-quants.c),
// operation for operation, so the codes and scales are bit-identical:
//   Q8_0: d = amax / 127, q = roundf(x / d)                (round half away from 0)
//   Q4_0: d = max / -8 (max: the element of largest |x|),  q = min(15, (int8)(x / d + 8.5))
// `x.size()` must be a multiple of 32; `out` holds its blocks. Every x must
// be finite (the float-to-int conversions are undefined otherwise): Error(model).
void quantize_row_q8_0(std::span<const float> x, std::span<std::byte> out);
void quantize_row_q4_0(std::span<const float> x, std::span<std::byte> out);

}  // namespace spikesim
