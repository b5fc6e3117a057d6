#include "io/formats/gguf_writer.hpp"

#include <algorithm>
#include <bit>
#include <fstream>

#include "core/error.hpp"
#include "io/formats/gguf_blocks.hpp"
#include "io/formats/safetensors.hpp"

namespace spikesim {

namespace {

[[noreturn]] void refuse(const std::string& what) {
  throw Error(ExitCode::model, fmt::format("GGUF writer: {}", what));
}

class ByteSink {
 public:
  template <class U>
  void put(U v) {
    for (std::size_t i = 0; i < sizeof(U); ++i)
      out_.push_back(static_cast<std::byte>((v >> (8 * i)) & 0xffU));
  }
  void put_string(const std::string& s) {
    put<std::uint64_t>(s.size());
    for (char c : s) out_.push_back(static_cast<std::byte>(c));
  }
  void put_bytes(std::span<const std::byte> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void pad_to(std::uint64_t alignment) {
    while (out_.size() % alignment != 0) out_.push_back(std::byte{0});
  }
  [[nodiscard]] std::size_t size() const { return out_.size(); }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  std::vector<std::byte> out_;
};

void put_value(ByteSink& out, const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::u8:
    case GgufValueType::boolean:
      out.put(static_cast<std::uint8_t>(v.unsigned_value));
      return;
    case GgufValueType::u16:
      out.put(static_cast<std::uint16_t>(v.unsigned_value));
      return;
    case GgufValueType::u32:
      out.put(static_cast<std::uint32_t>(v.unsigned_value));
      return;
    case GgufValueType::u64:
      out.put(v.unsigned_value);
      return;
    case GgufValueType::i8:
      out.put(static_cast<std::uint8_t>(v.signed_value));
      return;
    case GgufValueType::i16:
      out.put(static_cast<std::uint16_t>(v.signed_value));
      return;
    case GgufValueType::i32:
      out.put(static_cast<std::uint32_t>(v.signed_value));
      return;
    case GgufValueType::i64:
      out.put(static_cast<std::uint64_t>(v.signed_value));
      return;
    case GgufValueType::f32:
      out.put(std::bit_cast<std::uint32_t>(static_cast<float>(v.float_value)));
      return;
    case GgufValueType::f64:
      out.put(std::bit_cast<std::uint64_t>(v.float_value));
      return;
    case GgufValueType::string:
      out.put_string(v.string_value);
      return;
    case GgufValueType::array:
      out.put(static_cast<std::uint32_t>(v.element_type));
      out.put<std::uint64_t>(v.elements.size());
      for (const auto& e : v.elements) put_value(out, e);
      return;
  }
  refuse(fmt::format("unknown value type {}", static_cast<std::uint32_t>(v.type)));
}

std::uint64_t product(const std::vector<std::uint64_t>& ne) {
  std::uint64_t n = 1;
  for (auto d : ne) n *= d;
  return n;
}

}  // namespace

GgufWriter::GgufWriter(std::uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || !std::has_single_bit(alignment))
    refuse(fmt::format("alignment {} is not a power of two", alignment));
  if (alignment != kGgufDefaultAlignment)
    metadata_.emplace_back("general.alignment", GgufValue::of_u32(alignment));
}

void GgufWriter::set(const std::string& key, GgufValue value) {
  if (key == "general.alignment") refuse("general.alignment is set by the constructor");
  if (std::any_of(metadata_.begin(), metadata_.end(), [&](const auto& kv) { return kv.first == key; }))
    refuse(fmt::format("key '{}' is set twice", key));
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::check_new_tensor(const std::string& name, const std::vector<std::uint64_t>& ne,
                                  GgufTensorType type) const {
  if (std::any_of(tensors_.begin(), tensors_.end(), [&](const auto& t) { return t.name == name; }))
    refuse(fmt::format("tensor '{}' is added twice", name));
  if (ne.empty() || ne.size() > static_cast<std::size_t>(kGgufMaxDims) ||
      std::any_of(ne.begin(), ne.end(), [](auto d) { return d == 0; }))
    refuse(fmt::format("tensor '{}': shape needs 1 to {} dimensions, none 0", name, kGgufMaxDims));
  if (ne[0] % gguf_block_elements(type) != 0)
    refuse(fmt::format("tensor '{}': ne[0] = {} is not a multiple of the {} block size {}", name, ne[0],
                       gguf_tensor_type_name(type), gguf_block_elements(type)));
}

void GgufWriter::add_tensor(const std::string& name, std::vector<std::uint64_t> ne,
                            std::span<const float> values, GgufTensorType type) {
  check_new_tensor(name, ne, type);
  if (values.size() != product(ne))
    refuse(
        fmt::format("tensor '{}': {} values for a shape of {} elements", name, values.size(), product(ne)));
  const std::size_t row = ne[0];
  const std::size_t rows = values.size() / row;
  const std::size_t row_bytes = row / gguf_block_elements(type) * gguf_block_bytes(type);
  std::vector<std::byte> bytes(rows * row_bytes);
  auto put16 = [&](std::size_t i, std::uint16_t h) {
    bytes[2 * i] = static_cast<std::byte>(h & 0xffU);
    bytes[2 * i + 1] = static_cast<std::byte>(h >> 8);
  };
  try {
    for (std::size_t r = 0; r < rows; ++r) {
      const auto x = values.subspan(r * row, row);
      const auto out = std::span<std::byte>(bytes).subspan(r * row_bytes, row_bytes);
      switch (type) {
        case GgufTensorType::f32:
          for (std::size_t i = 0; i < row; ++i) {
            const auto bits = std::bit_cast<std::uint32_t>(x[i]);
            for (int k = 0; k < 4; ++k) out[4 * i + k] = static_cast<std::byte>((bits >> (8 * k)) & 0xffU);
          }
          break;
        case GgufTensorType::f16:
          for (std::size_t i = 0; i < row; ++i) put16(r * row + i, f32_to_f16(x[i]));
          break;
        case GgufTensorType::bf16:
          for (std::size_t i = 0; i < row; ++i) put16(r * row + i, f32_to_bf16(x[i]));
          break;
        case GgufTensorType::q8_0:
          quantize_row_q8_0(x, out);
          break;
        case GgufTensorType::q4_0:
          quantize_row_q4_0(x, out);
          break;
      }
    }
  } catch (const Error& e) {
    refuse(fmt::format("tensor '{}': {}", name, e.what()));
  }
  tensors_.push_back({name, std::move(ne), type, std::move(bytes)});
}

void GgufWriter::add_raw_tensor(const std::string& name, std::vector<std::uint64_t> ne, GgufTensorType type,
                                std::vector<std::byte> bytes) {
  check_new_tensor(name, ne, type);
  const std::uint64_t expected = product(ne) / gguf_block_elements(type) * gguf_block_bytes(type);
  if (bytes.size() != expected)
    refuse(fmt::format("tensor '{}': {} bytes given, its shape needs {} as {}", name, bytes.size(), expected,
                       gguf_tensor_type_name(type)));
  tensors_.push_back({name, std::move(ne), type, std::move(bytes)});
}

std::vector<std::byte> GgufWriter::bytes() const {
  ByteSink out;
  out.put<std::uint32_t>(0x46554747U);  // the bytes "GGUF"
  out.put(kGgufVersion);
  out.put<std::uint64_t>(tensors_.size());
  out.put<std::uint64_t>(metadata_.size());
  for (const auto& [key, value] : metadata_) {
    out.put_string(key);
    out.put(static_cast<std::uint32_t>(value.type));
    put_value(out, value);
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    out.put_string(t.name);
    out.put<std::uint32_t>(static_cast<std::uint32_t>(t.ne.size()));
    for (auto d : t.ne) out.put(d);
    out.put(static_cast<std::uint32_t>(t.type));
    out.put(offset);
    offset += (t.bytes.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  out.pad_to(alignment_);
  for (const auto& t : tensors_) {
    out.put_bytes(t.bytes);
    out.pad_to(alignment_);
  }
  return out.take();
}

void GgufWriter::write(const std::filesystem::path& file) const {
  const auto image = bytes();
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
  out.close();
  if (!out)
    throw Error(ExitCode::output,
                fmt::format("{}: cannot write the GGUF file ({} bytes)", file.string(), image.size()));
}

}  // namespace spikesim
