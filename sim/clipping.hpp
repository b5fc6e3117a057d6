#pragma once
// Clipping: a training-free equivalent of OmniQuant's learnable weight
// clipping (LWC), and range clipping for the GIF encoders.
//
// Weights (clipping.weights): before the weight phase, each output channel
// r of every linear layer gets a ratio c_r from {1, 0.95, ..., 0.5}: its
// values are clamped to [c_r·min, c_r·max] of each weight group (the
// min-max grid then shrinks by c_r), the ratio minimising the channel's
// output error on the calibration inputs, (w − Q(w_c)) H (w − Q(w_c))ᵀ
// with H = Xᵀ X, Q the RTN grid of [weights]. The clamped fp weights are
// what the weight phase quantizes: RTN gets exactly the searched grid; GPTQ
// starts from the clamped weights and compensates the rounding error on top
// (its grid, found on the clamped rows, is the clipped one too).
//
// Activations (clipping.activations): every encoder stage's GIF range is
// scaled by a ratio c (GridRange in neurons/gif_grid.hpp): θ from
// c·(x_max − x_min), values beyond clip to the grid's ends. "search" picks
// c per stage from {1, 0.95, ..., 0.5} by the stage's layer-output error
// with its saliency and weights as the run has them. The clip is part of
// the grid both the quantized and the spiking paths use, so spiking still
// equals quantized.
#include <nlohmann/json.hpp>

#include "io/config/config.hpp"
#include "network/llama/model.hpp"
#include "sim/stage_calibration.hpp"
#include "sim/transformer.hpp"

namespace spikesim {

// Clamps the linear layers' fp weights of `model` with the searched ratios.
// Returns {stage: mean ratio over its output channels}.
nlohmann::json clip_weights(LlamaModel& model, const WeightsConfig& weights, const StageInputs& inputs);

// The clip ratio of every encoder stage (into `settings`), for the model as
// the run uses it (weights quantized) and its saliency plan.
nlohmann::json clip_activations(const LlamaModel& model, const SimConfig& config, const SaliencyPlan& plan,
                                const StageInputs& inputs, EncoderSettings& settings);

// The ratios both searches try.
std::vector<float> clip_candidates();

}  // namespace spikesim
