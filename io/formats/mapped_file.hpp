#pragma once
// A model file's bytes, mapped read-only into memory (or, for fuzzers and
// tests, an owned copy of bytes given in memory). The safetensors and GGUF
// readers parse through it, and weight tensors that view the file keep the
// reader, and so the mapping, alive: nothing is copied out of a mapped file
// unless its layout asks for it.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace spikesim {

class MappedFile {
 public:
  // Maps `path`; Error(model) naming the file when it cannot be opened, is
  // not a regular file, or cannot be mapped. An empty file maps to no bytes.
  explicit MappedFile(const std::filesystem::path& path);
  // Holds a copy of `bytes`.
  explicit MappedFile(std::span<const std::byte> bytes);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  [[nodiscard]] const std::byte* data() const { return data_; }
  [[nodiscard]] std::uint64_t size() const { return size_; }
  [[nodiscard]] std::span<const std::byte> bytes() const { return {data_, static_cast<std::size_t>(size_)}; }

 private:
  const std::byte* data_ = nullptr;
  std::uint64_t size_ = 0;
  void* mapped_ = nullptr;  // the mapping to release, when the bytes are a file's
  std::vector<std::byte> owned_;
};

}  // namespace spikesim
