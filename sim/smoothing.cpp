#include "sim/smoothing.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <optional>

#include "core/error.hpp"
#include "core/logging.hpp"

namespace spikesim {
namespace {

std::pair<int, std::string> split(const std::string& name) {
  const auto dot = name.find('.');
  return {std::atoi(name.c_str() + 5), name.substr(dot + 1)};
}

void scale_columns(WeightTensor& t, const Eigen::VectorXf& s) {
  MatrixRM v = t.to_f32();
  v.array().rowwise() *= s.transpose().array();
  t = WeightTensor::from_f32(v, WeightType::f32, t.order());
}

void divide_rows(WeightTensor& t, const Eigen::VectorXf& s) {
  MatrixRM v = t.to_f32();
  v.array().colwise() /= s.array();
  t = WeightTensor::from_f32(v, WeightType::f32, t.order());
}

// Per-channel maxima; for attn_out taken over each KV group's query heads.
Eigen::VectorXf channel_max(const MatrixRM& m, bool by_column, const LlamaConfig& c, bool kv_groups) {
  Eigen::VectorXf out = by_column ? Eigen::VectorXf(m.cwiseAbs().colwise().maxCoeff().transpose())
                                  : Eigen::VectorXf(m.cwiseAbs().rowwise().maxCoeff());
  if (!kv_groups) return out;
  const int hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
  for (int kv = 0; kv < c.n_kv_heads; ++kv)
    for (int d = 0; d < hd; ++d) {
      float m_g = 0;
      for (int h = kv * group; h < (kv + 1) * group; ++h) m_g = std::max(m_g, out[h * hd + d]);
      for (int h = kv * group; h < (kv + 1) * group; ++h) out[h * hd + d] = m_g;
    }
  return out;
}

Eigen::VectorXf scales_for(const Eigen::VectorXf& x_max, const Eigen::VectorXf& w_max, double alpha) {
  Eigen::VectorXf s(x_max.size());
  for (Eigen::Index c = 0; c < s.size(); ++c) {
    const double v = std::pow(static_cast<double>(x_max[c]), alpha) /
                     std::pow(static_cast<double>(w_max[c]), 1.0 - alpha);
    // A dead channel (no activation or no weight) keeps its scale.
    s[c] = x_max[c] > 0 && w_max[c] > 0 && std::isfinite(v) && v > 0 ? static_cast<float>(v) : 1.0f;
  }
  return s;
}

}  // namespace

void fold_smoothing(LlamaModel& model, const std::string& name, const Eigen::VectorXf& s) {
  const auto [l, leaf] = split(name);
  LlamaLayer& w = model.layers.at(static_cast<std::size_t>(l));
  const LlamaConfig& c = model.config;
  if (leaf == "attn_in" || leaf == "mlp_in") {
    Eigen::VectorXf& norm = leaf == "attn_in" ? w.attn_norm : w.ffn_norm;
    norm.array() /= s.array();
    for (WeightTensor* t : leaf == "attn_in" ? std::vector<WeightTensor*>{&w.wq, &w.wk, &w.wv}
                                             : std::vector<WeightTensor*>{&w.w_gate, &w.w_up})
      scale_columns(*t, s);
  } else if (leaf == "attn_out") {
    const int hd = c.head_dim, group = c.n_heads / c.n_kv_heads;
    Eigen::VectorXf s_kv(c.n_kv_heads * hd);
    for (int kv = 0; kv < c.n_kv_heads; ++kv)
      for (int d = 0; d < hd; ++d) {
        s_kv[kv * hd + d] = s[kv * group * hd + d];
        for (int h = kv * group; h < (kv + 1) * group; ++h)
          if (s[h * hd + d] != s_kv[kv * hd + d])
            throw Error(ExitCode::internal, fmt::format("smoothing '{}': scales differ within KV group {}", name, kv));
      }
    divide_rows(w.wv, s_kv);
    if (w.bv.size() > 0) w.bv.array() /= s_kv.array();
    scale_columns(w.wo, s);
  } else if (leaf == "mlp_down") {
    divide_rows(w.w_up, s);
    scale_columns(w.w_down, s);
  } else {
    throw Error(ExitCode::internal, fmt::format("smoothing: no stage '{}'", name));
  }
}

nlohmann::json smooth_model(LlamaModel& model, const SimConfig& cfg, StageInputs& inputs) {
  nlohmann::json chosen = nlohmann::json::object();
  if (cfg.smoothing.method == SmoothingMethod::none) return chosen;
  std::vector<std::optional<double>> candidates;
  if (cfg.smoothing.method == SmoothingMethod::fixed) {
    candidates = {cfg.smoothing.alpha};
  } else {
    candidates = {std::nullopt};
    for (int k = 1; k <= 9; ++k) candidates.push_back(k / 10.0);
  }
  const float clip = cfg.clipping.activations == ActivationClipping::fixed ? static_cast<float>(cfg.clipping.ratio) : 1.0f;
  for (const std::string& name : linear_stage_names(model)) {
    const auto it = inputs.find(name);
    if (it == inputs.end() || it->second.rows() == 0)
      throw Error(ExitCode::config, fmt::format("key 'smoothing.method': no calibration tokens reached stage '{}' "
                                                "(encoding.calib_windows > 0 needed)", name));
    MatrixRM& x = it->second;
    const MatrixRM w = stage_weight_values(model, name);
    const bool kv = split(name).second == "attn_out";
    const Eigen::VectorXf x_max = channel_max(x, true, model.config, kv);
    const Eigen::VectorXf w_max = channel_max(w, true, model.config, kv);
    const MatrixRM y = x * w.transpose();
    double best_error = std::numeric_limits<double>::infinity();
    std::optional<double> best;
    Eigen::VectorXf best_s = Eigen::VectorXf::Ones(x.cols());
    for (const auto& alpha : candidates) {
      const Eigen::VectorXf s = alpha ? scales_for(x_max, w_max, *alpha) : Eigen::VectorXf::Ones(x.cols());
      MatrixRM xs = x;
      xs.array().rowwise() /= s.transpose().array();
      MatrixRM ws = w;
      ws.array().rowwise() *= s.transpose().array();
      const GifGrid grid = stage_grid(cfg.encoding, xs, ws, 0, clip);
      const double e = stage_output_error(y, xs, weights_as_run(ws, cfg.weights), grid);
      if (e < best_error) best_error = e, best = alpha, best_s = s;
    }
    if (best) {
      fold_smoothing(model, name, best_s);
      x.array().rowwise() /= best_s.transpose().array();
    }
    chosen[name] = best ? nlohmann::json(*best) : nlohmann::json(nullptr);
  }
  validate_model(model);
  spdlog::info("smoothing: {}", chosen.dump());
  return chosen;
}

}  // namespace spikesim
