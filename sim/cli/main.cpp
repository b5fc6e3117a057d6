// The `spikesim` command line. Exit codes: docs/reference/cli.md.
#include <CLI/CLI.hpp>
#include <tbb/global_control.h>

#include <fstream>
#include <iostream>
#include <thread>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "io/config.hpp"
#include "io/run_file.hpp"
#include "network/transformer_mapper.hpp"
#include "sim/evaluation.hpp"
#include "sim/run_driver.hpp"

using namespace spikesim;

namespace {

std::unique_ptr<tbb::global_control> limit_threads(int threads) {
  if (threads <= 0) return nullptr;
  return std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                               static_cast<std::size_t>(threads));
}

bool parse_on_off(const std::string& v) {
  if (v == "on" || v == "true" || v == "1") return true;
  if (v == "off" || v == "false" || v == "0") return false;
  throw Error(ExitCode::usage, fmt::format("--kv-spiking: expected on or off, got '{}'", v));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spikesim: event-driven simulation of spiking LLMs (multi-level GIF neurons, SpikeLLM)"};
  app.set_version_flag("--version", std::string("spikesim ") + SPIKESIM_VERSION);
  app.require_subcommand(1);
  int verbosity = 0;
  app.add_flag("-v,--verbose", verbosity, "More log output on stderr (repeat for debug)");

  // run
  auto* run = app.add_subcommand("run", "Simulate a TOML config; writes HDF5 and prints a summary");
  std::string config_file, output;
  std::vector<std::string> overrides;
  bool run_json = false;
  run->add_option("config", config_file, "TOML config (examples/default.toml)")->required();
  run->add_option("-o,--output", output, "Output HDF5 file (overrides record.output)");
  run->add_option("--set", overrides, "Override a config key: key=value (repeatable)");
  run->add_flag("--json", run_json, "Print the summary as JSON");

  // eval
  auto* eval = app.add_subcommand("eval", "Perplexity of a model over a token file");
  EvalOptions eo;
  std::string mode = "dense", saliency = "hessian", kv = "on";
  int threads = 0;
  bool eval_json = false;
  eval->add_option("--model", eo.model, "Hugging Face folder or llama2.c .bin")->required();
  eval->add_option("--tokens", eo.tokens, "Little-endian int32 token file")->required();
  eval->add_option("--windows", eo.windows, "Windows (or rows) to evaluate")->capture_default_str();
  eval->add_option("--seq", eo.seq, "Tokens predicted per window (row length with --rows)")->capture_default_str();
  eval->add_flag("--rows", eo.rows, "Treat the file as rows of --seq tokens, each evaluated on its own");
  eval->add_option("--mode", mode, "dense, quantized or spiking")->capture_default_str();
  eval->add_option("--abits", eo.encoding.bits, "Activation bits (A = 2^bits - 1)")->capture_default_str();
  eval->add_option("--addbit", eo.encoding.addbit, "Salient channels get 2^addbit steps")->capture_default_str();
  eval->add_option("--low-p", eo.encoding.low_p, "Fraction of non-salient channels")->capture_default_str();
  eval->add_option("--saliency", saliency, "hessian, magnitude or uniform")->capture_default_str();
  eval->add_flag("--signed", eo.encoding.is_signed, "Symmetric (signed) encoding");
  eval->add_option("--kv-spiking", kv, "on or off")->capture_default_str();
  eval->add_option("--calib-windows", eo.calib_windows, "Calibration windows after the evaluated ones")->capture_default_str();
  eval->add_option("--calib-file", eo.calib_file, "Explicit calibration token file");
  eval->add_option("--threads", threads, "Worker threads (0 = all cores)")->capture_default_str();
  eval->add_flag("--json", eval_json, "Print one JSON object");

  // info
  auto* info = app.add_subcommand("info", "Summarize a spikesim HDF5 file");
  std::string info_file;
  info->add_option("file", info_file, "HDF5 file written by spikesim run")->required();

  // graph
  auto* graph = app.add_subcommand("graph", "Write the network graph of a config as GraphViz DOT");
  std::string graph_config, graph_out;
  graph->add_option("config", graph_config, "TOML config")->required();
  graph->add_option("-o,--output", graph_out, "DOT file (default: stdout)");
  graph->add_option("--set", overrides, "Override a config key: key=value (repeatable)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // CLI11 prints usage; exit code 0 for --help, 2 for usage errors... see docs
  }
  init_logging(verbosity);
  try {
    if (*run) {
      if (!output.empty()) overrides.push_back("record.output=" + output);
      const SimConfig cfg = load_config(config_file, overrides);
      const auto guard = limit_threads(cfg.run.threads);
      const bool stream_text = !run_json && !cfg.input.prompt.empty();
      const RunOutcome out = run_simulation(cfg, [&](const std::string& piece) {
        if (stream_text) std::cout << piece << std::flush;
      });
      if (stream_text) std::cout << "\n\n";
      if (run_json)
        std::cout << out.summary.dump(2) << "\n";
      else {
        std::cout << out.table;
        if (out.output) std::cout << "\n  output: " << out.output->string() << "\n";
      }
    } else if (*eval) {
      eo.mode = parse_forward_mode(mode);
      eo.encoding.saliency = parse_saliency(saliency);
      eo.encoding.kv_spiking = parse_on_off(kv);
      const auto guard = limit_threads(threads);
      const auto j = evaluate(eo);
      if (eval_json)
        std::cout << j.dump() << "\n";
      else
        std::cout << fmt::format("{} mode: perplexity {:.4f} over {} tokens ({:.1f} s)\n", mode,
                                 j["ppl"].get<double>(), j["tokens"].get<std::uint64_t>(), j["wall_s"].get<double>());
    } else if (*info) {
      std::cout << format_run_file_summary(read_run_file(info_file));
    } else if (*graph) {
      const SimConfig cfg = load_config(graph_config, overrides);
      const LlamaModel model = model_for(cfg);
      const NetworkGraph g = map_transformer(model.config, {cfg.encoding.kv_spiking, cfg.encoding.spike_lm_head});
      if (graph_out.empty()) {
        g.write_dot(std::cout);
      } else {
        std::ofstream f(graph_out);
        if (!f) throw Error(ExitCode::output, fmt::format("cannot write '{}'", graph_out));
        g.write_dot(f);
      }
    }
  } catch (const Error& e) {
    std::cerr << "spikesim: error: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "spikesim: internal error: " << e.what() << "\n";
    return static_cast<int>(ExitCode::failure);
  }
  return 0;
}
