#include "io/formats/gguf.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/ranges.h>

#include "core/error.hpp"
#include "io/formats/mapped_file.hpp"
#include "io/formats/gguf_blocks.hpp"

namespace spikesim {

namespace {

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw Error(ExitCode::model, fmt::format("{}: {}", file.string(), what));
}

constexpr std::uint64_t kHeaderBytes = 4 + 4 + 8 + 8;
// The fewest bytes a key-value pair (key length, type, one-byte value) and a
// tensor info (name length, n_dims, one ne, type, offset) can take: counts
// larger than the bytes left allow are refused before anything is allocated.
constexpr std::uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr std::uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

// Every ggml type number the spec lists, for naming refused ones.
std::string ggml_type_name_or_empty(std::uint32_t t) {
  static constexpr const char* kNames[] = {
      "F32",      "F16",      "Q4_0",    "Q4_1",  "Q4_2",       "Q4_3",       "Q5_0",       "Q5_1",
      "Q8_0",     "Q8_1",     "Q2_K",    "Q3_K",  "Q4_K",       "Q5_K",       "Q6_K",       "Q8_K",
      "IQ2_XXS",  "IQ2_XS",   "IQ3_XXS", "IQ1_S", "IQ4_NL",     "IQ3_S",      "IQ2_S",      "IQ4_XS",
      "I8",       "I16",      "I32",     "I64",   "F64",        "IQ1_M",      "BF16",       "Q4_0_4_4",
      "Q4_0_4_8", "Q4_0_8_8", "TQ1_0",   "TQ2_0", "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", "MXFP4"};
  return t < std::size(kNames) ? kNames[t] : "";
}

bool accepted_tensor_type(std::uint32_t t) {
  switch (static_cast<GgufTensorType>(t)) {
    case GgufTensorType::f32:
    case GgufTensorType::f16:
    case GgufTensorType::q4_0:
    case GgufTensorType::q8_0:
    case GgufTensorType::bf16:
      return true;
  }
  return false;
}

// Bytes of one element of a fixed-size value type; 0 for string and array.
std::uint64_t fixed_value_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::u8:
    case GgufValueType::i8:
    case GgufValueType::boolean:
      return 1;
    case GgufValueType::u16:
    case GgufValueType::i16:
      return 2;
    case GgufValueType::u32:
    case GgufValueType::i32:
    case GgufValueType::f32:
      return 4;
    case GgufValueType::u64:
    case GgufValueType::i64:
    case GgufValueType::f64:
      return 8;
    case GgufValueType::string:
    case GgufValueType::array:
      return 0;
  }
  return 0;
}

bool known_value_type(std::uint32_t t) {
  return t <= static_cast<std::uint32_t>(GgufValueType::f64);
}

// Reads little-endian fields from the file image, refusing any read past the
// end with a message that says what was being read.
class Cursor {
 public:
  Cursor(const std::filesystem::path& file, const std::byte* data, std::uint64_t size)
      : file_(file), data_(data), size_(size) {}

  [[nodiscard]] std::uint64_t position() const { return pos_; }
  [[nodiscard]] std::uint64_t remaining() const { return size_ - pos_; }

  template <class U>
  U read(const std::string& what) {
    need(sizeof(U), what);
    U v = 0;
    for (std::size_t i = 0; i < sizeof(U); ++i)
      v |= static_cast<U>(static_cast<U>(std::to_integer<unsigned>(data_[pos_ + i])) << (8 * i));
    pos_ += sizeof(U);
    return v;
  }

  std::string read_string(const std::string& what) {
    const auto length = read<std::uint64_t>(what + " length");
    if (length > remaining())
      fail(file_, fmt::format("{}: string length {} runs past the end of the file ({} bytes left)", what,
                              length, remaining()));
    std::string s(reinterpret_cast<const char*>(data_ + pos_), static_cast<std::size_t>(length));
    pos_ += length;
    return s;
  }

 private:
  void need(std::uint64_t n, const std::string& what) const {
    if (n > remaining())
      fail(file_, fmt::format("file truncated: {} needs {} bytes at offset {}, {} left", what, n, pos_,
                              remaining()));
  }
  const std::filesystem::path& file_;
  const std::byte* data_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
};

// `values_left` is the file's budget of metadata values (kGgufMaxMetadataValues).
GgufValue read_value(Cursor& in, const std::filesystem::path& file, GgufValueType type,
                     const std::string& what, int depth, std::uint64_t& values_left) {
  GgufValue v;
  v.type = type;
  switch (type) {
    case GgufValueType::u8:
      v.unsigned_value = in.read<std::uint8_t>(what);
      break;
    case GgufValueType::u16:
      v.unsigned_value = in.read<std::uint16_t>(what);
      break;
    case GgufValueType::u32:
      v.unsigned_value = in.read<std::uint32_t>(what);
      break;
    case GgufValueType::u64:
      v.unsigned_value = in.read<std::uint64_t>(what);
      break;
    case GgufValueType::i8:
      v.signed_value = static_cast<std::int8_t>(in.read<std::uint8_t>(what));
      break;
    case GgufValueType::i16:
      v.signed_value = static_cast<std::int16_t>(in.read<std::uint16_t>(what));
      break;
    case GgufValueType::i32:
      v.signed_value = static_cast<std::int32_t>(in.read<std::uint32_t>(what));
      break;
    case GgufValueType::i64:
      v.signed_value = static_cast<std::int64_t>(in.read<std::uint64_t>(what));
      break;
    case GgufValueType::f32:
      v.float_value = std::bit_cast<float>(in.read<std::uint32_t>(what));
      break;
    case GgufValueType::f64:
      v.float_value = std::bit_cast<double>(in.read<std::uint64_t>(what));
      break;
    case GgufValueType::boolean: {
      const auto b = in.read<std::uint8_t>(what);
      if (b > 1) fail(file, fmt::format("{}: bool must be 0 or 1, found {}", what, b));
      v.unsigned_value = b;
      break;
    }
    case GgufValueType::string:
      v.string_value = in.read_string(what);
      break;
    case GgufValueType::array: {
      if (depth >= kGgufMaxArrayNesting)
        fail(file, fmt::format("{}: arrays nested more than {} deep", what, kGgufMaxArrayNesting));
      const auto element = in.read<std::uint32_t>(what + " element type");
      if (!known_value_type(element))
        fail(file, fmt::format("{}: unknown array element type {} (expected 0..12)", what, element));
      v.element_type = static_cast<GgufValueType>(element);
      const auto count = in.read<std::uint64_t>(what + " count");
      // Each element takes at least its fixed size, a string its 8-byte
      // length, an array its 4-byte type and 8-byte count.
      const std::uint64_t fixed = fixed_value_bytes(v.element_type);
      const std::uint64_t min_bytes = fixed != 0 ? fixed : (v.element_type == GgufValueType::string ? 8 : 12);
      if (count > in.remaining() / min_bytes)
        fail(file, fmt::format("{}: array of {} {} elements needs at least {} bytes per element, but only {} "
                               "bytes are left in the file",
                               what, count, gguf_value_type_name(v.element_type), min_bytes, in.remaining()));
      // Each value takes sizeof(GgufValue) in memory, far more than its bytes
      // in the file: a budget keeps a large file from needing many times its size.
      if (count > values_left)
        fail(file, fmt::format("{}: array of {} elements takes the file's metadata beyond {} values", what,
                               count, kGgufMaxMetadataValues));
      values_left -= count;
      v.elements.reserve(static_cast<std::size_t>(count));
      // A fixed-size element cannot run past the end (checked above): its
      // label is the array's, which spares formatting one per element.
      for (std::uint64_t i = 0; i < count; ++i) {
        if (fixed != 0)
          v.elements.push_back(read_value(in, file, v.element_type, what, depth + 1, values_left));
        else
          v.elements.push_back(
              read_value(in, file, v.element_type, fmt::format("{}[{}]", what, i), depth + 1, values_left));
      }
      break;
    }
  }
  return v;
}

std::uint64_t align_up(std::uint64_t offset, std::uint64_t alignment) {
  return offset + (alignment - offset % alignment) % alignment;
}

}  // namespace

// ---- names and sizes ----------------------------------------------------------

std::string gguf_value_type_name(GgufValueType type) {
  static constexpr const char* kNames[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                           "int32",  "float32", "bool",   "string", "array",
                                           "uint64", "int64",   "float64"};
  const auto t = static_cast<std::uint32_t>(type);
  return t < std::size(kNames) ? kNames[t] : fmt::format("type {}", t);
}

std::string gguf_tensor_type_name(std::uint32_t ggml_type) {
  auto name = ggml_type_name_or_empty(ggml_type);
  return name.empty() ? fmt::format("type {}", ggml_type) : name;
}

std::uint64_t gguf_block_elements(GgufTensorType type) {
  return type == GgufTensorType::q8_0 || type == GgufTensorType::q4_0 ? kGgufQuantBlock : 1;
}

std::uint64_t gguf_block_bytes(GgufTensorType type) {
  switch (type) {
    case GgufTensorType::f32:
      return 4;
    case GgufTensorType::f16:
    case GgufTensorType::bf16:
      return 2;
    case GgufTensorType::q8_0:
      return kQ8_0BlockBytes;
    case GgufTensorType::q4_0:
      return kQ4_0BlockBytes;
  }
  return 0;
}

// ---- values -----------------------------------------------------------------------

namespace {
GgufValue make_unsigned(GgufValueType t, std::uint64_t v) {
  GgufValue out;
  out.type = t;
  out.unsigned_value = v;
  return out;
}
GgufValue make_signed(GgufValueType t, std::int64_t v) {
  GgufValue out;
  out.type = t;
  out.signed_value = v;
  return out;
}
GgufValue make_float(GgufValueType t, double v) {
  GgufValue out;
  out.type = t;
  out.float_value = v;
  return out;
}
}  // namespace

GgufValue GgufValue::of_u8(std::uint8_t v) {
  return make_unsigned(GgufValueType::u8, v);
}
GgufValue GgufValue::of_u16(std::uint16_t v) {
  return make_unsigned(GgufValueType::u16, v);
}
GgufValue GgufValue::of_u32(std::uint32_t v) {
  return make_unsigned(GgufValueType::u32, v);
}
GgufValue GgufValue::of_u64(std::uint64_t v) {
  return make_unsigned(GgufValueType::u64, v);
}
GgufValue GgufValue::of_bool(bool v) {
  return make_unsigned(GgufValueType::boolean, v ? 1 : 0);
}
GgufValue GgufValue::of_i8(std::int8_t v) {
  return make_signed(GgufValueType::i8, v);
}
GgufValue GgufValue::of_i16(std::int16_t v) {
  return make_signed(GgufValueType::i16, v);
}
GgufValue GgufValue::of_i32(std::int32_t v) {
  return make_signed(GgufValueType::i32, v);
}
GgufValue GgufValue::of_i64(std::int64_t v) {
  return make_signed(GgufValueType::i64, v);
}
GgufValue GgufValue::of_f32(float v) {
  return make_float(GgufValueType::f32, v);
}
GgufValue GgufValue::of_f64(double v) {
  return make_float(GgufValueType::f64, v);
}

GgufValue GgufValue::of_string(std::string v) {
  GgufValue out;
  out.type = GgufValueType::string;
  out.string_value = std::move(v);
  return out;
}

GgufValue GgufValue::of_array(GgufValueType element_type, std::vector<GgufValue> elements) {
  for (std::size_t i = 0; i < elements.size(); ++i)
    if (elements[i].type != element_type)
      throw Error(ExitCode::internal,
                  fmt::format("GgufValue::of_array: element {} is {}, the array holds {}", i,
                              gguf_value_type_name(elements[i].type), gguf_value_type_name(element_type)));
  GgufValue out;
  out.type = GgufValueType::array;
  out.element_type = element_type;
  out.elements = std::move(elements);
  return out;
}

GgufValue GgufValue::of_strings(const std::vector<std::string>& values) {
  std::vector<GgufValue> elements;
  elements.reserve(values.size());
  for (const auto& s : values) elements.push_back(of_string(s));
  return of_array(GgufValueType::string, std::move(elements));
}

GgufValue GgufValue::of_f32s(std::span<const float> values) {
  std::vector<GgufValue> elements;
  elements.reserve(values.size());
  for (float v : values) elements.push_back(of_f32(v));
  return of_array(GgufValueType::f32, std::move(elements));
}

GgufValue GgufValue::of_i32s(std::span<const std::int32_t> values) {
  std::vector<GgufValue> elements;
  elements.reserve(values.size());
  for (auto v : values) elements.push_back(of_i32(v));
  return of_array(GgufValueType::i32, std::move(elements));
}

// ---- tensor infos ---------------------------------------------------------------------

std::uint64_t GgufTensorInfo::elements() const {
  std::uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

std::uint64_t GgufTensorInfo::rows() const {
  std::uint64_t n = 1;
  for (std::size_t i = 1; i < ne.size(); ++i) n *= ne[i];
  return n;
}

std::uint64_t GgufTensorInfo::row_bytes() const {
  return ne.empty() ? 0 : ne[0] / gguf_block_elements(type) * gguf_block_bytes(type);
}

// ---- the file -------------------------------------------------------------------------

// The file's bytes: memory-mapped, or a copy held in memory (from_bytes).
GgufFile::~GgufFile() = default;
GgufFile::GgufFile(GgufFile&&) noexcept = default;
GgufFile& GgufFile::operator=(GgufFile&&) noexcept = default;

GgufFile::GgufFile(const std::filesystem::path& path) : GgufFile(path, std::make_unique<MappedFile>(path)) {}

GgufFile::GgufFile(std::filesystem::path path, std::unique_ptr<MappedFile> map)
    : path_(std::move(path)), map_(std::move(map)) {
  parse();
}

GgufFile GgufFile::from_bytes(std::span<const std::byte> bytes, const std::string& source_name) {
  return GgufFile(source_name, std::make_unique<MappedFile>(bytes));
}

void GgufFile::parse() {
  const std::uint64_t size = map_->size();
  if (size < kHeaderBytes)
    fail(path_, fmt::format("file is {} bytes, shorter than the {}-byte GGUF header", size, kHeaderBytes));
  Cursor in(path_, map_->data(), size);
  const auto magic = in.read<std::uint32_t>("magic");
  if (std::memcmp(map_->data(), "GGUF", 4) != 0)
    fail(path_, fmt::format("not a GGUF file: magic is 0x{:08x}, expected the bytes \"GGUF\"", magic));
  const auto version = in.read<std::uint32_t>("version");
  if (version != kGgufVersion)
    fail(path_, fmt::format("GGUF version {} is not supported (expected version {}{})", version, kGgufVersion,
                            version == 0x03000000U ? "; this looks like a big-endian file" : ""));
  const auto tensor_count = in.read<std::uint64_t>("tensor count");
  const auto kv_count = in.read<std::uint64_t>("metadata key-value count");
  if (kv_count > in.remaining() / kMinKvBytes)
    fail(path_, fmt::format("metadata key-value count {} is more than the {} bytes left in the file can hold",
                            kv_count, in.remaining()));
  if (tensor_count > in.remaining() / kMinTensorInfoBytes)
    fail(path_, fmt::format("tensor count {} is more than the {} bytes left in the file can hold",
                            tensor_count, in.remaining()));

  std::uint64_t values_left = kGgufMaxMetadataValues;
  for (std::uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.read_string(fmt::format("metadata key {}", i));
    if (key.empty()) fail(path_, fmt::format("metadata key {} is empty", i));
    const std::string what = fmt::format("key '{}'", key);
    if (metadata_.count(key) != 0) fail(path_, fmt::format("{} appears twice", what));
    const auto type = in.read<std::uint32_t>(what + " value type");
    if (!known_value_type(type))
      fail(path_, fmt::format("{}: unknown value type {} (expected 0..12)", what, type));
    metadata_.emplace(std::move(key),
                      read_value(in, path_, static_cast<GgufValueType>(type), what, 0, values_left));
  }

  if (const auto it = metadata_.find("general.alignment"); it != metadata_.end()) {
    const auto& v = it->second;
    if (v.type != GgufValueType::u32)
      fail(path_,
           fmt::format("key 'general.alignment': expected uint32, found {}", gguf_value_type_name(v.type)));
    if (v.unsigned_value == 0 || !std::has_single_bit(v.unsigned_value))
      fail(path_, fmt::format("key 'general.alignment': {} is not a power of two", v.unsigned_value));
    alignment_ = static_cast<std::uint32_t>(v.unsigned_value);
  }

  tensors_.reserve(static_cast<std::size_t>(tensor_count));
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo t;
    t.name = in.read_string(fmt::format("tensor {} name", i));
    if (t.name.empty()) fail(path_, fmt::format("tensor {} has an empty name", i));
    const std::string what = fmt::format("tensor '{}'", t.name);
    if (tensor_index_.count(t.name) != 0) fail(path_, fmt::format("{} appears twice", what));
    const auto n_dims = in.read<std::uint32_t>(what + " n_dims");
    if (n_dims < 1 || n_dims > kGgufMaxDims)
      fail(path_, fmt::format("{}: n_dims is {}, expected 1 to {}", what, n_dims, kGgufMaxDims));
    std::uint64_t elements = 1;
    bool overflow = false;
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const auto extent = in.read<std::uint64_t>(fmt::format("{} ne[{}]", what, d));
      if (extent == 0 || extent > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        fail(path_, fmt::format("{}: ne[{}] = {}, expected 1 to 2^63 - 1", what, d, extent));
      if (elements > std::numeric_limits<std::uint64_t>::max() / extent) overflow = true;
      elements *= extent;
      t.ne.push_back(extent);
    }
    const auto type = in.read<std::uint32_t>(what + " type");
    if (!accepted_tensor_type(type))
      fail(path_,
           fmt::format("{}: tensor type {} ({}) is not supported (expected F32, F16, BF16, Q8_0 or Q4_0)",
                       what, gguf_tensor_type_name(type), type));
    t.type = static_cast<GgufTensorType>(type);
    t.offset = in.read<std::uint64_t>(what + " offset");

    const std::uint64_t block = gguf_block_elements(t.type);
    if (t.ne[0] % block != 0)
      fail(path_, fmt::format("{}: ne[0] = {} is not a multiple of the {} block size {}", what, t.ne[0],
                              gguf_tensor_type_name(t.type), block));
    const std::uint64_t block_bytes = gguf_block_bytes(t.type);
    if (overflow || elements / block > std::numeric_limits<std::uint64_t>::max() / block_bytes)
      fail(path_, fmt::format("{}: {} elements overflow a 64-bit byte count", what,
                              overflow ? std::string("more than 2^64") : std::to_string(elements)));
    t.byte_size = elements / block * block_bytes;
    if (t.offset % alignment_ != 0)
      fail(path_,
           fmt::format("{}: offset {} is not a multiple of the alignment {}", what, t.offset, alignment_));
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // The data section starts at the first aligned offset after the infos.
  data_offset_ = align_up(in.position(), alignment_);
  const std::uint64_t data_size = size > data_offset_ ? size - data_offset_ : 0;
  for (const auto& t : tensors_)
    if (t.offset > data_size || t.byte_size > data_size - t.offset)
      fail(path_, fmt::format("tensor '{}': {} bytes of {} {} at data offset {} run past the end of the data "
                              "section ({} bytes from file offset {}; file truncated?)",
                              t.name, t.byte_size, gguf_tensor_type_name(t.type), fmt::join(t.ne, "x"),
                              t.offset, data_size, data_offset_));

  // No two non-empty tensors may share a byte.
  std::vector<const GgufTensorInfo*> by_offset;
  for (const auto& t : tensors_)
    if (t.byte_size > 0) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const auto* prev = by_offset[i - 1];
    const auto* cur = by_offset[i];
    if (cur->offset < prev->offset + prev->byte_size)
      fail(path_, fmt::format("tensor '{}' [{}, {}) overlaps tensor '{}' [{}, {}) in the data section",
                              cur->name, cur->offset, cur->offset + cur->byte_size, prev->name, prev->offset,
                              prev->offset + prev->byte_size));
  }
}

// ---- metadata getters ---------------------------------------------------------------------

const GgufValue& GgufFile::value(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) fail(path_, fmt::format("missing metadata key '{}'", key));
  return it->second;
}

const GgufValue& GgufFile::typed(const std::string& key, GgufValueType expected) const {
  const auto& v = value(key);
  if (v.type != expected)
    fail(path_, fmt::format("key '{}': expected {}, found {}", key, gguf_value_type_name(expected),
                            gguf_value_type_name(v.type)));
  return v;
}

std::uint8_t GgufFile::get_u8(const std::string& key) const {
  return static_cast<std::uint8_t>(typed(key, GgufValueType::u8).unsigned_value);
}
std::int8_t GgufFile::get_i8(const std::string& key) const {
  return static_cast<std::int8_t>(typed(key, GgufValueType::i8).signed_value);
}
std::uint16_t GgufFile::get_u16(const std::string& key) const {
  return static_cast<std::uint16_t>(typed(key, GgufValueType::u16).unsigned_value);
}
std::int16_t GgufFile::get_i16(const std::string& key) const {
  return static_cast<std::int16_t>(typed(key, GgufValueType::i16).signed_value);
}
std::uint32_t GgufFile::get_u32(const std::string& key) const {
  return static_cast<std::uint32_t>(typed(key, GgufValueType::u32).unsigned_value);
}
std::int32_t GgufFile::get_i32(const std::string& key) const {
  return static_cast<std::int32_t>(typed(key, GgufValueType::i32).signed_value);
}
std::uint64_t GgufFile::get_u64(const std::string& key) const {
  return typed(key, GgufValueType::u64).unsigned_value;
}
std::int64_t GgufFile::get_i64(const std::string& key) const {
  return typed(key, GgufValueType::i64).signed_value;
}
float GgufFile::get_f32(const std::string& key) const {
  return static_cast<float>(typed(key, GgufValueType::f32).float_value);
}
double GgufFile::get_f64(const std::string& key) const {
  return typed(key, GgufValueType::f64).float_value;
}
bool GgufFile::get_bool(const std::string& key) const {
  return typed(key, GgufValueType::boolean).unsigned_value != 0;
}
const std::string& GgufFile::get_string(const std::string& key) const {
  return typed(key, GgufValueType::string).string_value;
}

const std::vector<GgufValue>& GgufFile::get_array(const std::string& key, GgufValueType element_type) const {
  const auto& v = typed(key, GgufValueType::array);
  if (v.element_type != element_type)
    fail(path_, fmt::format("key '{}': expected an array of {}, found an array of {}", key,
                            gguf_value_type_name(element_type), gguf_value_type_name(v.element_type)));
  return v.elements;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  std::vector<std::string> out;
  for (const auto& e : get_array(key, GgufValueType::string)) out.push_back(e.string_value);
  return out;
}

std::vector<float> GgufFile::get_f32_array(const std::string& key) const {
  std::vector<float> out;
  for (const auto& e : get_array(key, GgufValueType::f32)) out.push_back(static_cast<float>(e.float_value));
  return out;
}

std::vector<std::int32_t> GgufFile::get_i32_array(const std::string& key) const {
  std::vector<std::int32_t> out;
  for (const auto& e : get_array(key, GgufValueType::i32))
    out.push_back(static_cast<std::int32_t>(e.signed_value));
  return out;
}

std::optional<std::uint32_t> GgufFile::find_u32(const std::string& key) const {
  return has(key) ? std::optional(get_u32(key)) : std::nullopt;
}
std::optional<std::int32_t> GgufFile::find_i32(const std::string& key) const {
  return has(key) ? std::optional(get_i32(key)) : std::nullopt;
}
std::optional<std::uint64_t> GgufFile::find_u64(const std::string& key) const {
  return has(key) ? std::optional(get_u64(key)) : std::nullopt;
}
std::optional<float> GgufFile::find_f32(const std::string& key) const {
  return has(key) ? std::optional(get_f32(key)) : std::nullopt;
}
std::optional<bool> GgufFile::find_bool(const std::string& key) const {
  return has(key) ? std::optional(get_bool(key)) : std::nullopt;
}
std::optional<std::string> GgufFile::find_string(const std::string& key) const {
  return has(key) ? std::optional(get_string(key)) : std::nullopt;
}

// ---- tensor access ---------------------------------------------------------------------------

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  if (it == tensor_index_.end()) fail(path_, fmt::format("no tensor '{}'", name));
  return tensors_[it->second];
}

std::span<const std::byte> GgufFile::data(const std::string& name) const {
  const auto& t = tensor(name);
  return {map_->data() + data_offset_ + t.offset, static_cast<std::size_t>(t.byte_size)};
}

std::vector<float> GgufFile::read_f32(const std::string& name) const {
  const auto& t = tensor(name);
  const auto bytes = data(name);
  std::vector<float> out(static_cast<std::size_t>(t.elements()));
  const auto row_elements = static_cast<std::size_t>(t.ne[0]);
  const auto row_bytes = static_cast<std::size_t>(t.row_bytes());
  for (std::uint64_t r = 0; r < t.rows() && row_elements > 0; ++r)
    dequantize_row(t.type, bytes.subspan(r * row_bytes, row_bytes),
                   std::span<float>(out).subspan(r * row_elements, row_elements));
  return out;
}

}  // namespace spikesim
