#pragma once
// Loading a LLaMA checkpoint from disk, whatever its format.
//
// load_model(path) picks the format from the path:
//   - a directory            -> Hugging Face (config.json + model.safetensors
//                               or model.safetensors.index.json), see hf_loader.hpp
//   - a file ending in .bin  -> llama2.c legacy checkpoint, see llama2c_loader.hpp
//   - anything else          -> Error(ExitCode::model) saying what was expected.
//
// Every loader checks the finished model with validate_model() and, unless
// LoadOptions::allow_non_finite is set, refuses NaN/Inf weights with
// Error(ExitCode::numeric) naming the tensor and the element.
#include <filesystem>
#include <span>
#include <string>

#include "io/llama_model.hpp"

namespace spikesim {

struct LoadOptions {
  bool allow_non_finite = false;  // accept NaN/Inf weights (for fault-injection studies)
};

LlamaModel load_model(const std::filesystem::path& path, const LoadOptions& options = {});

// The model's shape without reading its weights, for the memory estimate
// (sim/memory_estimate.hpp): config.json plus the safetensors headers, or the
// 28-byte llama2.c header plus the file size. A checkpoint whose headers do
// not add up (sizes the config does not imply, a file of the wrong length)
// is handed to load_model, which fails before it reads much and reports the
// exact error: a broken model is a model error, never "not enough memory".
LlamaConfig peek_model_config(const std::filesystem::path& path);

// Throws Error(ExitCode::numeric) "<file>: tensor '<tensor>' element <i> (row r, col c) is NaN"
// at the first non-finite value, unless options allow them. `cols` (> 0)
// only serves to print the row and column.
void check_finite(std::span<const float> values, const std::string& file, const std::string& tensor,
                  const LoadOptions& options, long cols = 0);

// Checks that every matrix and vector of `model` has the shape its config
// implies and that the config is consistent (Error(ExitCode::model) naming
// `model.source` and the offending tensor otherwise). Used by every loader,
// the generated model and the forwards, so a hand-edited model fails early.
void validate_model(const LlamaModel& model);

}  // namespace spikesim
