#include "network/llama/model.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/error.hpp"

namespace spikesim {

namespace {

template <class R, class C>
void expect_shape(const LlamaModel& m, const std::string& name, R rows_in, C cols_in, long want_rows, long want_cols) {
  const auto rows = static_cast<long>(rows_in), cols = static_cast<long>(cols_in);
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
  if (!c.sliding_window.empty() && static_cast<int>(c.sliding_window.size()) != c.n_layers)
    bad(fmt::format("{} sliding windows for {} layers", c.sliding_window.size(), c.n_layers));
  for (int w : c.sliding_window)
    if (w < 0) bad(fmt::format("sliding window {} is negative", w));
  const RopeScaling& rs = c.rope_scaling;
  if (rs.type != RopeScalingType::none && !(rs.factor > 0.0f))
    bad(fmt::format("RoPE scaling factor {} must be > 0", rs.factor));
  if (rs.type == RopeScalingType::llama3 &&
      (!(rs.low_freq_factor > 0.0f) || !(rs.high_freq_factor > rs.low_freq_factor) ||
       rs.original_max_position_embeddings <= 0))
    bad(fmt::format("llama3 RoPE scaling needs 0 < low_freq_factor ({}) < high_freq_factor ({}) and "
                    "original_max_position_embeddings ({}) > 0",
                    rs.low_freq_factor, rs.high_freq_factor, rs.original_max_position_embeddings));
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
    // A bias is there exactly when the config says so.
    expect_shape(m, name("bq"), l.bq.size(), 1, c.qkv_bias ? q : 0, 1);
    expect_shape(m, name("bk"), l.bk.size(), 1, c.qkv_bias ? kv : 0, 1);
    expect_shape(m, name("bv"), l.bv.size(), 1, c.qkv_bias ? kv : 0, 1);
    expect_shape(m, name("bo"), l.bo.size(), 1, c.o_bias ? d : 0, 1);
    expect_shape(m, name("ffn_norm"), l.ffn_norm.size(), 1, d, 1);
    expect_shape(m, name("w_gate"), l.w_gate.rows(), l.w_gate.cols(), h, d);
    expect_shape(m, name("w_up"), l.w_up.rows(), l.w_up.cols(), h, d);
    expect_shape(m, name("w_down"), l.w_down.rows(), l.w_down.cols(), d, h);
  }
}

std::uint64_t weight_bytes(const LlamaModel& m) {
  auto v = [](const Eigen::VectorXf& x) { return static_cast<std::uint64_t>(x.size()) * sizeof(float); };
  std::uint64_t total = m.embedding.stored_bytes() + v(m.final_norm);
  if (!m.config.tied_embeddings) total += m.lm_head.stored_bytes();
  for (const LlamaLayer& l : m.layers)
    total += v(l.attn_norm) + v(l.ffn_norm) + v(l.bq) + v(l.bk) + v(l.bv) + v(l.bo) + l.wq.stored_bytes() +
             l.wk.stored_bytes() + l.wv.stored_bytes() + l.wo.stored_bytes() + l.w_gate.stored_bytes() +
             l.w_up.stored_bytes() + l.w_down.stored_bytes();
  return total;
}

std::vector<std::pair<std::string, const WeightTensor*>> linear_weights(const LlamaModel& m) {
  std::vector<std::pair<std::string, const WeightTensor*>> out;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const LlamaLayer& l = m.layers[i];
    const std::string p = fmt::format("layer{}.", i);
    for (const auto& [leaf, w] : {std::pair{"wq", &l.wq}, {"wk", &l.wk}, {"wv", &l.wv}, {"wo", &l.wo},
                                  {"w_gate", &l.w_gate}, {"w_up", &l.w_up}, {"w_down", &l.w_down}})
      out.emplace_back(p + leaf, w);
  }
  out.emplace_back("w_lm_head", &m.lm_head);
  return out;
}

std::string weights_format(const LlamaModel& m) {
  std::vector<std::string> formats;
  for (const auto& [name, w] : linear_weights(m)) {
    if (name == "w_lm_head") continue;
    if (std::find(formats.begin(), formats.end(), w->format()) == formats.end()) formats.push_back(w->format());
  }
  return fmt::format("{}", fmt::join(formats, ", "));
}

std::uint64_t parameter_count(const LlamaModel& m) {
  auto n = [](const auto& x) { return static_cast<std::uint64_t>(x.size()); };
  std::uint64_t total = n(m.embedding) + n(m.final_norm) + n(m.lm_head);
  for (const LlamaLayer& l : m.layers)
    total += n(l.attn_norm) + n(l.wq) + n(l.wk) + n(l.wv) + n(l.wo) + n(l.bq) + n(l.bk) + n(l.bv) + n(l.bo) +
             n(l.ffn_norm) + n(l.w_gate) + n(l.w_up) + n(l.w_down);
  return total;
}

void keep_rank_rows(LlamaModel& m, RankShape ranks) {
  if (ranks.ranks <= 1) return;
  auto cut = [&](WeightTensor& w, const std::string& name) {
    if (w.rows() < static_cast<std::size_t>(ranks.ranks))
      throw Error(ExitCode::config, fmt::format("{}: tensor '{}' has {} output rows, fewer than the {} ranks; run on "
                                                "at most {} ranks",
                                                m.source, name, w.rows(), ranks.ranks, w.rows()));
    w = w.output_rows(rank_rows(w.rows(), ranks.ranks, ranks.rank), name);
  };
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    LlamaLayer& layer = m.layers[l];
    const std::string p = fmt::format("layer{}.", l);
    cut(layer.wq, p + "wq");
    cut(layer.wk, p + "wk");
    cut(layer.wv, p + "wv");
    cut(layer.wo, p + "wo");
    cut(layer.w_gate, p + "w_gate");
    cut(layer.w_up, p + "w_up");
    cut(layer.w_down, p + "w_down");
  }
  cut(m.lm_head, "w_lm_head");
}

}  // namespace spikesim
