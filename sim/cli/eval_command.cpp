// spikesim eval --model PATH --tokens FILE [...]: the interface scripts depend on.
//
// Every flag is an alias of one config key (the table below), so `eval`
// takes the settings `run` takes and `--set key=value` reaches the rest
// (e.g. energy.profile). Order: eval's defaults (dense mode, nothing
// recorded), then --set, then the flags; a flag and a --set naming the same
// key is a usage error.
#include <fmt/format.h>

#include <iostream>
#include <map>
#include <memory>
#include <optional>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/thread_limit.hpp"
#include "sim/evaluation.hpp"
#include "sim/interrupt.hpp"
#include "sim/memory_estimate.hpp"

namespace spikesim::cli {
namespace {

struct Alias {
  const char* flag;
  const char* key;
  const char* help;
};

// Flags that take a value; each sets its key to that value.
constexpr Alias kValueAliases[] = {
    {"--model", "model.path", "Hugging Face folder, llama2.c .bin, .gguf file, or \"generated\""},
    {"--tokens", "input.token_file", "Little-endian int32 token file"},
    {"--windows", "eval.windows", "Windows (or rows) to evaluate [16]"},
    {"--seq", "eval.seq", "Tokens predicted per window (row length with --rows) [256]"},
    {"--mode", "run.mode", "dense, quantized or spiking [dense]"},
    {"--abits", "encoding.bits", "Activation bits (A = 2^bits - 1) [4]"},
    {"--addbit", "encoding.addbit", "Salient channels get 2^addbit steps [1]"},
    {"--low-p", "encoding.low_p", "Fraction of non-salient channels [0.9]"},
    {"--saliency", "encoding.saliency", "hessian, magnitude or uniform [hessian]"},
    {"--kv-spiking", "encoding.kv_spiking", "on or off [on]"},
    {"--calib-windows", "encoding.calib_windows", "Calibration windows after the evaluated ones [4]"},
    {"--calib-file", "encoding.calib_file", "Explicit calibration token file"},
    {"--threads", "run.threads", "Worker threads (0 = all cores) [0]"},
    {"--wbits", "weights.bits", "Weight bits, 2..8 (0 = as loaded) [0]"},
    {"--wgroup", "weights.group", "Inputs per weight scale group (0 = per output channel) [0]"},
    {"--smoothing", "smoothing.method", "none, fixed or search [none]"},
    {"--act-clip", "clipping.activations", "none, fixed or search [none]"},
    {"--bits-budget", "encoding.bits_budget", "Mixed precision: average activation bits per neuron per token (0 = off) [0]"},
    {"--wmethod", "weights.method", "rtn, gptq, ternary or pbllm [rtn]"},
    {"--wsteps", "weights.steps", "ternary: mean ternary steps per weight (equal steps), 1..weights.max_steps [1.0]"},
    {"--wsalient", "weights.salient_fraction", "pbllm: fraction of weights kept at 8 bits [0.1]"},
};
// Flags without a value; each sets its key to true.
constexpr Alias kSwitchAliases[] = {
    {"--rows", "eval.rows", "Treat the file as rows of --seq tokens, each evaluated on its own"},
    {"--signed", "encoding.signed", "Symmetric (signed) encoding"},
    {"--wsym", "weights.symmetric", "Symmetric weight grid (else asymmetric min-max)"},
    {"--group-ranges", "encoding.group_ranges", "Salient and other channels each take their own range"},
    {"--wclip", "clipping.weights", "Search per-output-channel weight clip ratios"},
    {"--rotate", "smoothing.rotate", "Rotate the residual stream and V/O heads (orthogonal, folded into the weights)"},
};

std::string on_off(const std::string& v) {
  if (v == "on" || v == "true" || v == "1") return "true";
  if (v == "off" || v == "false" || v == "0") return "false";
  throw Error(ExitCode::usage, fmt::format("--kv-spiking: expected on or off, got '{}'", v));
}

std::string key_of(const std::string& override_text) { return override_text.substr(0, override_text.find('=')); }

// The config an eval command line describes.
SimConfig eval_config(const std::vector<std::pair<std::string, std::string>>& flags,
                      const std::vector<std::string>& sets) {
  std::vector<std::string> overrides = {"run.mode=dense", "record.enabled=false"};
  std::map<std::string, std::string> from_set;
  for (const auto& s : sets) {
    from_set[key_of(s)] = s;
    overrides.push_back(s);
  }
  for (const auto& [flag, value] : flags) {
    std::string key, v = value;
    for (const Alias& a : kValueAliases)
      if (flag == a.flag) key = a.key;
    for (const Alias& a : kSwitchAliases)
      if (flag == a.flag) key = a.key, v = "true";
    if (key.empty()) throw Error(ExitCode::internal, fmt::format("eval: flag {} has no key", flag));
    if (from_set.count(key))
      throw Error(ExitCode::usage, fmt::format("eval: {} and --set {} name the same key", flag, from_set[key]));
    if (flag == "--kv-spiking") v = on_off(v);
    if ((flag == "--seq" || flag == "--windows")) {
      try {
        const long n = std::stol(v);
        if (n < (flag == "--seq" ? 2 : 1))
          throw Error(ExitCode::usage, fmt::format("eval: --seq must be >= 2 and --windows >= 1 (got {} {})", flag, v));
      } catch (const std::logic_error&) {
        throw Error(ExitCode::usage, fmt::format("eval: {} expects an integer, got '{}'", flag, v));
      }
    }
    overrides.push_back(key + "=" + v);
  }
  return parse_config("", "eval", overrides);
}

}  // namespace

void add_eval_command(CLI::App& app) {
  struct Options {
    std::map<std::string, std::string> values;
    std::map<std::string, bool> switches;
    std::vector<std::string> sets;
    std::string max_memory;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("eval", "Perplexity of a model over a token file");
  for (const Alias& a : kValueAliases) {
    auto* opt = cmd->add_option(a.flag, o->values[a.flag], fmt::format("{} (key {})", a.help, a.key));
    if (std::string_view(a.flag) == "--model" || std::string_view(a.flag) == "--tokens") opt->required();
  }
  for (const Alias& a : kSwitchAliases)
    cmd->add_flag(a.flag, o->switches[a.flag], fmt::format("{} (key {})", a.help, a.key));
  cmd->add_option("--set", o->sets, "Override any config key: key=value (repeatable)");
  cmd->add_option("--max-memory", o->max_memory,
                  "Refuse an evaluation estimated to need more than SIZE (e.g. 512M, 8G)")
      ->type_name("SIZE");
  cmd->add_flag("--json", o->json, "Print one JSON object");
  cmd->callback([o, cmd] {
    // From here SIGINT/SIGTERM only set a flag, checked once per token: the
    // run unwinds (a recorded one leaves "<out>.partial", spikesim_complete
    // = 0) and main exits 130 (sim/interrupt.hpp).
    install_interrupt_handlers();
    std::vector<std::pair<std::string, std::string>> flags;
    for (const Alias& a : kValueAliases)
      if (cmd->count(a.flag) > 0) flags.emplace_back(a.flag, o->values[a.flag]);
    for (const Alias& a : kSwitchAliases)
      if (o->switches[a.flag]) flags.emplace_back(a.flag, "true");
    const SimConfig cfg = eval_config(flags, o->sets);
    std::optional<std::uint64_t> max_memory;
    if (!o->max_memory.empty()) max_memory = parse_memory_size(o->max_memory);
    check_eval_memory(cfg, max_memory, o->max_memory);  // before any weight is loaded
    const auto guard = limit_threads(cfg.run.threads);
    const auto j = evaluate(cfg);
    if (o->json)
      std::cout << j.dump() << "\n";
    else
      std::cout << fmt::format("{} mode: perplexity {:.4f} over {} tokens ({:.1f} s)\n",
                               forward_mode_name(cfg.run.mode), j["ppl"].get<double>(),
                               j["tokens"].get<std::uint64_t>(), j["wall_s"].get<double>());
  });
}

}  // namespace spikesim::cli
