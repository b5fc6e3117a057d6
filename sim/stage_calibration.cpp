#include "sim/stage_calibration.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/weights/weight_quantizer.hpp"
#include "neurons/saliency.hpp"
#include "sim/transformer.hpp"

namespace spikesim {

StageInputs collect_stage_inputs(const LlamaModel& model, const std::vector<std::vector<int>>& calibration) {
  std::map<std::string, std::vector<float>> rows;
  std::map<std::string, Eigen::Index> width;
  {
    Transformer dense(model, ForwardMode::dense, EncodingSpec{});
    dense.set_stage_input_hook([&](const std::string& name, std::span<const float> x) {
      rows[name].insert(rows[name].end(), x.begin(), x.end());
      width[name] = static_cast<Eigen::Index>(x.size());
    });
    for (const auto& seq : calibration) (void)dense.forward_sequence(seq);
  }
  StageInputs out;
  for (auto& [name, values] : rows) {
    const Eigen::Index cols = width.at(name);
    out[name] = Eigen::Map<const MatrixRM>(values.data(), static_cast<Eigen::Index>(values.size()) / cols, cols);
  }
  return out;
}

std::vector<std::string> linear_stage_names(const LlamaModel& model) {
  std::vector<std::string> names;
  for (int l = 0; l < model.config.n_layers; ++l)
    for (const char* leaf : {"attn_in", "attn_out", "mlp_in", "mlp_down"})
      names.push_back(fmt::format("layer{}.{}", l, leaf));
  return names;
}

MatrixRM stage_weight_values(const LlamaModel& model, const std::string& name) {
  const auto dot = name.find('.');
  std::vector<const WeightTensor*> tensors;
  if (name == "lm_head_in") {
    tensors = {&model.lm_head};
  } else {
    const int l = dot == std::string::npos ? -1 : std::atoi(name.c_str() + 5);
    if (!name.starts_with("layer") || l < 0 || l >= model.config.n_layers)
      throw Error(ExitCode::internal, fmt::format("no encoder stage '{}'", name));
    const LlamaLayer& w = model.layers[static_cast<std::size_t>(l)];
    const std::string leaf = name.substr(dot + 1);
    if (leaf == "attn_in") tensors = {&w.wq, &w.wk, &w.wv};
    else if (leaf == "attn_out") tensors = {&w.wo};
    else if (leaf == "mlp_in") tensors = {&w.w_gate, &w.w_up};
    else if (leaf == "mlp_down") tensors = {&w.w_down};
    else throw Error(ExitCode::internal, fmt::format("no encoder stage '{}'", name));
  }
  Eigen::Index rows = 0;
  for (const WeightTensor* t : tensors) rows += static_cast<Eigen::Index>(t->rows());
  MatrixRM out(rows, static_cast<Eigen::Index>(tensors.front()->cols()));
  Eigen::Index at = 0;
  for (const WeightTensor* t : tensors) {
    const MatrixRM v = t->to_f32();
    out.middleRows(at, v.rows()) = v;
    at += v.rows();
  }
  return out;
}

GifGrid stage_grid(const EncodingSpec& enc, const MatrixRM& x, const MatrixRM& w, unsigned bits, float clip) {
  std::vector<bool> salient(static_cast<std::size_t>(x.cols()), false);
  if (enc.saliency != SaliencyMethod::uniform && enc.addbit != 0) {
    const MatrixRM* views[] = {&w};
    salient = select_salient(channel_saliency(enc.saliency, x, views), enc.low_p);
  }
  return stage_grid(enc, salient, bits, clip);
}

GifGrid stage_grid(const EncodingSpec& enc, const std::vector<bool>& salient, unsigned bits, float clip) {
  GifGrid grid = salient_grid(salient, bits != 0 ? bits : enc.bits, enc.addbit, enc.is_signed);
  grid.set_range({enc.group_ranges, clip});
  return grid;
}

MatrixRM quantize_rows(const MatrixRM& x, const GifGrid& grid) {
  MatrixRM out(x.rows(), x.cols());
  TokenScale scale;
  std::vector<std::int32_t> q(static_cast<std::size_t>(x.cols()));
  for (Eigen::Index t = 0; t < x.rows(); ++t) {
    const std::span<const float> row(x.row(t).data(), static_cast<std::size_t>(x.cols()));
    grid.quantize(row, "calibration", scale, q);
    grid.decode(scale, q, std::span<float>(out.row(t).data(), static_cast<std::size_t>(x.cols())));
  }
  return out;
}

double stage_output_error(const MatrixRM& y, const MatrixRM& x, const MatrixRM& w_hat, const GifGrid& grid) {
  const MatrixRM y_hat = quantize_rows(x, grid) * w_hat.transpose();
  return static_cast<double>((y - y_hat).cast<double>().squaredNorm());
}

MatrixRM weights_as_run(const MatrixRM& w, const WeightsConfig& weights) {
  if (weights.bits == 0) return w;
  return quantize_rtn(w, WeightQuantSpec{weights.bits, weights.group, weights.symmetric}).dequantized();
}

}  // namespace spikesim
