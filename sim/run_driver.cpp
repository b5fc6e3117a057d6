#include "sim/run_driver.hpp"

#include <chrono>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "io/formats/generated_model.hpp"
#include "io/formats/model_loader.hpp"
#include "io/runfile/recorder.hpp"
#include "io/formats/token_file.hpp"
#include "io/formats/text_tokenizer.hpp"
#include "network/dense_projection.hpp"
#include "sim/accuracy_methods.hpp"
#include "sim/interrupt.hpp"
#include "sim/linear_stack.hpp"
#include "sim/perplexity.hpp"
#include "sim/pipeline.hpp"
#include "sim/communication_report.hpp"
#include "sim/memory_estimate.hpp"
#include "sim/progress.hpp"
#include "sim/ranks.hpp"
#include "sim/run_file_writer.hpp"
#include "sim/weight_quantization.hpp"
#include "sim/run_summary.hpp"
#include "sim/transformer.hpp"

namespace spikesim {
namespace {


// Where a run stopped and what it left, for the interruption's message.
std::string interrupted_where(const SimConfig& cfg, std::size_t pos, std::size_t total) {
  return fmt::format("at token {} of {}; {}", pos, total,
                     cfg.record.enabled ? fmt::format("the incomplete output is '{}' (spikesim_complete = 0)",
                                                      partial_path(cfg.record.output).string())
                                        : std::string("nothing was written"));
}

// Once per token: a pending SIGINT/SIGTERM ends the run here by unwinding
// through the recorder, which leaves "<output>.partial" marked incomplete.
void stop_if_interrupted(const SimConfig& cfg, std::size_t pos, std::size_t total) {
  if (pending_interrupt() != 0) throw_if_interrupted(interrupted_where(cfg, pos, total));
}

// The error a pending SIGINT/SIGTERM ends the run with, if one is pending
// on any rank: every rank stops at the same token (sim/communicator.hpp).
std::optional<Error> interruption_at(const SimConfig& cfg, Communicator& ranks, std::size_t pos, std::size_t total) {
  const std::string where = interrupted_where(cfg, pos, total);
  std::optional<Error> mine = pending_interruption(where);
  if (!interrupted_on_any_rank(ranks)) return std::nullopt;
  if (mine) return mine;
  return Error(ExitCode::interrupted, fmt::format("interrupted: another rank received a signal; stopped {}", where));
}

// How often a recorded run writes its counters while it goes.
constexpr auto kCheckpointEvery = std::chrono::seconds(2);

struct Inputs {
  std::vector<int> tokens;
  Calibration calibration;
  std::unique_ptr<TextTokenizer> tokenizer;
};

Inputs inputs_for(const SimConfig& cfg, const LlamaModel& model) {
  Inputs in;
  const auto n = static_cast<std::size_t>(cfg.run.tokens);
  const int vocab = model.config.vocab_size;
  std::filesystem::path tok_path = cfg.model.tokenizer;
  // A folder's own tokenizer is read only when text is needed (a Llama 3
  // tokenizer.json takes 0.4 s to load); a configured one is always checked.
  const bool text = !cfg.input.prompt.empty() || cfg.input.generate > 0;
  if (tok_path.empty() && cfg.model.path != "generated" && text) tok_path = find_model_tokenizer(cfg.model.path);
  if (!tok_path.empty()) in.tokenizer = open_tokenizer(tok_path);
  const TokenLayout layout{static_cast<std::size_t>(cfg.input.offset), n, n};
  std::vector<int> all;  // the token file, when there is one
  if (!cfg.input.prompt.empty()) {
    if (!in.tokenizer)
      throw Error(ExitCode::config,
                  "input.prompt needs a tokenizer: set model.tokenizer to a tokenizer.model or tokenizer.json");
    if (in.tokenizer->bos_id() >= 0) {
      in.tokens = in.tokenizer->encode(cfg.input.prompt, true);
    } else {  // a tokenizer.json without a template: BOS as the model's config.json gives it
      in.tokens = in.tokenizer->encode(cfg.input.prompt, false);
      in.tokens.insert(in.tokens.begin(), model.config.bos_id);
    }
  } else if (!cfg.input.token_file.empty()) {
    all = read_token_file(cfg.input.token_file, vocab);
    const auto off = static_cast<std::size_t>(cfg.input.offset);
    if (off + n > all.size())
      throw Error(ExitCode::data, fmt::format("input.token_file '{}': needs {} tokens from offset {}, has {}",
                                              cfg.input.token_file, n, off, all.size()));
    in.tokens = layout.sequence(all, 0);
  } else {
    in.tokens = seeded_tokens(cfg.run.seed, n, vocab, model.config.bos_id);
  }
  // The run is sequence 0 of its layout; calibration follows it (sim/pipeline.hpp).
  in.calibration = calibration_for(cfg, model, all, layout, 1);
  if (in.calibration.overlaps_evaluation)
    spdlog::warn("run: token file has no windows after the simulated tokens; calibration reuses them");
  const auto total = in.tokens.size() + static_cast<std::size_t>(cfg.input.generate);
  if (total > static_cast<std::size_t>(model.config.max_seq_len))
    throw Error(ExitCode::config, fmt::format("run.tokens + input.generate = {} exceeds the model's context of {}",
                                              total, model.config.max_seq_len));
  return in;
}

RunOutcome run_linear_stack(const SimConfig& cfg, const EnergyModel& em, std::chrono::steady_clock::time_point t0) {
  LinearStackSpec spec;
  spec.sizes.assign(cfg.linear_stack.sizes.begin(), cfg.linear_stack.sizes.end());
  spec.bits = static_cast<unsigned>(cfg.encoding.bits);
  spec.steps = 1u << static_cast<unsigned>(cfg.encoding.addbit);
  spec.is_signed = cfg.encoding.is_signed;
  spec.seed = cfg.run.seed;
  LinearStack stack(spec);
  std::optional<Hdf5Recorder> rec;
  if (cfg.record.enabled) rec.emplace(RecorderOptions{cfg.record.output, cfg.record.compression});
  std::optional<RecordingObserver> observer;
  if (rec) observer.emplace(*rec, cfg.record);
  Simulator sim(observer ? &*observer : nullptr);
  std::vector<StageAccount> accounts(stack.layers());
  double max_rel = 0;
  std::vector<std::uint64_t> token_steps;
  for (int t = 0; t < cfg.run.tokens; ++t) {
    stop_if_interrupted(cfg, static_cast<std::size_t>(t), static_cast<std::size_t>(cfg.run.tokens));
    token_steps.push_back(sim.now());
    const auto x = stack.input(static_cast<std::uint64_t>(t));
    DenseOpCounts readout;
    const auto y = stack.run_spiking(sim, x, &readout);
    const auto ref = stack.run_quantized(x);
    max_rel = std::max(max_rel, static_cast<double>((y - ref).norm() / std::max(1e-30f, ref.norm())));
    accounts[0].run.dense += readout;  // read-out work, attributed to the stack's first stage
  }
  token_steps.push_back(sim.now());
  for (std::size_t k = 0; k < stack.layers(); ++k) {
    accounts[k].name = stack.encoders()[k].name();
    accounts[k].layer = static_cast<int>(k);
    accounts[k].kind = "linear";
    accounts[k].run += stack.encoders()[k].totals();
    for (int t = 0; t < cfg.run.tokens; ++t) account_dense_matvec(stack.weights(k), accounts[k].dense_equivalent);
  }
  std::vector<const Population*> pops;
  for (const auto& e : stack.encoders()) pops.push_back(&e);
  const RunTotals totals = summarize(accounts, pops, em, cfg.energy.ac_convention, ForwardMode::spiking,
                                     static_cast<std::uint64_t>(cfg.run.tokens));
  RunOutcome out;
  out.summary = to_json(totals);
  out.summary["workload"] = "linear_stack";
  out.summary["max_relative_error_vs_quantized"] = max_rel;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  out.summary["wall_s"] = wall;
  out.table = format_summary(totals, layer_totals(accounts, em, cfg.energy.ac_convention), wall);
  if (rec) {
    RunFileContents f{cfg, em, accounts, totals, stack.graph()};
    for (const auto* p : pops) f.populations.push_back({p, p->name()});
    f.population_totals = false;
    for (std::size_t k = 0; k < stack.layers(); ++k)
      f.weights.push_back(weight_footprints({{fmt::format("layer{}.W", k), &stack.weights(k)}}).front());
    f.tokens = static_cast<std::uint64_t>(cfg.run.tokens);
    f.token_steps = token_steps;
    f.summary = out.summary;
    write_run_file(*rec, *observer, f);
    out.output = cfg.record.output;
  }
  return out;
}

// A missing model names the key that gave it and the way to change it.
void check_model_path(const SimConfig& cfg) {
  std::error_code ec;
  if (std::filesystem::exists(cfg.model.path, ec)) return;
  throw Error(ExitCode::model,
              fmt::format("{}: no such file or directory (key 'model.path' of {}); correct it there, or override "
                          "it with --set model.path=PATH (the examples find models at $SPIKESIM_MODELS)",
                          cfg.model.path, cfg.source_name.empty() ? "the config" : cfg.source_name));
}

}  // namespace

LlamaConfig model_config_for(const SimConfig& cfg) {
  if (cfg.model.path == "generated") return generated_config(cfg.generated);
  check_model_path(cfg);
  return peek_model_config(cfg.model.path);
}

NetworkGraph network_for(const SimConfig& cfg) {
  if (cfg.run.workload == Workload::linear_stack) {
    const std::vector<std::size_t> sizes(cfg.linear_stack.sizes.begin(), cfg.linear_stack.sizes.end());
    return map_linear_stack(sizes);
  }
  return map_transformer(model_config_for(cfg), TransformerMapOptions::for_run(cfg.run.mode, cfg.encoding));
}

LlamaModel model_for(const SimConfig& cfg) {
  if (cfg.model.path == "generated") {
    return generate_model(cfg.generated);
  }
  check_model_path(cfg);
  LoadOptions opts;
  opts.allow_non_finite = cfg.model.allow_non_finite;
  return load_model(cfg.model.path, opts);
}

RunOutcome run_simulation(const SimConfig& cfg, const std::function<void(const std::string&)>& echo) {
  const auto t0 = std::chrono::steady_clock::now();
  const EnergyModel em = energy_model_for(cfg);
  Communicator& ranks = world();
  if (cfg.run.workload == Workload::linear_stack) {
    if (ranks.size() > 1)
      throw Error(ExitCode::config, fmt::format("run.workload = \"linear_stack\" runs on one rank, not {}; start it "
                                                "without mpirun",
                                                ranks.size()));
    return run_linear_stack(cfg, em, t0);
  }

  Progress progress(cfg.run.progress, "run");
  progress.phase("load", cfg.model.path);
  LlamaModel model = model_for(cfg);
  log_model(model);
  Inputs in = inputs_for(cfg, model);
  const EncodingSpec& enc = cfg.encoding;
  const ForwardMode mode = cfg.run.mode;
  AccuracyMethods methods;
  if (any_accuracy_method(cfg)) prepare_model(model, cfg, in.calibration.sequences, methods);
  progress.phase("calibrate", calibration_text(cfg, in.calibration));
  const SaliencyPlan plan = calibrate(cfg, model, in.calibration);
  if (quantizes_weights(cfg.weights)) progress.phase("quantize", weights_text(cfg.weights));
  quantize_weights(model, cfg.weights, in.calibration.sequences);  // also refuses keys the method would ignore
  if (any_accuracy_method(cfg)) tune_encoders(model, cfg, plan, in.calibration.sequences, methods);

  // What the file and the summary say of the weights, while every rank
  // still holds all of them; then each rank keeps its rows (core/partition.hpp).
  const nlohmann::json weight_json = weight_settings_json(cfg.weights, model);
  std::vector<WeightFootprint> footprint;
  std::uint64_t bias_bytes = 0;
  const bool records = cfg.record.enabled && ranks.rank() == 0;  // rank 0 writes the one file
  if (records) {
    footprint = weight_footprints(linear_weights(model));
    for (const LlamaLayer& l : model.layers)
      for (const Eigen::VectorXf* b : {&l.bq, &l.bk, &l.bv, &l.bo})
        bias_bytes += static_cast<std::uint64_t>(b->size()) * sizeof(float);
  }
  Communicator* run_ranks = split_across_ranks(model, ranks);
  std::unique_ptr<Communicator> reference_ranks;
  if (run_ranks) reference_ranks = ranks.with_own_account();

  std::optional<Hdf5Recorder> rec;
  if (records) rec.emplace(RecorderOptions{cfg.record.output, cfg.record.compression});
  std::optional<RecordingObserver> observer;
  if (rec) observer.emplace(*rec, cfg.record);
  Transformer net(model, mode, enc, plan, observer ? &*observer : nullptr, methods.settings, run_ranks);
  Transformer reference(model, ForwardMode::dense, enc, {}, nullptr, {}, reference_ranks.get());

  const int vocab = model.config.vocab_size;
  std::vector<int> seq = in.tokens;
  const std::size_t total = seq.size() + static_cast<std::size_t>(cfg.input.generate);
  MatrixRM logits(static_cast<Eigen::Index>(total), vocab), ref_logits(static_cast<Eigen::Index>(total), vocab);
  progress.phase("simulate", fmt::format("{} tokens in {} mode, with the dense reference on the same tokens", total,
                                         forward_mode_name(mode)));
  std::string text;
  std::vector<std::uint64_t> spikes_per_token;
  std::vector<std::uint64_t> token_steps;  // first global step of each token, then the end
  if (echo && !cfg.input.prompt.empty() && cfg.input.generate > 0) echo(cfg.input.prompt);
  // The outcome of the first `done` tokens: the summary and, when recording,
  // the run file. `start` also writes what does not change while the run
  // goes; a `checkpoint` writes the counts only (no logits, no accuracy: it
  // must stay cheap); `interrupted` and `finished` write everything, and
  // only `finished` completes the file.
  enum class Write { start, checkpoint, interrupted, finished };
  double simulate_s = 0;  // the token loop: the run and its dense reference
  const auto outcome = [&](std::size_t done, Write write) {
    const bool complete = write == Write::finished;
    const bool final = complete || write == Write::interrupted;
    const auto accounts = net.accounts();
    const RunTotals totals = summarize(accounts, net.populations(), em, cfg.energy.ac_convention, mode, done);
    // The first `done` rows; a copy only when the run stopped early.
    MatrixRM run_rows, dense_rows;
    const MatrixRM* run_logits = &logits;
    const MatrixRM* dense_logits = &ref_logits;
    if (final && done < total) {
      run_rows = logits.topRows(static_cast<Eigen::Index>(done));
      dense_rows = ref_logits.topRows(static_cast<Eigen::Index>(done));
      run_logits = &run_rows, dense_logits = &dense_rows;
    }
    const std::vector<int> tokens_done(seq.begin(), seq.begin() + static_cast<std::ptrdiff_t>(done));
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    RunOutcome out;
    nlohmann::json communication;
    out.summary = to_json(totals);
    out.summary["workload"] = "transformer";
    out.summary["complete"] = complete;
    // The settings, under eval --json's names, and the run's own.
    out.summary.update(encoding_settings_json(cfg.encoding));
    out.summary.update(accuracy_settings_json(cfg));
    if (!methods.report.empty()) out.summary["calibrated"] = methods.report;
    out.summary["spike_lm_head"] = cfg.encoding.spike_lm_head;
    out.summary["seed"] = cfg.run.seed;
    out.summary.update(weight_json);
    out.summary.update(additive_json(accounts));
    out.summary["energy_preset"] = cfg.energy.preset;
    out.summary["model"] = model.source;
    out.summary["model_format"] = model.format;
    out.summary["spikes_per_token"] = spikes_per_token;
    out.summary["wall_s"] = wall;
    if (!text.empty()) out.summary["generated_text"] = text;
    out.text = text;
    out.table = format_summary(totals, layer_totals(accounts, em, cfg.energy.ac_convention), wall);
    if (ranks.size() > 1) {
      // The only figures that depend on the rank count: kept out of the run
      // file's summary, which is the same for every rank count.
      const auto priced = cfg.energy.communication
                              ? std::optional<MeshHopCosts>(MeshHopCosts{cfg.energy.hop_east_west_pj,
                                                                         cfg.energy.hop_north_south_pj})
                              : std::nullopt;
      out.table += format_communication(ranks.account(), priced);
      communication = communication_json(ranks.account(), priced);
      if (priced)
        communication["energy_with_communication_pj"] =
            totals.energy.total_pj() + communication_energy_pj(ranks.account(), *priced);
    }
    if (final && done >= 2) {  // a perplexity needs a predicted token
      const LogitComparison cmp = compare_logits(*run_logits, *dense_logits);
      const PerplexityResult ppl = sequence_nll(*run_logits, tokens_done);
      const PerplexityResult ref_ppl = sequence_nll(*dense_logits, tokens_done);
      out.summary["accuracy"] = to_json(cmp);
      out.summary["ppl"] = ppl.ppl();
      out.summary["dense_ppl"] = ref_ppl.ppl();
      out.table += fmt::format("\n  accuracy vs dense: max |Δlogit| {:.4g}, cosine {:.6f}, top-1 agreement {:.3f}, "
                               "KL {:.4g} nats\n  perplexity on these tokens: run {:.4f}, dense {:.4f}\n",
                               cmp.max_abs_diff, cmp.mean_cosine, cmp.top1_agreement, cmp.mean_kl, ppl.ppl(),
                               ref_ppl.ppl());
    }
    if (!complete) {
      out.summary["tokens_done"] = done;
      out.table += fmt::format("\n  INCOMPLETE: {} of {} tokens\n", done, total);
    }
    if (rec) {
      RunFileContents f{cfg, em, accounts, totals, net.network()};
      for (const auto* p : net.populations()) f.populations.push_back({p, net.stage_of(*p)});
      // Footprint: the projections' weights (spiking or not) and the lm_head.
      f.weights = footprint;
      f.bias_bytes = bias_bytes;
      f.tokens = static_cast<std::uint64_t>(done);
      f.token_steps = token_steps;
      f.token_steps.push_back(net.simulator().now());
      f.transformer = TransformerRunContents{model.source, model.format, mode, final ? run_logits : nullptr,
                                             final ? dense_logits : nullptr, tokens_done};
      f.summary = out.summary;
      f.complete = complete;
      if (write == Write::start) write_run_identity(*rec, *observer, f);
      write_run_counts(*rec, f);
      out.output = complete ? std::filesystem::path(cfg.record.output) : partial_path(cfg.record.output);
    }
    out.summary["ranks"] = ranks.size();
    if (!communication.is_null()) out.summary["communication"] = std::move(communication);
    if (final) {  // every rank is here (a checkpoint is rank 0's alone): gather each rank's peak memory
      out.summary["simulate_s"] = simulate_s;
      out.summary["peak_rss_bytes"] = ranks.gather_all(peak_rss());
      out.summary["rss_bytes"] = ranks.gather_all(current_rss());  // after the run: each rank's share held
    }
    return out;
  };

  // The run file says what the run is from its start: config, identity,
  // network, stages, energy figures; then counters every few seconds.
  if (rec) (void)outcome(0, Write::start);
  // Checkpoints every kCheckpointEvery, or rarer when one takes long (a
  // large model's counters), so that they cost at most 1/20 of the run.
  auto next_checkpoint = std::chrono::steady_clock::now() + kCheckpointEvery;
  std::optional<Error> interruption;
  std::size_t done = 0;
  const auto simulate_start = std::chrono::steady_clock::now();
  for (std::size_t pos = 0; pos < total; ++pos) {
    if ((interruption = interruption_at(cfg, ranks, pos, total))) break;
    if (pos >= seq.size()) {  // greedy generation from the previous logits
      Eigen::Index best = 0;
      logits.row(static_cast<Eigen::Index>(pos - 1)).maxCoeff(&best);
      seq.push_back(static_cast<int>(best));
    }
    token_steps.push_back(net.simulator().now());
    std::uint64_t before = 0;
    for (const auto* p : net.populations()) before += p->totals().spikes;
    net.forward(seq[pos], static_cast<int>(pos), std::span<float>(logits.row(static_cast<Eigen::Index>(pos)).data(), vocab));
    reference.forward(seq[pos], static_cast<int>(pos), std::span<float>(ref_logits.row(static_cast<Eigen::Index>(pos)).data(), vocab));
    std::uint64_t after = 0;
    for (const auto* p : net.populations()) after += p->totals().spikes;
    spikes_per_token.push_back(after - before);
    done = pos + 1;
    if (pos >= in.tokens.size() && in.tokenizer) {
      // Decode prompt and continuation together and emit what is new:
      // sentencepiece turns a leading "▁" into a space only in context.
      const std::string prompt_text = in.tokenizer->decode(in.tokens);
      const std::string all_text = in.tokenizer->decode(std::span<const int>(seq.data(), pos + 1));
      const std::string now = all_text.compare(0, prompt_text.size(), prompt_text) == 0
                                  ? all_text.substr(prompt_text.size())
                                  : all_text;
      if (echo && now.size() > text.size() && now.compare(0, text.size(), text) == 0) echo(now.substr(text.size()));
      text = now;
    }
    progress.tokens(pos + 1, total);
    if (rec && done < total && std::chrono::steady_clock::now() > next_checkpoint) {
      const auto begin = std::chrono::steady_clock::now();
      (void)outcome(done, Write::checkpoint);
      const auto end = std::chrono::steady_clock::now();
      next_checkpoint = end + std::max<std::chrono::steady_clock::duration>(kCheckpointEvery, 20 * (end - begin));
    }
  }
  simulate_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - simulate_start).count();
  // From here on the file is completed, not abandoned.
  if (!interruption) interruption = interruption_at(cfg, ranks, total, total);
  if (interruption) throw RunInterrupted(*interruption, outcome(done, Write::interrupted));
  if (rec) progress.phase("write", cfg.record.output);
  return outcome(total, Write::finished);
}

RunInterrupted::RunInterrupted(const Error& error, RunOutcome partial)
    : Error(error.code(), error.what()), partial_(std::move(partial)) {}

}  // namespace spikesim
