#pragma once
// The typed weight tensor (DESIGN.md §7): one [rows x cols] matrix in
// PyTorch's nn.Linear sense (rows = outputs, cols = inputs), held once, in
// the element type it was loaded or quantized to.
//
// Element types
//   f32, bf16, f16   floats, used as they are (widened exactly to double
//                    where they are accumulated)
//   int8, int4       integer codes c with per-group scales s and zero points
//                    z:  w[r, c] = s[r, g] · (code[r, c] − z[r, g]),
//                    g = c / group (groups run along the inputs; group =
//                    cols is one group per output channel; a group that
//                    does not divide cols leaves a shorter last group).
//                    int8 codes are signed (−128..127), int4 codes unsigned
//                    (0..15), so GGUF's Q8_0 (w = d·q) is z = 0 and Q4_0
//                    (w = d·(q − 8)) is z = 8. A b-bit code q ∈ [0, 2^b − 1]
//                    is stored centred on the container's own zero:
//                    q − 2^(b−1) (int8) or q − 2^(b−1) + 8 (int4), so a
//                    symmetric quantizer's zero is the container's zero and
//                    needs no storage.
//                    `bits` is the code's own width (2..8), the container
//                    its storage (int4 for bits <= 4, else int8).
//
// Storage order: a tensor is stored as *lines*, each padded to 64 bytes.
//   by_input   line i = input i's outgoing weights w[:, i] (rows elements).
//              An event on input i streams exactly its own line; a dense
//              matvec streams every line (y += x_i · line_i), equally fast.
//              The order of every linear layer (docs/concepts/weights.md).
//   by_output  line r = output r's weights w[r, :] (PyTorch and GGUF order),
//              for tables read by row: the embedding (a lookup reads one
//              row) and the dense lm_head (one dot product per vocabulary
//              entry). Files store these as they are used, so they can be
//              mapped from the file instead of copied.
// int4 lines pack 64 elements in 32 bytes: byte k of a block holds element
// k in its low nibble and element k + 32 in its high one, so both halves
// unpack to contiguous runs without a shuffle.
//
// ternary            weight spike trains (DESIGN.md §1 "Weight spiking",
//                    docs/concepts/weight-spiking.md): input c carries T_c
//                    ternary steps, w[r, c] = Σ_{k<T_c} α[k, r, g] · B_k[r, c]
//                    with B_k ∈ {−1, 0, +1} and α per output channel or per
//                    group of inputs; optionally (PB-LLM) a sparse set of
//                    salient weights kept as int8 codes with a per-channel
//                    scale, w[r, c] = σ[r] · q[r, c], where every B is 0.
//                    Stored by_input only: line c holds T_max steps, each
//                    two bit masks of `rows` bits (B = +1, B = −1) in 64-bit
//                    words; steps k >= T_c are zero. The salient weights are
//                    a per-input list of (output, code). A step plane costs
//                    two bits per weight (storage_bits): the figure that
//                    stored_bytes and bits_per_weight count, per real step.
//
// A tensor is a value: copies share the same immutable storage (a vector,
// or a mapped file kept open by `owner`).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/matrix.hpp"
#include "core/partition.hpp"

namespace spikesim {

enum class WeightType : std::uint8_t { f32, bf16, f16, int8, int4, ternary };
enum class WeightOrder : std::uint8_t { by_input, by_output };

std::string_view weight_type_name(WeightType t);
// f32, bf16, f16, int8 or int4; Error(config) naming `what` otherwise.
WeightType parse_weight_type(std::string_view name, std::string_view what);
[[nodiscard]] constexpr bool is_integer(WeightType t) { return t == WeightType::int8 || t == WeightType::int4; }
// Bits one element occupies in storage.
[[nodiscard]] constexpr unsigned storage_bits(WeightType t) {
  switch (t) {
    case WeightType::f32:
      return 32;
    case WeightType::bf16:
    case WeightType::f16:
      return 16;
    case WeightType::int8:
      return 8;
    case WeightType::int4:
      return 4;
    case WeightType::ternary:
      return 2;  // per weight and step: two masks
  }
  return 32;
}

inline constexpr std::size_t kLineAlignment = 64;  // bytes
inline constexpr std::size_t kInt4Block = 64;      // elements per packed int4 block

// Integer content in PyTorch order, as a quantizer produces it: codes
// q ∈ [0, 2^bits − 1] with w = scale · (q − zero).
struct IntegerWeights {
  int rows = 0, cols = 0, bits = 0;
  int group = 0;                       // inputs per group (cols: per output channel)
  std::span<const std::uint8_t> codes;  // [rows x cols]
  std::span<const float> scales;        // [rows x groups]
  std::span<const std::int16_t> zeros;  // [rows x groups], in [0, 2^bits − 1]
};

// Ternary content in PyTorch order, as the ternary quantizers produce it
// (core/weights/ternary_quantizer.hpp).
struct TernaryWeights {
  int rows = 0, cols = 0;
  int group = 0;      // inputs per α group (cols: per output channel)
  int max_steps = 0;  // T_max: planes held
  std::span<const std::uint8_t> steps;   // [cols] T_c in 0..max_steps
  std::span<const std::int8_t> planes;   // [max_steps x rows x cols], B in {−1, 0, 1}; 0 for k >= T_c
  std::span<const float> alphas;         // [max_steps x rows x groups]
  std::span<const std::int8_t> salient;  // [rows x cols] int8 codes, 0 = not salient; empty: none
  std::span<const float> salient_scales; // [rows]; empty when `salient` is
};

// The salient (int8) weights of one input of a ternary tensor.
struct SalientLine {
  std::span<const std::uint32_t> rows;
  std::span<const std::int8_t> codes;
};

class WeightTensor {
 public:
  WeightTensor() = default;

  // Float weights from fp32 values in PyTorch order [rows x cols], rounded
  // to `type` (f32, bf16 or f16).
  static WeightTensor from_f32(std::size_t rows, std::size_t cols, std::span<const float> values, WeightType type,
                               WeightOrder order);
  static WeightTensor from_f32(const MatrixRM& w, WeightType type, WeightOrder order) {
    return from_f32(static_cast<std::size_t>(w.rows()), static_cast<std::size_t>(w.cols()),
                    {w.data(), static_cast<std::size_t>(w.size())}, type, order);
  }
  // Float weights of `type` whose bytes are already in memory in by_output
  // order with rows of cols elements (little-endian), unpadded: a mapped
  // file. `owner` keeps the bytes alive.
  static WeightTensor view_by_output(std::size_t rows, std::size_t cols, WeightType type, const std::byte* data,
                                     std::shared_ptr<const void> owner);
  // Integer weights (int4 when bits <= 4, else int8).
  static WeightTensor from_integer(const IntegerWeights& w, WeightOrder order);
  // Integer weights with codes already in the container's convention
  // (int8: signed, int4: 0..15) and zeros in code units (empty: the
  // container's own zero, symmetric); for loaders whose
  // format holds exactly that (GGUF Q8_0 / Q4_0). `codes` [rows x cols].
  static WeightTensor from_codes(std::size_t rows, std::size_t cols, WeightType type, int bits, int group,
                                 std::span<const std::int8_t> codes, std::span<const float> scales,
                                 std::span<const std::int8_t> zeros, WeightOrder order);

  // Ternary weight spike trains (see the header comment), stored by_input.
  static WeightTensor from_ternary(const TernaryWeights& w);

  [[nodiscard]] bool empty() const { return rows_ == 0 || cols_ == 0; }
  [[nodiscard]] std::size_t rows() const { return rows_; }  // outputs
  [[nodiscard]] std::size_t cols() const { return cols_; }  // inputs
  [[nodiscard]] std::size_t size() const { return rows_ * cols_; }
  [[nodiscard]] WeightType type() const { return type_; }
  [[nodiscard]] WeightOrder order() const { return order_; }
  [[nodiscard]] int bits() const { return bits_; }  // 32/16 for floats, the code width for integers
  [[nodiscard]] std::size_t group() const { return group_; }  // integer types; 0 for floats
  // ceil(cols / group): a group that does not divide the inputs leaves a shorter last one.
  [[nodiscard]] std::size_t groups() const { return group_ == 0 ? 0 : (cols_ + group_ - 1) / group_; }
  // Inputs [group_begin(g), group_end(g)) form group g.
  [[nodiscard]] std::size_t group_begin(std::size_t g) const { return g * group_; }
  [[nodiscard]] std::size_t group_end(std::size_t g) const { return std::min(cols_, (g + 1) * group_); }
  // Every zero point is the container's own zero (int8: 0, int4: 8).
  [[nodiscard]] bool symmetric() const { return symmetric_; }
  [[nodiscard]] bool mapped() const { return mapped_; }

  // Lines (see the header comment): count, elements per line, bytes between lines.
  [[nodiscard]] std::size_t lines() const { return order_ == WeightOrder::by_input ? cols_ : rows_; }
  [[nodiscard]] std::size_t line_length() const { return order_ == WeightOrder::by_input ? rows_ : cols_; }
  [[nodiscard]] std::size_t line_stride() const { return stride_; }
  [[nodiscard]] const std::byte* line(std::size_t i) const { return data_ + i * stride_; }
  template <class T>
  [[nodiscard]] const T* line_as(std::size_t i) const {
    return reinterpret_cast<const T*>(line(i));
  }

  // Integer types: scale and zero of output r in input group g.
  [[nodiscard]] float scale(std::size_t r, std::size_t g) const { return quant_->scales[index(r, g)]; }
  [[nodiscard]] std::int32_t zero(std::size_t r, std::size_t g) const {
    return symmetric_ ? natural_zero() : quant_->zeros[index(r, g)];
  }
  // The container's own zero: int8 0, int4 8.
  [[nodiscard]] std::int32_t natural_zero() const { return type_ == WeightType::int4 ? 8 : 0; }
  // [groups x rows] (by_input) or [rows x groups] (by_output).
  [[nodiscard]] std::span<const float> scales() const { return quant_ ? std::span<const float>(quant_->scales) : std::span<const float>(); }
  // Empty when symmetric.
  [[nodiscard]] std::span<const std::int8_t> zeros() const {
    return quant_ ? std::span<const std::int8_t>(quant_->zeros) : std::span<const std::int8_t>();
  }
  // Ternary: T_max, T_c, the mean T_c ("equal steps"), 64-bit words per
  // mask, the masks of input c's step k, α of step k for output r, group g.
  [[nodiscard]] int max_steps() const;
  [[nodiscard]] int steps(std::size_t c) const;
  [[nodiscard]] double equal_steps() const;
  [[nodiscard]] std::size_t plane_words() const { return (rows_ + 63) / 64; }
  [[nodiscard]] const std::uint64_t* plus_mask(std::size_t c, int k) const {
    return line_as<std::uint64_t>(c) + static_cast<std::size_t>(2 * k) * plane_words();
  }
  [[nodiscard]] const std::uint64_t* minus_mask(std::size_t c, int k) const {
    return plus_mask(c, k) + plane_words();
  }
  [[nodiscard]] float alpha(int k, std::size_t r, std::size_t g) const;
  // B_k[r, c] in {−1, 0, 1}.
  [[nodiscard]] int step_sign(std::size_t r, std::size_t c, int k) const;
  [[nodiscard]] bool has_salient() const;
  [[nodiscard]] SalientLine salient(std::size_t c) const;
  [[nodiscard]] float salient_scale(std::size_t r) const;
  // Synapses of input c an event adds into (nonzero B over its steps), and
  // those it multiplies (salient int8 weights).
  [[nodiscard]] std::uint64_t additions(std::size_t c) const;
  [[nodiscard]] std::uint64_t multiplications(std::size_t c) const;

  // The stored integer code of element (r, c) (integer types).
  [[nodiscard]] std::int32_t code(std::size_t r, std::size_t c) const;

  // w[r, c] as a float (dequantized).
  [[nodiscard]] float value(std::size_t r, std::size_t c) const;
  [[nodiscard]] float operator()(std::size_t r, std::size_t c) const { return value(r, c); }
  // Same shape, element type and values (storage order and sharing aside).
  [[nodiscard]] bool operator==(const WeightTensor& other) const;
  // Row r, dequantized (the embedding lookup); fast for by_output.
  void row_to_f32(std::size_t r, std::span<float> out) const;
  // The whole matrix dequantized, PyTorch order (calibration, tests).
  [[nodiscard]] MatrixRM to_f32() const;
  // The same weights in the other order (a copy; an int4 tensor stays int4).
  [[nodiscard]] WeightTensor reordered(WeightOrder order) const;

  // One rank's share (core/partition.hpp): output rows `rows` of this
  // tensor as a tensor of its own (a copy, same type, order and grouping),
  // which remembers the whole it was cut from. Ternary weights are not cut
  // (Error naming `name`).
  [[nodiscard]] WeightTensor output_rows(RowSlice rows, const std::string& name) const;
  // The rows of the whole tensor this one was cut from, and where its rows
  // sit there; a tensor never cut is its own whole.
  [[nodiscard]] std::size_t full_rows() const { return full_rows_ != 0 ? full_rows_ : rows_; }
  [[nodiscard]] RowSlice row_slice() const { return {row_begin_, row_begin_ + rows_}; }
  [[nodiscard]] bool is_slice() const { return full_rows() != rows_; }
  // line_bytes() and stored_bytes() of the whole tensor: what an event, or
  // a dense matvec, fetches from all ranks together.
  [[nodiscard]] std::uint64_t full_line_bytes() const;
  [[nodiscard]] std::uint64_t full_stored_bytes() const;

  // Elements that are exactly zero (NeuroBench ConnectionSparsity), read in
  // the stored type, line by line.
  [[nodiscard]] std::uint64_t count_zeros() const;
  // Bytes held: elements as stored (padding excluded), scales and zero points.
  [[nodiscard]] std::uint64_t stored_bytes() const;
  // Bytes an event streams: one line as stored (padding excluded).
  [[nodiscard]] std::uint64_t line_bytes() const;
  // Bits per weight including scales and zero points (int4 g128: 4 + 48/128).
  [[nodiscard]] double bits_per_weight() const;
  // "f32", "bf16", "int4 g128 asym", "int8 per-channel sym", ...
  [[nodiscard]] std::string format() const;

 private:
  [[nodiscard]] std::size_t index(std::size_t r, std::size_t g) const {
    return order_ == WeightOrder::by_input ? g * rows_ + r : r * groups() + g;
  }
  [[nodiscard]] WeightTensor reordered_whole(WeightOrder order) const;  // reordered(), slice aside
  // Output rows `rows` of an integer tensor as a new one in `order` (the
  // codes, scales and zero points copied; reordered_whole and output_rows).
  [[nodiscard]] WeightTensor integer_rows(RowSlice rows, WeightOrder order) const;
  static WeightTensor allocate(std::size_t rows, std::size_t cols, WeightType type, WeightOrder order);
  std::byte* mutable_line(std::size_t i) { return const_cast<std::byte*>(line(i)); }
  void set_code(std::size_t r, std::size_t c, std::int32_t code);

  std::size_t rows_ = 0, cols_ = 0;
  std::size_t full_rows_ = 0, row_begin_ = 0;  // a cut tensor's whole (0: not cut)
  WeightType type_ = WeightType::f32;
  WeightOrder order_ = WeightOrder::by_input;
  int bits_ = 32;
  std::size_t group_ = 0;
  bool symmetric_ = true;
  bool mapped_ = false;
  std::size_t stride_ = 0;
  const std::byte* data_ = nullptr;
  std::shared_ptr<const void> owner_;  // the storage data_ points into
  struct Quantization {
    std::vector<float> scales;
    std::vector<std::int8_t> zeros;  // in code units; empty when symmetric
  };
  std::shared_ptr<const Quantization> quant_;  // integer types
  struct Ternary;                              // weight_tensor_ternary.cpp
  std::shared_ptr<const Ternary> ternary_;     // ternary
  [[nodiscard]] float ternary_value(std::size_t r, std::size_t c) const;
  [[nodiscard]] std::uint64_t ternary_bytes() const;
  [[nodiscard]] std::string ternary_format() const;
};

// The int4 nibble of element j of a packed line.
[[nodiscard]] inline std::uint8_t int4_at(const std::uint8_t* line, std::size_t j) {
  const std::uint8_t byte = line[(j / kInt4Block) * (kInt4Block / 2) + (j % (kInt4Block / 2))];
  return (j % kInt4Block) < kInt4Block / 2 ? static_cast<std::uint8_t>(byte & 0x0f) : static_cast<std::uint8_t>(byte >> 4);
}

}  // namespace spikesim
