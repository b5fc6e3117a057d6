#include "io/formats/model_loader.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <fstream>
#include <limits>

#include "core/error.hpp"
#include "core/saturating.hpp"
#include "io/formats/gguf_loader.hpp"
#include "io/formats/hf_loader.hpp"
#include "io/formats/llama2c_loader.hpp"
#include "io/formats/safetensors.hpp"

namespace spikesim {

LlamaModel load_model(const std::filesystem::path& path, const LoadOptions& options) {
  if (std::filesystem::is_directory(path)) return load_hf_model(path, options);
  if (path.extension() == ".bin") return load_llama2c_model(path, options);
  if (path.extension() == ".gguf") return load_gguf_model(path, options);
  if (!std::filesystem::exists(path))
    throw Error(ExitCode::model, fmt::format("{}: no such file or directory", path.string()));
  throw Error(ExitCode::model,
              fmt::format("{}: unknown model format (expected a Hugging Face directory with config.json and "
                          "model.safetensors, a llama2.c .bin checkpoint or a .gguf file)",
                          path.string()));
}

namespace {

using u64 = std::uint64_t;

// Saturating (core/saturating.hpp): absurd header values must not wrap
// around into a plausible size.
u64 sat_mul(u64 a, u64 b) {
  return saturating_mul(a, b);
}
u64 sat_add(u64 a, u64 b) {
  return saturating_add(a, b);
}

// Parameters of every layer (biases included) plus the embedding and the final norm (no lm_head).
u64 body_parameters(const LlamaConfig& c) {
  const u64 d = static_cast<u64>(c.dim), h = static_cast<u64>(c.hidden_dim), L = static_cast<u64>(c.n_layers),
            q = sat_mul(static_cast<u64>(c.n_heads), static_cast<u64>(c.head_dim)),
            k = sat_mul(static_cast<u64>(c.n_kv_heads), static_cast<u64>(c.head_dim));
  u64 layer = sat_add(sat_mul(2, d), sat_mul(2, sat_mul(q, d)));
  layer = sat_add(layer, sat_add(sat_mul(2, sat_mul(k, d)), sat_mul(3, sat_mul(h, d))));
  if (c.qkv_bias) layer = sat_add(layer, sat_add(q, sat_mul(2, k)));
  if (c.o_bias) layer = sat_add(layer, d);
  return sat_add(sat_add(sat_mul(L, layer), sat_mul(static_cast<u64>(c.vocab_size), d)), d);
}

LlamaConfig peek_hf(const std::filesystem::path& dir) {
  const LlamaConfig c = read_hf_config(dir / "config.json");
  std::filesystem::path weights = dir / "model.safetensors";
  if (!std::filesystem::exists(weights)) weights = dir / "model.safetensors.index.json";
  if (!std::filesystem::exists(weights)) return load_hf_model(dir).config;  // throws: no weights
  // Opening checks every header (dtypes, offsets, overlaps, truncation) without reading data.
  const SafetensorsArchive archive(weights);
  u64 found = 0;
  for (const auto& name : archive.names())
    if (!name.ends_with(".rotary_emb.inv_freq")) found = sat_add(found, archive.info(name).elements());
  const u64 body = body_parameters(c);
  const u64 with_head = sat_add(body, sat_mul(static_cast<u64>(c.vocab_size), static_cast<u64>(c.dim)));
  if (found == with_head || (c.tied_embeddings && found == body)) return c;
  // Missing, extra or mis-shaped tensors: the loader names the first one.
  return load_hf_model(dir).config;
}

LlamaConfig peek_llama2c(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::error_code ec;
  const u64 size = std::filesystem::file_size(file, ec);
  std::array<unsigned char, 28> bytes{};
  if (!in || ec || size < bytes.size() || !in.read(reinterpret_cast<char*>(bytes.data()), bytes.size()))
    return load_llama2c_model(file).config;  // throws, naming what is wrong
  std::array<std::int64_t, 7> h{};
  for (std::size_t f = 0; f < h.size(); ++f) {
    std::uint32_t v = 0;
    for (std::size_t b = 0; b < 4; ++b) v |= static_cast<std::uint32_t>(bytes[4 * f + b]) << (8 * b);
    h[f] = static_cast<std::int32_t>(v);
  }
  LlamaConfig c;
  c.dim = static_cast<int>(h[0]);
  c.hidden_dim = static_cast<int>(h[1]);
  c.n_layers = static_cast<int>(h[2]);
  c.n_heads = static_cast<int>(h[3]);
  c.n_kv_heads = static_cast<int>(h[4]);
  c.vocab_size = static_cast<int>(h[5] < 0 ? -h[5] : h[5]);
  c.max_seq_len = static_cast<int>(h[6]);
  c.rope = RopeStyle::interleaved;
  c.tied_embeddings = h[5] > 0;
  // The loader's ranges: every field in [1, 2^20] (vocab_size by magnitude).
  const bool positive =
      std::all_of(h.begin(), h.end(),
                  [](std::int64_t v) { return v != 0 && v >= -(1 << 20) && v <= (1 << 20); }) &&
      h[0] > 0 && h[1] > 0 && h[2] > 0 && h[3] > 0 && h[4] > 0 && h[6] > 0;
  bool plausible =
      positive && c.dim % c.n_heads == 0 && c.n_heads % c.n_kv_heads == 0 && (c.dim / c.n_heads) % 2 == 0;
  if (plausible) {
    c.head_dim = c.dim / c.n_heads;
    // The file must be exactly as long as the header promises (llama2c_loader.hpp).
    u64 floats = body_parameters(c);
    // freq_cis_real and freq_cis_imag: seq_len x head_dim / 2 each.
    floats = sat_add(floats, sat_mul(static_cast<u64>(c.max_seq_len), static_cast<u64>(c.head_dim)));
    if (!c.tied_embeddings)
      floats = sat_add(floats, sat_mul(static_cast<u64>(c.vocab_size), static_cast<u64>(c.dim)));
    plausible = sat_add(28, sat_mul(4, floats)) == size;
  }
  if (!plausible) return load_llama2c_model(file).config;  // throws, naming the field or tensor
  return c;
}

}  // namespace

LlamaConfig peek_model_config(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path)) return peek_hf(path);
  if (path.extension() == ".bin") return peek_llama2c(path);
  if (path.extension() == ".gguf") return read_gguf_config(path);
  return load_model(path).config;  // throws: no such file or unknown format
}

}  // namespace spikesim
