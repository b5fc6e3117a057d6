#include "sim/evaluation.hpp"

#include <chrono>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "io/formats/token_file.hpp"
#include "sim/accuracy_methods.hpp"
#include "sim/interrupt.hpp"
#include "sim/mixed_precision.hpp"
#include "sim/perplexity.hpp"
#include "sim/communication_report.hpp"
#include "sim/progress.hpp"
#include "sim/ranks.hpp"
#include "sim/run_driver.hpp"
#include "sim/run_summary.hpp"
#include "sim/weight_quantization.hpp"

namespace spikesim {

TokenLayout eval_layout(const SimConfig& cfg) {
  const auto s = static_cast<std::size_t>(cfg.eval.seq);
  return {static_cast<std::size_t>(cfg.input.offset), s, cfg.eval.rows ? s : s + 1};
}

nlohmann::json evaluate(const SimConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  if (cfg.input.token_file.empty())
    throw Error(ExitCode::usage, "eval: needs a token file (--tokens, or key input.token_file)");
  // Built first, so that a bad energy profile stops eval before the evaluation, not after it.
  const EnergyModel energy_model = energy_model_for(cfg);
  Progress progress(cfg.run.progress, "eval");
  progress.phase("load", cfg.model.path);
  LlamaModel model = model_for(cfg);
  log_model(model);
  // tokens
  const TokenLayout layout = eval_layout(cfg);
  const auto all = read_token_file(cfg.input.token_file, model.config.vocab_size);
  const std::size_t available = layout.count_in(all.size());
  const auto windows = static_cast<std::size_t>(cfg.eval.windows);
  if (available < windows)
    throw Error(ExitCode::data, fmt::format("token file '{}': {} {} of {} tokens needed, {} available",
                                            cfg.input.token_file, windows, cfg.eval.rows ? "rows" : "windows",
                                            cfg.eval.seq, available));
  if (cfg.eval.seq > model.config.max_seq_len)
    throw Error(ExitCode::usage, fmt::format("eval: --seq {} exceeds the model's context of {}", cfg.eval.seq,
                                             model.config.max_seq_len));
  // calibrate
  const Calibration calib = calibration_for(cfg, model, all, layout, windows);
  if (calib.overlaps_evaluation)
    spdlog::warn("eval: token file has no sequences after the evaluated ones; calibration reuses evaluated ones");
  AccuracyMethods methods;
  if (any_accuracy_method(cfg)) {
    progress.phase("smooth/clip", "smoothing and weight clipping on the calibration tokens");
    prepare_model(model, cfg, calib.sequences, methods);
  }
  progress.phase("calibrate", calibration_text(cfg, calib));
  const SaliencyPlan plan = calibrate(cfg, model, calib);
  if (quantizes_weights(cfg.weights)) progress.phase("quantize", weights_text(cfg.weights));
  quantize_weights(model, cfg.weights, calib.sequences);  // also refuses keys the method would ignore
  if (any_accuracy_method(cfg)) {
    progress.phase("tune encoders", "activation clipping and mixed precision on the calibration tokens");
    tune_encoders(model, cfg, plan, calib.sequences, methods);
  }
  // What the summary says of the weights, while every rank holds all of them.
  const nlohmann::json weight_json = weight_settings_json(cfg.weights, model);
  Communicator& ranks = world();
  Communicator* split = split_across_ranks(model, ranks);
  // simulate
  const ForwardMode mode = cfg.run.mode;
  Transformer net(model, mode, cfg.encoding, plan, nullptr, methods.settings, split);
  PerplexityResult result;
  const std::uint64_t total = windows * layout.length;
  progress.phase("simulate", fmt::format("{} {} of {} tokens in {} mode", windows, cfg.eval.rows ? "rows" : "windows",
                                         layout.length, forward_mode_name(mode)));
  for (std::size_t w = 0; w < windows; ++w) {
    const auto seq = layout.sequence(all, w);
    // net.forward_sequence, with a check for SIGINT/SIGTERM at every position.
    net.reset();
    MatrixRM logits(static_cast<Eigen::Index>(seq.size()), model.config.vocab_size);
    for (std::size_t t = 0; t < seq.size(); ++t) {
      if (interrupted_on_any_rank(ranks)) {
        const std::string where = fmt::format("at window {} of {}, position {}; nothing was written", w + 1, windows, t);
        throw_if_interrupted(where);  // this rank's signal, else another rank's
        throw Error(ExitCode::interrupted, "interrupted: another rank received a signal; stopped " + where);
      }
      net.forward(seq[t], static_cast<int>(t),
                  std::span<float>(logits.row(static_cast<Eigen::Index>(t)).data(), model.config.vocab_size));
      progress.tokens(w * layout.length + t + 1, total);
    }
    result += sequence_nll(logits, seq);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // account
  const RunTotals totals = summarize(net.accounts(), net.populations(), energy_model,
                                     cfg.energy.ac_convention, mode, net.tokens());
  // report
  nlohmann::json j = {{"ppl", result.ppl()},
                      {"nll", result.mean_nll()},
                      {"tokens", result.tokens},
                      {"mode", std::string(forward_mode_name(mode))},
                      {"model", model.source},
                      {"layout", cfg.eval.rows ? "rows" : "windows"},
                      {"windows", cfg.eval.windows},
                      {"seq", cfg.eval.seq},
                      {"calibration_overlaps_evaluation", calib.overlaps_evaluation},
                      {"wall_s", wall}};
  j.update(encoding_settings_json(cfg.encoding));
  j.update(weight_json);
  j["ranks"] = ranks.size();
  if (split) j["communication"] = communication_json(ranks.account(), std::nullopt);
  j.update(accuracy_settings_json(cfg));
  if (!methods.report.empty()) j["calibrated"] = methods.report;
  const auto per_token = [&](double v) { return v / static_cast<double>(std::max<std::uint64_t>(1, result.tokens)); };
  if (mode != ForwardMode::dense) j["bits_per_neuron_token"] = average_activation_bits(net.populations());
  if (mode == ForwardMode::dense) {
    // The dense setting's own energy (its run is the dense equivalent), so
    // that a sweep can place it beside the spiking settings.
    j["energy_pj"] = totals.energy.total_pj();
    j["energy_pj_per_token"] = per_token(totals.energy.total_pj());
    j["dense_macs"] = totals.run.dense[DenseOp::mac];
    j["dense_macs_per_token"] = per_token(static_cast<double>(totals.run.dense[DenseOp::mac]));
  }
  if (mode == ForwardMode::spiking) {
    // Per predicted token, the tokens the perplexity is over (a window's
    // first token is simulated but predicts nothing scored).
    j["spikes"] = totals.run.spikes;
    j["synaptic_events"] = totals.run.synaptic_events;
    j["effective_acs"] = totals.run.effective_acs;
    j["effective_macs"] = totals.run.effective_macs;
    j["amplitude_acs"] = totals.run.amplitude_acs;
    j.update(additive_json(net.accounts()));
    j["dense_macs"] = totals.dense_equivalent.dense[DenseOp::mac];
    j["energy_pj"] = totals.energy.total_pj();
    j["dense_energy_pj"] = totals.dense_energy.total_pj();
    j["spikes_per_token"] = per_token(static_cast<double>(totals.run.spikes));
    j["synaptic_events_per_token"] = per_token(static_cast<double>(totals.run.synaptic_events));
    j["effective_acs_per_token"] = per_token(static_cast<double>(totals.run.effective_acs));
    j["effective_macs_per_token"] = per_token(static_cast<double>(totals.run.effective_macs));
    j["dense_macs_per_token"] = per_token(static_cast<double>(totals.dense_equivalent.dense[DenseOp::mac]));
    j["energy_pj_per_token"] = per_token(totals.energy.total_pj());
    j["dense_energy_pj_per_token"] = per_token(totals.dense_energy.total_pj());
  }
  return j;
}

}  // namespace spikesim
