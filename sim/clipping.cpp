#include "sim/clipping.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.hpp"
#include "core/logging.hpp"

namespace spikesim {
namespace {

// Each weight group of each row clamped to c times its (zero-including) range.
MatrixRM clamped(const MatrixRM& w, int group, float c) {
  MatrixRM out = w;
  const Eigen::Index g = group > 0 ? group : w.cols();
  for (Eigen::Index r = 0; r < w.rows(); ++r)
    for (Eigen::Index c0 = 0; c0 < w.cols(); c0 += g) {
      const Eigen::Index n = std::min(g, w.cols() - c0);
      auto seg = out.row(r).segment(c0, n);
      const float lo = std::min(0.0f, seg.minCoeff()) * c, hi = std::max(0.0f, seg.maxCoeff()) * c;
      seg = seg.cwiseMax(lo).cwiseMin(hi);
    }
  return out;
}

std::vector<WeightTensor*> stage_tensors(LlamaModel& m, const std::string& name) {
  LlamaLayer& w = m.layers.at(static_cast<std::size_t>(std::atoi(name.c_str() + 5)));
  const std::string leaf = name.substr(name.find('.') + 1);
  if (leaf == "attn_in") return {&w.wq, &w.wk, &w.wv};
  if (leaf == "attn_out") return {&w.wo};
  if (leaf == "mlp_in") return {&w.w_gate, &w.w_up};
  return {&w.w_down};
}

}  // namespace

std::vector<float> clip_candidates() { return {1.0f, 0.95f, 0.9f, 0.85f, 0.8f, 0.75f, 0.7f, 0.65f, 0.6f, 0.5f}; }

nlohmann::json clip_weights(LlamaModel& model, const WeightsConfig& weights, const StageInputs& inputs) {
  nlohmann::json chosen = nlohmann::json::object();
  for (const std::string& name : linear_stage_names(model)) {
    const auto it = inputs.find(name);
    if (it == inputs.end() || it->second.rows() == 0)
      throw Error(ExitCode::config, fmt::format("key 'clipping.weights': no calibration tokens reached stage '{}' "
                                                "(encoding.calib_windows > 0 needed)", name));
    const Eigen::MatrixXd h = it->second.cast<double>().transpose() * it->second.cast<double>();
    double ratio_sum = 0;
    std::size_t rows = 0;
    for (WeightTensor* t : stage_tensors(model, name)) {
      const MatrixRM w = t->to_f32();
      Eigen::VectorXd best_error = Eigen::VectorXd::Constant(w.rows(), std::numeric_limits<double>::infinity());
      MatrixRM best = w;
      std::vector<float> best_ratio(static_cast<std::size_t>(w.rows()), 1.0f);
      for (const float c : clip_candidates()) {
        const MatrixRM wc = clamped(w, weights.group, c);
        const Eigen::MatrixXd d = (w - weights_as_run(wc, weights)).cast<double>();
        const Eigen::VectorXd e = ((d * h).array() * d.array()).rowwise().sum();
        for (Eigen::Index r = 0; r < w.rows(); ++r)
          if (e[r] < best_error[r]) {
            best_error[r] = e[r];
            best.row(r) = wc.row(r);
            best_ratio[static_cast<std::size_t>(r)] = c;
          }
      }
      *t = WeightTensor::from_f32(best, WeightType::f32, t->order());
      for (const float c : best_ratio) ratio_sum += c;
      rows += best_ratio.size();
    }
    chosen[name] = rows > 0 ? ratio_sum / static_cast<double>(rows) : 1.0;
  }
  spdlog::info("weight clipping: mean ratio per stage {}", chosen.dump());
  return chosen;
}

nlohmann::json clip_activations(const LlamaModel& model, const SimConfig& cfg, const SaliencyPlan& plan,
                                const StageInputs& inputs, EncoderSettings& settings) {
  nlohmann::json chosen = nlohmann::json::object();
  if (cfg.clipping.activations == ActivationClipping::none) return chosen;
  for (const std::string& name : linear_stage_names(model)) {
    if (cfg.clipping.activations == ActivationClipping::fixed) {
      settings[name].clip = static_cast<float>(cfg.clipping.ratio);
      chosen[name] = cfg.clipping.ratio;
      continue;
    }
    const auto it = inputs.find(name);
    if (it == inputs.end() || it->second.rows() == 0)
      throw Error(ExitCode::config, fmt::format("key 'clipping.activations': no calibration tokens reached stage "
                                                "'{}' (encoding.calib_windows > 0 needed)", name));
    const MatrixRM& x = it->second;
    const MatrixRM w = stage_weight_values(model, name);
    const MatrixRM y = x * w.transpose();
    const auto salient_it = plan.find(name);
    const std::vector<bool> salient =
        salient_it != plan.end() ? salient_it->second : std::vector<bool>(static_cast<std::size_t>(x.cols()), false);
    const unsigned bits = settings.count(name) ? settings[name].bits : 0;
    double best_error = std::numeric_limits<double>::infinity();
    float best = 1.0f;
    for (const float c : clip_candidates()) {
      const double e = stage_output_error(y, x, w, stage_grid(cfg.encoding, salient, bits, c));
      if (e < best_error) best_error = e, best = c;
    }
    settings[name].clip = best;
    chosen[name] = std::round(static_cast<double>(best) * 1000.0) / 1000.0;  // 0.95, not 0.949999988
  }
  spdlog::info("activation clipping: {}", chosen.dump());
  return chosen;
}

}  // namespace spikesim
