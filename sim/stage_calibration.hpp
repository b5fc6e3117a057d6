#pragma once
// What smoothing, clipping and mixed precision share: the inputs every
// encoder stage sees on the calibration tokens (one dense forward), the
// weights each stage feeds, and the layer-output error of a stage whose
// input is quantized on a GIF grid:
//
//   E = ‖X Wᵀ − X̂ Ŵᵀ‖²_F      X [tokens x d_in], X̂ its GIF quantization
//                              (per token, as the encoder does), Ŵ the
//                              weights as the run will use them
//
// The searches minimise E stage by stage (no backpropagation): calibrated
// in seconds, where OmniQuant trains LET and LWC for epochs.
#include <map>
#include <string>
#include <vector>

#include "core/matrix.hpp"
#include "io/config/config.hpp"
#include "network/llama/model.hpp"
#include "neurons/gif_grid.hpp"

namespace spikesim {

// Encoder stage name ("layer0.attn_in") -> its calibration inputs, one row per token.
using StageInputs = std::map<std::string, MatrixRM>;

// A dense fp32 forward of `model` over `calibration`, collecting the input
// of every encoder stage (the lm_head's input too, as "lm_head_in").
StageInputs collect_stage_inputs(const LlamaModel& model, const std::vector<std::vector<int>>& calibration);

// The weights stage `name` feeds, stacked by rows ([Σ d_out x d_in]), as fp32 values.
MatrixRM stage_weight_values(const LlamaModel& model, const std::string& name);

// The four linear stages of every layer, in run order.
std::vector<std::string> linear_stage_names(const LlamaModel& model);

// The grid stage `name` would get: saliency from x and w as compute_saliency_plan
// chooses it, `bits` (0: encoding.bits), the encoding's ranges and `clip`.
GifGrid stage_grid(const EncodingSpec& encoding, const MatrixRM& x, const MatrixRM& w, unsigned bits, float clip);

// The grid with a given salient set (the run's SaliencyPlan entry).
GifGrid stage_grid(const EncodingSpec& encoding, const std::vector<bool>& salient, unsigned bits, float clip);

// X̂: every row quantized and decoded on `grid`.
MatrixRM quantize_rows(const MatrixRM& x, const GifGrid& grid);

// E above, with the reference output y = X Wᵀ given.
double stage_output_error(const MatrixRM& y, const MatrixRM& x, const MatrixRM& w_hat, const GifGrid& grid);

// Ŵ: w through the weight quantizer of [weights] (RTN; GPTQ is approximated
// by RTN in the searches), or w itself when weights.bits = 0.
MatrixRM weights_as_run(const MatrixRM& w, const WeightsConfig& weights);

}  // namespace spikesim
