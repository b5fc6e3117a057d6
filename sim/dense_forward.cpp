#include "sim/dense_forward.hpp"

#include <cmath>

#include "core/error.hpp"
#include "io/formats/model_loader.hpp"

namespace spikesim {

namespace {
std::span<float> span_of(Eigen::VectorXf& v) {
  return {v.data(), static_cast<std::size_t>(v.size())};
}

// Checked before any member is sized from its config (model_ is initialised first).
const LlamaModel& validated(const LlamaModel& m) {
  validate_model(m);
  return m;
}

// y = W x, counted as rows*cols MACs.
void linear(const MatrixRM& w, const Eigen::VectorXf& x, Eigen::VectorXf& y, DenseOpCounts& c) {
  y.noalias() = w * x;
  c.add(DenseOp::mac, static_cast<std::uint64_t>(w.rows()) * static_cast<std::uint64_t>(w.cols()));
}
}  // namespace

DenseTransformer::DenseTransformer(const LlamaModel& model)
    : model_(validated(model)),
      rope_(model.config.head_dim, model.config.rope_theta, model.config.max_seq_len),
      attn_scale_(1.0f / std::sqrt(static_cast<float>(model.config.head_dim))) {
  const LlamaConfig& c = model.config;
  const long q = static_cast<long>(c.n_heads) * c.head_dim, kv = static_cast<long>(c.n_kv_heads) * c.head_dim;
  k_cache_.assign(static_cast<std::size_t>(c.n_layers), MatrixRM::Zero(c.max_seq_len, kv));
  v_cache_ = k_cache_;
  x_.resize(c.dim);
  xb_.resize(c.dim);
  proj_.resize(c.dim);
  q_.resize(q);
  att_.resize(q);
  k_.resize(kv);
  v_.resize(kv);
  gate_.resize(c.hidden_dim);
  up_.resize(c.hidden_dim);
  scores_.resize(c.max_seq_len);
  layer_counts_.assign(static_cast<std::size_t>(c.n_layers), DenseOpCounts{});
}

void DenseTransformer::reset() {
  cached_ = 0;
}

void DenseTransformer::reset_counts() {
  for (auto& c : layer_counts_) c = DenseOpCounts{};
  outside_counts_ = DenseOpCounts{};
}

DenseOpCounts DenseTransformer::counts() const {
  DenseOpCounts total = outside_counts_;
  for (const auto& c : layer_counts_) total += c;
  return total;
}

OpCounts DenseTransformer::op_counts() const {
  OpCounts oc;
  oc.dense = counts();
  return oc;
}

void DenseTransformer::attention(int layer, int pos, DenseOpCounts& c) {
  const LlamaConfig& cfg = model_.config;
  const int hd = cfg.head_dim;
  const int group = cfg.n_heads / cfg.n_kv_heads;
  const int n = pos + 1;
  const MatrixRM& keys = k_cache_[static_cast<std::size_t>(layer)];
  const MatrixRM& values = v_cache_[static_cast<std::size_t>(layer)];
  for (int h = 0; h < cfg.n_heads; ++h) {
    const int g = h / group;
    const auto qh = q_.segment(static_cast<long>(h) * hd, hd);
    auto scores = scores_.head(n);
    scores.noalias() = keys.block(0, static_cast<long>(g) * hd, n, hd) * qh;
    scores *= attn_scale_;
    softmax_inplace({scores.data(), static_cast<std::size_t>(n)}, &c);
    att_.segment(static_cast<long>(h) * hd, hd).noalias() =
        values.block(0, static_cast<long>(g) * hd, n, hd).transpose() * scores;
    c.add(DenseOp::mac, 2ULL * static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(hd));
    c.add(DenseOp::mul, static_cast<std::uint64_t>(n));
  }
}

void DenseTransformer::forward(int token, int pos, std::span<float> logits) {
  const LlamaConfig& cfg = model_.config;
  if (pos < 0 || pos > cached_ || pos >= cfg.max_seq_len)
    throw Error(ExitCode::data,
                fmt::format("{}: position {} invalid (cache holds {} positions, max_seq_len {})",
                            model_.source, pos, cached_, cfg.max_seq_len));
  if (static_cast<long>(logits.size()) != cfg.vocab_size)
    throw Error(ExitCode::internal, fmt::format("DenseTransformer::forward: logits span of {}, vocab is {}",
                                                logits.size(), cfg.vocab_size));
  embedding_lookup(model_.embedding, token, span_of(x_), &outside_counts_);
  const int hd = cfg.head_dim;
  for (int l = 0; l < cfg.n_layers; ++l) {
    const LlamaLayer& w = model_.layers[static_cast<std::size_t>(l)];
    DenseOpCounts& c = layer_counts_[static_cast<std::size_t>(l)];
    rms_norm(span_of(x_), w.attn_norm, cfg.norm_eps, span_of(xb_), &c);
    linear(w.wq, xb_, q_, c);
    linear(w.wk, xb_, k_, c);
    linear(w.wv, xb_, v_, c);
    for (int h = 0; h < cfg.n_heads; ++h)
      rope_.apply({q_.data() + h * hd, static_cast<std::size_t>(hd)}, pos, cfg.rope, &c);
    for (int h = 0; h < cfg.n_kv_heads; ++h)
      rope_.apply({k_.data() + h * hd, static_cast<std::size_t>(hd)}, pos, cfg.rope, &c);
    k_cache_[static_cast<std::size_t>(l)].row(pos) = k_.transpose();
    v_cache_[static_cast<std::size_t>(l)].row(pos) = v_.transpose();
    attention(l, pos, c);
    linear(w.wo, att_, proj_, c);
    residual_add(span_of(x_), span_of(proj_), &c);

    rms_norm(span_of(x_), w.ffn_norm, cfg.norm_eps, span_of(xb_), &c);
    linear(w.w_gate, xb_, gate_, c);
    linear(w.w_up, xb_, up_, c);
    silu_mul(span_of(gate_), span_of(up_), span_of(gate_), &c);
    linear(w.w_down, gate_, proj_, c);
    residual_add(span_of(x_), span_of(proj_), &c);
  }
  rms_norm(span_of(x_), model_.final_norm, cfg.norm_eps, span_of(xb_), &outside_counts_);
  Eigen::Map<Eigen::VectorXf> out(logits.data(), cfg.vocab_size);
  out.noalias() = model_.lm_head * xb_;
  outside_counts_.add(DenseOp::mac, static_cast<std::uint64_t>(model_.lm_head.rows()) *
                                        static_cast<std::uint64_t>(model_.lm_head.cols()));
  cached_ = pos + 1;
}

MatrixRM DenseTransformer::forward_sequence(std::span<const int> tokens) {
  reset();
  const long n = static_cast<long>(tokens.size());
  MatrixRM logits(n, model_.config.vocab_size);
  for (long i = 0; i < n; ++i)
    forward(tokens[static_cast<std::size_t>(i)], static_cast<int>(i),
            {logits.data() + i * logits.cols(), static_cast<std::size_t>(logits.cols())});
  return logits;
}

}  // namespace spikesim
