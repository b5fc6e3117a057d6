#include "io/formats/generated_model.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.hpp"
#include "core/parallel.hpp"
#include "core/random.hpp"
#include "core/weights/weight_quantizer.hpp"
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
  if (s.group < 0) bad("group", fmt::format("expected 0 (per output channel) or more, found {}", s.group));
}

// ---- Blocked draws in the target type (bf16, f16, int8, int4) ---------------

// Output rows drawn from one stream: small enough that a 7B-shape tensor has
// hundreds of blocks to share between threads, large enough that seeding
// mt19937_64 (312 words) costs nothing next to the draws.
constexpr long kRowsPerBlock = 16;

// splitmix64's finalizer: a counter-based seed, so that the stream of
// (tensor, block) depends on nothing but its indices.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
std::uint64_t stream_seed(std::uint64_t seed, std::uint64_t tensor, std::uint64_t block) {
  return mix(mix(mix(seed) ^ tensor) ^ block);
}

// Draws rows [r0, r1) of a [rows x cols] N(0, stddev²) tensor into `out`
// (row-major, (r1 - r0) x cols), scaling `scaled_cols` by `col_scale`.
void draw_block(std::uint64_t seed, std::uint64_t tensor, long block, long cols, float stddev, long r0, long r1,
                const std::vector<int>& scaled_cols, float col_scale, float* out) {
  // Box-Muller (Rng::normal: a log, a root and a sine per value) would spend
  // minutes on 6.7e9 weights; the sum of the four 16-bit quarters of one
  // engine output is the Irwin-Hall approximation of a normal: mean and
  // variance exact, tails cut at ±sqrt(12) = ±3.46 sigma, a few ns per value.
  std::mt19937_64 engine(stream_seed(seed, tensor, static_cast<std::uint64_t>(block)));
  constexpr float kMean = 4 * 32767.5f;
  const float scale = stddev * std::sqrt(3.0f) / 65536.0f;  // sd of the sum is 65536 / sqrt(3)
  for (long i = 0; i < (r1 - r0) * cols; ++i) {
    const std::uint64_t x = engine();
    const auto sum = static_cast<float>((x & 0xffff) + ((x >> 16) & 0xffff) + ((x >> 32) & 0xffff) + (x >> 48));
    out[i] = (sum - kMean) * scale;
  }
  for (long r = 0; r < r1 - r0; ++r)
    for (int c : scaled_cols) out[r * cols + c] *= col_scale;
}

// A [rows x cols] tensor drawn block by block in `type`. Float types: one
// fp32 copy of this tensor, rounded by from_f32. Integer types: each block is
// RTN-quantized as it is drawn, so only codes (1 byte per weight), scales and
// zero points are gathered for the tensor.
WeightTensor blocked_tensor(std::uint64_t seed, std::uint64_t tensor, long rows, long cols, float stddev,
                            WeightType type, int group, WeightOrder order, const std::vector<int>& scaled_cols = {},
                            float col_scale = 1.0f) {
  const long blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  const auto n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  if (!is_integer(type)) {
    std::vector<float> values(n);
    parallel_blocks(tbb::blocked_range<long>(0, blocks), [&](const tbb::blocked_range<long>& r) {
      for (long b = r.begin(); b < r.end(); ++b) {
        const long r0 = b * kRowsPerBlock, r1 = std::min(rows, r0 + kRowsPerBlock);
        draw_block(seed, tensor, b, cols, stddev, r0, r1, scaled_cols, col_scale,
                   values.data() + static_cast<std::size_t>(r0) * static_cast<std::size_t>(cols));
      }
    });
    return WeightTensor::from_f32(static_cast<std::size_t>(rows), static_cast<std::size_t>(cols), values, type,
                                  order);
  }
  const WeightQuantSpec spec{type == WeightType::int4 ? 4 : 8, group >= cols ? 0 : group, false};
  const long groups = spec.group == 0 ? 1 : (cols + spec.group - 1) / spec.group;
  std::vector<std::uint8_t> codes(n);
  std::vector<float> scales(static_cast<std::size_t>(rows * groups));
  std::vector<std::int16_t> zeros(scales.size());
  parallel_blocks(tbb::blocked_range<long>(0, blocks), [&](const tbb::blocked_range<long>& r) {
    MatrixRM block;
    for (long b = r.begin(); b < r.end(); ++b) {
      const long r0 = b * kRowsPerBlock, r1 = std::min(rows, r0 + kRowsPerBlock);
      block.resize(r1 - r0, cols);
      draw_block(seed, tensor, b, cols, stddev, r0, r1, scaled_cols, col_scale, block.data());
      const QuantizedWeights q = quantize_rtn(block, spec);
      std::copy(q.codes.begin(), q.codes.end(), codes.begin() + r0 * cols);
      std::copy(q.scales.begin(), q.scales.end(), scales.begin() + r0 * groups);
      std::copy(q.zeros.begin(), q.zeros.end(), zeros.begin() + r0 * groups);
    }
  });
  const int stored_group = spec.group == 0 ? static_cast<int>(cols) : spec.group;
  return WeightTensor::from_integer(
      {static_cast<int>(rows), static_cast<int>(cols), spec.bits, stored_group, codes, scales, zeros}, order);
}

// The blocked draw of every tensor (see the header); `outliers` as the f32 draw found them.
void draw_blocked(LlamaModel& m, const GeneratedModelSpec& spec, const std::vector<int>& outliers) {
  const LlamaConfig& c = m.config;
  const auto outlier_scale = static_cast<float>(spec.outlier_scale);
  // int8/int4 keep the tables in bf16 (see the header).
  const WeightType table = is_integer(spec.dtype) ? WeightType::bf16 : spec.dtype;
  const long d = c.dim, h = c.hidden_dim, q = static_cast<long>(c.n_heads) * c.head_dim,
             kv = static_cast<long>(c.n_kv_heads) * c.head_dim;
  std::uint64_t tensor = 0;  // numbered in the f32 draw order, from 1
  auto linear = [&](long out, long in) {
    return blocked_tensor(spec.seed, ++tensor, out, in, 1.0f / std::sqrt(static_cast<float>(in)), spec.dtype,
                          spec.group, WeightOrder::by_input);
  };
  auto norm = [&] {
    Rng rng(stream_seed(spec.seed, ++tensor, 0));
    return norm_weight(rng, d, outliers, outlier_scale);
  };
  m.embedding = blocked_tensor(spec.seed, ++tensor, c.vocab_size, d, 1.0f, table, 0, WeightOrder::by_output,
                               outliers, outlier_scale);
  for (int i = 0; i < c.n_layers; ++i) {
    LlamaLayer l;
    l.attn_norm = norm();
    l.wq = linear(q, d);
    l.wk = linear(kv, d);
    l.wv = linear(kv, d);
    l.wo = linear(d, q);
    l.ffn_norm = norm();
    l.w_gate = linear(h, d);
    l.w_up = linear(h, d);
    l.w_down = linear(d, h);
    m.layers.push_back(std::move(l));
  }
  m.final_norm = norm();
  m.lm_head = blocked_tensor(spec.seed, ++tensor, c.vocab_size, d, 1.0f / std::sqrt(static_cast<float>(d)), table, 0,
                             WeightOrder::by_output);
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
  if (spec.dtype != WeightType::f32)
    m.source += is_integer(spec.dtype) ? fmt::format(",dtype={},group={}", weight_type_name(spec.dtype), spec.group)
                                       : fmt::format(",dtype={}", weight_type_name(spec.dtype));

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
  if (spec.dtype != WeightType::f32) {
    draw_blocked(m, spec, outliers);
    validate_model(m);
    return m;
  }

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
