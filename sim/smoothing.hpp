#pragma once
// Smoothing: a training-free equivalent of OmniQuant's learnable equivalent
// transformation (LET), initialised as SmoothQuant. For an encoder stage
// with calibration inputs X and the weights W it feeds, channel c is
// divided by
//
//   s_c = max_t |X_tc|^α / max_r |W_rc|^(1−α)
//
// on the activation side and W's column c multiplied by it: X Wᵀ is
// unchanged, and the outlier channels that set each token's GIF range
// shrink. The division is folded exactly into the operation before the
// encoder, so the fp model computes the same function:
//
//   attn_in   attn_norm weights /= s; wq, wk, wv columns *= s
//   mlp_in    ffn_norm weights /= s;  w_gate, w_up columns *= s
//   attn_out  wv rows (and bv) /= s;  wo columns *= s. A V channel feeds
//             every query head of its KV group, so s is shared per
//             (KV head, channel): the maxima are taken over the group
//   mlp_down  w_up rows /= s (act = silu(gate) · up is linear in up);
//             w_down columns *= s
//
// smoothing.method = "search" picks, per stage, α in {0.1, ..., 0.9} or no
// smoothing at all, whichever gives the lowest layer-output error of the
// quantized stage on the calibration tokens (sim/stage_calibration.hpp);
// "fixed" uses smoothing.alpha everywhere. Smoothed tensors are stored as
// f32 (a bf16 model's smoothed weights are not bf16 values).
#include <nlohmann/json.hpp>

#include <vector>

#include "io/config/config.hpp"
#include "network/llama/model.hpp"
#include "sim/stage_calibration.hpp"

namespace spikesim {

// Smooths `model` in place as config.smoothing asks and divides the
// columns of `inputs` alike, so later calibration sees the smoothed
// activations. Returns {stage: α or null (not smoothed)}.
nlohmann::json smooth_model(LlamaModel& model, const SimConfig& config, StageInputs& inputs);

// Folds the scales s (one per input channel of stage `name`; attn_out:
// n_heads·head_dim entries, equal within a KV group) into the model.
void fold_smoothing(LlamaModel& model, const std::string& name, const Eigen::VectorXf& s);

}  // namespace spikesim
