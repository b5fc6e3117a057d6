#pragma once
// Mixed precision: per-encoder activation bits under an average budget.
//
// The measure is the report's: bits per neuron per token, the mean over
// every GIF neuron of the run (linear-stage encoders, K/V encoders) of
// log2(L + 1) (signed: log2(2L + 1)), L = (2^bits − 1)·T.
//
// Allocation (encoding.bits_budget > 0), greedy by measured sensitivity:
// every linear stage starts at encoding.bits; a round measures the
// calibration NLL of the quantized model as it stands and, for each stage,
// with that stage alone one bit finer; the stages are then raised in order
// of NLL gained per budget bit spent while the budget allows, and the next
// round measures again (at most 4 rounds; bits at most encoding.bits + 4).
// On stories260K the first stage raised is a down_proj input, the most
// sensitive stage there. The forwards of a round run in parallel, each
// into its own slot, so the result does not depend on the thread count.
#include <nlohmann/json.hpp>

#include <vector>

#include "io/config/config.hpp"
#include "network/llama/model.hpp"
#include "sim/transformer.hpp"

namespace spikesim {

// Mean bits per neuron per token over `populations`.
double average_activation_bits(const std::vector<const Population*>& populations);

// Raises settings[stage].bits as above. Returns {"average_bits": ..., "bits": {stage: bits}}.
nlohmann::json allocate_bits(const LlamaModel& model, const EncodingConfig& encoding, const SaliencyPlan& plan,
                             const std::vector<std::vector<int>>& calibration, EncoderSettings& settings);

}  // namespace spikesim
