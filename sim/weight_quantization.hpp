#pragma once
// The pipeline's weight phase (sim/pipeline.hpp): quantizes the loaded
// model's linear layers as [weights] asks, before the activations are
// calibrated, so saliency and the run see the weights the run uses.
//
//   rtn   round-to-nearest min-max per output channel or group
//         (core/weights/weight_quantizer.hpp), tensor by tensor
//   gptq  GPTQ with each stage's Hessian H = 2/n Σ x xᵀ from the inputs the
//         calibration sequences give that stage (attn_in feeds wq, wk, wv;
//         attn_out wo; mlp_in w_gate, w_up; mlp_down w_down), in a dense
//         fp32 forward of the model as loaded, or, with weights.sequential,
//         of the model with the layers before already quantized
//
// Every quantized tensor becomes an integer WeightTensor (int4 up to 4 bits,
// else int8) in the order the loaded one had; the embedding and lm_head
// stay as loaded unless weights.embedding / weights.lm_head (RTN).
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "io/config/config.hpp"
#include "network/llama/model.hpp"

namespace spikesim {

// Quantizes `model` in place; `calibration` are token sequences (GPTQ).
// Error(config) naming weights.group and the tensor when the group does not
// fit, or naming weights.method when GPTQ has no calibration tokens.
void quantize_weights(LlamaModel& model, const WeightsConfig& weights,
                      const std::vector<std::vector<int>>& calibration);

// The weight settings and what they made, for `eval --json` and `run --json`:
// wbits, wgroup, wsym, wmethod, weights (the linear layers' format),
// weight_bytes (every weight as stored) and weight_bits_per_weight (linear layers).
nlohmann::json weight_settings_json(const WeightsConfig& weights, const LlamaModel& model);

// "as loaded (bf16)", "RTN W4 per-channel asym", "GPTQ W4 g128 sym act-order", for logs and summaries.
std::string weights_text(const WeightsConfig& weights);

}  // namespace spikesim
