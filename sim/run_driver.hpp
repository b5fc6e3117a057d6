#pragma once
// `spikesim run`: from a SimConfig to a finished HDF5 file and a summary.
//
// Order of work: load or generate the model -> pick the tokens (token file,
// prompt, or seeded ids) -> saliency from calibration tokens -> the run in
// the configured mode, recording spikes and traces as they happen -> the
// dense reference on the same tokens (logit comparison) -> counters, energy,
// summary into the file, which is renamed into place only when complete.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "network/llama/model.hpp"
#include "network/network_graph.hpp"

namespace spikesim {

struct RunOutcome {
  nlohmann::json summary;  // what --json prints
  std::string table;       // what the terminal shows
  std::string text;        // generated text, if any
  std::optional<std::filesystem::path> output;
};

// SIGINT/SIGTERM during a run: the error main reports (exit 130), with the
// outcome of the tokens done, whose run file is the incomplete ".partial".
class RunInterrupted : public Error {
 public:
  RunInterrupted(const Error& error, RunOutcome partial);
  [[nodiscard]] const RunOutcome& partial() const { return partial_; }

 private:
  RunOutcome partial_;
};

// `echo` receives generated tokens as they are produced (text mode).
RunOutcome run_simulation(const SimConfig& config, const std::function<void(const std::string&)>& echo = {});

// Model of a config: loaded from model.path, or generated from [generated].
LlamaModel model_for(const SimConfig& config);
// The same model's config alone, reading no weight (headers only).
LlamaConfig model_config_for(const SimConfig& config);
// The network a config runs, from shapes alone: what `spikesim graph` draws
// and what the run executes (the Transformer maps the same network).
NetworkGraph network_for(const SimConfig& config);

}  // namespace spikesim
