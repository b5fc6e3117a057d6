#include "sim/mixed_precision.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "core/parallel.hpp"
#include "sim/perplexity.hpp"
#include "sim/stage_calibration.hpp"

namespace spikesim {

double average_activation_bits(const std::vector<const Population*>& populations) {
  double sum = 0;
  std::size_t n = 0;
  for (const Population* p : populations)
    for (std::size_t i = 0; i < p->size(); ++i) {
      // GifGrid::bits_per_token's formula, from the population's own shape.
      const double levels = static_cast<double>(p->max_amplitude(i)) * p->steps(i);
      sum += std::log2(p->is_signed() ? 2 * levels + 1 : levels + 1);
      ++n;
    }
  return n > 0 ? sum / static_cast<double>(n) : 0.0;
}

namespace {

double calibration_nll(const LlamaModel& model, const EncodingSpec& enc, const SaliencyPlan& plan,
                       const EncoderSettings& settings, const std::vector<std::vector<int>>& calibration) {
  Transformer net(model, ForwardMode::quantized, enc, plan, nullptr, settings);
  PerplexityResult r;
  for (const auto& seq : calibration) r += sequence_nll(net.forward_sequence(seq), seq);
  return r.mean_nll();
}

double bits_of(const LlamaModel& model, const EncodingSpec& enc, const SaliencyPlan& plan,
               const EncoderSettings& settings) {
  const Transformer net(model, ForwardMode::quantized, enc, plan, nullptr, settings);
  return average_activation_bits(net.populations());
}

}  // namespace

nlohmann::json allocate_bits(const LlamaModel& model, const EncodingConfig& enc, const SaliencyPlan& plan,
                             const std::vector<std::vector<int>>& calibration, EncoderSettings& settings) {
  if (enc.bits_budget <= 0) return {};
  if (calibration.empty())
    throw Error(ExitCode::config, "key 'encoding.bits_budget' needs calibration tokens (encoding.calib_windows > 0)");
  const std::vector<std::string> stages = linear_stage_names(model);
  for (const std::string& s : stages)
    if (settings[s].bits == 0) settings[s].bits = enc.bits;
  const EncodingSpec& spec = enc;
  double bits = bits_of(model, spec, plan, settings);
  if (bits > enc.bits_budget + 1e-9)
    throw Error(ExitCode::config, fmt::format("key 'encoding.bits_budget' = {} is below the {:.4f} bits per neuron "
                                              "per token that encoding.bits = {} already takes",
                                              enc.bits_budget, bits, enc.bits));
  const unsigned max_bits = std::min(16u, enc.bits + 4);
  for (int round = 0; round < 4; ++round) {
    // Slot 0: as it stands; slot k: stage k - 1 one bit finer.
    std::vector<double> nll(stages.size() + 1, 0.0), cost(stages.size() + 1, 0.0);
    parallel_indices(std::size_t{0}, nll.size(), [&](std::size_t k) {
      EncoderSettings trial = settings;
      if (k > 0) {
        EncoderSetting& s = trial[stages[k - 1]];
        if (s.bits >= max_bits) {
          nll[k] = INFINITY;
          return;
        }
        ++s.bits;
        cost[k] = bits_of(model, spec, plan, trial) - bits;
      }
      nll[k] = calibration_nll(model, spec, plan, trial, calibration);
    });
    std::vector<std::size_t> order;
    for (std::size_t k = 1; k < nll.size(); ++k)
      if (std::isfinite(nll[k]) && nll[k] < nll[0] && cost[k] > 0) order.push_back(k);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return (nll[0] - nll[a]) / cost[a] > (nll[0] - nll[b]) / cost[b];
    });
    bool raised = false;
    for (const std::size_t k : order)
      if (bits + cost[k] <= enc.bits_budget + 1e-9) {
        ++settings[stages[k - 1]].bits;
        bits += cost[k];
        raised = true;
        spdlog::debug("mixed precision: round {}: {} -> {} bits (calibration NLL {:.4f} -> {:.4f})", round + 1,
                      stages[k - 1], settings[stages[k - 1]].bits, nll[0], nll[k]);
      }
    if (!raised) break;
    bits = bits_of(model, spec, plan, settings);
  }
  nlohmann::json out = {{"average_bits", bits}, {"bits", nlohmann::json::object()}};
  for (const std::string& s : stages) out["bits"][s] = settings[s].bits;
  spdlog::info("mixed precision: {:.4f} bits per neuron per token: {}", bits, out["bits"].dump());
  return out;
}

}  // namespace spikesim
