#include "core/weights/weight_tensor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/weights/half.hpp"

namespace spikesim {
namespace {

std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

// Bytes of a line of `n` elements as laid out in memory (int4: whole blocks).
std::size_t padded_line_bytes(std::size_t n, WeightType t) {
  if (t == WeightType::int4) return round_up(round_up(n, kInt4Block) / 2, kLineAlignment);
  return round_up(n * storage_bits(t) / 8, kLineAlignment);
}

std::shared_ptr<std::byte> aligned_zeroed(std::size_t bytes) {
  auto* p = static_cast<std::byte*>(::operator new(std::max<std::size_t>(bytes, 1), std::align_val_t{kLineAlignment}));
  // Zeroed in parallel: the first touch of each page happens on the core
  // that fills it, and a 13 GiB model is zeroed in a fraction of a second.
  parallel_blocks(tbb::blocked_range<std::size_t>(0, bytes, std::size_t{1} << 22),
                  [&](const tbb::blocked_range<std::size_t>& r) { std::memset(p + r.begin(), 0, r.size()); });
  return {p, [](std::byte* q) { ::operator delete(q, std::align_val_t{kLineAlignment}); }};
}

void check_shape(std::size_t rows, std::size_t cols, std::size_t values) {
  if (rows == 0 || cols == 0 || values != rows * cols)
    throw Error(ExitCode::internal, fmt::format("weight tensor: {} values for a {} x {} matrix", values, rows, cols));
}

// The container code of a b-bit code q (see the header).
std::int32_t centred(std::int32_t q, int bits, WeightType container) {
  return q - (1 << (bits - 1)) + (container == WeightType::int4 ? 8 : 0);
}

float decode_float(const std::byte* line, std::size_t j, WeightType t) {
  switch (t) {
    case WeightType::f32: {
      float v;
      std::memcpy(&v, line + 4 * j, 4);
      return v;
    }
    case WeightType::bf16:
    case WeightType::f16: {
      std::uint16_t h;
      std::memcpy(&h, line + 2 * j, 2);
      return t == WeightType::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
    default:
      return 0.0f;
  }
}

}  // namespace

std::string_view weight_type_name(WeightType t) {
  switch (t) {
    case WeightType::f32:
      return "f32";
    case WeightType::bf16:
      return "bf16";
    case WeightType::f16:
      return "f16";
    case WeightType::int8:
      return "int8";
    case WeightType::int4:
      return "int4";
    case WeightType::ternary:
      return "ternary";
  }
  return "?";
}

WeightType parse_weight_type(std::string_view name, std::string_view what) {
  for (WeightType t : {WeightType::f32, WeightType::bf16, WeightType::f16, WeightType::int8, WeightType::int4})
    if (weight_type_name(t) == name) return t;
  throw Error(ExitCode::config,
              fmt::format("{}: unknown weight type '{}' (expected f32, bf16, f16, int8 or int4)", what, name));
}

WeightTensor WeightTensor::allocate(std::size_t rows, std::size_t cols, WeightType type, WeightOrder order) {
  WeightTensor t;
  t.rows_ = rows;
  t.cols_ = cols;
  t.type_ = type;
  t.order_ = order;
  t.bits_ = static_cast<int>(storage_bits(type));
  t.stride_ = padded_line_bytes(t.line_length(), type);
  auto storage = aligned_zeroed(t.stride_ * t.lines());
  t.data_ = storage.get();
  t.owner_ = std::move(storage);
  return t;
}

WeightTensor WeightTensor::from_f32(std::size_t rows, std::size_t cols, std::span<const float> values, WeightType type,
                                    WeightOrder order) {
  check_shape(rows, cols, values.size());
  if (is_integer(type))
    throw Error(ExitCode::internal, fmt::format("weight tensor: from_f32 needs a float type, got {}", weight_type_name(type)));
  WeightTensor t = allocate(rows, cols, type, order);
  // Tiles of 64 x 64 keep both the read and the write side in cache when
  // the order transposes.
  constexpr std::size_t kTile = 64;
  const std::size_t n_lines = t.lines(), len = t.line_length();
  parallel_blocks(
      tbb::blocked_range<std::size_t>(0, n_lines, kTile), [&](const tbb::blocked_range<std::size_t>& r) {
        for (std::size_t j0 = 0; j0 < len; j0 += kTile)
          for (std::size_t i = r.begin(); i < r.end(); ++i) {
            std::byte* line = t.mutable_line(i);
            for (std::size_t j = j0; j < std::min(len, j0 + kTile); ++j) {
              const float v = order == WeightOrder::by_input ? values[j * cols + i] : values[i * cols + j];
              if (type == WeightType::f32) {
                std::memcpy(line + 4 * j, &v, 4);
              } else {
                const std::uint16_t h = type == WeightType::bf16 ? f32_to_bf16(v) : f32_to_f16(v);
                std::memcpy(line + 2 * j, &h, 2);
              }
            }
          }
      });
  return t;
}

WeightTensor WeightTensor::view_by_output(std::size_t rows, std::size_t cols, WeightType type, const std::byte* data,
                                          std::shared_ptr<const void> owner) {
  if (is_integer(type) || rows == 0 || cols == 0)
    throw Error(ExitCode::internal, "weight tensor: a mapped view needs a float type and a non-empty shape");
  WeightTensor t;
  t.rows_ = rows;
  t.cols_ = cols;
  t.type_ = type;
  t.order_ = WeightOrder::by_output;
  t.bits_ = static_cast<int>(storage_bits(type));
  t.stride_ = cols * storage_bits(type) / 8;
  t.data_ = data;
  t.owner_ = std::move(owner);
  t.mapped_ = true;
  return t;
}

WeightTensor WeightTensor::from_integer(const IntegerWeights& w, WeightOrder order) {
  const auto rows = static_cast<std::size_t>(w.rows), cols = static_cast<std::size_t>(w.cols);
  check_shape(rows, cols, w.codes.size());
  if (w.bits < 2 || w.bits > 8)
    throw Error(ExitCode::internal, fmt::format("weight tensor: {} code bits (expected 2..8)", w.bits));
  if (w.group <= 0)
    throw Error(ExitCode::internal, fmt::format("weight tensor: group {} for {} inputs", w.group, cols));
  const std::size_t groups = (cols + static_cast<std::size_t>(w.group) - 1) / static_cast<std::size_t>(w.group);
  if (w.scales.size() != rows * groups || w.zeros.size() != rows * groups)
    throw Error(ExitCode::internal, "weight tensor: scales or zeros of the wrong size");
  const WeightType type = w.bits <= 4 ? WeightType::int4 : WeightType::int8;
  const std::int32_t sym_zero = 1 << (w.bits - 1);
  const bool symmetric = std::all_of(w.zeros.begin(), w.zeros.end(), [&](std::int16_t z) { return z == sym_zero; });
  std::vector<std::int8_t> codes(w.codes.size());
  for (std::size_t k = 0; k < codes.size(); ++k)
    codes[k] = static_cast<std::int8_t>(centred(w.codes[k], w.bits, type));
  std::vector<std::int8_t> zeros;
  if (!symmetric) {
    zeros.resize(w.zeros.size());
    for (std::size_t k = 0; k < zeros.size(); ++k) zeros[k] = static_cast<std::int8_t>(centred(w.zeros[k], w.bits, type));
  }
  return from_codes(rows, cols, type, w.bits, w.group, codes, w.scales, zeros, order);
}

WeightTensor WeightTensor::from_codes(std::size_t rows, std::size_t cols, WeightType type, int bits, int group,
                                      std::span<const std::int8_t> codes, std::span<const float> scales,
                                      std::span<const std::int8_t> zeros, WeightOrder order) {
  check_shape(rows, cols, codes.size());
  if (!is_integer(type) || group <= 0)
    throw Error(ExitCode::internal, fmt::format("weight tensor: {} codes in groups of {} for {} inputs",
                                                weight_type_name(type), group, cols));
  const std::size_t groups = (cols + static_cast<std::size_t>(group) - 1) / static_cast<std::size_t>(group);
  if (scales.size() != rows * groups || (!zeros.empty() && zeros.size() != rows * groups))
    throw Error(ExitCode::internal, "weight tensor: scales or zeros of the wrong size");
  WeightTensor t = allocate(rows, cols, type, order);
  t.bits_ = bits;
  t.group_ = static_cast<std::size_t>(group);
  t.symmetric_ = zeros.empty();
  auto q = std::make_shared<Quantization>();
  q->scales.resize(rows * groups);
  if (!zeros.empty()) q->zeros.resize(rows * groups);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t g = 0; g < groups; ++g) {
      q->scales[t.index(r, g)] = scales[r * groups + g];
      if (!zeros.empty()) q->zeros[t.index(r, g)] = zeros[r * groups + g];
    }
  t.quant_ = std::move(q);
  // Tasks own whole blocks of 64 rows: in a by_input int4 line, rows r and
  // r + 32 of a block share a byte.
  const std::size_t blocks = (rows + kInt4Block - 1) / kInt4Block;
  parallel_blocks(tbb::blocked_range<std::size_t>(0, blocks), [&](const tbb::blocked_range<std::size_t>& b) {
    for (std::size_t i = b.begin() * kInt4Block; i < std::min(rows, b.end() * kInt4Block); ++i)
      for (std::size_t c = 0; c < cols; ++c) t.set_code(i, c, codes[i * cols + c]);
  });
  return t;
}

// Not thread-safe for two elements of one int4 byte (see from_codes).
void WeightTensor::set_code(std::size_t r, std::size_t c, std::int32_t code) {
  const bool by_input = order_ == WeightOrder::by_input;
  std::byte* line = mutable_line(by_input ? c : r);
  const std::size_t j = by_input ? r : c;
  if (type_ == WeightType::int8) {
    line[j] = static_cast<std::byte>(static_cast<std::int8_t>(code));
    return;
  }
  auto* bytes = reinterpret_cast<std::uint8_t*>(line);
  std::uint8_t& b = bytes[(j / kInt4Block) * (kInt4Block / 2) + (j % (kInt4Block / 2))];
  const auto nibble = static_cast<std::uint8_t>(code & 0x0f);
  if ((j % kInt4Block) < kInt4Block / 2)
    b = static_cast<std::uint8_t>((b & 0xf0) | nibble);
  else
    b = static_cast<std::uint8_t>((b & 0x0f) | (nibble << 4));
}

std::int32_t WeightTensor::code(std::size_t r, std::size_t c) const {
  const bool by_input = order_ == WeightOrder::by_input;
  const std::byte* line = this->line(by_input ? c : r);
  const std::size_t j = by_input ? r : c;
  if (type_ == WeightType::int8) return static_cast<std::int8_t>(line[j]);
  return int4_at(reinterpret_cast<const std::uint8_t*>(line), j);
}

float WeightTensor::value(std::size_t r, std::size_t c) const {
  if (type_ == WeightType::ternary) return ternary_value(r, c);
  if (is_integer(type_)) {
    const std::size_t g = c / group_;
    return scale(r, g) * static_cast<float>(code(r, c) - zero(r, g));
  }
  const bool by_input = order_ == WeightOrder::by_input;
  return decode_float(line(by_input ? c : r), by_input ? r : c, type_);
}

bool WeightTensor::operator==(const WeightTensor& o) const {
  if (rows_ != o.rows_ || cols_ != o.cols_ || type_ != o.type_) return false;
  if (data_ == o.data_ && order_ == o.order_ && quant_ == o.quant_ && ternary_ == o.ternary_) return true;
  return to_f32() == o.to_f32();
}

void WeightTensor::row_to_f32(std::size_t r, std::span<float> out) const {
  if (out.size() != cols_ || r >= rows_)
    throw Error(ExitCode::internal, fmt::format("weight tensor: row {} of {} into {} values", r, rows_, out.size()));
  if (order_ == WeightOrder::by_output && !is_integer(type_)) {
    const std::byte* l = line(r);
    if (type_ == WeightType::f32) {
      std::memcpy(out.data(), l, 4 * cols_);
    } else {
      const auto* h = reinterpret_cast<const std::uint16_t*>(l);
      for (std::size_t c = 0; c < cols_; ++c) out[c] = type_ == WeightType::bf16 ? bf16_to_f32(h[c]) : f16_to_f32(h[c]);
    }
    return;
  }
  for (std::size_t c = 0; c < cols_; ++c) out[c] = value(r, c);
}

MatrixRM WeightTensor::to_f32() const {
  MatrixRM m(static_cast<Eigen::Index>(rows_), static_cast<Eigen::Index>(cols_));
  parallel_blocks(tbb::blocked_range<std::size_t>(0, rows_, 16),
                  [&](const tbb::blocked_range<std::size_t>& r) {
                    for (std::size_t i = r.begin(); i < r.end(); ++i)
                      row_to_f32(i, {m.data() + i * cols_, cols_});
                  });
  return m;
}

WeightTensor WeightTensor::reordered(WeightOrder order) const {
  WeightTensor t = reordered_whole(order);
  t.full_rows_ = full_rows_;
  t.row_begin_ = row_begin_;
  return t;
}

WeightTensor WeightTensor::reordered_whole(WeightOrder order) const {
  if (order == order_) return *this;
  if (type_ == WeightType::ternary)
    throw Error(ExitCode::internal, "weight tensor: ternary weights are held by input only");
  if (!is_integer(type_)) {
    WeightTensor t = allocate(rows_, cols_, type_, order);
    const std::size_t bytes = storage_bits(type_) / 8;
    parallel_blocks(tbb::blocked_range<std::size_t>(0, t.lines(), 64),
                    [&](const tbb::blocked_range<std::size_t>& r) {
                      for (std::size_t i = r.begin(); i < r.end(); ++i)
                        for (std::size_t j = 0; j < t.line_length(); ++j)
                          std::memcpy(t.mutable_line(i) + bytes * j, line(j) + bytes * i, bytes);
                    });
    return t;
  }
  return integer_rows({0, rows_}, order);
}

WeightTensor WeightTensor::integer_rows(RowSlice rows, WeightOrder order) const {
  const std::size_t n = rows.size();
  std::vector<std::int8_t> codes(n * cols_);
  std::vector<float> scales(n * groups());
  std::vector<std::int8_t> zeros(symmetric_ ? 0 : n * groups());
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t c = 0; c < cols_; ++c) codes[r * cols_ + c] = static_cast<std::int8_t>(code(rows.begin + r, c));
    for (std::size_t g = 0; g < groups(); ++g) {
      scales[r * groups() + g] = scale(rows.begin + r, g);
      if (!symmetric_) zeros[r * groups() + g] = static_cast<std::int8_t>(zero(rows.begin + r, g));
    }
  }
  return from_codes(n, cols_, type_, bits_, static_cast<int>(group_), codes, scales, zeros, order);
}

WeightTensor WeightTensor::output_rows(RowSlice rows, const std::string& name) const {
  if (rows.begin > rows.end || rows.end > rows_)
    throw Error(ExitCode::internal, fmt::format("weight '{}': rows [{}, {}) of {}", name, rows.begin, rows.end, rows_));
  if (type_ == WeightType::ternary)
    throw Error(ExitCode::config, fmt::format("weight '{}': ternary weights are not split across ranks (yet); run "
                                              "weights.method = \"ternary\" or \"pbllm\" on one rank",
                                              name));
  const std::size_t n = rows.size();
  WeightTensor t;
  if (!is_integer(type_)) {
    t = allocate(n, cols_, type_, order_);
    const std::size_t bytes = storage_bits(type_) / 8;
    if (order_ == WeightOrder::by_output) {
      for (std::size_t r = 0; r < n; ++r) std::memcpy(t.mutable_line(r), line(rows.begin + r), bytes * cols_);
    } else {
      for (std::size_t c = 0; c < cols_; ++c) std::memcpy(t.mutable_line(c), line(c) + bytes * rows.begin, bytes * n);
    }
  } else {
    t = integer_rows(rows, order_);
  }
  t.full_rows_ = full_rows();
  t.row_begin_ = row_begin_ + rows.begin;
  return t;
}

std::uint64_t WeightTensor::full_line_bytes() const {
  if (!is_slice()) return line_bytes();
  const std::size_t length = order_ == WeightOrder::by_input ? full_rows() : cols_;
  return (static_cast<std::uint64_t>(length) * storage_bits(type_) + 7) / 8;
}

std::uint64_t WeightTensor::full_stored_bytes() const {
  if (!is_slice()) return stored_bytes();
  const auto rows = static_cast<std::uint64_t>(full_rows());
  std::uint64_t bytes = (rows * cols_ * storage_bits(type_) + 7) / 8;
  if (quant_) bytes += rows * groups() * (sizeof(float) + (symmetric_ ? 0 : sizeof(std::int8_t)));
  return bytes;
}

std::uint64_t WeightTensor::count_zeros() const {
  const bool by_input = order_ == WeightOrder::by_input;
  return parallel_reduce_blocks(
      tbb::blocked_range<std::size_t>(0, lines(), 16), std::uint64_t{0},
      [&](const tbb::blocked_range<std::size_t>& r, std::uint64_t zeros) {
        for (std::size_t i = r.begin(); i < r.end(); ++i) {
          const std::size_t n = line_length();
          switch (type_) {
            case WeightType::f32: {
              const float* l = line_as<float>(i);
              for (std::size_t j = 0; j < n; ++j) zeros += l[j] == 0.0f;
              break;
            }
            case WeightType::bf16:
            case WeightType::f16: {
              const auto* l = line_as<std::uint16_t>(i);
              for (std::size_t j = 0; j < n; ++j) zeros += (l[j] & 0x7fffU) == 0;
              break;
            }
            case WeightType::ternary:
              for (std::size_t j = 0; j < n; ++j) zeros += ternary_value(j, i) == 0.0f;
              break;
            default:  // integer: a zero weight is a code equal to its zero point, or a zero scale
              for (std::size_t j = 0; j < n; ++j) {
                const std::size_t row = by_input ? j : i, col = by_input ? i : j;
                const std::size_t g = col / group_;
                zeros += code(row, col) == zero(row, g) || scale(row, g) == 0.0f;
              }
          }
        }
        return zeros;
      },
      [](std::uint64_t a, std::uint64_t b) { return a + b; });
}

std::uint64_t WeightTensor::line_bytes() const {
  if (type_ == WeightType::ternary) {  // the mean over inputs: T_c planes each
    std::uint64_t bits = 0;
    for (std::size_t c = 0; c < cols_; ++c) bits += 2 * static_cast<std::uint64_t>(steps(c)) * rows_;
    return (bits / cols_ + 7) / 8;
  }
  return (static_cast<std::uint64_t>(line_length()) * storage_bits(type_) + 7) / 8;
}

std::uint64_t WeightTensor::stored_bytes() const {
  if (type_ == WeightType::ternary) return ternary_bytes();
  std::uint64_t bytes = (static_cast<std::uint64_t>(size()) * storage_bits(type_) + 7) / 8;
  if (quant_) bytes += quant_->scales.size() * sizeof(float) + quant_->zeros.size() * sizeof(std::int8_t);
  return bytes;
}

double WeightTensor::bits_per_weight() const {
  return empty() ? 0.0 : 8.0 * static_cast<double>(stored_bytes()) / static_cast<double>(size());
}

std::string WeightTensor::format() const {
  if (type_ == WeightType::ternary) return ternary_format();
  if (!is_integer(type_)) return std::string(weight_type_name(type_));
  const std::string container(weight_type_name(type_));
  const std::string codes = bits_ == static_cast<int>(storage_bits(type_)) ? container
                                                                            : fmt::format("int{} in {}", bits_, container);
  const std::string grouping = group_ >= cols_ ? std::string("per-channel") : fmt::format("g{}", group_);
  return fmt::format("{} {} {}", codes, grouping, symmetric_ ? "sym" : "asym");
}

}  // namespace spikesim
