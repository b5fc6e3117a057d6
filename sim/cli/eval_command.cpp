// spikesim eval --model PATH --tokens FILE [...]: the interface scripts depend on.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <optional>

#include "core/error.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/thread_limit.hpp"
#include "sim/evaluation.hpp"
#include "sim/interrupt.hpp"
#include "sim/memory_estimate.hpp"

namespace spikesim::cli {
namespace {

bool parse_on_off(const std::string& v) {
  if (v == "on" || v == "true" || v == "1") return true;
  if (v == "off" || v == "false" || v == "0") return false;
  throw Error(ExitCode::usage, fmt::format("--kv-spiking: expected on or off, got '{}'", v));
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct Options {
    EvalOptions eval;
    std::string mode = "dense", saliency = "hessian", kv = "on", max_memory;
    int threads = 0;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  EvalOptions& e = o->eval;
  auto* cmd = app.add_subcommand("eval", "Perplexity of a model over a token file");
  cmd->add_option("--model", e.model, "Hugging Face folder or llama2.c .bin")->required();
  cmd->add_option("--tokens", e.tokens, "Little-endian int32 token file")->required();
  cmd->add_option("--windows", e.windows, "Windows (or rows) to evaluate")->capture_default_str();
  cmd->add_option("--seq", e.seq, "Tokens predicted per window (row length with --rows)")->capture_default_str();
  cmd->add_flag("--rows", e.rows, "Treat the file as rows of --seq tokens, each evaluated on its own");
  cmd->add_option("--mode", o->mode, "dense, quantized or spiking")->capture_default_str();
  cmd->add_option("--abits", e.encoding.bits, "Activation bits (A = 2^bits - 1)")->capture_default_str();
  cmd->add_option("--addbit", e.encoding.addbit, "Salient channels get 2^addbit steps")->capture_default_str();
  cmd->add_option("--low-p", e.encoding.low_p, "Fraction of non-salient channels")->capture_default_str();
  cmd->add_option("--saliency", o->saliency, "hessian, magnitude or uniform")->capture_default_str();
  cmd->add_flag("--signed", e.encoding.is_signed, "Symmetric (signed) encoding");
  cmd->add_option("--kv-spiking", o->kv, "on or off")->capture_default_str();
  cmd->add_option("--calib-windows", e.calib_windows, "Calibration windows after the evaluated ones")
      ->capture_default_str();
  cmd->add_option("--calib-file", e.calib_file, "Explicit calibration token file");
  cmd->add_option("--threads", o->threads, "Worker threads (0 = all cores)")->capture_default_str();
  cmd->add_option("--max-memory", o->max_memory,
                  "Refuse an evaluation estimated to need more than SIZE (e.g. 512M, 8G)")
      ->type_name("SIZE");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o] {
    // From here SIGINT/SIGTERM only set a flag, checked once per token: the
    // run unwinds (a recorded one leaves "<out>.partial", spikesim_complete
    // = 0) and main exits 130 (sim/interrupt.hpp).
    install_interrupt_handlers();
    EvalOptions ev = o->eval;
    ev.mode = parse_forward_mode(o->mode);
    ev.encoding.saliency = parse_saliency(o->saliency);
    ev.encoding.kv_spiking = parse_on_off(o->kv);
    std::optional<std::uint64_t> max_memory;
    if (!o->max_memory.empty()) max_memory = parse_memory_size(o->max_memory);
    check_eval_memory(ev, max_memory, o->max_memory);  // before any weight is loaded
    const auto guard = limit_threads(o->threads);
    const auto j = evaluate(ev);
    if (o->json)
      std::cout << j.dump() << "\n";
    else
      std::cout << fmt::format("{} mode: perplexity {:.4f} over {} tokens ({:.1f} s)\n", o->mode,
                               j["ppl"].get<double>(), j["tokens"].get<std::uint64_t>(), j["wall_s"].get<double>());
  });
}

}  // namespace spikesim::cli
