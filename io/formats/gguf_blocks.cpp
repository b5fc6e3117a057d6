#include "io/formats/gguf_blocks.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "core/error.hpp"
#include "io/formats/safetensors.hpp"

namespace spikesim {

namespace {

std::uint16_t load_u16(const std::byte* p) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(p[0]) | (std::to_integer<unsigned>(p[1]) << 8));
}

void store_u16(std::byte* p, std::uint16_t v) {
  p[0] = static_cast<std::byte>(v & 0xffU);
  p[1] = static_cast<std::byte>(v >> 8);
}

// A mismatch here is a caller's bug, not a bad file: sizes come from a
// validated GgufTensorInfo or from the writer.
void check_sizes(bool ok, const char* function, std::size_t row_bytes, std::size_t elements) {
  if (!ok)
    throw Error(ExitCode::internal,
                fmt::format("{}: {} row bytes do not hold {} elements", function, row_bytes, elements));
}

void check_finite_blocks(std::span<const float> x, std::span<std::byte> out, std::size_t block_bytes,
                         const char* function) {
  check_sizes(x.size() % kGgufQuantBlock == 0 && out.size() == x.size() / kGgufQuantBlock * block_bytes,
              function, out.size(), x.size());
  for (std::size_t i = 0; i < x.size(); ++i)
    if (!std::isfinite(x[i]))
      throw Error(ExitCode::model, fmt::format("{}: element {} is {}; only finite values can be quantized",
                                               function, i, x[i]));
}

}  // namespace

Q8_0Block decode_q8_0_block(const std::byte* block) {
  Q8_0Block out;
  out.scale = f16_to_f32(load_u16(block));
  for (std::size_t j = 0; j < kGgufQuantBlock; ++j)
    out.codes[j] = static_cast<std::int8_t>(std::to_integer<std::uint8_t>(block[2 + j]));
  return out;
}

Q4_0Block decode_q4_0_block(const std::byte* block) {
  Q4_0Block out;
  out.scale = f16_to_f32(load_u16(block));
  for (std::size_t k = 0; k < kGgufQuantBlock / 2; ++k) {
    const auto byte = std::to_integer<std::uint8_t>(block[2 + k]);
    out.codes[k] = byte & 0x0fU;
    out.codes[k + kGgufQuantBlock / 2] = byte >> 4;
  }
  return out;
}

namespace {

// Scales and codes of a row of Q8_0 or Q4_0 blocks, through the block decoder.
template <class Code, class DecodeBlock>
void decode_row(std::span<const std::byte> row, std::span<float> scales, std::span<Code> codes,
                std::size_t block_bytes, DecodeBlock decode_block, const char* function) {
  const std::size_t blocks = scales.size();
  check_sizes(codes.size() == blocks * kGgufQuantBlock && row.size() == blocks * block_bytes, function,
              row.size(), codes.size());
  for (std::size_t b = 0; b < blocks; ++b) {
    const auto block = decode_block(row.data() + b * block_bytes);
    scales[b] = block.scale;
    std::copy(block.codes.begin(), block.codes.end(),
              codes.begin() + static_cast<std::ptrdiff_t>(b * kGgufQuantBlock));
  }
}

}  // namespace

void decode_q8_0_row(std::span<const std::byte> row, std::span<float> scales, std::span<std::int8_t> codes) {
  decode_row(row, scales, codes, kQ8_0BlockBytes, decode_q8_0_block, "decode_q8_0_row");
}

void decode_q4_0_row(std::span<const std::byte> row, std::span<float> scales, std::span<std::uint8_t> codes) {
  decode_row(row, scales, codes, kQ4_0BlockBytes, decode_q4_0_block, "decode_q4_0_row");
}

void dequantize_row(GgufTensorType type, std::span<const std::byte> row, std::span<float> out) {
  const std::size_t n = out.size();
  const std::byte* p = row.data();
  switch (type) {
    case GgufTensorType::f32:
      check_sizes(row.size() == n * 4, "dequantize_row(F32)", row.size(), n);
      for (std::size_t i = 0; i < n; ++i) {
        std::uint32_t bits = 0;
        for (int k = 0; k < 4; ++k) bits |= std::to_integer<std::uint32_t>(p[4 * i + k]) << (8 * k);
        out[i] = std::bit_cast<float>(bits);
      }
      return;
    case GgufTensorType::f16:
      check_sizes(row.size() == n * 2, "dequantize_row(F16)", row.size(), n);
      for (std::size_t i = 0; i < n; ++i) out[i] = f16_to_f32(load_u16(p + 2 * i));
      return;
    case GgufTensorType::bf16:
      check_sizes(row.size() == n * 2, "dequantize_row(BF16)", row.size(), n);
      for (std::size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(load_u16(p + 2 * i));
      return;
    case GgufTensorType::q8_0:
      check_sizes(n % kGgufQuantBlock == 0 && row.size() == n / kGgufQuantBlock * kQ8_0BlockBytes,
                  "dequantize_row(Q8_0)", row.size(), n);
      for (std::size_t b = 0; b < n / kGgufQuantBlock; ++b) {
        const auto block = decode_q8_0_block(p + b * kQ8_0BlockBytes);
        for (std::size_t j = 0; j < kGgufQuantBlock; ++j)
          out[b * kGgufQuantBlock + j] = block.scale * static_cast<float>(block.codes[j]);
      }
      return;
    case GgufTensorType::q4_0:
      check_sizes(n % kGgufQuantBlock == 0 && row.size() == n / kGgufQuantBlock * kQ4_0BlockBytes,
                  "dequantize_row(Q4_0)", row.size(), n);
      for (std::size_t b = 0; b < n / kGgufQuantBlock; ++b) {
        const auto block = decode_q4_0_block(p + b * kQ4_0BlockBytes);
        for (std::size_t j = 0; j < kGgufQuantBlock; ++j)
          out[b * kGgufQuantBlock + j] = block.scale * static_cast<float>(block.codes[j] - kQ4_0ZeroPoint);
      }
      return;
  }
  throw Error(ExitCode::internal, fmt::format("dequantize_row: type {} is not one GgufFile accepts",
                                              gguf_tensor_type_name(type)));
}

void quantize_row_q8_0(std::span<const float> x, std::span<std::byte> out) {
  check_finite_blocks(x, out, kQ8_0BlockBytes, "quantize_row_q8_0");
  for (std::size_t b = 0; b < x.size() / kGgufQuantBlock; ++b) {
    const float* v = x.data() + b * kGgufQuantBlock;
    std::byte* block = out.data() + b * kQ8_0BlockBytes;
    float amax = 0.0f;
    for (std::size_t j = 0; j < kGgufQuantBlock; ++j) amax = std::max(amax, std::fabs(v[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(block, f32_to_f16(d));
    for (std::size_t j = 0; j < kGgufQuantBlock; ++j)
      block[2 + j] = static_cast<std::byte>(static_cast<std::int8_t>(std::roundf(v[j] * id)));
  }
}

void quantize_row_q4_0(std::span<const float> x, std::span<std::byte> out) {
  check_finite_blocks(x, out, kQ4_0BlockBytes, "quantize_row_q4_0");
  constexpr std::size_t half = kGgufQuantBlock / 2;
  for (std::size_t b = 0; b < x.size() / kGgufQuantBlock; ++b) {
    const float* v = x.data() + b * kGgufQuantBlock;
    std::byte* block = out.data() + b * kQ4_0BlockBytes;
    // The signed element of largest magnitude (the first one on ties), so
    // that it maps to code 0 exactly: d is negative when it is positive.
    float amax = 0.0f;
    float max = 0.0f;
    for (std::size_t j = 0; j < kGgufQuantBlock; ++j)
      if (amax < std::fabs(v[j])) {
        amax = std::fabs(v[j]);
        max = v[j];
      }
    const float d = max / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    store_u16(block, f32_to_f16(d));
    for (std::size_t j = 0; j < half; ++j) {
      // ggml truncates through int8_t after adding 8.5 (round half up on the
      // shifted code), then clamps to 15.
      const auto lo = static_cast<std::uint8_t>(
          std::min(15, static_cast<int>(static_cast<std::int8_t>(v[j] * id + 8.5f))));
      const auto hi = static_cast<std::uint8_t>(
          std::min(15, static_cast<int>(static_cast<std::int8_t>(v[j + half] * id + 8.5f))));
      block[2 + j] = static_cast<std::byte>(lo | (hi << 4));
    }
  }
}

}  // namespace spikesim
