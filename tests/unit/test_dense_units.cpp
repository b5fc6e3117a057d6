// Dense units (RMSNorm, RoPE, softmax, SiLU, residual, embedding), the dense
// reference forward built from them, and the perplexity helpers. Each unit
// is checked against a direct double-precision formula and for the
// operation counts its header promises.
#include <catch2/catch.hpp>

#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "io/formats/generated_model.hpp"
#include "io/formats/llama2c_loader.hpp"
#include "network/dense_units.hpp"
#include "sim/transformer.hpp"
#include "sim/perplexity.hpp"

using namespace spikesim;

namespace {

std::vector<float> ramp(std::size_t n, float scale = 0.37f, float offset = -1.1f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = offset + scale * static_cast<float>((i * 7) % 11) + 0.01f * i;
  return v;
}

LlamaModel small_model(int n_kv_heads = 2) {
  GeneratedModelSpec s;
  s.seed = 3;
  s.dim = 32;
  s.hidden_dim = 48;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = n_kv_heads;
  s.vocab = 40;
  s.max_seq_len = 24;
  return generate_model(s);
}

}  // namespace

TEST_CASE("rms_norm matches the formula and counts its operations", "[dense_units]") {
  const auto x = ramp(10);
  Eigen::VectorXf w(10);
  for (int i = 0; i < 10; ++i) w[i] = 0.5f + 0.1f * i;
  std::vector<float> out(10);
  DenseOpCounts c;
  rms_norm(x, w, 1e-5f, out, &c);
  double ss = 0.0;
  for (float v : x) ss += double(v) * v;
  const double inv = 1.0 / std::sqrt(ss / 10.0 + 1e-5);
  for (int i = 0; i < 10; ++i) CHECK(out[i] == Approx(w[i] * x[i] * inv).epsilon(1e-6));
  CHECK(c[DenseOp::mul] == 30);
  CHECK(c[DenseOp::add] == 11);
  CHECK(c[DenseOp::div] == 2);
  CHECK(c[DenseOp::sqrt] == 1);
  CHECK(c[DenseOp::mac] == 0);

  // In place and without counters.
  std::vector<float> y = x;
  rms_norm(y, w, 1e-5f, y, nullptr);
  CHECK(y == out);
}

TEST_CASE("RoPE: frequencies, rotation, styles and the table", "[dense_units][rope]") {
  CHECK(rope_inv_freq(0, 8, 10000.0f) == 1.0f);
  CHECK(rope_inv_freq(2, 8, 10000.0f) == Approx(0.01f));  // 10000^(-4/8)

  const auto v = ramp(8);
  SECTION("position 0 is the identity") {
    std::vector<float> a = v;
    apply_rope(a, 0, 10000.0f, RopeStyle::rotate_half, nullptr);
    CHECK(a == v);
  }
  SECTION("rotation preserves the norm and matches the formula") {
    for (auto style : {RopeStyle::rotate_half, RopeStyle::interleaved}) {
      std::vector<float> a = v;
      DenseOpCounts c;
      apply_rope(a, 5, 10000.0f, style, &c);
      const double n0 = std::inner_product(v.begin(), v.end(), v.begin(), 0.0);
      const double n1 = std::inner_product(a.begin(), a.end(), a.begin(), 0.0);
      CHECK(n1 == Approx(n0).epsilon(1e-6));
      CHECK(c[DenseOp::mul] == 16);
      CHECK(c[DenseOp::add] == 8);
      // pair 1: angle 5 * 10000^(-2/8)
      const double ang = 5.0 * std::pow(10000.0, -0.25);
      const int i0 = style == RopeStyle::rotate_half ? 1 : 2, i1 = style == RopeStyle::rotate_half ? 5 : 3;
      CHECK(a[i0] == Approx(v[i0] * std::cos(ang) - v[i1] * std::sin(ang)).epsilon(1e-5));
      CHECK(a[i1] == Approx(v[i1] * std::cos(ang) + v[i0] * std::sin(ang)).epsilon(1e-5));
    }
  }
  SECTION("rotate-half of v equals interleaved of the permuted v") {
    // interleaved index 2i+p holds rotate-half index p*d/2 + i.
    std::vector<float> rh = v, il(8);
    for (int i = 0; i < 4; ++i)
      for (int p = 0; p < 2; ++p) il[2 * i + p] = v[p * 4 + i];
    apply_rope(rh, 9, 10000.0f, RopeStyle::rotate_half, nullptr);
    apply_rope(il, 9, 10000.0f, RopeStyle::interleaved, nullptr);
    for (int i = 0; i < 4; ++i)
      for (int p = 0; p < 2; ++p) CHECK(il[2 * i + p] == rh[p * 4 + i]);
  }
  SECTION("the table gives bit-identical results") {
    const RopeTable table(8, 10000.0f, 64);
    for (int pos : {0, 1, 17, 63}) {
      std::vector<float> a = v, b = v;
      apply_rope(a, pos, 10000.0f, RopeStyle::interleaved, nullptr);
      table.apply(b, pos, RopeStyle::interleaved, nullptr);
      CHECK(a == b);
    }
    std::vector<float> b = v;
    CHECK_THROWS_AS(table.apply(b, 64, RopeStyle::interleaved, nullptr), Error);
  }
  SECTION("scores depend on the relative position only") {
    const auto k = ramp(8, 0.21f, 0.3f);
    auto score = [&](int pq, int pk) {
      std::vector<float> a = v, b = k;
      apply_rope(a, pq, 10000.0f, RopeStyle::rotate_half, nullptr);
      apply_rope(b, pk, 10000.0f, RopeStyle::rotate_half, nullptr);
      return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
    };
    CHECK(score(7, 3) == Approx(score(14, 10)).epsilon(1e-5));
  }
}

TEST_CASE("RoPE scaling: linear and llama3 inverse frequencies as transformers computes them", "[dense_units][rope]") {
  const int d = 64;
  const float theta = 500000.0f;
  SECTION("linear divides every frequency by the factor") {
    const RopeScaling linear{RopeScalingType::linear, 4.0f};
    for (int i = 0; i < d / 2; ++i) CHECK(rope_inv_freq(i, d, theta, linear) == rope_inv_freq(i, d, theta) / 4.0f);
  }
  SECTION("llama3: short wavelengths kept, long ones divided, a smooth blend between") {
    const RopeScaling s{RopeScalingType::llama3, 8.0f, 1.0f, 4.0f, 64};
    int high = 0, low = 0, medium = 0;
    for (int i = 0; i < d / 2; ++i) {
      // _compute_llama3_parameters in double.
      const double inv = 1.0 / std::pow(static_cast<double>(theta), 2.0 * i / d);
      const double wavelen = 2 * M_PI / inv;
      double want = inv;
      if (wavelen > 64.0 / 1.0) {
        want = inv / 8.0, ++low;
      } else if (wavelen >= 64.0 / 4.0) {
        const double smooth = (64.0 / wavelen - 1.0) / (4.0 - 1.0);
        want = (1 - smooth) * inv / 8.0 + smooth * inv, ++medium;
      } else {
        ++high;
      }
      CHECK(rope_inv_freq(i, d, theta, s) == Approx(want).epsilon(1e-6));
    }
    CHECK(high > 0);
    CHECK(medium > 0);
    CHECK(low > 0);
  }
  SECTION("the table and apply_rope agree bit for bit under scaling") {
    const RopeScaling s{RopeScalingType::llama3, 8.0f, 1.0f, 4.0f, 16};
    const RopeTable table(8, 10000.0f, 64, s);
    const auto v = ramp(8, -0.4f, 0.13f);
    for (int pos : {0, 5, 40, 63}) {
      std::vector<float> a = v, b = v;
      apply_rope(a, pos, 10000.0f, RopeStyle::rotate_half, nullptr, s);
      table.apply(b, pos, RopeStyle::rotate_half, nullptr);
      CHECK(a == b);
    }
  }
}

TEST_CASE("softmax is stable, sums to one and counts its operations", "[dense_units]") {
  std::vector<float> x = {1000.0f, 1001.0f, 999.0f, -1e30f};
  DenseOpCounts c;
  softmax_inplace(x, &c);
  const double z = 1.0 + std::exp(1.0) + std::exp(-1.0);
  CHECK(x[0] == Approx(1.0 / z));
  CHECK(x[1] == Approx(std::exp(1.0) / z));
  CHECK(x[3] == 0.0f);
  CHECK(std::accumulate(x.begin(), x.end(), 0.0) == Approx(1.0));
  CHECK(c[DenseOp::compare] == 3);
  CHECK(c[DenseOp::add] == 7);
  CHECK(c[DenseOp::exp] == 4);
  CHECK(c[DenseOp::div] == 1);
  CHECK(c[DenseOp::mul] == 4);
}

TEST_CASE("silu_mul, residual_add and embedding_lookup", "[dense_units]") {
  const auto g = ramp(6, 2.0f, -6.0f), u = ramp(6, 0.5f, 1.0f);
  std::vector<float> out(6);
  DenseOpCounts c;
  silu_mul(g, u, out, &c);
  for (int i = 0; i < 6; ++i)
    CHECK(out[i] == Approx(g[i] / (1.0 + std::exp(-double(g[i]))) * u[i]).epsilon(1e-6));
  CHECK(c[DenseOp::exp] == 6);
  CHECK(c[DenseOp::div] == 6);
  CHECK(c[DenseOp::add] == 6);
  CHECK(c[DenseOp::mul] == 6);

  std::vector<float> x = {1, 2, 3};
  const std::vector<float> y = {0.5f, -2, 4};
  DenseOpCounts r;
  residual_add(x, y, &r);
  CHECK(x == std::vector<float>{1.5f, 0, 7});
  CHECK(r.total() == 3);

  MatrixRM values(3, 2);
  values << 1, 2, 3, 4, 5, 6;
  const WeightTensor table = WeightTensor::from_f32(values, WeightType::f32, WeightOrder::by_output);
  std::vector<float> row(2);
  DenseOpCounts e;
  embedding_lookup(table, 2, row, &e);
  CHECK(row == std::vector<float>{5, 6});
  CHECK(e.total() == 0);
  try {
    embedding_lookup(table, 3, row, nullptr);
    FAIL("no error");
  } catch (const Error& err) {
    CHECK(err.code() == ExitCode::data);
    CHECK_THAT(err.what(), Catch::Contains("token id 3"));
  }
}

// The dense forward is the Transformer in dense mode; its counts are the
// dense work of its stage accounts.
DenseOpCounts dense_counts(const Transformer& t, int layer, bool all) {
  DenseOpCounts c;
  for (const StageAccount& a : t.accounts())
    if (all || a.layer == layer) c += a.run.dense;
  return c;
}

TEST_CASE("dense forward: KV cache, sequence, GQA and operation counts", "[dense_units][dense_forward]") {
  const LlamaModel m = small_model();
  const std::vector<int> tokens = {1, 4, 39, 0, 12, 12, 7, 30};
  Transformer t(m, ForwardMode::dense, {});
  const MatrixRM seq = t.forward_sequence(tokens);
  REQUIRE(seq.rows() == 8);
  REQUIRE(seq.cols() == 40);
  CHECK(seq.allFinite());

  SECTION("token at a time equals the sequence; rewinding recomputes") {
    Transformer u(m, ForwardMode::dense, {});
    std::vector<float> row(40);
    for (int i = 0; i < 8; ++i) {
      u.forward(tokens[i], i, row);
      for (int v = 0; v < 40; ++v) REQUIRE(row[v] == seq(i, v));
    }
    CHECK(u.cached_positions() == 8);
    u.forward(tokens[3], 3, row);  // rewind to position 3
    for (int v = 0; v < 40; ++v) CHECK(row[v] == seq(3, v));
    CHECK(u.cached_positions() == 4);
    try {
      u.forward(1, 6, row);  // gap: positions 4, 5 missing
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::data);
    }
  }
  SECTION("GQA equals multi-head attention with K/V heads repeated") {
    LlamaModel mha = m;
    mha.config.n_kv_heads = 4;
    const int hd = m.config.head_dim;
    for (auto& l : mha.layers) {
      MatrixRM k(4 * hd, m.config.dim), v(4 * hd, m.config.dim);
      const MatrixRM wk = l.wk.to_f32(), wv = l.wv.to_f32();
      for (int h = 0; h < 4; ++h) {
        k.middleRows(h * hd, hd) = wk.middleRows((h / 2) * hd, hd);
        v.middleRows(h * hd, hd) = wv.middleRows((h / 2) * hd, hd);
      }
      l.wk = WeightTensor::from_f32(k, WeightType::f32, WeightOrder::by_input);
      l.wv = WeightTensor::from_f32(v, WeightType::f32, WeightOrder::by_input);
    }
    Transformer u(mha, ForwardMode::dense, {});
    CHECK((u.forward_sequence(tokens) - seq).cwiseAbs().maxCoeff() <= 1e-5f);
  }
  SECTION("operation counts follow the formulas") {
    const std::uint64_t d = 32, h = 48, q = 32, kv = 16, V = 40, L = 2, n = 8, hd = 8, heads = 4;
    const std::uint64_t linear = d * q + 2 * d * kv + q * d + 3 * d * h;
    const std::uint64_t positions = n * (n + 1) / 2;  // sum over pos of (pos + 1)
    const DenseOpCounts total = dense_counts(t, 0, true);
    CHECK(total[DenseOp::mac] == n * (L * linear + V * d) + L * heads * 2 * hd * positions);
    CHECK(total[DenseOp::exp] == L * (heads * positions + n * h));  // softmax + SiLU
    CHECK(total[DenseOp::sqrt] == n * (2 * L + 1));
    DenseOpCounts sum = dense_counts(t, -1, false);
    for (int l = 0; l < 2; ++l) sum += dense_counts(t, l, false);
    CHECK(sum.n == total.n);
    CHECK(dense_counts(t, 0, false).n == dense_counts(t, 1, false).n);
    OpCounts ops;
    for (const StageAccount& a : t.accounts()) ops += a.run;
    CHECK(ops.dense.n == total.n);
    t.reset_accounts();
    CHECK(dense_counts(t, 0, true).total() == 0);
  }
  SECTION("bad tokens and positions") {
    std::vector<float> row(40);
    Transformer u(m, ForwardMode::dense, {});
    CHECK_THROWS_AS(u.forward(40, 0, row), Error);
    CHECK_THROWS_AS(u.forward(-1, 0, row), Error);
    std::vector<int> long_seq(25, 1);
    CHECK_THROWS_AS(u.forward_sequence(long_seq), Error);  // max_seq_len 24
  }
}

TEST_CASE("perplexity: NLL in double, windows and rows", "[dense_units][perplexity]") {
  const std::vector<float> logits = {0.0f, std::log(3.0f)};
  CHECK(token_nll(logits, 1) == Approx(-std::log(0.75)));
  CHECK(token_nll(std::vector<float>{1e4f, 0.0f}, 0) == Approx(0.0).margin(1e-12));

  // A uniform forward over V tokens has perplexity exactly V.
  const int V = 16;
  int calls = 0;
  std::vector<std::size_t> lengths;
  const SequenceForward uniform = [&](std::span<const int> s) {
    ++calls;
    lengths.push_back(s.size());
    return MatrixRM::Zero(static_cast<long>(s.size()), V).eval();
  };
  std::vector<int> tokens(3 * 8 + 1);
  std::iota(tokens.begin(), tokens.end(), 0);
  for (auto& t : tokens) t %= V;

  const auto w = window_perplexity(tokens, 8, 3, uniform, "t.i32");
  CHECK(w.tokens == 24);
  CHECK(w.ppl() == Approx(V));
  CHECK(calls == 3);
  CHECK(lengths == std::vector<std::size_t>{8, 8, 8});

  const auto r = row_perplexity(tokens, 8, 3, uniform, "t.i32");
  CHECK(r.tokens == 21);
  CHECK(r.ppl() == Approx(V));

  try {
    window_perplexity(tokens, 8, 4, uniform, "t.i32");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::data);
    CHECK_THAT(e.what(), Catch::Contains("t.i32") && Catch::Contains("33") && Catch::Contains("25"));
  }
  CHECK_THROWS_AS(row_perplexity(tokens, 8, 4, uniform, "t.i32"), Error);

  // The dense forward through the same helper: finite, and better than uniform
  // would be impossible to promise for random weights, so only check sanity.
  const LlamaModel m = small_model();
  Transformer t(m, ForwardMode::dense, {});
  std::vector<int> ids(2 * 12 + 1);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>((i * 13) % 40);
  const auto p = window_perplexity(
      ids, 12, 2, [&](std::span<const int> s) { return t.forward_sequence(s); }, "ids");
  CHECK(p.tokens == 24);
  CHECK(std::isfinite(p.ppl()));
  CHECK(p.ppl() > 1.0);
}
