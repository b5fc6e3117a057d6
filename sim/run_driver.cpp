#include "sim/run_driver.hpp"

#include <fnmatch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "core/random.hpp"
#include "io/formats/generated_model.hpp"
#include "io/formats/model_loader.hpp"
#include "io/runfile/recorder.hpp"
#include "io/formats/token_file.hpp"
#include "io/formats/tokenizer.hpp"
#include "network/dense_projection.hpp"
#include "sim/interrupt.hpp"
#include "sim/linear_stack.hpp"
#include "sim/perplexity.hpp"
#include "sim/pipeline.hpp"
#include "sim/run_summary.hpp"
#include "sim/transformer.hpp"

namespace spikesim {
namespace {

bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns)
    if (fnmatch(p.c_str(), name.c_str(), 0) == 0) return true;
  return false;
}

// Records what the loop emits into the HDF5 file, for the configured populations.
class RecordingObserver : public SpikeObserver {
 public:
  RecordingObserver(Hdf5Recorder& rec, const RecordConfig& cfg) : rec_(rec), cfg_(cfg) {}

  void on_spikes(const Population& pop, std::span<const SpikeEvent> events) override {
    if (const auto id = spike_id(pop)) rec_.append_spikes(*id, events);
  }
  void on_membrane(const Population& pop, Step step, unsigned /*t*/) override {
    const auto id = trace_id(pop);
    if (!id) return;
    const auto n = std::min<std::size_t>(pop.size(), static_cast<std::size_t>(cfg_.trace_neurons));
    frame_.resize(n);
    for (std::size_t i = 0; i < n; ++i) frame_[i] = static_cast<float>(pop.membrane()[i]);
    rec_.append_frame(*id, step, frame_);
  }
  // Registers populations that never spiked so that the file lists them all.
  void ensure(const Population& pop) { (void)spike_id(pop); }

 private:
  std::optional<std::size_t> spike_id(const Population& pop) {
    const auto it = spikes_.find(&pop);
    if (it != spikes_.end()) return it->second;
    std::optional<std::size_t> id;
    if (cfg_.spikes && (cfg_.populations.empty() || matches_any(cfg_.populations, pop.name())))
      id = rec_.add_spike_population(pop.name());
    spikes_.emplace(&pop, id);
    return id;
  }
  std::optional<std::size_t> trace_id(const Population& pop) {
    const auto it = traces_.find(&pop);
    if (it != traces_.end()) return it->second;
    std::optional<std::size_t> id;
    if (cfg_.trace_neurons > 0 && matches_any(cfg_.trace_populations, pop.name())) {
      std::vector<NeuronId> ids(std::min<std::size_t>(pop.size(), static_cast<std::size_t>(cfg_.trace_neurons)));
      for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<NeuronId>(i);
      id = rec_.add_trace_population(pop.name(), std::move(ids), "membrane (grid levels)");
    }
    traces_.emplace(&pop, id);
    return id;
  }

  Hdf5Recorder& rec_;
  const RecordConfig& cfg_;
  std::map<const Population*, std::optional<std::size_t>> spikes_, traces_;
  std::vector<float> frame_;
};

// Once per token: a pending SIGINT/SIGTERM ends the run here by unwinding
// through the recorder, which leaves "<output>.partial" marked incomplete.
void stop_if_interrupted(const SimConfig& cfg, std::size_t pos, std::size_t total) {
  if (pending_interrupt() == 0) return;
  throw_if_interrupted(fmt::format("at token {} of {}; {}", pos, total,
                                   cfg.record.enabled
                                       ? fmt::format("the incomplete output is '{}' (spikesim_complete = 0)",
                                                     partial_path(cfg.record.output).string())
                                       : std::string("nothing was written")));
}

struct Inputs {
  std::vector<int> tokens;
  Calibration calibration;
  std::optional<Tokenizer> tokenizer;
};

Inputs inputs_for(const SimConfig& cfg, const LlamaModel& model) {
  Inputs in;
  const auto n = static_cast<std::size_t>(cfg.run.tokens);
  const int vocab = model.config.vocab_size;
  std::filesystem::path tok_path = cfg.model.tokenizer;
  if (tok_path.empty() && cfg.model.path != "generated") {
    const auto candidate = std::filesystem::path(cfg.model.path) / "tokenizer.model";
    if (std::filesystem::is_regular_file(candidate)) tok_path = candidate;
  }
  if (!tok_path.empty()) in.tokenizer.emplace(tok_path);
  const TokenLayout layout{static_cast<std::size_t>(cfg.input.offset), n, n};
  std::vector<int> all;  // the token file, when there is one
  if (!cfg.input.prompt.empty()) {
    if (!in.tokenizer)
      throw Error(ExitCode::config, "input.prompt needs a tokenizer: set model.tokenizer to a tokenizer.model");
    in.tokens = in.tokenizer->encode(cfg.input.prompt, true);
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

// Stage accounts in the network's stage order, which `order` records.
void write_accounts(Hdf5Recorder& rec, const std::vector<StageAccount>& accounts, const EnergyModel& em,
                    AcConvention conv) {
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const StageAccount& a = accounts[i];
    const std::string g = "stages/" + a.name;
    rec.write_op_counts(g + "/run", a.run);
    rec.write_op_counts(g + "/dense_equivalent", a.dense_equivalent);
    rec.write_energy(g, "run", spiking_energy(em, a.run, conv));
    rec.write_energy(g, "dense", dense_energy(em, a.dense_equivalent));
    rec.write_attribute("/spikesim/" + g, "layer", static_cast<double>(a.layer));
    rec.write_attribute("/spikesim/" + g, "kind", a.kind);
    rec.write_attribute("/spikesim/" + g, "order", static_cast<std::uint64_t>(i));
  }
}

// The energy figures the run was priced with, so that a report prices it
// the same way without knowing today's presets or config schema.
void write_energy_model(Hdf5Recorder& rec, const EnergyModel& em, AcConvention conv) {
  const std::string g = "/spikesim/energy_model";
  rec.write_attribute(g, "preset", em.preset);
  rec.write_attribute(g, "precision", std::string(precision_name(em.precision)));
  rec.write_attribute(g, "memory", std::string(memory_level_name(em.memory)));
  rec.write_attribute(g, "ac_convention", std::string(ac_convention_name(conv)));
  for (const auto& [name, field] : energy_model_figures()) rec.write_attribute(g, std::string(name), em.*field);
}

// The network that ran, as `spikesim graph` draws it.
void write_network(Hdf5Recorder& rec, const NetworkGraph& network) {
  std::ostringstream dot;
  network.write_dot(dot);
  rec.write_text("/spikesim/network", dot.str());
}

// The grid of a GIF population (DESIGN.md §1), for reports: per neuron its
// amplitude bits (A = 2^bits - 1) and steps T, and whether it is signed.
void write_population_grid(Hdf5Recorder& rec, const Population& pop) {
  std::vector<std::uint8_t> bits(pop.size());
  std::vector<std::uint32_t> steps(pop.size());
  for (std::size_t i = 0; i < pop.size(); ++i) {
    bits[i] = static_cast<std::uint8_t>(shift_add_cost(static_cast<std::uint32_t>(pop.max_amplitude(i))));
    steps[i] = pop.steps(i);
  }
  const std::string group = "/spikesim/populations/" + pop.name();
  rec.write_vector(group + "/bits", bits);
  rec.write_vector(group + "/steps", steps);
  rec.write_attribute(group, "signed", static_cast<std::uint64_t>(pop.is_signed() ? 1 : 0));
}

// NeuroBench Footprint and ConnectionSparsity of the stored projection
// weights (docs/reference/neurobench.md): fp32 bytes and the fraction of
// exact zeros, with the run's token count and the first step of each token
// (token_steps[t] .. token_steps[t + 1] are token t's steps).
void write_run_shape(Hdf5Recorder& rec, const std::vector<const MatrixRM*>& weights, std::uint64_t tokens,
                     const std::vector<std::uint64_t>& token_steps) {
  std::uint64_t count = 0, zeros = 0, bytes = 0;
  for (const MatrixRM* w : weights) {
    count += static_cast<std::uint64_t>(w->size());
    zeros += static_cast<std::uint64_t>((w->array() == 0.0f).count());
    bytes += stored_weight_bytes(*w);
  }
  rec.write_attribute("/spikesim", "footprint_bytes", bytes);
  rec.write_attribute("/spikesim", "connection_sparsity",
                      count > 0 ? static_cast<double>(zeros) / static_cast<double>(count) : 0.0);
  rec.write_attribute("/spikesim", "tokens", tokens);
  rec.write_vector("/spikesim/token_steps", token_steps);
}

RunOutcome run_linear_stack(const SimConfig& cfg, const EnergyModel& em) {
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
  out.table = format_summary(totals, layer_totals(accounts, em, cfg.energy.ac_convention), 0);
  if (rec) {
    for (const auto* p : pops) {
      observer->ensure(*p);
      rec->write_neuron_counters(p->name(), p->counters());
      write_population_grid(*rec, *p);
      rec->write_attribute("/spikesim/populations/" + p->name(), "stage", p->name());
    }
    std::vector<const MatrixRM*> weights;
    for (std::size_t k = 0; k < stack.layers(); ++k) weights.push_back(&stack.weights(k));
    write_network(*rec, stack.graph());
    write_energy_model(*rec, em, cfg.energy.ac_convention);
    write_run_shape(*rec, weights, static_cast<std::uint64_t>(cfg.run.tokens), token_steps);
    write_accounts(*rec, accounts, em, cfg.energy.ac_convention);
    rec->write_op_counts("totals/run", totals.run);
    rec->write_op_counts("totals/dense_equivalent", totals.dense_equivalent);
    rec->write_text("/spikesim/config", cfg.source_text);
    rec->write_text("/spikesim/summary", out.summary.dump(2));
    rec->finalize();
    out.output = cfg.record.output;
  }
  return out;
}

}  // namespace

LlamaConfig model_config_for(const SimConfig& cfg) {
  if (cfg.model.path == "generated") return generated_config(cfg.generated);
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
  LoadOptions opts;
  opts.allow_non_finite = cfg.model.allow_non_finite;
  return load_model(cfg.model.path, opts);
}

RunOutcome run_simulation(const SimConfig& cfg, const std::function<void(const std::string&)>& echo) {
  const auto t0 = std::chrono::steady_clock::now();
  const EnergyModel em = energy_model_for(cfg);
  if (cfg.run.workload == Workload::linear_stack) {
    RunOutcome out = run_linear_stack(cfg, em);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    out.summary["wall_s"] = wall;
    return out;
  }

  const LlamaModel model = model_for(cfg);
  Inputs in = inputs_for(cfg, model);
  const EncodingSpec& enc = cfg.encoding;
  const ForwardMode mode = cfg.run.mode;
  const SaliencyPlan plan = calibrate(cfg, model, in.calibration);

  std::optional<Hdf5Recorder> rec;
  if (cfg.record.enabled) rec.emplace(RecorderOptions{cfg.record.output, cfg.record.compression});
  std::optional<RecordingObserver> observer;
  if (rec) observer.emplace(*rec, cfg.record);
  Transformer net(model, mode, enc, plan, observer ? &*observer : nullptr);
  Transformer reference(model, ForwardMode::dense, enc);

  const int vocab = model.config.vocab_size;
  std::vector<int> seq = in.tokens;
  const std::size_t total = seq.size() + static_cast<std::size_t>(cfg.input.generate);
  MatrixRM logits(static_cast<Eigen::Index>(total), vocab), ref_logits(static_cast<Eigen::Index>(total), vocab);
  const bool progress = cfg.run.progress && isatty(STDERR_FILENO);
  std::string text;
  std::vector<std::uint64_t> spikes_per_token;
  std::vector<std::uint64_t> token_steps;  // first global step of each token, then the end
  if (echo && !cfg.input.prompt.empty() && cfg.input.generate > 0) echo(cfg.input.prompt);
  for (std::size_t pos = 0; pos < total; ++pos) {
    stop_if_interrupted(cfg, pos, total);
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
    if (progress) fmt::print(stderr, "\r[spikesim] token {}/{}", pos + 1, total);
  }
  if (progress) fmt::print(stderr, "\n");
  stop_if_interrupted(cfg, total, total);  // from here on the file is completed, not abandoned
  token_steps.push_back(net.simulator().now());

  const auto accounts = net.accounts();
  const RunTotals totals = summarize(accounts, net.populations(), em, cfg.energy.ac_convention, mode, total);
  const LogitComparison cmp = compare_logits(logits, ref_logits);
  const PerplexityResult ppl = sequence_nll(logits, seq);
  const PerplexityResult ref_ppl = sequence_nll(ref_logits, seq);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  RunOutcome out;
  out.summary = to_json(totals);
  out.summary["workload"] = "transformer";
  out.summary["model"] = model.source;
  out.summary["model_format"] = model.format;
  out.summary["accuracy"] = to_json(cmp);
  out.summary["ppl"] = ppl.ppl();
  out.summary["dense_ppl"] = ref_ppl.ppl();
  out.summary["spikes_per_token"] = spikes_per_token;
  out.summary["wall_s"] = wall;
  if (!text.empty()) out.summary["generated_text"] = text;
  out.text = text;
  out.table = format_summary(totals, layer_totals(accounts, em, cfg.energy.ac_convention), wall);
  out.table += fmt::format("\n  accuracy vs dense: max |Δlogit| {:.4g}, cosine {:.6f}, top-1 agreement {:.3f}, "
                           "KL {:.4g} nats\n  perplexity on these tokens: run {:.4f}, dense {:.4f}\n",
                           cmp.max_abs_diff, cmp.mean_cosine, cmp.top1_agreement, cmp.mean_kl, ppl.ppl(), ref_ppl.ppl());
  if (rec) {
    for (const auto* p : net.populations()) {
      observer->ensure(*p);
      rec->write_neuron_counters(p->name(), p->counters());
      rec->write_op_counts("populations/" + p->name() + "/totals", p->totals());
      write_population_grid(*rec, *p);
      rec->write_attribute("/spikesim/populations/" + p->name(), "stage", net.stage_of(*p));
    }
    write_network(*rec, net.network());
    write_energy_model(*rec, em, cfg.energy.ac_convention);
    // Footprint: the projections' weights (spiking or not) and the lm_head.
    std::vector<const MatrixRM*> weights;
    for (const LlamaLayer& l : model.layers)
      for (const MatrixRM* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) weights.push_back(w);
    weights.push_back(&model.lm_head);
    write_run_shape(*rec, weights, static_cast<std::uint64_t>(total), token_steps);
    write_accounts(*rec, accounts, em, cfg.energy.ac_convention);
    rec->write_op_counts("totals/run", totals.run);
    rec->write_op_counts("totals/dense_equivalent", totals.dense_equivalent);
    rec->write_energy("totals", "run", totals.energy);
    rec->write_energy("totals", "neurobench", totals.energy_neurobench);
    rec->write_energy("totals", "dense", totals.dense_energy);
    rec->write_attribute("/spikesim", "model", model.source);
    rec->write_attribute("/spikesim", "model_format", model.format);
    rec->write_attribute("/spikesim", "mode", std::string(forward_mode_name(mode)));
    if (cfg.record.logits) {
      rec->write_matrix("/spikesim/logits", logits.data(), static_cast<std::size_t>(logits.rows()), static_cast<std::size_t>(vocab));
      rec->write_matrix("/spikesim/dense_logits", ref_logits.data(), static_cast<std::size_t>(ref_logits.rows()), static_cast<std::size_t>(vocab));
    }
    std::vector<float> toks(seq.begin(), seq.end());
    rec->write_matrix("/spikesim/tokens", toks.data(), 1, toks.size());
    rec->write_text("/spikesim/config", cfg.source_text);
    rec->write_text("/spikesim/summary", out.summary.dump(2));
    rec->finalize();
    out.output = cfg.record.output;
  }
  return out;
}

}  // namespace spikesim
