#include "sim/evaluation.hpp"

#include <chrono>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "io/formats/model_loader.hpp"
#include "io/formats/token_file.hpp"
#include "sim/interrupt.hpp"
#include "sim/perplexity.hpp"
#include "sim/run_summary.hpp"
#include "sim/transformer.hpp"

namespace spikesim {
namespace {

// Sequence i of the file in the chosen layout (window: S + 1 tokens; row: S).
std::vector<int> sequence(const std::vector<int>& all, const EvalOptions& o, std::size_t i) {
  const auto s = static_cast<std::size_t>(o.seq);
  const std::size_t start = i * s, len = o.rows ? s : s + 1;
  return {all.begin() + static_cast<std::ptrdiff_t>(start), all.begin() + static_cast<std::ptrdiff_t>(start + len)};
}

std::size_t sequences_in(const std::vector<int>& all, const EvalOptions& o) {
  const auto s = static_cast<std::size_t>(o.seq);
  return o.rows ? all.size() / s : (all.size() > 0 ? (all.size() - 1) / s : 0);
}

}  // namespace

nlohmann::json evaluate(const EvalOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  if (o.seq < 2 || o.windows < 1)
    throw Error(ExitCode::usage, fmt::format("eval: --seq must be >= 2 and --windows >= 1 (got {} and {})", o.seq, o.windows));
  const LlamaModel model = load_model(o.model);
  const auto all = read_token_file(o.tokens, model.config.vocab_size);
  const std::size_t available = sequences_in(all, o);
  if (available < static_cast<std::size_t>(o.windows))
    throw Error(ExitCode::data, fmt::format("token file '{}': {} {} of {} tokens needed, {} available", o.tokens,
                                            o.windows, o.rows ? "rows" : "windows", o.seq, available));
  if (o.seq > model.config.max_seq_len)
    throw Error(ExitCode::usage, fmt::format("eval: --seq {} exceeds the model's context of {}", o.seq,
                                             model.config.max_seq_len));

  // Calibration: the sequences after the evaluated ones; wrap to the start
  // of the file (and say so) when the file has no more.
  std::vector<std::vector<int>> calib;
  bool overlaps = false;
  if (!o.calib_file.empty()) {
    const auto c = read_token_file(o.calib_file, model.config.vocab_size);
    EvalOptions co = o;
    for (std::size_t i = 0; i < std::min<std::size_t>(sequences_in(c, co), static_cast<std::size_t>(o.calib_windows)); ++i)
      calib.push_back(sequence(c, co, i));
  } else {
    for (int k = 0; k < o.calib_windows; ++k) {
      std::size_t i = static_cast<std::size_t>(o.windows + k);
      if (i >= available) {
        i %= available;
        overlaps = true;
      }
      calib.push_back(sequence(all, o, i));
    }
  }
  if (overlaps) spdlog::warn("eval: token file has no sequences after the evaluated ones; calibration reuses evaluated ones");

  const SaliencyPlan plan = o.mode == ForwardMode::dense ? SaliencyPlan{} : compute_saliency_plan(model, o.encoding, calib);
  Transformer net(model, o.mode, o.encoding, plan);
  PerplexityResult result;
  for (std::size_t w = 0; w < static_cast<std::size_t>(o.windows); ++w) {
    const auto seq = sequence(all, o, w);
    // net.forward_sequence, with a check for SIGINT/SIGTERM at every position.
    net.reset();
    MatrixRM logits(static_cast<Eigen::Index>(seq.size()), model.config.vocab_size);
    for (std::size_t t = 0; t < seq.size(); ++t) {
      if (pending_interrupt() != 0)
        throw_if_interrupted(
            fmt::format("at window {} of {}, position {}; nothing was written", w + 1, o.windows, t));
      net.forward(seq[t], static_cast<int>(t),
                  std::span<float>(logits.row(static_cast<Eigen::Index>(t)).data(), model.config.vocab_size));
    }
    result += sequence_nll(logits, seq);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const EnergyModel em = EnergyModel::preset_named(o.energy_preset);
  const RunTotals totals = summarize(net.accounts(), net.populations(), em, AcConvention::amplitude, o.mode, net.tokens());
  nlohmann::json j = {{"ppl", result.ppl()},
                      {"nll", result.mean_nll()},
                      {"tokens", result.tokens},
                      {"mode", std::string(forward_mode_name(o.mode))},
                      {"model", model.source},
                      {"layout", o.rows ? "rows" : "windows"},
                      {"windows", o.windows},
                      {"seq", o.seq},
                      {"abits", o.encoding.bits},
                      {"signed", o.encoding.is_signed},
                      {"addbit", o.encoding.addbit},
                      {"low_p", o.encoding.low_p},
                      {"saliency", std::string(saliency_name(o.encoding.saliency))},
                      {"kv_spiking", o.encoding.kv_spiking},
                      {"calibration_overlaps_evaluation", overlaps},
                      {"wall_s", wall}};
  if (o.mode == ForwardMode::spiking) {
    const auto per_token = [&](double v) { return v / static_cast<double>(std::max<std::uint64_t>(1, net.tokens())); };
    j["spikes"] = totals.run.spikes;
    j["synaptic_events"] = totals.run.synaptic_events;
    j["effective_acs"] = totals.run.effective_acs;
    j["effective_macs"] = totals.run.effective_macs;
    j["amplitude_acs"] = totals.run.amplitude_acs;
    j["dense_macs"] = totals.dense_equivalent.dense[DenseOp::mac];
    j["energy_pj"] = totals.energy.total_pj();
    j["dense_energy_pj"] = totals.dense_energy.total_pj();
    j["spikes_per_token"] = per_token(static_cast<double>(totals.run.spikes));
    j["energy_pj_per_token"] = per_token(totals.energy.total_pj());
    j["dense_energy_pj_per_token"] = per_token(totals.dense_energy.total_pj());
  }
  return j;
}

}  // namespace spikesim
