// spikesim plan CONFIG.toml [--set key=value ...] [--rank-memory SIZE] [--ranks N] [--json]
//
// How many tensor-parallel ranks a run needs: for R = 1, 2, 4, ... the
// largest per-rank share of the memory estimate (sim/memory_estimate.hpp,
// "Per rank"), the load peak, and the smallest R that fits. Reads only the
// model's shape, never its weights, so it answers for models that this
// machine could not load.
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "sim/cli/commands.hpp"
#include "sim/memory_estimate.hpp"
#include "sim/run_driver.hpp"

namespace spikesim::cli {
namespace {

nlohmann::json terms_json(const MemoryEstimate& m) {
  return {{"total", m.total()},     {"weights", m.weights},     {"projections", m.projections},
          {"kv_cache", m.kv_cache}, {"recording", m.recording}, {"buffers", m.buffers}};
}

std::string answer_text(const RankPlan& plan, const MemoryLimit& limit) {
  if (!plan.needed.ranks)
    return fmt::format("no rank count up to {} fits {}", plan.needed.largest.ranks,
                       format_bytes(limit.bytes));
  const int r = *plan.needed.ranks;
  return fmt::format("needs {} rank{} of {}", r, r == 1 ? "" : "s", format_bytes(limit.bytes));
}

std::string load_peak_text(const LoadPeak& peak) {
  return fmt::format("{} (the whole model as loaded {} + the loader's transient copy {} + program {})",
                     format_bytes(peak.total()), format_bytes(peak.weights), format_bytes(peak.transient),
                     format_bytes(peak.program));
}

// Why the load peak matters: the answer (and the per-rank refusal) use the
// steady state, which a rank reaches only after the loader has read the
// whole model and dropped the rows of the other ranks.
std::string next_limit_text(const RankPlan& plan, const MemoryLimit& limit) {
  if (plan.load_peak.total() <= limit.bytes)
    return fmt::format(
        "the load peak, {} on every rank while the loader reads the whole model before keeping its rows, "
        "fits "
        "{} too",
        format_bytes(plan.load_peak.total()), format_bytes(limit.bytes));
  return fmt::format(
      "the load peak is the next limit: the loader still reads the whole model on every rank before keeping "
      "its "
      "rows, so every rank needs {} while loading, more than {}, whatever the rank count; the steady-state "
      "shares above "
      "hold once the loader reads only its rows",
      format_bytes(plan.load_peak.total()), format_bytes(limit.bytes));
}

nlohmann::json plan_json(const SimConfig& cfg, const LlamaConfig& model, const RankPlan& plan,
                         const MemoryLimit& limit) {
  nlohmann::json rows = nlohmann::json::array();
  for (const RankShare& row : plan.rows) {
    nlohmann::json j = terms_json(row.share);
    j["ranks"] = row.ranks;
    j["rank"] = row.rank;
    j["fits"] = row.share.total() <= limit.bytes;
    rows.push_back(j);
  }
  nlohmann::json answer = {
      {"text", answer_text(plan, limit)},
      {"ranks", plan.needed.ranks ? nlohmann::json(*plan.needed.ranks) : nlohmann::json()},
      {"rank", plan.needed.largest.rank},
      {"share", terms_json(plan.needed.largest.share)}};
  if (!plan.needed.ranks) answer["blocked"] = plan.needed.blocked;
  return {
      {"config", cfg.source_name},
      {"model", cfg.model.path},
      {"model_shape",
       {{"layers", model.n_layers},
        {"dim", model.dim},
        {"hidden_dim", model.hidden_dim},
        {"heads", model.n_heads},
        {"kv_heads", model.n_kv_heads},
        {"vocab", model.vocab_size}}},
      {"weights", plan.weights_source},
      {"mode", forward_mode_name(cfg.run.mode)},
      {"positions", plan.positions},
      {"rank_memory", {{"bytes", limit.bytes}, {"source", limit.source}}},
      {"ranks", rows},
      {"replicated", terms_json(plan.replicated)},
      {"load_peak",
       {{"total", plan.load_peak.total()},
        {"weights", plan.load_peak.weights},
        {"transient", plan.load_peak.transient},
        {"program", plan.load_peak.program},
        {"fits", plan.load_peak.total() <= limit.bytes},
        {"note", next_limit_text(plan, limit)}}},
      {"answer", answer},
  };
}

void print_plan(const SimConfig& cfg, const LlamaConfig& model, const RankPlan& plan,
                const MemoryLimit& limit) {
  std::cout << fmt::format("spikesim plan: {}\n", cfg.source_name);
  std::cout << fmt::format(
      "  model        {}: {} layers, dim {}, hidden_dim {}, {} heads ({} KV), vocab {}\n", cfg.model.path,
      model.n_layers, model.dim, model.hidden_dim, model.n_heads, model.n_kv_heads, model.vocab_size);
  std::cout << fmt::format("  weights      {}\n", plan.weights_source);
  std::cout << fmt::format("  run          {} mode, {} positions\n", forward_mode_name(cfg.run.mode),
                           plan.positions);
  std::cout << fmt::format("  rank memory  {} ({})\n\n", format_bytes(limit.bytes), limit.source);
  std::cout
      << "  Largest steady-state share of one rank: each projection's output rows split across the ranks,\n"
         "  everything else on every rank, recording on rank 0.\n\n";
  std::cout << fmt::format("  {:>5}  {:>11}  {:>4}  {:>11}  {:>11}  {:>11}  {:>11}  {:>11}  {}\n", "ranks",
                           "largest", "rank", "weights", "projections", "KV cache", "recording", "buffers",
                           "fits");
  for (const RankShare& row : plan.rows) {
    const MemoryEstimate& m = row.share;
    std::cout << fmt::format("  {:>5}  {:>11}  {:>4}  {:>11}  {:>11}  {:>11}  {:>11}  {:>11}  {}\n",
                             row.ranks, format_bytes(m.total()), row.rank, format_bytes(m.weights),
                             format_bytes(m.projections), format_bytes(m.kv_cache), format_bytes(m.recording),
                             format_bytes(m.buffers), m.total() <= limit.bytes ? "yes" : "no");
  }
  std::cout << fmt::format("\n  every rank, whatever the rank count: {} ({})\n",
                           format_bytes(plan.replicated.total()), plan.replicated.breakdown());
  std::cout << fmt::format("  load peak, every rank: {}\n\n", load_peak_text(plan.load_peak));
  std::cout << fmt::format("  answer: {}", answer_text(plan, limit));
  if (plan.needed.ranks)
    std::cout << fmt::format(" (largest share {} on rank {}: {})\n",
                             format_bytes(plan.needed.largest.share.total()), plan.needed.largest.rank,
                             plan.needed.largest.share.breakdown());
  else
    std::cout << fmt::format(": {}\n", plan.needed.blocked);
  std::cout << fmt::format("  note: {}\n", next_limit_text(plan, limit));
}

}  // namespace

void add_plan_command(CLI::App& app) {
  struct Options {
    std::string config;
    std::vector<std::string> overrides;
    std::string rank_memory;
    int ranks = 256;
    bool json = false;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "plan",
      "How many tensor-parallel ranks a run needs: the per-rank memory for 1, 2, 4, ... ranks (reads "
      "the model's shape only)");
  cmd->add_option("config", o->config, "TOML config (e.g. examples/plan_llama70b_int4.toml)")->required();
  cmd->add_option("--set", o->overrides, "Override a config key: key=value (repeatable)");
  cmd->add_option(
         "--rank-memory", o->rank_memory,
         "Memory of one rank (e.g. 64G, 80GiB); default: the available memory over the ranks on this "
         "node (OMPI_COMM_WORLD_LOCAL_SIZE or SLURM_NTASKS_PER_NODE)")
      ->type_name("SIZE");
  cmd->add_option("--ranks", o->ranks, "The most ranks considered (the table shows 1, 2, 4, ... and N)")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the plan as JSON");
  cmd->callback([o] {
    const SimConfig cfg = load_config(o->config, o->overrides);
    if (cfg.run.workload != Workload::transformer)
      throw Error(
          ExitCode::config,
          fmt::format("{}: key 'run.workload' = \"{}\": spikesim plan splits a transformer's projections "
                      "across ranks; expected \"transformer\"",
                      cfg.source_name, workload_name(cfg.run.workload)));
    std::optional<std::uint64_t> rank_memory;
    if (!o->rank_memory.empty()) rank_memory = parse_memory_size(o->rank_memory, "--rank-memory");
    const MemoryLimit limit = rank_memory_limit(rank_memory, o->rank_memory);
    const LlamaConfig model = model_config_for(cfg);  // the shape only: header, config.json or [generated]
    const RankPlan plan = plan_ranks(cfg, model, limit.bytes, o->ranks);
    if (o->json)
      std::cout << plan_json(cfg, model, plan, limit).dump(2) << "\n";
    else
      print_plan(cfg, model, plan, limit);
  });
}

}  // namespace spikesim::cli
