#pragma once
// The pipeline's accuracy methods (sim/pipeline.hpp), in the order they run:
//
//   before saliency and the weight phase (prepare_model):
//     smoothing         [smoothing]          sim/smoothing.hpp
//     weight clipping   clipping.weights     sim/clipping.hpp
//   after them, on the model as the run uses it (tune_encoders):
//     activation clip   clipping.activations sim/clipping.hpp
//     mixed precision   encoding.bits_budget sim/mixed_precision.hpp
//
// Each reads the calibration sequences the saliency uses; the encoder stages'
// inputs are collected once, by one dense forward, when a method needs them.
// What each chose goes into the summary under "calibrated" (run --json,
// eval --json, the sweep's lines) and into the log.
#include <nlohmann/json.hpp>

#include <vector>

#include "io/config/config.hpp"
#include "network/llama/model.hpp"
#include "sim/stage_calibration.hpp"
#include "sim/transformer.hpp"

namespace spikesim {

struct AccuracyMethods {
  StageInputs inputs;            // the stages' calibration inputs (smoothed), once collected
  nlohmann::json report = nlohmann::json::object();
  EncoderSettings settings;      // what the run's Transformer takes
};

// The settings of the methods, for `eval --json` and `run --json`:
// smoothing, smoothing_alpha (fixed), act_clip, act_clip_ratio (fixed),
// weight_clip, group_ranges, bits_budget.
nlohmann::json accuracy_settings_json(const SimConfig& config);

// True when the config asks for any of the methods above.
bool any_accuracy_method(const SimConfig& config);

// Smoothing and weight clipping, on the loaded model.
void prepare_model(LlamaModel& model, const SimConfig& config, const std::vector<std::vector<int>>& calibration,
                   AccuracyMethods& methods);

// Activation clipping and mixed precision, after saliency and the weight phase.
void tune_encoders(const LlamaModel& model, const SimConfig& config, const SaliencyPlan& plan,
                   const std::vector<std::vector<int>>& calibration, AccuracyMethods& methods);

}  // namespace spikesim
