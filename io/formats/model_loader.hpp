#pragma once
// Loading a LLaMA checkpoint from disk, whatever its format.
//
// load_model(path) picks the format from the path:
//   - a directory            -> Hugging Face (config.json + model.safetensors
//                               or model.safetensors.index.json), see hf_loader.hpp
//   - a file ending in .bin  -> llama2.c legacy checkpoint, see llama2c_loader.hpp
//   - a file ending in .gguf -> llama.cpp's GGUF (architecture llama), see gguf_loader.hpp
//   - anything else          -> Error(ExitCode::model) saying what was expected.
//
// Every loader checks the finished model with validate_model() and, unless
// LoadOptions::allow_non_finite is set, refuses NaN/Inf weights with
// Error(ExitCode::numeric) naming the tensor and the element.
#include <filesystem>
#include <span>
#include <string>

#include "io/formats/load_options.hpp"
#include "network/llama/model.hpp"

namespace spikesim {


LlamaModel load_model(const std::filesystem::path& path, const LoadOptions& options = {});

// The model's shape without reading its weights, for the memory estimate
// (sim/memory_estimate.hpp): config.json plus the safetensors headers, or the
// 28-byte llama2.c header plus the file size, or the GGUF metadata and tensor infos. A checkpoint whose headers do
// not add up (sizes the config does not imply, a file of the wrong length)
// is handed to load_model, which fails before it reads much and reports the
// exact error: a broken model is a model error, never "not enough memory".
LlamaConfig peek_model_config(const std::filesystem::path& path);

}  // namespace spikesim
