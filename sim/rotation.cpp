#include "sim/rotation.hpp"

#include <Eigen/QR>

#include "core/logging.hpp"
#include "core/random.hpp"

namespace spikesim {

Eigen::MatrixXd random_orthogonal(int n, std::uint64_t seed) {
  Rng rng(seed);
  if (n > 0 && (n & (n - 1)) == 0) {
    Eigen::MatrixXd h = Eigen::MatrixXd::Ones(1, 1);
    while (h.rows() < n) {
      const Eigen::Index k = h.rows();
      Eigen::MatrixXd next(2 * k, 2 * k);
      next << h, h, h, -h;
      h = next;
    }
    h /= std::sqrt(static_cast<double>(n));
    for (int c = 0; c < n; ++c)
      if (rng.uniform() < 0.5) h.col(c) *= -1.0;
    return h;
  }
  Eigen::MatrixXd g(n, n);
  for (int r = 0; r < n; ++r)
    for (int c = 0; c < n; ++c) g(r, c) = rng.normal();
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
  Eigen::MatrixXd q = qr.householderQ();
  // Signs from R's diagonal make Q uniformly distributed (and deterministic).
  const Eigen::MatrixXd r = qr.matrixQR().triangularView<Eigen::Upper>();
  for (int c = 0; c < n; ++c)
    if (r(c, c) < 0) q.col(c) *= -1.0;
  return q;
}

namespace {

using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

MatrixD values(const WeightTensor& t) { return t.to_f32().cast<double>(); }

void store(WeightTensor& t, const MatrixD& v) {
  t = WeightTensor::from_f32(MatrixRM(v.cast<float>()), WeightType::f32, t.order());
}

// W diag(g) Q: the norm folded in, then the rotated input.
void fold_norm_rotate_input(WeightTensor& t, const Eigen::VectorXf& g, const Eigen::MatrixXd& q) {
  MatrixD v = values(t);
  v.array().rowwise() *= g.cast<double>().transpose().array();
  store(t, v * q);
}

}  // namespace

void rotate_model(LlamaModel& model, std::uint64_t seed) {
  const LlamaConfig& c = model.config;
  const Eigen::MatrixXd q = random_orthogonal(c.dim, seed);
  const Eigen::MatrixXd h = random_orthogonal(c.head_dim, seed + 1);
  const MatrixD lm_head = values(model.lm_head);  // before the embedding changes (tied storage)
  store(model.embedding, values(model.embedding) * q);
  const int group = c.n_heads / c.n_kv_heads, hd = c.head_dim;
  for (LlamaLayer& l : model.layers) {
    for (WeightTensor* t : {&l.wq, &l.wk, &l.wv}) fold_norm_rotate_input(*t, l.attn_norm, q);
    l.attn_norm.setOnes();
    for (WeightTensor* t : {&l.w_gate, &l.w_up}) fold_norm_rotate_input(*t, l.ffn_norm, q);
    l.ffn_norm.setOnes();
    // V/O per head, then O's and down's outputs into the rotated stream.
    MatrixD wv = values(l.wv);
    for (int kv = 0; kv < c.n_kv_heads; ++kv) wv.middleRows(kv * hd, hd) = h.transpose() * wv.middleRows(kv * hd, hd);
    store(l.wv, wv);
    if (l.bv.size() > 0)
      for (int kv = 0; kv < c.n_kv_heads; ++kv)
        l.bv.segment(kv * hd, hd) = (h.transpose() * l.bv.segment(kv * hd, hd).cast<double>()).cast<float>();
    MatrixD wo = values(l.wo);
    for (int head = 0; head < c.n_heads; ++head) wo.middleCols(head * hd, hd) = wo.middleCols(head * hd, hd) * h;
    (void)group;
    store(l.wo, q.transpose() * wo);
    if (l.bo.size() > 0) l.bo = (q.transpose() * l.bo.cast<double>()).cast<float>();
    store(l.w_down, q.transpose() * values(l.w_down));
  }
  model.lm_head = WeightTensor::from_f32(MatrixRM(lm_head.cast<float>()), WeightType::f32, model.lm_head.order());
  fold_norm_rotate_input(model.lm_head, model.final_norm, q);
  model.final_norm.setOnes();
  model.config.tied_embeddings = false;
  validate_model(model);
  spdlog::info("rotation: residual stream ({0} x {0}) and V/O heads ({1} x {1}), seed {2}", c.dim, c.head_dim, seed);
}

}  // namespace spikesim
