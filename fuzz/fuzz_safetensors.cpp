// Fuzzes the safetensors reader (io/formats/safetensors.hpp) on a whole file image:
// the 8-byte header length, the JSON header, and the tensor table checks
// (dtype, shape x dtype size = span, offsets inside the data area, no
// overlap), then reads every tensor the table accepted.
//
// Seeds: fuzz/corpus/fuzz_safetensors/ (fuzz/make_corpus.py). Running it:
// docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "io/formats/safetensors.hpp"

using namespace spikesim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::accepts([&] {
    const auto file = SafetensorsFile::from_bytes(fuzz::as_bytes(data, size), "fuzz.safetensors");
    // An accepted table promises every tensor lies inside the file, has the
    // size its shape says, and reads as that many floats when it is a float.
    std::uint64_t covered = 0;
    for (const auto& entry : file.tensors()) {
      const std::string& name = entry.first;  // no structured binding: clang 14 cannot capture one
      const SafetensorsTensorInfo& info = entry.second;
      FUZZ_CHECK(info.begin <= info.end && info.end <= size);
      FUZZ_CHECK(info.dtype_size > 0 && info.elements() * info.dtype_size == info.end - info.begin);
      const auto bytes = file.raw(name);
      FUZZ_CHECK(bytes.size() == info.end - info.begin);
      covered += bytes.size();
      const bool is_float = info.dtype == SafetensorsDtype::f32 || info.dtype == SafetensorsDtype::f16 ||
                            info.dtype == SafetensorsDtype::bf16 || info.dtype == SafetensorsDtype::f64;
      const bool read = fuzz::accepts([&] {
        const auto values = file.read_f32(name);
        FUZZ_CHECK(values.size() == info.elements());
      });
      FUZZ_CHECK(read == is_float);
    }
    FUZZ_CHECK(covered <= size);  // no two tensors share a byte
  });
  return 0;
}
