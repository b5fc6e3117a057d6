#pragma once
// `spikesim eval`: perplexity of a model over a token file in dense,
// quantized or spiking mode, with the spiking run's operations and energy.
// Windows: window w covers tokens [S·w, S·w + S + 1) and predicts the last S;
// rows: the file is rows of S tokens, each evaluated on its own.
// Calibration (saliency): the C windows or rows after the evaluated ones.
#include <nlohmann/json.hpp>

#include <string>

#include "neurons/encoding.hpp"

namespace spikesim {

struct EvalOptions {
  std::string model;
  std::string tokens;
  int windows = 16;
  int seq = 256;
  bool rows = false;
  ForwardMode mode = ForwardMode::dense;
  EncodingSpec encoding;
  int calib_windows = 4;
  std::string calib_file;
  std::string energy_preset = "45nm";
};

nlohmann::json evaluate(const EvalOptions& options);

}  // namespace spikesim
