#include "sim/weight_quantization.hpp"

#include <fmt/format.h>

#include <map>
#include <memory>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "core/weights/ternary_quantizer.hpp"
#include "core/weights/weight_quantizer.hpp"
#include "sim/transformer.hpp"

namespace spikesim {
namespace {

bool is_ternary(const WeightsConfig& cfg) {
  return cfg.method == WeightMethod::ternary || cfg.method == WeightMethod::pbllm;
}

WeightTensor quantize_tensor(const WeightTensor& w, const WeightsConfig& cfg, const Eigen::MatrixXd* hessian) {
  const MatrixRM values = w.to_f32();
  if (cfg.method == WeightMethod::ternary) {
    const TernarySpec spec{cfg.steps, cfg.max_steps, cfg.group, static_cast<ColumnSaliency>(cfg.column_saliency),
                           cfg.compensate};
    const GptqOptions gptq{cfg.damp, 128, false};
    return WeightTensor::from_ternary(quantize_ternary(values, hessian, spec, gptq).view());
  }
  if (cfg.method == WeightMethod::pbllm) {
    const PbllmSpec spec{cfg.salient_fraction, cfg.group, cfg.compensate};
    const GptqOptions gptq{cfg.damp, 128, false};
    return WeightTensor::from_ternary(quantize_pbllm(values, *hessian, spec, gptq).view());
  }
  const WeightQuantSpec spec{cfg.bits, cfg.group, cfg.symmetric};
  const QuantizedWeights q = hessian ? quantize_gptq(values, *hessian, spec, GptqOptions{cfg.damp, 128, cfg.act_order})
                                     : quantize_rtn(values, spec);
  const IntegerWeights iw{q.rows, q.cols, q.bits, q.group == 0 ? q.cols : q.group, q.codes, q.scales, q.zeros};
  return WeightTensor::from_integer(iw, w.order());
}

// The tensors each encoder stage feeds, by stage name.
std::map<std::string, std::vector<std::pair<std::string, WeightTensor*>>> stage_tensors(LlamaModel& m, int layer) {
  std::map<std::string, std::vector<std::pair<std::string, WeightTensor*>>> out;
  for (int i = 0; i < m.config.n_layers; ++i) {
    if (layer >= 0 && i != layer) continue;
    LlamaLayer& l = m.layers[static_cast<std::size_t>(i)];
    const std::string p = fmt::format("layer{}.", i);
    out[p + "attn_in"] = {{p + "wq", &l.wq}, {p + "wk", &l.wk}, {p + "wv", &l.wv}};
    out[p + "attn_out"] = {{p + "wo", &l.wo}};
    out[p + "mlp_in"] = {{p + "w_gate", &l.w_gate}, {p + "w_up", &l.w_up}};
    out[p + "mlp_down"] = {{p + "w_down", &l.w_down}};
  }
  return out;
}

// GPTQ of the stages of `layer` (-1: all layers) with Hessians from a dense
// forward of `model` as it is now.
void gptq_layers(LlamaModel& model, const WeightsConfig& cfg, const std::vector<std::vector<int>>& calibration,
                 int layer) {
  auto stages = stage_tensors(model, layer);
  std::map<std::string, std::unique_ptr<HessianAccumulator>> hessians;
  for (const auto& [name, tensors] : stages)
    hessians[name] = std::make_unique<HessianAccumulator>(static_cast<int>(tensors.front().second->cols()));
  {
    Transformer dense(model, ForwardMode::dense, EncodingSpec{});
    dense.set_stage_input_hook([&](const std::string& name, std::span<const float> x) {
      const auto it = hessians.find(name);
      if (it != hessians.end()) it->second->add(x);
    });
    for (const auto& seq : calibration) {
      dense.reset();
      for (std::size_t t = 0; t < seq.size(); ++t) {
        std::vector<float> logits(static_cast<std::size_t>(model.config.vocab_size));
        dense.forward(seq[t], static_cast<int>(t), logits);
      }
    }
  }
  for (auto& [name, tensors] : stages) {
    const Eigen::MatrixXd& h = hessians.at(name)->hessian();
    for (auto& [tensor_name, w] : tensors) *w = quantize_tensor(*w, cfg, &h);
  }
}

const char* method_name(WeightMethod m) {
  switch (m) {
    case WeightMethod::rtn:
      return "rtn";
    case WeightMethod::gptq:
      return "gptq";
    case WeightMethod::ternary:
      return "ternary";
    case WeightMethod::pbllm:
      return "pbllm";
  }
  return "?";
}

// Plain ternary (no compensation, uniform steps) is the only ternary method that needs no calibration.
bool needs_hessians(const WeightsConfig& cfg) {
  if (cfg.method == WeightMethod::ternary)
    return cfg.compensate || cfg.column_saliency != WeightColumnSaliency::none;
  return cfg.method == WeightMethod::gptq || cfg.method == WeightMethod::pbllm;
}

// Keys that change the math refuse a method that would ignore them.
void check_weight_keys(const WeightsConfig& cfg) {
  const WeightsConfig d;
  const std::string method = method_name(cfg.method);
  auto refuse = [&](const char* key, const std::string& why) {
    throw Error(ExitCode::config, fmt::format("key '{}' {} with weights.method = \"{}\"", key, why, method));
  };
  if (is_ternary(cfg)) {
    if (cfg.bits != 0) refuse("weights.bits", "must be 0 (ternary steps and 8-bit salient weights have no bit width)");
    if (cfg.symmetric) refuse("weights.symmetric", "is not implemented (α scales are symmetric already)");
    if (cfg.act_order) refuse("weights.act_order", "is not implemented");
    if (cfg.lm_head || cfg.embedding) refuse("weights.lm_head / weights.embedding", "is not implemented (RTN only)");
    if (cfg.sequential && !needs_hessians(cfg))
      refuse("weights.sequential", "needs Hessians (plain ternary, without compensation and saliency, has none)");
  } else if (!cfg.compensate) {
    refuse("weights.compensate", "applies to ternary and pbllm only");
  }
  if (cfg.method != WeightMethod::ternary &&
      (cfg.steps != d.steps || cfg.max_steps != d.max_steps || cfg.column_saliency != d.column_saliency))
    refuse("weights.steps / max_steps / column_saliency", "applies to weights.method = \"ternary\" only");
  if (cfg.method != WeightMethod::pbllm && cfg.salient_fraction != d.salient_fraction)
    refuse("weights.salient_fraction", "applies to weights.method = \"pbllm\" only");
  if (cfg.method == WeightMethod::ternary && cfg.steps > cfg.max_steps)
    throw Error(ExitCode::config, fmt::format("key 'weights.steps' = {}: more than weights.max_steps = {}", cfg.steps,
                                              cfg.max_steps));
}

}  // namespace

bool quantizes_weights(const WeightsConfig& cfg) { return cfg.bits != 0 || is_ternary(cfg); }

void quantize_weights(LlamaModel& model, const WeightsConfig& cfg, const std::vector<std::vector<int>>& calibration) {
  check_weight_keys(cfg);
  if (!quantizes_weights(cfg)) return;
  if (needs_hessians(cfg)) {
    if (calibration.empty())
      throw Error(ExitCode::config, fmt::format("key 'weights.method' = \"{}\" needs calibration tokens "
                                                "(encoding.calib_windows > 0, from the token file or "
                                                "encoding.calib_file)",
                                                method_name(cfg.method)));
    if (cfg.sequential)
      for (int l = 0; l < model.config.n_layers; ++l) gptq_layers(model, cfg, calibration, l);
    else
      gptq_layers(model, cfg, calibration, -1);
  } else {
    for (auto& [stage, tensors] : stage_tensors(model, -1))
      for (auto& [name, w] : tensors) *w = quantize_tensor(*w, cfg, nullptr);
  }
  const bool tied = model.config.tied_embeddings;
  if (cfg.embedding) model.embedding = quantize_tensor(model.embedding, cfg, nullptr);
  if (cfg.lm_head)
    model.lm_head = tied && cfg.embedding ? model.embedding : quantize_tensor(model.lm_head, cfg, nullptr);
  validate_model(model);
  spdlog::info("weights: {} -> {}", weights_text(cfg), weights_format(model));
}

WeightSpikingFigures weight_spiking_figures(const WeightTensor& t) {
  WeightSpikingFigures f;
  f.weights = t.size();
  f.bytes = t.stored_bytes();
  if (t.type() == WeightType::ternary) {
    for (std::size_t c = 0; c < t.cols(); ++c) {
      f.additions += t.additions(c);
      f.multiplications += t.multiplications(c);
      f.steps += static_cast<std::uint64_t>(t.steps(c)) * t.rows();
    }
  } else {
    f.multiplications = t.size();  // every weight multiplies (zeros included: dense-equivalent)
  }
  return f;
}

nlohmann::json weight_settings_json(const WeightsConfig& w, const LlamaModel& model) {
  WeightSpikingFigures all;
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& [name, t] : linear_weights(model))
    if (name != "w_lm_head") {
      const WeightSpikingFigures f = weight_spiking_figures(*t);
      all += f;
      layers.push_back({{"name", name},
                        {"format", t->format()},
                        {"weight_bytes", f.bytes},
                        {"bits_per_weight", f.bits_per_weight()},
                        {"equal_steps", f.equal_steps()},
                        {"additive_fraction", f.additive_fraction()}});
    }
  nlohmann::json j = {{"wbits", w.bits},
                      {"wgroup", w.group},
                      {"wsym", w.symmetric},
                      {"wmethod", method_name(w.method)},
                      {"weights", weights_format(model)},
                      {"weight_bytes", weight_bytes(model)},
                      {"weight_bits_per_weight", all.bits_per_weight()},
                      {"weight_equal_steps", all.equal_steps()},
                      {"weight_additive_fraction", all.additive_fraction()},
                      {"weight_layers", std::move(layers)}};
  if (w.method == WeightMethod::ternary) {
    j["wsteps"] = w.steps;
    j["wmax_steps"] = w.max_steps;
  }
  if (w.method == WeightMethod::pbllm) j["wsalient"] = w.salient_fraction;
  return j;
}

nlohmann::json additive_json(const std::vector<StageAccount>& accounts) {
  std::uint64_t events = 0, additive = 0;
  for (const StageAccount& a : accounts)
    if (a.kind == "linear") {
      events += a.run.synaptic_events;
      additive += a.run.additive_acs;
    }
  return {{"additive_acs", additive},
          {"additive_fraction", events ? static_cast<double>(additive) / static_cast<double>(events) : 0.0}};
}

std::string weights_text(const WeightsConfig& w) {
  if (w.method == WeightMethod::ternary) {
    static constexpr const char* kSaliency[] = {"hessian", "obs", "none"};
    return fmt::format("ternary {} equal steps (max {}, {} saliency){}{}", w.steps, w.max_steps,
                       kSaliency[static_cast<int>(w.column_saliency)], w.compensate ? " GPTQ" : "",
                       w.group == 0 ? "" : fmt::format(" g{}", w.group));
  }
  if (w.method == WeightMethod::pbllm)
    return fmt::format("PB-LLM {}% int8 salient{}{}", 100 * w.salient_fraction, w.compensate ? " GPTQ" : "",
                       w.group == 0 ? "" : fmt::format(" g{}", w.group));
  if (w.bits == 0) return "as loaded";
  std::string text = fmt::format("{} W{} {} {}", w.method == WeightMethod::gptq ? "GPTQ" : "RTN", w.bits,
                                 w.group == 0 ? std::string("per-channel") : fmt::format("g{}", w.group),
                                 w.symmetric ? "sym" : "asym");
  if (w.method == WeightMethod::gptq) {
    text += fmt::format(" damp {}", w.damp);
    if (w.act_order) text += " act-order";
    if (w.sequential) text += " sequential";
  }
  if (w.lm_head) text += " +lm_head";
  if (w.embedding) text += " +embedding";
  return text;
}

}  // namespace spikesim
