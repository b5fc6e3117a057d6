#include "io/formats/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/formats/mapped_file.hpp"

namespace spikesim {

namespace {

// The spec caps the header at 100 MB; anything larger is a corrupt length.
constexpr std::uint64_t kMaxHeaderBytes = 100ULL << 20;

[[noreturn]] void fail(const std::filesystem::path& file, const std::string& what) {
  throw Error(ExitCode::model, fmt::format("{}: {}", file.string(), what));
}

template <class U>
U load_le(const std::byte* p) {
  U v = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) v |= static_cast<U>(std::to_integer<unsigned>(p[i])) << (8 * i);
  return v;
}

struct DtypeInfo {
  const char* name;
  SafetensorsDtype dtype;
  std::size_t size;
};

// Every dtype the safetensors spec knows; reading supports the float ones.
constexpr DtypeInfo kDtypes[] = {
    {"F64", SafetensorsDtype::f64, 8},       {"F32", SafetensorsDtype::f32, 4},
    {"F16", SafetensorsDtype::f16, 2},       {"BF16", SafetensorsDtype::bf16, 2},
    {"I64", SafetensorsDtype::i64, 8},       {"I32", SafetensorsDtype::i32, 4},
    {"I16", SafetensorsDtype::i16, 2},       {"I8", SafetensorsDtype::i8, 1},
    {"U8", SafetensorsDtype::u8, 1},         {"BOOL", SafetensorsDtype::boolean, 1},
    {"U16", SafetensorsDtype::other, 2},     {"U32", SafetensorsDtype::other, 4},
    {"U64", SafetensorsDtype::other, 8},     {"F8_E4M3", SafetensorsDtype::other, 1},
    {"F8_E5M2", SafetensorsDtype::other, 1},
};

std::string json_type(const nlohmann::json& j) {
  return j.type_name();
}

}  // namespace

std::uint64_t SafetensorsTensorInfo::elements() const {
  std::uint64_t n = 1;
  for (auto d : shape) n *= static_cast<std::uint64_t>(d);
  return n;
}

// ---- one file ---------------------------------------------------------------

// The file's bytes: memory-mapped, or a copy held in memory (from_bytes).
SafetensorsFile::~SafetensorsFile() = default;
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : SafetensorsFile(path, std::make_unique<MappedFile>(path)) {}

SafetensorsFile::SafetensorsFile(std::filesystem::path path, std::unique_ptr<MappedFile> map)
    : path_(std::move(path)), map_(std::move(map)) {
  parse_header();
}

SafetensorsFile SafetensorsFile::from_bytes(std::span<const std::byte> bytes, const std::string& source_name) {
  return SafetensorsFile(source_name, std::make_unique<MappedFile>(bytes));
}

void SafetensorsFile::parse_header() {
  const std::uint64_t size = map_->size();
  if (size < 8) fail(path_, fmt::format("file is {} bytes, shorter than the 8-byte header length", size));
  const auto header_len = load_le<std::uint64_t>(map_->data());
  if (header_len > size - 8)
    fail(path_, fmt::format("header length {} is larger than the file allows ({} bytes after the length)",
                            header_len, size - 8));
  if (header_len > kMaxHeaderBytes)
    fail(path_, fmt::format("header length {} exceeds the 100 MB limit of the format", header_len));
  data_start_ = 8 + header_len;
  const std::uint64_t data_size = size - data_start_;

  const auto* text = reinterpret_cast<const char*>(map_->data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + header_len);
  } catch (const nlohmann::json::exception& e) {
    fail(path_, fmt::format("bad JSON header: {}", e.what()));
  }
  if (!header.is_object())
    fail(path_, fmt::format("JSON header must be an object, found {}", json_type(header)));

  for (const auto& item : header.items()) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in `bad` below.
    const std::string& name = item.key();
    const nlohmann::json& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object())
        fail(path_, fmt::format("__metadata__ must be an object, found {}", json_type(entry)));
      for (const auto& [k, v] : entry.items()) metadata_[k] = v.is_string() ? v.get<std::string>() : v.dump();
      continue;
    }
    auto bad = [&](const std::string& what) { fail(path_, fmt::format("tensor '{}': {}", name, what)); };
    if (!entry.is_object()) bad(fmt::format("entry must be an object, found {}", json_type(entry)));
    SafetensorsTensorInfo info;
    info.name = name;

    if (!entry.contains("dtype") || !entry["dtype"].is_string()) bad("missing string field 'dtype'");
    info.dtype_name = entry["dtype"].get<std::string>();
    const auto* known = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                                     [&](const DtypeInfo& d) { return info.dtype_name == d.name; });
    if (known == std::end(kDtypes)) bad(fmt::format("unknown dtype '{}'", info.dtype_name));
    info.dtype = known->dtype;
    info.dtype_size = known->size;

    if (!entry.contains("shape") || !entry["shape"].is_array()) bad("missing array field 'shape'");
    std::uint64_t elements = 1;
    bool overflow = false;
    for (const auto& d : entry["shape"]) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
        bad(fmt::format("shape entries must be non-negative integers, found {}", d.dump()));
      const auto dim = d.get<std::uint64_t>();
      if (dim != 0 && elements > std::numeric_limits<std::uint64_t>::max() / dim) overflow = true;
      elements *= dim;
      info.shape.push_back(d.get<std::int64_t>());
    }

    const auto& offs = entry.contains("data_offsets") ? entry["data_offsets"] : nlohmann::json();
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() ||
        !offs[1].is_number_unsigned())
      bad(fmt::format("data_offsets must be two non-negative integers, found {}", offs.dump()));
    info.begin = offs[0].get<std::uint64_t>();
    info.end = offs[1].get<std::uint64_t>();
    if (info.begin > info.end) bad(fmt::format("data_offsets [{}, {}) run backwards", info.begin, info.end));
    if (info.end > data_size)
      bad(fmt::format("data_offsets [{}, {}) lie outside the data area of {} bytes (file truncated?)",
                      info.begin, info.end, data_size));
    if (overflow || elements > std::numeric_limits<std::uint64_t>::max() / info.dtype_size ||
        elements * info.dtype_size != info.end - info.begin)
      bad(fmt::format("shape {} x {} bytes ({}) = {} bytes, but data_offsets span {} bytes",
                      entry["shape"].dump(), info.dtype_size, info.dtype_name,
                      overflow ? std::string("overflow") : std::to_string(elements * info.dtype_size),
                      info.end - info.begin));
    tensors_.emplace(name, std::move(info));
  }

  // No two non-empty tensors may share a byte.
  std::vector<const SafetensorsTensorInfo*> by_offset;
  for (const auto& [_, t] : tensors_)
    if (t.end > t.begin) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const auto* prev = by_offset[i - 1];
    const auto* cur = by_offset[i];
    if (cur->begin < prev->end)
      fail(path_, fmt::format("tensor '{}' [{}, {}) overlaps tensor '{}' [{}, {})", cur->name, cur->begin,
                              cur->end, prev->name, prev->begin, prev->end));
  }
}

const SafetensorsTensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(path_, fmt::format("no tensor '{}'", name));
  return it->second;
}

std::span<const std::byte> SafetensorsFile::raw(const std::string& name) const {
  const auto& t = info(name);
  return {map_->data() + data_start_ + t.begin, static_cast<std::size_t>(t.end - t.begin)};
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name) const {
  const auto& t = info(name);
  const auto bytes = raw(name);
  const std::size_t n = t.elements();
  std::vector<float> out(n);
  const std::byte* p = bytes.data();
  switch (t.dtype) {
    case SafetensorsDtype::f32:
      if constexpr (std::endian::native == std::endian::little) {
        if (n > 0) std::memcpy(out.data(), p, n * 4);  // an empty vector's data() may be null
      } else {
        for (std::size_t i = 0; i < n; ++i) out[i] = std::bit_cast<float>(load_le<std::uint32_t>(p + 4 * i));
      }
      break;
    case SafetensorsDtype::f16:
      for (std::size_t i = 0; i < n; ++i) out[i] = f16_to_f32(load_le<std::uint16_t>(p + 2 * i));
      break;
    case SafetensorsDtype::bf16:
      for (std::size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(load_le<std::uint16_t>(p + 2 * i));
      break;
    case SafetensorsDtype::f64:
      for (std::size_t i = 0; i < n; ++i)
        out[i] = static_cast<float>(std::bit_cast<double>(load_le<std::uint64_t>(p + 8 * i)));
      break;
    default:
      fail(path_,
           fmt::format("tensor '{}': dtype {} cannot be read as float (expected F32, F16, BF16 or F64)", name,
                       t.dtype_name));
  }
  return out;
}

// ---- single file or sharded index -------------------------------------------

SafetensorsArchive::SafetensorsArchive(const std::filesystem::path& path) : path_(path) {
  const bool is_index = path.filename().string().ends_with(".index.json");
  if (!is_index) {
    files_.emplace_back(path);
    for (const auto& [name, _] : files_.back().tensors()) where_[name] = 0;
    return;
  }

  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) fail(path, fmt::format("cannot open: {}", std::strerror(errno)));
  nlohmann::json index;
  try {
    index = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    std::fclose(f);
    fail(path, fmt::format("bad JSON: {}", e.what()));
  }
  std::fclose(f);
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail(path, "missing object 'weight_map' (tensor name -> shard file)");

  std::map<std::string, std::size_t> shard_of_file;
  std::map<std::string, std::string> listed;  // tensor -> shard file name
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    if (!shard.is_string())
      fail(path, fmt::format("weight_map['{}'] must be a shard file name, found {}", tensor, shard.dump()));
    const auto shard_name = shard.get<std::string>();
    listed[tensor] = shard_name;
    if (shard_of_file.count(shard_name) == 0) {
      shard_of_file[shard_name] = files_.size();
      files_.emplace_back(path.parent_path() / shard_name);
    }
    const std::size_t k = shard_of_file[shard_name];
    if (!files_[k].contains(tensor))
      fail(path, fmt::format("weight_map maps tensor '{}' to shard '{}', which does not contain it", tensor,
                             shard_name));
    where_[tensor] = k;
  }
  // A tensor found in a shard but listed elsewhere (or nowhere) is ambiguous.
  for (const auto& [shard_name, k] : shard_of_file)
    for (const auto& [tensor, _] : files_[k].tensors())
      if (auto it = listed.find(tensor); it == listed.end() || it->second != shard_name)
        fail(files_[k].path(),
             fmt::format("shard holds tensor '{}' that index {} does not map to it", tensor, path.string()));
}

std::vector<std::string> SafetensorsArchive::names() const {
  std::vector<std::string> out;
  for (const auto& [name, _] : where_) out.push_back(name);
  return out;
}

const SafetensorsFile& SafetensorsArchive::file(const std::string& name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) fail(path_, fmt::format("no tensor '{}'", name));
  return files_[it->second];
}

const SafetensorsTensorInfo& SafetensorsArchive::info(const std::string& name) const {
  return file(name).info(name);
}
std::vector<float> SafetensorsArchive::read_f32(const std::string& name) const {
  return file(name).read_f32(name);
}
std::span<const std::byte> SafetensorsArchive::raw(const std::string& name) const { return file(name).raw(name); }
const std::filesystem::path& SafetensorsArchive::file_of(const std::string& name) const {
  return file(name).path();
}

}  // namespace spikesim
