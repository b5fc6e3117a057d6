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
#include "sim/transformer.hpp"

namespace spikesim {

// Whether [weights] changes the loaded weights (bits > 0, or ternary / pbllm).
bool quantizes_weights(const WeightsConfig& weights);

// Quantizes `model` in place (nothing when !quantizes_weights, after
// refusing keys the method would ignore); `calibration` are token sequences (GPTQ).
// Error(config) naming weights.group and the tensor when the group does not
// fit, or naming weights.method when GPTQ has no calibration tokens.
void quantize_weights(LlamaModel& model, const WeightsConfig& weights,
                      const std::vector<std::vector<int>>& calibration);

// The weight settings and what they made, for `eval --json` and `run --json`:
// wbits, wgroup, wsym, wmethod, weights (the linear layers' format),
// weight_bytes (every weight as stored) and weight_bits_per_weight (linear layers),
// weight_equal_steps and weight_additive_fraction (WeightSpikingFigures),
// and the same per linear weight in weight_layers; wsteps / wsalient with
// the ternary / pbllm methods.
nlohmann::json weight_settings_json(const WeightsConfig& weights, const LlamaModel& model);

// What a linear weight costs and does per event, summed over layers:
// synapses that add (ternary steps' nonzero B) and that multiply (salient
// int8 weights; every weight of an f32/int tensor), step planes and bytes.
struct WeightSpikingFigures {
  std::uint64_t weights = 0, bytes = 0, additions = 0, multiplications = 0, steps = 0;
  [[nodiscard]] double bits_per_weight() const { return 8.0 * per_weight(bytes); }
  // Mean ternary steps per weight (0 for non-ternary tensors).
  [[nodiscard]] double equal_steps() const { return per_weight(steps); }
  [[nodiscard]] double per_weight(std::uint64_t n) const {
    return weights ? static_cast<double>(n) / static_cast<double>(weights) : 0.0;
  }
  // Share of synaptic operations that are additions if every input fires once.
  [[nodiscard]] double additive_fraction() const {
    const std::uint64_t ops = additions + multiplications;
    return ops ? static_cast<double>(additions) / static_cast<double>(ops) : 0.0;
  }
  WeightSpikingFigures& operator+=(const WeightSpikingFigures& o) {
    weights += o.weights;
    bytes += o.bytes;
    additions += o.additions;
    multiplications += o.multiplications;
    steps += o.steps;
    return *this;
  }
};
WeightSpikingFigures weight_spiking_figures(const WeightTensor& t);

// additive_acs and additive_fraction of a run: the linear stages' synaptic
// operations that were additions (ternary weights), and their share.
nlohmann::json additive_json(const std::vector<StageAccount>& accounts);

// "as loaded (bf16)", "RTN W4 per-channel asym", "GPTQ W4 g128 sym act-order", for logs and summaries.
std::string weights_text(const WeightsConfig& weights);

}  // namespace spikesim
