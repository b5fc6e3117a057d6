#pragma once
// Reader for the safetensors format (https://github.com/huggingface/safetensors).
//
// File layout (all integers little-endian):
//   bytes [0, 8)        uint64 N: length of the JSON header
//   bytes [8, 8+N)      UTF-8 JSON object:
//                         "__metadata__": {string: string}          (optional)
//                         "<tensor>": {"dtype": "F32"|"F16"|"BF16"|...,
//                                      "shape": [d0, d1, ...],
//                                      "data_offsets": [begin, end]}
//   bytes [8+N, EOF)    the data area; a tensor's bytes are
//                       [8+N+begin, 8+N+end), row-major (C order), little-endian.
//
// Every tensor is checked when the file is opened: a known dtype, shape
// product x dtype size == end - begin, offsets inside the data area, and no
// two tensors overlapping. Reading widens F32, F16, BF16 (and F64) to float;
// other dtypes can be listed but not read. The file is memory-mapped once.
//
// The sharded form is a `model.safetensors.index.json` next to its shards:
//   {"metadata": {...}, "weight_map": {"<tensor>": "<shard file name>", ...}}
// SafetensorsArchive opens either form and looks tensors up by name.
//
// Every failure is an Error(ExitCode::model, ...) naming the file and tensor.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/weights/half.hpp"  // f16/bf16 conversions, used with raw()

namespace spikesim {

class MappedFile;  // io/formats/mapped_file.hpp

enum class SafetensorsDtype { f64, f32, f16, bf16, i64, i32, i16, i8, u8, boolean, other };

struct SafetensorsTensorInfo {
  std::string name;
  std::string dtype_name;  // as written in the header, e.g. "BF16"
  SafetensorsDtype dtype = SafetensorsDtype::other;
  std::size_t dtype_size = 0;  // bytes per element
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // offsets relative to the data area
  std::uint64_t end = 0;
  [[nodiscard]] std::uint64_t elements() const;
};


class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  // The same checks on a file image held in memory (copied); `source_name`
  // stands for the file name in error messages. For tests and fuzzing.
  static SafetensorsFile from_bytes(std::span<const std::byte> bytes, const std::string& source_name);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const { return metadata_; }
  [[nodiscard]] const std::map<std::string, SafetensorsTensorInfo>& tensors() const { return tensors_; }
  [[nodiscard]] bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws Error(model) naming the file when the tensor is absent.
  [[nodiscard]] const SafetensorsTensorInfo& info(const std::string& name) const;
  // The tensor's elements, widened to float, in row-major order.
  [[nodiscard]] std::vector<float> read_f32(const std::string& name) const;
  [[nodiscard]] std::span<const std::byte> raw(const std::string& name) const;

 private:
  SafetensorsFile(std::filesystem::path path, std::unique_ptr<MappedFile> map);
  void parse_header();
  std::filesystem::path path_;
  std::unique_ptr<MappedFile> map_;
  std::uint64_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, SafetensorsTensorInfo> tensors_;
};

// One checkpoint: a single .safetensors file or the shards of an index.
class SafetensorsArchive {
 public:
  // `path` is a .safetensors file or a model.safetensors.index.json.
  explicit SafetensorsArchive(const std::filesystem::path& path);

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  [[nodiscard]] std::vector<std::string> names() const;
  [[nodiscard]] bool contains(const std::string& name) const { return where_.count(name) != 0; }
  [[nodiscard]] const SafetensorsTensorInfo& info(const std::string& name) const;
  [[nodiscard]] std::vector<float> read_f32(const std::string& name) const;
  // The tensor's bytes in the mapped file.
  [[nodiscard]] std::span<const std::byte> raw(const std::string& name) const;
  // The file holding `name` (the shard for an index), for error messages.
  [[nodiscard]] const std::filesystem::path& file_of(const std::string& name) const;

 private:
  [[nodiscard]] const SafetensorsFile& file(const std::string& name) const;
  std::filesystem::path path_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::size_t> where_;  // tensor -> index in files_
};

}  // namespace spikesim
