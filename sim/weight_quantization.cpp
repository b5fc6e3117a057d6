#include "sim/weight_quantization.hpp"

#include <fmt/format.h>

#include <map>
#include <memory>

#include "core/error.hpp"
#include "core/logging.hpp"
#include "core/weights/weight_quantizer.hpp"
#include "sim/transformer.hpp"

namespace spikesim {
namespace {

WeightTensor quantize_tensor(const WeightTensor& w, const WeightsConfig& cfg, const Eigen::MatrixXd* hessian) {
  const WeightQuantSpec spec{cfg.bits, cfg.group, cfg.symmetric};
  const MatrixRM values = w.to_f32();
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

}  // namespace

void quantize_weights(LlamaModel& model, const WeightsConfig& cfg, const std::vector<std::vector<int>>& calibration) {
  if (cfg.bits == 0) return;
  if (cfg.method == WeightMethod::gptq) {
    if (calibration.empty())
      throw Error(ExitCode::config, "key 'weights.method' = \"gptq\" needs calibration tokens "
                                    "(encoding.calib_windows > 0, from the token file or encoding.calib_file)");
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

nlohmann::json weight_settings_json(const WeightsConfig& w, const LlamaModel& model) {
  std::uint64_t bits = 0, count = 0;
  for (const auto& [name, t] : linear_weights(model))
    if (name != "w_lm_head") {
      bits += 8 * t->stored_bytes();
      count += t->size();
    }
  return {{"wbits", w.bits},
          {"wgroup", w.group},
          {"wsym", w.symmetric},
          {"wmethod", w.method == WeightMethod::gptq ? "gptq" : "rtn"},
          {"weights", weights_format(model)},
          {"weight_bytes", weight_bytes(model)},
          {"weight_bits_per_weight", count > 0 ? static_cast<double>(bits) / static_cast<double>(count) : 0.0}};
}

std::string weights_text(const WeightsConfig& w) {
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
