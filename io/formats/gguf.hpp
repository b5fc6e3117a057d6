#pragma once
// Reader for GGUF version 3, llama.cpp's model format
// (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md).
//
// File layout, all integers and floats little-endian:
//   uint32 magic          the bytes "GGUF"
//   uint32 version        3 (1 and 2 are older layouts; refused)
//   uint64 tensor_count
//   uint64 metadata_kv_count
//   metadata_kv_count x { string key; uint32 value_type; value }
//   tensor_count x      { string name; uint32 n_dims (1..4); uint64 ne[n_dims];
//                         uint32 ggml_type; uint64 offset }
//   zero padding up to a multiple of the alignment
//   the data section; a tensor's bytes are [data + offset, data + offset + size)
// A string is uint64 length + that many UTF-8 bytes (no NUL). Value types:
//   0 uint8  1 int8  2 uint16  3 int16  4 uint32  5 int32  6 float32
//   7 bool (one byte, 0 or 1)  8 string  9 array  10 uint64  11 int64  12 float64
// An array is uint32 element type + uint64 count + the elements (arrays of
// arrays are allowed, nested at most kGgufMaxArrayNesting deep, and at most
// kGgufMaxMetadataValues elements in all).
// `general.alignment` (uint32, a power of two, default 32) aligns the data
// section and every tensor offset.
//
// Tensor shapes are in ggml order: ne[0] is the contiguous dimension, so a
// PyTorch weight [out, in] is written with ne = {in, out}: rows of ne[0]
// elements, ne[1] * ne[2] * ne[3] of them, one after another. Accepted types
// (row layout in gguf_blocks.hpp):
//   F32 (0)   4 bytes per element
//   F16 (1)   2 bytes, IEEE half
//   BF16 (30) 2 bytes, bfloat16
//   Q8_0 (8)  blocks of 32 elements in 34 bytes: f16 scale d, int8 q[32]; w = d * q
//   Q4_0 (2)  blocks of 32 elements in 18 bytes: f16 scale d, 16 bytes of
//             nibbles (byte k: element k low, element k + 16 high); w = d * (q - 8)
// A quantized tensor's ne[0] must be a multiple of 32. Every other type
// (Q4_1, Q5_*, the K-quants, I8, ...) is refused naming the tensor and type.
//
// Everything is checked when the file is opened: the header, every metadata
// value bounded by the file (counts too large for the bytes left are refused
// before anything is allocated), no duplicate keys or tensor names, the
// alignment, each tensor's dims and type, offsets aligned, inside the file,
// not overlapping. The file is memory-mapped once; tensor data are spans into
// the mapping. Every failure is an Error(ExitCode::model, ...) naming the
// file and the key or tensor, and what was expected.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spikesim {

class MappedFile;  // io/formats/mapped_file.hpp

inline constexpr std::uint32_t kGgufVersion = 3;
inline constexpr std::uint32_t kGgufDefaultAlignment = 32;
inline constexpr int kGgufMaxDims = 4;
inline constexpr int kGgufMaxArrayNesting = 8;
// At most this many array elements in a file's metadata, all arrays
// together (a 256k-token vocabulary with scores, types and merges needs
// about 1.3M). Each is held as a GgufValue, so the budget bounds the memory
// the metadata can take (about 100 bytes a value) whatever the file holds.
inline constexpr std::uint64_t kGgufMaxMetadataValues = 1ULL << 22;

enum class GgufValueType : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};
// "uint32", "string", "array", ...; "type N" for numbers outside the spec.
std::string gguf_value_type_name(GgufValueType type);

// ggml's tensor types; only those listed in the header comment are accepted.
enum class GgufTensorType : std::uint32_t { f32 = 0, f16 = 1, q4_0 = 2, q8_0 = 8, bf16 = 30 };
// "F32", "Q4_K", ... for every ggml type number known; "type N" otherwise.
std::string gguf_tensor_type_name(std::uint32_t ggml_type);
inline std::string gguf_tensor_type_name(GgufTensorType type) {
  return gguf_tensor_type_name(static_cast<std::uint32_t>(type));
}
// Elements per block (1 for F32/F16/BF16, 32 for Q8_0/Q4_0) and bytes per block.
std::uint64_t gguf_block_elements(GgufTensorType type);
std::uint64_t gguf_block_bytes(GgufTensorType type);

// One metadata value. Numbers keep their exact width in the matching member;
// an array holds its elements (all of element_type) in `elements`.
struct GgufValue {
  GgufValueType type = GgufValueType::u8;
  std::uint64_t unsigned_value = 0;  // u8, u16, u32, u64; bool as 0/1
  std::int64_t signed_value = 0;     // i8, i16, i32, i64
  double float_value = 0;            // f32 (exactly widened), f64
  std::string string_value;
  GgufValueType element_type = GgufValueType::u8;  // arrays only
  std::vector<GgufValue> elements;                 // arrays only

  // Builders for writers and tests.
  static GgufValue of_u8(std::uint8_t v);
  static GgufValue of_i8(std::int8_t v);
  static GgufValue of_u16(std::uint16_t v);
  static GgufValue of_i16(std::int16_t v);
  static GgufValue of_u32(std::uint32_t v);
  static GgufValue of_i32(std::int32_t v);
  static GgufValue of_u64(std::uint64_t v);
  static GgufValue of_i64(std::int64_t v);
  static GgufValue of_f32(float v);
  static GgufValue of_f64(double v);
  static GgufValue of_bool(bool v);
  static GgufValue of_string(std::string v);
  // Error(internal) when an element's type is not `element_type`.
  static GgufValue of_array(GgufValueType element_type, std::vector<GgufValue> elements);
  static GgufValue of_strings(const std::vector<std::string>& values);
  static GgufValue of_f32s(std::span<const float> values);
  static GgufValue of_i32s(std::span<const std::int32_t> values);

  bool operator==(const GgufValue&) const = default;
};

struct GgufTensorInfo {
  std::string name;
  GgufTensorType type = GgufTensorType::f32;
  std::vector<std::uint64_t> ne;  // ggml order: ne[0] contiguous
  std::uint64_t offset = 0;       // relative to the data section
  std::uint64_t byte_size = 0;    // computed from type and ne
  [[nodiscard]] std::uint64_t elements() const;
  [[nodiscard]] std::uint64_t rows() const;       // ne[1] * ne[2] * ne[3]
  [[nodiscard]] std::uint64_t row_bytes() const;  // bytes of ne[0] elements
};

class GgufFile {
 public:
  explicit GgufFile(const std::filesystem::path& path);
  // The same checks on a file image held in memory (copied); `source_name`
  // stands for the file name in error messages. For tests and fuzzing.
  static GgufFile from_bytes(std::span<const std::byte> bytes, const std::string& source_name);
  ~GgufFile();
  GgufFile(GgufFile&&) noexcept;
  GgufFile& operator=(GgufFile&&) noexcept;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::uint32_t alignment() const { return alignment_; }
  // File offset of the data section.
  [[nodiscard]] std::uint64_t data_offset() const { return data_offset_; }

  // ---- metadata ----
  [[nodiscard]] const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  [[nodiscard]] bool has(const std::string& key) const { return metadata_.count(key) != 0; }
  // Error(model) naming the file and key when the key is absent.
  [[nodiscard]] const GgufValue& value(const std::string& key) const;
  // Typed getters: the value must have exactly this type, else
  // Error(model) "key 'llama.block_count': expected uint32, found int32".
  [[nodiscard]] std::uint8_t get_u8(const std::string& key) const;
  [[nodiscard]] std::int8_t get_i8(const std::string& key) const;
  [[nodiscard]] std::uint16_t get_u16(const std::string& key) const;
  [[nodiscard]] std::int16_t get_i16(const std::string& key) const;
  [[nodiscard]] std::uint32_t get_u32(const std::string& key) const;
  [[nodiscard]] std::int32_t get_i32(const std::string& key) const;
  [[nodiscard]] std::uint64_t get_u64(const std::string& key) const;
  [[nodiscard]] std::int64_t get_i64(const std::string& key) const;
  [[nodiscard]] float get_f32(const std::string& key) const;
  [[nodiscard]] double get_f64(const std::string& key) const;
  [[nodiscard]] bool get_bool(const std::string& key) const;
  [[nodiscard]] const std::string& get_string(const std::string& key) const;
  // An array whose elements have `element_type` (checked as above).
  [[nodiscard]] const std::vector<GgufValue>& get_array(const std::string& key,
                                                        GgufValueType element_type) const;
  [[nodiscard]] std::vector<std::string> get_string_array(const std::string& key) const;
  [[nodiscard]] std::vector<float> get_f32_array(const std::string& key) const;
  [[nodiscard]] std::vector<std::int32_t> get_i32_array(const std::string& key) const;
  // Optional variants: nullopt when the key is absent; a present key of
  // another type is still an Error.
  [[nodiscard]] std::optional<std::uint32_t> find_u32(const std::string& key) const;
  [[nodiscard]] std::optional<std::int32_t> find_i32(const std::string& key) const;
  [[nodiscard]] std::optional<std::uint64_t> find_u64(const std::string& key) const;
  [[nodiscard]] std::optional<float> find_f32(const std::string& key) const;
  [[nodiscard]] std::optional<bool> find_bool(const std::string& key) const;
  [[nodiscard]] std::optional<std::string> find_string(const std::string& key) const;

  // ---- tensors ----
  // In file order.
  [[nodiscard]] const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  [[nodiscard]] bool contains(const std::string& name) const { return tensor_index_.count(name) != 0; }
  // Error(model) naming the file when the tensor is absent.
  [[nodiscard]] const GgufTensorInfo& tensor(const std::string& name) const;
  // The tensor's bytes in the mapping, byte_size of them.
  [[nodiscard]] std::span<const std::byte> data(const std::string& name) const;
  // Every element widened (or dequantized) to float, row after row.
  [[nodiscard]] std::vector<float> read_f32(const std::string& name) const;

 private:
  GgufFile(std::filesystem::path path, std::unique_ptr<MappedFile> map);
  void parse();
  [[nodiscard]] const GgufValue& typed(const std::string& key, GgufValueType expected) const;
  std::filesystem::path path_;
  std::unique_ptr<MappedFile> map_;
  std::uint32_t alignment_ = kGgufDefaultAlignment;
  std::uint64_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, std::size_t> tensor_index_;
};

}  // namespace spikesim
