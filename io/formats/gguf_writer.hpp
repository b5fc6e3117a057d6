#pragma once
// Writes GGUF version 3 files (the layout is described in gguf.hpp) from
// metadata and tensors, as llama.cpp's gguf writer lays them out: header,
// key-value pairs in the order they were set, tensor infos in the order they
// were added, zero padding to the alignment, then each tensor's bytes at an
// aligned offset, zero-padded to the next one.
//
// Tensors are given as f32 values (row-major, ggml shape order: ne[0] is the
// row length) and stored as F32, F16, BF16 (round to nearest even), or Q8_0 /
// Q4_0 quantized exactly as llama.cpp's quantize_row_*_ref (gguf_blocks.hpp);
// or as raw bytes already in a type's layout. Used by the tests, the fuzz
// corpus, and converters.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "io/formats/gguf.hpp"

namespace spikesim {

class GgufWriter {
 public:
  // `alignment` must be a power of two; anything but 32 is written as the
  // `general.alignment` key (which set() therefore refuses).
  explicit GgufWriter(std::uint32_t alignment = kGgufDefaultAlignment);

  // Adds a metadata key; Error(model) when the key is already set or is
  // general.alignment.
  void set(const std::string& key, GgufValue value);
  // Adds a tensor of shape `ne` (ggml order) stored as `type`, from
  // values.size() == product(ne) floats. Error(model) naming the tensor on a
  // duplicate name, a bad shape (1..4 dims, none 0), a quantized ne[0] that is
  // not a multiple of 32, or a non-finite value to quantize.
  void add_tensor(const std::string& name, std::vector<std::uint64_t> ne, std::span<const float> values,
                  GgufTensorType type);
  // The same from bytes already in `type`'s layout (their count must match).
  void add_raw_tensor(const std::string& name, std::vector<std::uint64_t> ne, GgufTensorType type,
                      std::vector<std::byte> bytes);

  // The whole file image.
  [[nodiscard]] std::vector<std::byte> bytes() const;
  // Writes bytes() to `file`; Error(output) naming it when that fails.
  void write(const std::filesystem::path& file) const;

 private:
  struct PendingTensor {
    std::string name;
    std::vector<std::uint64_t> ne;
    GgufTensorType type;
    std::vector<std::byte> bytes;
  };
  void check_new_tensor(const std::string& name, const std::vector<std::uint64_t>& ne,
                        GgufTensorType type) const;
  std::uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> metadata_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace spikesim
