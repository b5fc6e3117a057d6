#include "sim/accuracy_methods.hpp"

#include "core/error.hpp"
#include "sim/clipping.hpp"
#include "sim/mixed_precision.hpp"
#include "sim/rotation.hpp"
#include "sim/smoothing.hpp"

namespace spikesim {

nlohmann::json accuracy_settings_json(const SimConfig& c) {
  static constexpr const char* kSmoothing[] = {"none", "fixed", "search"};
  static constexpr const char* kClip[] = {"none", "fixed", "search"};
  nlohmann::json j = {{"smoothing", kSmoothing[static_cast<int>(c.smoothing.method)]},
                      {"act_clip", kClip[static_cast<int>(c.clipping.activations)]},
                      {"weight_clip", c.clipping.weights},
                      {"rotate", c.smoothing.rotate},
                      {"group_ranges", c.encoding.group_ranges},
                      {"bits_budget", c.encoding.bits_budget}};
  if (c.smoothing.method == SmoothingMethod::fixed) j["smoothing_alpha"] = c.smoothing.alpha;
  if (c.clipping.activations == ActivationClipping::fixed) j["act_clip_ratio"] = c.clipping.ratio;
  return j;
}

bool any_accuracy_method(const SimConfig& c) {
  return c.smoothing.method != SmoothingMethod::none || c.smoothing.rotate || c.clipping.weights ||
         c.clipping.activations != ActivationClipping::none || c.encoding.bits_budget > 0;
}

namespace {

void need_inputs(const LlamaModel& model, const std::vector<std::vector<int>>& calibration, AccuracyMethods& m) {
  if (!m.inputs.empty()) return;
  if (calibration.empty())
    throw Error(ExitCode::config, "[smoothing] / [clipping] / encoding.bits_budget need calibration tokens "
                                  "(encoding.calib_windows > 0, from the token file or encoding.calib_file)");
  m.inputs = collect_stage_inputs(model, calibration);
}

}  // namespace

void prepare_model(LlamaModel& model, const SimConfig& cfg, const std::vector<std::vector<int>>& calibration,
                   AccuracyMethods& m) {
  if (cfg.smoothing.rotate) {
    rotate_model(model, cfg.run.seed);
    m.report["rotation_seed"] = cfg.run.seed;
  }
  if (cfg.smoothing.method != SmoothingMethod::none) {
    need_inputs(model, calibration, m);
    m.report["smoothing_alpha"] = smooth_model(model, cfg, m.inputs);
  }
  if (cfg.clipping.weights && cfg.weights.bits != 0) {
    need_inputs(model, calibration, m);
    m.report["weight_clip"] = clip_weights(model, cfg.weights, m.inputs);
  }
}

void tune_encoders(const LlamaModel& model, const SimConfig& cfg, const SaliencyPlan& plan,
                   const std::vector<std::vector<int>>& calibration, AccuracyMethods& m) {
  if (cfg.run.mode == ForwardMode::dense) return;
  if (cfg.clipping.activations != ActivationClipping::none) {
    need_inputs(model, calibration, m);
    m.report["activation_clip"] = clip_activations(model, cfg, plan, m.inputs, m.settings);
  }
  if (cfg.encoding.bits_budget > 0)
    m.report["mixed_precision"] = allocate_bits(model, cfg.encoding, plan, calibration, m.settings);
}

}  // namespace spikesim
