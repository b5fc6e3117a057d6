#pragma once
// `spikesim eval`: perplexity of a model over a token file in dense,
// quantized or spiking mode, with the spiking run's operations and energy.
// The phases are the pipeline's (sim/pipeline.hpp); the settings are the
// config's ([eval] for the layout, every other section as for `run`; the
// eval flags are aliases of keys, sim/cli/eval_command.cpp).
// Windows: window w covers tokens [o + S·w, o + S·w + S + 1) and predicts the
// last S; rows: the file is rows of S tokens, each evaluated on its own
// (o = input.offset, S = eval.seq). Calibration: the calibration_for rule.
#include <nlohmann/json.hpp>

#include "io/config/config.hpp"
#include "sim/pipeline.hpp"

namespace spikesim {

// The layout of [eval] over input.token_file.
TokenLayout eval_layout(const SimConfig& config);

nlohmann::json evaluate(const SimConfig& config);

}  // namespace spikesim
