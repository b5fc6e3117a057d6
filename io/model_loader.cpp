#include "io/model_loader.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>

#include "core/error.hpp"
#include "core/saturating.hpp"
#include "io/hf_loader.hpp"
#include "io/llama2c_loader.hpp"
#include "io/safetensors.hpp"

namespace spikesim {

LlamaModel load_model(const std::filesystem::path& path, const LoadOptions& options) {
  if (std::filesystem::is_directory(path)) return load_hf_model(path, options);
  if (path.extension() == ".bin") return load_llama2c_model(path, options);
  if (!std::filesystem::exists(path))
    throw Error(ExitCode::model, fmt::format("{}: no such file or directory", path.string()));
  throw Error(ExitCode::model,
              fmt::format("{}: unknown model format (expected a Hugging Face directory with config.json and "
                          "model.safetensors, or a llama2.c .bin checkpoint)",
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

// Parameters of every layer plus the embedding and the final norm (no lm_head).
u64 body_parameters(const LlamaConfig& c) {
  const u64 d = static_cast<u64>(c.dim), h = static_cast<u64>(c.hidden_dim), L = static_cast<u64>(c.n_layers),
            q = sat_mul(static_cast<u64>(c.n_heads), static_cast<u64>(c.head_dim)),
            k = sat_mul(static_cast<u64>(c.n_kv_heads), static_cast<u64>(c.head_dim));
  u64 layer = sat_add(sat_mul(2, d), sat_mul(2, sat_mul(q, d)));
  layer = sat_add(layer, sat_add(sat_mul(2, sat_mul(k, d)), sat_mul(3, sat_mul(h, d))));
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
  return load_model(path).config;  // throws: no such file or unknown format
}

void check_finite(std::span<const float> values, const std::string& file, const std::string& tensor,
                  const LoadOptions& options, long cols) {
  if (options.allow_non_finite) return;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const float v = values[i];
    if (std::isfinite(v)) continue;
    const std::string where =
        cols > 0 ? fmt::format(" (row {}, col {})", static_cast<long>(i) / cols, static_cast<long>(i) % cols)
                 : std::string();
    throw Error(ExitCode::numeric,
                fmt::format("{}: tensor '{}' element {}{} is {} (load with allow_non_finite to accept it)",
                            file, tensor, i, where, std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf")));
  }
}

namespace {

void expect_shape(const LlamaModel& m, const std::string& name, long rows, long cols, long want_rows,
                  long want_cols) {
  if (rows != want_rows || cols != want_cols)
    throw Error(ExitCode::model, fmt::format("{}: tensor '{}' has shape [{}, {}], expected [{}, {}]",
                                             m.source, name, rows, cols, want_rows, want_cols));
}

}  // namespace

void validate_model(const LlamaModel& m) {
  const LlamaConfig& c = m.config;
  auto bad = [&](const std::string& what) {
    throw Error(ExitCode::model, fmt::format("{}: inconsistent model config: {}", m.source, what));
  };
  if (c.dim <= 0 || c.hidden_dim <= 0 || c.n_layers <= 0 || c.n_heads <= 0 || c.n_kv_heads <= 0 ||
      c.head_dim <= 0 || c.vocab_size <= 0 || c.max_seq_len <= 0)
    bad(fmt::format(
        "every dimension must be > 0 (dim {}, hidden_dim {}, n_layers {}, n_heads {}, n_kv_heads {}, "
        "head_dim {}, vocab {}, max_seq_len {})",
        c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab_size, c.max_seq_len));
  if (c.n_heads % c.n_kv_heads != 0)
    bad(fmt::format("{} KV heads do not divide {} heads", c.n_kv_heads, c.n_heads));
  if (c.head_dim % 2 != 0) bad(fmt::format("head_dim {} is odd (RoPE rotates pairs)", c.head_dim));
  if (!(c.norm_eps > 0.0f) || !(c.rope_theta > 0.0f))
    bad(fmt::format("norm_eps {} and rope_theta {} must be > 0", c.norm_eps, c.rope_theta));
  if (static_cast<int>(m.layers.size()) != c.n_layers)
    bad(fmt::format("{} layers, config says {}", m.layers.size(), c.n_layers));

  const long d = c.dim, h = c.hidden_dim, q = static_cast<long>(c.n_heads) * c.head_dim,
             kv = static_cast<long>(c.n_kv_heads) * c.head_dim, v = c.vocab_size;
  expect_shape(m, "embedding", m.embedding.rows(), m.embedding.cols(), v, d);
  expect_shape(m, "lm_head", m.lm_head.rows(), m.lm_head.cols(), v, d);
  expect_shape(m, "final_norm", m.final_norm.size(), 1, d, 1);
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const LlamaLayer& l = m.layers[i];
    auto name = [&](const char* leaf) { return fmt::format("layers.{}.{}", i, leaf); };
    expect_shape(m, name("attn_norm"), l.attn_norm.size(), 1, d, 1);
    expect_shape(m, name("wq"), l.wq.rows(), l.wq.cols(), q, d);
    expect_shape(m, name("wk"), l.wk.rows(), l.wk.cols(), kv, d);
    expect_shape(m, name("wv"), l.wv.rows(), l.wv.cols(), kv, d);
    expect_shape(m, name("wo"), l.wo.rows(), l.wo.cols(), d, q);
    expect_shape(m, name("ffn_norm"), l.ffn_norm.size(), 1, d, 1);
    expect_shape(m, name("w_gate"), l.w_gate.rows(), l.w_gate.cols(), h, d);
    expect_shape(m, name("w_up"), l.w_up.rows(), l.w_up.cols(), h, d);
    expect_shape(m, name("w_down"), l.w_down.rows(), l.w_down.cols(), d, h);
  }
}

}  // namespace spikesim
