#include "network/attention.hpp"

#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "network/dense_units.hpp"

namespace spikesim {

Attention::Attention(int layer, const AttentionShape& c, ForwardMode mode, const EncodingSpec& encoding,
                     PopulationId first_id)
    : mode_(mode),
      kv_spiking_(encoding.kv_spiking),
      n_heads_(c.n_heads),
      n_kv_heads_(c.n_kv_heads),
      head_dim_(c.head_dim),
      window_(c.window),
      scale_(1.0f / std::sqrt(static_cast<float>(c.head_dim))),
      qk_(fmt::format("layer{}.qk", layer), static_cast<std::size_t>(c.head_dim)),
      pv_(fmt::format("layer{}.pv", layer), static_cast<std::size_t>(c.head_dim)),
      score_acc_(1, 1),
      context_acc_(1, static_cast<std::size_t>(c.head_dim)) {
  if (mode_ != ForwardMode::dense && kv_spiking_) {
    for (int j = 0; j < n_kv_heads_; ++j) {
      const auto grid = GifGrid::uniform(static_cast<std::size_t>(head_dim_), encoding.bits, 1, encoding.is_signed);
      k_enc_.emplace_back(fmt::format("layer{}.k_enc.h{}", layer, j), first_id++, grid);
      v_enc_.emplace_back(fmt::format("layer{}.v_enc.h{}", layer, j), first_id++, grid);
    }
  }
  reset();
}

void Attention::reset() {
  k_cache_.assign(static_cast<std::size_t>(n_kv_heads_), {});
  v_cache_.assign(static_cast<std::size_t>(n_kv_heads_), {});
}

void Attention::truncate(std::size_t positions) {
  for (auto* cache : {&k_cache_, &v_cache_})
    for (auto& head : *cache)
      if (head.size() > positions) head.resize(positions);
}

Attention::CachedVector Attention::encode(EncoderLoop& loop, GifPopulation* enc, std::span<const float> x) {
  CachedVector cv;
  if (!enc) {  // dense mode, or KV spiking off
    cv.values.assign(x.begin(), x.end());
    return cv;
  }
  delivered_.clear();
  if (mode_ == ForwardMode::quantized) {
    q_.resize(x.size());
    enc->grid().quantize(x, enc->name(), token_scale_, q_);
    for (std::size_t c = 0; c < q_.size(); ++c)
      if (q_[c] != 0) delivered_.push_back({0, enc->id(), static_cast<NeuronId>(c), q_[c]});
  } else {
    loop.run_encoder(*enc, x, {}, &delivered_);
    token_scale_ = enc->scale();
  }
  cv.theta = token_scale_.theta[0];
  cv.zero = static_cast<float>(token_scale_.zero[0]);
  cv.events = std::move(delivered_);  // cleared before the next encode
  cv.summary = EventSummary::of(cv.events);
  return cv;
}

void Attention::step(EncoderLoop& loop, std::span<const float> q, std::span<const float> k, std::span<const float> v,
                     std::span<float> out, AttentionCounts& counts) {
  const auto d = static_cast<std::size_t>(head_dim_);
  const bool encoded = encoded_kv();
  for (int j = 0; j < n_kv_heads_; ++j) {
    const auto off = static_cast<std::size_t>(j) * d;
    k_cache_[j].push_back(encode(loop, encoded ? &k_enc_[j] : nullptr, k.subspan(off, d)));
    v_cache_[j].push_back(encode(loop, encoded ? &v_enc_[j] : nullptr, v.subspan(off, d)));
  }
  const std::size_t cached = k_cache_[0].size();
  const std::size_t first =
      window_ > 0 && cached > static_cast<std::size_t>(window_) ? cached - static_cast<std::size_t>(window_) : 0;
  const std::size_t positions = cached - first;  // attended: scores_[p] is position first + p
  const int group = n_heads_ / n_kv_heads_;
  const bool spikes = spiking_kv();
  const bool codes = encoded_kv();
  scores_.resize(positions);
  for (int h = 0; h < n_heads_; ++h) {
    const std::size_t j = static_cast<std::size_t>(h / group);
    const float* qh = q.data() + static_cast<std::size_t>(h) * d;
    float* oh = out.data() + static_cast<std::size_t>(h) * d;
    // QKᵀ
    if (codes) {
      double qsum = 0;
      for (std::size_t c = 0; c < d; ++c) qsum += static_cast<double>(qh[c]);
      qk_.set_query(std::span<const float>(qh, d));
      for (std::size_t p = 0; p < positions; ++p) {
        const CachedVector& kc = k_cache_[j][first + p];
        score_acc_.clear();
        qk_.deliver(kc.events, {}, score_acc_);
        const double acc = score_acc_.row(0)[0];
        scores_[p] = static_cast<float>(static_cast<double>(kc.theta) * (acc - static_cast<double>(kc.zero) * qsum) *
                                        static_cast<double>(scale_));
        if (spikes) qk_.account(kc.summary, counts.qk);
      }
      if (spikes) {
        counts.qk.dense.add(DenseOp::add, d);
        counts.qk.dense.add(DenseOp::mac, positions);
        counts.qk.dense.add(DenseOp::mul, 2 * positions);
        counts.qk.dense.add(DenseOp::add, positions);
      } else {
        counts.qk.dense.add(DenseOp::mac, positions * d);
        counts.qk.dense.add(DenseOp::mul, positions);
      }
    } else {
      for (std::size_t p = 0; p < positions; ++p) {
        const float* kp = k_cache_[j][first + p].values.data();
        float dot = 0;
        for (std::size_t c = 0; c < d; ++c) dot += qh[c] * kp[c];
        scores_[p] = dot * scale_;
      }
      counts.qk.dense.add(DenseOp::mac, positions * d);
      counts.qk.dense.add(DenseOp::mul, positions);
    }
    softmax_inplace(scores_, &counts.softmax);
    // PV
    std::fill(oh, oh + d, 0.0f);
    if (codes) {
      context_acc_.clear();
      double correction = 0;
      for (std::size_t p = 0; p < positions; ++p) {
        const CachedVector& vc = v_cache_[j][first + p];
        const double w = static_cast<double>(scores_[p]) * static_cast<double>(vc.theta);
        pv_.set_weight(w);
        pv_.deliver(vc.events, {}, context_acc_);
        correction += w * static_cast<double>(vc.zero);
        if (spikes) pv_.account(vc.summary, counts.pv);
      }
      const double* acc = context_acc_.row(0);
      for (std::size_t c = 0; c < d; ++c) oh[c] = static_cast<float>(acc[c] - correction);
      if (spikes) {
        counts.pv.dense.add(DenseOp::mul, positions);
        counts.pv.dense.add(DenseOp::mac, positions);
        counts.pv.dense.add(DenseOp::add, d);
      } else {
        counts.pv.dense.add(DenseOp::mac, positions * d);
      }
    } else {
      for (std::size_t p = 0; p < positions; ++p) {
        const float* vp = v_cache_[j][first + p].values.data();
        for (std::size_t c = 0; c < d; ++c) oh[c] += scores_[p] * vp[c];
      }
      counts.pv.dense.add(DenseOp::mac, positions * d);
    }
  }
}

}  // namespace spikesim
