#pragma once
// The phases `run` and `eval` share, in the order they happen:
//
//   load       model_for (sim/run_driver.hpp): loaded from model.path or
//              generated from [generated]
//   tokens     a TokenLayout cuts the token file into sequences
//   smooth     [smoothing] and clipping.weights change the loaded model
//              (prepare_model, sim/accuracy_methods.hpp)
//   calibrate  calibration_for picks the saliency calibration sequences,
//              calibrate turns them into a SaliencyPlan; the weight phase
//              follows (sim/weight_quantization.hpp), then tune_encoders
//              (activation clipping, mixed precision) gives each encoder
//              stage its bits and clip ratio
//   simulate   a Transformer (sim/transformer.hpp) in run.mode, one token
//              at a time, through the simulator loop (sim/simulator.hpp)
//   account    summarize (sim/run_summary.hpp), priced by energy_model_for
//   report     `run`: the HDF5 file and the summary table; `eval`: JSON
//
// One rule picks calibration sequences for both commands, so `run` on a
// token file and `eval` over the same windows calibrate alike.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "core/energy_model.hpp"
#include "io/config/config.hpp"
#include "network/llama/model.hpp"
#include "sim/communicator.hpp"
#include "sim/transformer.hpp"

namespace spikesim {

// Sequences of a token file: sequence i is [offset + stride·i, + length).
struct TokenLayout {
  std::size_t offset = 0;
  std::size_t stride = 0;
  std::size_t length = 0;

  [[nodiscard]] std::size_t count_in(std::size_t tokens) const;
  [[nodiscard]] std::vector<int> sequence(const std::vector<int>& all, std::size_t i) const;
};

struct Calibration {
  std::vector<std::vector<int>> sequences;
  bool overlaps_evaluation = false;  // the file had too few sequences after the evaluated ones
};

// Calibration sequences for a run that evaluates the first `evaluated`
// sequences of `layout` in `tokens` (the token file; empty for generated
// tokens):
//   - encoding.calib_file set: its first encoding.calib_windows sequences of
//     the same length;
//   - else a token file: the encoding.calib_windows sequences after the
//     evaluated ones, wrapping to the file's start (overlaps_evaluation) when
//     the file ends first;
//   - else: encoding.calib_windows sequences of seeded token ids
//     (run.seed + 1000 + w) of max(length, 16) tokens.
Calibration calibration_for(const SimConfig& config, const LlamaModel& model, const std::vector<int>& tokens,
                            const TokenLayout& layout, std::size_t evaluated);

// The saliency plan of run.mode (none for a dense run).
SaliencyPlan calibrate(const SimConfig& config, const LlamaModel& model, const Calibration& calibration);

// The encoding settings a summary reports (abits, signed, addbit, low_p,
// saliency, kv_spiking): `eval --json` and `run --json` alike.
nlohmann::json encoding_settings_json(const EncodingSpec& encoding);

// The energy model of [energy].
EnergyModel energy_model_for(const SimConfig& config);

// Ranks (docs/concepts/ranks.md): once every step that needs the whole model
// is done (calibration, saliency, weight quantization, the accuracy
// methods), each rank keeps its rows of every linear layer. Returns the
// communicator the forwards run with: null on one rank, where nothing is cut.
Communicator* split_across_ranks(LlamaModel& model, Communicator& ranks);
// Whether a signal reached any rank: every rank stops at the same token.
bool interrupted_on_any_rank(Communicator& ranks);

// -v: what was loaded (format, source, shape, parameters and bytes held).
void log_model(const LlamaModel& model);
// "4 sequences of 256 tokens from <source>" (or "none: dense mode", ...), for logs.
std::string calibration_text(const SimConfig& config, const Calibration& calibration);

// Seeded token ids for generated input: BOS, then ids drawn uniformly.
std::vector<int> seeded_tokens(std::uint64_t seed, std::size_t n, int vocab, int bos);

}  // namespace spikesim
