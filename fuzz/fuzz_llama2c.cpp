// Fuzzes the llama2.c checkpoint loader (io/formats/llama2c_loader.hpp) on a whole
// file image: the 7-field header (signs, ranges, divisibility, 64-bit size
// arithmetic), the exact-length rule, and the fp32 arrays it then slices
// into a LlamaModel checked by validate_model().
//
// Seeds: fuzz/corpus/fuzz_llama2c/ (fuzz/make_corpus.py). Running it:
// docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz/fuzz_support.hpp"
#include "io/formats/llama2c_loader.hpp"

using namespace spikesim;

namespace {

std::int32_t header_field(const std::uint8_t* data, int k) {
  std::uint32_t u = 0;
  for (int b = 0; b < 4; ++b) u |= static_cast<std::uint32_t>(data[4 * k + b]) << (8 * b);
  return static_cast<std::int32_t>(u);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = fuzz::as_bytes(data, size);
  bool non_finite = false;
  const bool loaded = fuzz::accepts([&] {
    try {
      const LlamaModel m = load_llama2c_model_from_bytes(bytes, "fuzz.bin");
      // An accepted file is the model its header describes.
      const LlamaConfig& c = m.config;
      FUZZ_CHECK(c.dim == header_field(data, 0) && c.hidden_dim == header_field(data, 1));
      FUZZ_CHECK(c.n_layers == header_field(data, 2) && c.n_heads == header_field(data, 3));
      FUZZ_CHECK(c.n_kv_heads == header_field(data, 4) && c.max_seq_len == header_field(data, 6));
      FUZZ_CHECK(c.tied_embeddings == (header_field(data, 5) > 0));
      FUZZ_CHECK(static_cast<int>(m.layers.size()) == c.n_layers);
      FUZZ_CHECK(m.embedding.rows() == c.vocab_size && m.embedding.cols() == c.dim);
    } catch (const Error& e) {
      non_finite = e.code() == ExitCode::numeric;
      throw;
    }
  });
  // A file refused only for NaN/Inf weights loads when they are allowed.
  if (!loaded && non_finite) {
    LoadOptions options;
    options.allow_non_finite = true;
    FUZZ_CHECK(fuzz::accepts([&] { (void)load_llama2c_model_from_bytes(bytes, "fuzz.bin", options); }));
  }
  return 0;
}
