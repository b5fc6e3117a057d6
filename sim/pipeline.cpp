#include "sim/pipeline.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "core/random.hpp"
#include "io/formats/token_file.hpp"
#include "sim/interrupt.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace spikesim {

std::size_t TokenLayout::count_in(std::size_t tokens) const {
  if (stride == 0 || tokens < offset + length) return 0;
  return (tokens - offset - length) / stride + 1;
}

std::vector<int> TokenLayout::sequence(const std::vector<int>& all, std::size_t i) const {
  const std::size_t start = offset + stride * i;
  if (start + length > all.size())
    throw Error(ExitCode::internal, fmt::format("token sequence {} [{}, {}) is outside the {} tokens", i, start,
                                                start + length, all.size()));
  return {all.begin() + static_cast<std::ptrdiff_t>(start),
          all.begin() + static_cast<std::ptrdiff_t>(start + length)};
}

std::vector<int> seeded_tokens(std::uint64_t seed, std::size_t n, int vocab, int bos) {
  Rng rng(seed);
  std::vector<int> t(n);
  for (std::size_t i = 0; i < n; ++i)
    t[i] = i == 0 ? bos : static_cast<int>(rng.next() % static_cast<std::uint64_t>(vocab));
  return t;
}

Calibration calibration_for(const SimConfig& cfg, const LlamaModel& model, const std::vector<int>& tokens,
                            const TokenLayout& layout, std::size_t evaluated) {
  Calibration c;
  const auto windows = static_cast<std::size_t>(std::max(0, cfg.encoding.calib_windows));
  if (!cfg.encoding.calib_file.empty()) {
    const auto file = read_token_file(cfg.encoding.calib_file, model.config.vocab_size);
    const TokenLayout from_start{0, layout.stride, layout.length};
    const std::size_t n = std::min(from_start.count_in(file.size()), windows);
    for (std::size_t i = 0; i < n; ++i) c.sequences.push_back(from_start.sequence(file, i));
    return c;
  }
  if (!tokens.empty()) {
    const std::size_t available = layout.count_in(tokens.size());
    if (available == 0) return c;
    for (std::size_t k = 0; k < windows; ++k) {
      std::size_t i = evaluated + k;
      if (i >= available) {
        i %= available;
        c.overlaps_evaluation = true;
      }
      c.sequences.push_back(layout.sequence(tokens, i));
    }
    return c;
  }
  for (std::size_t w = 0; w < windows; ++w)
    c.sequences.push_back(seeded_tokens(cfg.run.seed + 1000 + w, std::max<std::size_t>(layout.length, 16),
                                        model.config.vocab_size, model.config.bos_id));
  return c;
}

SaliencyPlan calibrate(const SimConfig& cfg, const LlamaModel& model, const Calibration& calibration) {
  if (cfg.run.mode == ForwardMode::dense) return {};
  return compute_saliency_plan(model, cfg.encoding, calibration.sequences);
}

void log_model(const LlamaModel& m) {
  const LlamaConfig& c = m.config;
  const std::uint64_t params = parameter_count(m);
  // Every loader widens to fp32 today (network/llama/model.hpp).
  spdlog::info("model: {} ({}), {} layers, d {}, d_ff {}, {} heads / {} KV heads, vocab {}; {} parameters, {:.1f} MiB "
               "as fp32",
               m.source, m.format, c.n_layers, c.dim, c.hidden_dim, c.n_heads, c.n_kv_heads, c.vocab_size, params,
               static_cast<double>(params) * 4.0 / (1024.0 * 1024.0));
}

std::string calibration_text(const SimConfig& cfg, const Calibration& calibration) {
  if (cfg.run.mode == ForwardMode::dense) return "none (dense mode)";
  if (cfg.encoding.saliency == SaliencyMethod::uniform || cfg.encoding.addbit == 0)
    return "none (uniform steps)";
  std::size_t tokens = 0;
  for (const auto& s : calibration.sequences) tokens += s.size();
  const std::string source = !cfg.encoding.calib_file.empty()   ? cfg.encoding.calib_file
                             : !cfg.input.token_file.empty()     ? cfg.input.token_file
                                                                 : std::string("seeded token ids");
  return fmt::format("{} saliency from {} sequences ({} tokens) of {}{}", saliency_name(cfg.encoding.saliency),
                     calibration.sequences.size(), tokens, source,
                     calibration.overlaps_evaluation ? ", reusing evaluated ones" : "");
}

nlohmann::json encoding_settings_json(const EncodingSpec& e) {
  return {{"abits", e.bits},         {"signed", e.is_signed},
          {"addbit", e.addbit},      {"low_p", e.low_p},
          {"saliency", std::string(saliency_name(e.saliency))}, {"kv_spiking", e.kv_spiking}};
}

Communicator* split_across_ranks(LlamaModel& model, Communicator& ranks) {
  if (ranks.size() == 1) return nullptr;
  spdlog::info("rank {} of {} keeps its rows of every linear layer", ranks.rank(), ranks.size());
  keep_rank_rows(model, {ranks.size(), ranks.rank()});
#ifdef __GLIBC__
  malloc_trim(0);  // the other ranks' rows go back to the system, not only to the heap
#endif
  return &ranks;
}

bool interrupted_on_any_rank(Communicator& ranks) { return ranks.any(pending_interrupt() != 0); }

EnergyModel energy_model_for(const SimConfig& cfg) {
  return EnergyModel::preset_named(cfg.energy.preset, cfg.energy.precision, cfg.energy.memory);
}

}  // namespace spikesim
