#include "io/formats/generated_model.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/random.hpp"
#include "network/llama/model.hpp"

namespace spikesim {

namespace {

MatrixRM gaussian(Rng& rng, long rows, long cols, float stddev) {
  MatrixRM m(rows, cols);
  for (long i = 0; i < m.size(); ++i) m.data()[i] = stddev * static_cast<float>(rng.normal());
  return m;
}

Eigen::VectorXf norm_weight(Rng& rng, long n, const std::vector<int>& outliers, float scale) {
  Eigen::VectorXf w(n);
  for (long i = 0; i < n; ++i) w[i] = 1.0f + 0.05f * static_cast<float>(rng.normal());
  for (int c : outliers) w[c] *= scale;
  return w;
}

void check_spec(const GeneratedModelSpec& s) {
  auto bad = [](const char* field, const std::string& what) {
    throw Error(ExitCode::config, fmt::format("generated model: field '{}': {}", field, what));
  };
  const std::pair<const char*, int> positive[] = {{"dim", s.dim},
                                                  {"hidden_dim", s.hidden_dim},
                                                  {"n_layers", s.layers},
                                                  {"n_heads", s.heads},
                                                  {"n_kv_heads", s.kv_heads},
                                                  {"vocab", s.vocab},
                                                  {"max_seq_len", s.max_seq_len}};
  for (const auto& [name, v] : positive)
    if (v <= 0 || v > (1 << 16)) bad(name, fmt::format("expected an integer in [1, 65536], found {}", v));
  if (s.dim % s.heads != 0) bad("n_heads", fmt::format("{} does not divide dim {}", s.heads, s.dim));
  if ((s.dim / s.heads) % 2 != 0)
    bad("n_heads", fmt::format("head_dim {} must be even for RoPE", s.dim / s.heads));
  if (s.heads % s.kv_heads != 0)
    bad("n_kv_heads", fmt::format("{} does not divide n_heads {}", s.kv_heads, s.heads));
  if (s.outliers < 0 || s.outliers > s.dim)
    bad("outlier_channels", fmt::format("expected 0..dim ({}), found {}", s.dim, s.outliers));
  if (!(s.outlier_scale > 0.0) || !std::isfinite(s.outlier_scale))
    bad("outlier_scale", fmt::format("expected a finite number > 0, found {}", s.outlier_scale));
}

}  // namespace

LlamaConfig generated_config(const GeneratedModelSpec& spec) {
  check_spec(spec);
  LlamaConfig c;
  c.dim = spec.dim;
  c.hidden_dim = spec.hidden_dim;
  c.n_layers = spec.layers;
  c.n_heads = spec.heads;
  c.n_kv_heads = spec.kv_heads;
  c.head_dim = spec.dim / spec.heads;
  c.vocab_size = spec.vocab;
  c.max_seq_len = spec.max_seq_len;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.rope = RopeStyle::rotate_half;
  c.tied_embeddings = false;
  return c;
}

LlamaModel generate_model(const GeneratedModelSpec& spec) {
  LlamaModel m;
  m.config = generated_config(spec);
  const LlamaConfig& c = m.config;
  // The weights are fp32: the scale is applied as a float.
  const auto outlier_scale = static_cast<float>(spec.outlier_scale);
  m.format = "generated";
  m.source = fmt::format(
      "generated:seed={},dim={},hidden_dim={},n_layers={},n_heads={},n_kv_heads={},vocab={},max_seq_len={},"
      "outlier_channels={},outlier_scale={}",
      spec.seed, spec.dim, spec.hidden_dim, spec.layers, spec.heads, spec.kv_heads, spec.vocab,
      spec.max_seq_len, spec.outliers, outlier_scale);

  Rng rng(spec.seed);  // platform-independent normals (core/random.hpp)
  // Outlier channels: a partial Fisher-Yates shuffle driven by raw engine
  // bits (std::uniform_int_distribution is not portable either).
  std::vector<int> channels(static_cast<std::size_t>(spec.dim));
  for (int i = 0; i < spec.dim; ++i) channels[static_cast<std::size_t>(i)] = i;
  for (int i = 0; i < spec.outliers; ++i) {
    const auto j = i + static_cast<int>(rng.next() % static_cast<std::uint64_t>(spec.dim - i));
    std::swap(channels[static_cast<std::size_t>(i)], channels[static_cast<std::size_t>(j)]);
  }
  const std::vector<int> outliers(channels.begin(), channels.begin() + spec.outliers);

  const long d = c.dim, h = c.hidden_dim, q = static_cast<long>(c.n_heads) * c.head_dim,
             kv = static_cast<long>(c.n_kv_heads) * c.head_dim;
  auto linear = [&](long out, long in) {
    return WeightTensor::from_f32(gaussian(rng, out, in, 1.0f / std::sqrt(static_cast<float>(in))), WeightType::f32,
                                  WeightOrder::by_input);
  };

  MatrixRM embedding = gaussian(rng, c.vocab_size, d, 1.0f);
  for (int col : outliers) embedding.col(col) *= outlier_scale;
  m.embedding = WeightTensor::from_f32(embedding, WeightType::f32, WeightOrder::by_output);
  for (int i = 0; i < c.n_layers; ++i) {
    LlamaLayer l;
    l.attn_norm = norm_weight(rng, d, outliers, outlier_scale);
    l.wq = linear(q, d);
    l.wk = linear(kv, d);
    l.wv = linear(kv, d);
    l.wo = linear(d, q);
    l.ffn_norm = norm_weight(rng, d, outliers, outlier_scale);
    l.w_gate = linear(h, d);
    l.w_up = linear(h, d);
    l.w_down = linear(d, h);
    m.layers.push_back(std::move(l));
  }
  m.final_norm = norm_weight(rng, d, outliers, outlier_scale);
  m.lm_head = WeightTensor::from_f32(gaussian(rng, c.vocab_size, d, 1.0f / std::sqrt(static_cast<float>(d))),
                                     WeightType::f32, WeightOrder::by_output);
  validate_model(m);
  return m;
}

}  // namespace spikesim
