#include "sim/transformer.hpp"

#include <fmt/format.h>

#include <array>

#include "core/error.hpp"
#include "network/weight_kernels.hpp"

namespace spikesim {
namespace {

std::vector<bool> plan_for(const SaliencyPlan& plan, const std::string& name, std::size_t n) {
  const auto it = plan.find(name);
  if (it == plan.end()) return std::vector<bool>(n, false);
  if (it->second.size() != n)
    throw Error(ExitCode::internal, fmt::format("saliency plan for '{}' has {} channels, expected {}", name,
                                                it->second.size(), n));
  return it->second;
}

}  // namespace

Transformer::Transformer(const LlamaModel& model, ForwardMode mode, const EncodingSpec& enc,
                         const SaliencyPlan& plan, SpikeObserver* observer, const EncoderSettings& settings,
                         Communicator* comm)
    : model_(model),
      mode_(mode),
      encoding_(enc),
      network_(map_transformer(model.config, TransformerMapOptions::for_run(mode, enc))),
      sim_(observer, comm) {
  const RankShape ranks = comm ? RankShape{comm->size(), comm->rank()} : RankShape{};
  const LlamaConfig& c = model.config;
  rope_ = RopeTable(c.head_dim, c.rope_theta, c.max_seq_len, c.rope_scaling);
  // The accounts are the network's stages, in its order.
  for (const StageInfo& s : network_.stages()) {
    account_index_[s.name] = accounts_.size();
    accounts_.push_back({s.name, s.layer, std::string(stage_kind_name(s.kind)), {}, {}});
  }
  PopulationId next_id = 0;
  auto stage = [&](const std::string& name, std::size_t d_in, std::vector<StageWeight> weights) {
    const auto salient = plan_for(plan, name, d_in);
    const auto setting = settings.find(name);
    const EncoderSetting chosen = setting == settings.end() ? EncoderSetting{} : setting->second;
    auto grid = salient_grid(salient, chosen.bits != 0 ? chosen.bits : enc.bits, enc.addbit, enc.is_signed);
    grid.set_range({enc.group_ranges, chosen.clip});
    auto s = std::make_unique<LinearStage>(name, next_id++, std::move(grid), std::move(weights), mode, ranks);
    check_against_network(*s);
    return s;
  };
  for (int l = 0; l < c.n_layers; ++l) {
    const LlamaLayer& w = model.layers[static_cast<std::size_t>(l)];
    const std::string p = fmt::format("layer{}.", l);
    Layer layer;
    auto at = [&](const char* leaf) { return account_index_.at(p + leaf); };
    layer.at = {at("attn_norm"), at("attn_in"),  at("rope"),     at("attention"), at("attn_out"),    at("attn_residual"),
                at("ffn_norm"),  at("mlp_in"),   at("silu_mul"), at("mlp_down"),  at("mlp_residual")};
    layer.attn_in = stage(p + "attn_in", static_cast<std::size_t>(c.dim),
                          {{p + "wq", &w.wq, &w.bq}, {p + "wk", &w.wk, &w.bk}, {p + "wv", &w.wv, &w.bv}});
    layer.attention = std::make_unique<Attention>(
        l, AttentionShape{c.n_heads, c.n_kv_heads, c.head_dim, c.window_of(l)}, mode, enc, next_id);
    next_id += static_cast<PopulationId>(2 * c.n_kv_heads);
    layer.attn_out = stage(p + "attn_out", static_cast<std::size_t>(c.n_heads * c.head_dim), {{p + "wo", &w.wo, &w.bo}});
    layer.mlp_in = stage(p + "mlp_in", static_cast<std::size_t>(c.dim),
                         {{p + "w_gate", &w.w_gate}, {p + "w_up", &w.w_up}});
    layer.mlp_down = stage(p + "mlp_down", static_cast<std::size_t>(c.hidden_dim), {{p + "w_down", &w.w_down}});
    layers_.push_back(std::move(layer));
  }
  embedding_account_ = account_index_.at("embedding");
  final_norm_account_ = account_index_.at("final_norm");
  lm_head_account_ = account_index_.at("lm_head");
  if (network_.has_stage("lm_head") && network_.contains("lm_head_in"))
    lm_head_ = stage("lm_head_in", static_cast<std::size_t>(c.dim), {{"w_lm_head", &model.lm_head}});

  x_.resize(static_cast<std::size_t>(c.dim));
  xn_.resize(x_.size());
  o_.resize(x_.size());
  down_.resize(x_.size());
  q_.resize(static_cast<std::size_t>(c.n_heads * c.head_dim));
  ctx_.resize(q_.size());
  k_.resize(static_cast<std::size_t>(c.n_kv_heads * c.head_dim));
  v_.resize(k_.size());
  gate_.resize(static_cast<std::size_t>(c.hidden_dim));
  up_.resize(gate_.size());
  act_.resize(gate_.size());
}

// The stage that runs must be the one the network draws: an encoder of the
// same size with a projection of the same name and shape per weight.
void Transformer::check_against_network(const LinearStage& stage) const {
  auto fail = [&](const std::string& what) {
    throw Error(ExitCode::internal, fmt::format("linear stage '{}' is not the network's: {}", stage.name(), what));
  };
  if (!network_.contains(stage.name())) fail("no such node");
  const auto v = network_.vertex(stage.name());
  const NodeInfo& node = network_.node(v);
  if (node.kind != NodeKind::encoder || node.size != stage.d_in())
    fail(fmt::format("the network has a {} of size {}", node_kind_name(node.kind), node.size));
  const auto& g = network_.graph();
  for (std::size_t k = 0; k < stage.outputs(); ++k) {
    bool found = false;
    for (auto [e, end] = boost::out_edges(v, g); e != end; ++e) {
      const EdgeInfo& edge = g[*e];
      if (edge.name == stage.weight(k).name && edge.kind == EdgeKind::projection && edge.d_in == stage.d_in() &&
          edge.d_out == stage.d_out(k))
        found = true;
    }
    if (!found) fail(fmt::format("no projection '{}' of shape {} x {}", stage.weight(k).name, stage.d_in(), stage.d_out(k)));
  }
}


void Transformer::reset() {
  for (Layer& l : layers_) l.attention->reset();
}

void Transformer::run_linear(LinearStage& stage, std::size_t acc, std::span<const float> x,
                             std::span<const std::span<float>> y) {
  if (input_hook_) input_hook_(stage.name(), x);
  stage.run(sim_, x, y, &dense_ops(acc));
  if (mode_ == ForwardMode::quantized) {
    // Quantize and decode: a compare-free rounding per input plus the decode multiply.
    dense_ops(acc).add(DenseOp::div, stage.d_in());
    dense_ops(acc).add(DenseOp::mul, stage.d_in());
  }
  if (mode_ != ForwardMode::spiking) accounts_[acc].run.dense.add(DenseOp::mac, stage.dense_macs());
  stage.account_dense_equivalent(accounts_[acc].dense_equivalent);
}

void Transformer::forward(int token, int pos, std::span<float> logits) {
  const LlamaConfig& c = model_.config;
  if (token < 0 || token >= c.vocab_size)
    throw Error(ExitCode::data, fmt::format("token id {} at position {} is outside the vocabulary [0, {})", token,
                                            pos, c.vocab_size));
  if (pos >= c.max_seq_len)
    throw Error(ExitCode::data, fmt::format("position {} exceeds the model's context of {} tokens", pos,
                                            c.max_seq_len));
  if (pos < 0 || pos > cached_positions())
    throw Error(ExitCode::data, fmt::format("{}: position {} invalid (the KV cache holds {} positions)",
                                            model_.source, pos, cached_positions()));
  for (Layer& l : layers_) l.attention->truncate(static_cast<std::size_t>(pos));
  dense_unit(embedding_account_, [&](DenseOpCounts* ops) { embedding_lookup(model_.embedding, token, x_, ops); });
  const auto hd = static_cast<std::size_t>(c.head_dim);
  for (int l = 0; l < c.n_layers; ++l) {
    Layer& layer = layers_[static_cast<std::size_t>(l)];
    const LlamaLayer& w = model_.layers[static_cast<std::size_t>(l)];
    const LayerAccounts& at = layer.at;
    dense_unit(at.attn_norm, [&](DenseOpCounts* ops) { rms_norm(x_, w.attn_norm, c.norm_eps, xn_, ops); });
    const std::array<std::span<float>, 3> qkv{q_, k_, v_};
    run_linear(*layer.attn_in, at.attn_in, xn_, qkv);
    dense_unit(at.rope, [&](DenseOpCounts* ops) {
      for (int h = 0; h < c.n_heads; ++h) rope_.apply(std::span<float>(q_).subspan(h * hd, hd), pos, c.rope, ops);
      for (int h = 0; h < c.n_kv_heads; ++h) rope_.apply(std::span<float>(k_).subspan(h * hd, hd), pos, c.rope, ops);
    });
    // Attention: the run's counts accumulate in layer.attention_counts; the
    // dense equivalent does the dense products for the same positions.
    const std::size_t att = at.attention;
    AttentionCounts& ac = layer.attention_counts;
    const DenseOpCounts softmax_before = ac.softmax;
    layer.attention->step(sim_, q_, k_, v_, ctx_, ac);
    OpCounts& de = accounts_[att].dense_equivalent;
    const auto positions = static_cast<std::uint64_t>(c.attended_positions(l, pos));
    de.dense.add(DenseOp::mac, 2 * positions * hd * static_cast<std::uint64_t>(c.n_heads));
    de.dense.add(DenseOp::mul, positions * static_cast<std::uint64_t>(c.n_heads));
    DenseOpCounts softmax_now = ac.softmax;
    for (std::size_t k = 0; k < kDenseOpKinds; ++k) softmax_now.n[k] -= softmax_before.n[k];
    de.dense += softmax_now;

    const std::array<std::span<float>, 1> o{o_};
    run_linear(*layer.attn_out, at.attn_out, ctx_, o);
    dense_unit(at.attn_residual, [&](DenseOpCounts* ops) { residual_add(x_, o_, ops); });
    dense_unit(at.ffn_norm, [&](DenseOpCounts* ops) { rms_norm(x_, w.ffn_norm, c.norm_eps, xn_, ops); });
    const std::array<std::span<float>, 2> gate_up{gate_, up_};
    run_linear(*layer.mlp_in, at.mlp_in, xn_, gate_up);
    dense_unit(at.silu_mul, [&](DenseOpCounts* ops) { silu_mul(gate_, up_, act_, ops); });
    const std::array<std::span<float>, 1> down{down_};
    run_linear(*layer.mlp_down, at.mlp_down, act_, down);
    dense_unit(at.mlp_residual, [&](DenseOpCounts* ops) { residual_add(x_, down_, ops); });
  }
  dense_unit(final_norm_account_, [&](DenseOpCounts* ops) { rms_norm(x_, model_.final_norm, c.norm_eps, xn_, ops); });
  const std::size_t head = lm_head_account_;
  if (lm_head_) {
    const std::array<std::span<float>, 1> out{logits};
    run_linear(*lm_head_, head, xn_, out);
  } else {
    // One rank's rows of the lm_head, if it is split; then every rank's.
    const RowSlice rows = model_.lm_head.row_slice();
    matvec(model_.lm_head, xn_, logits.subspan(rows.begin, rows.size()));
    sim_.share_outputs("lm_head", logits, rows);
    for (OpCounts* o : {&accounts_[head].run, &accounts_[head].dense_equivalent})
      account_dense_matvec(model_.lm_head, *o);
  }
  ++tokens_;
}

MatrixRM Transformer::forward_sequence(std::span<const int> tokens) {
  reset();
  MatrixRM logits(static_cast<Eigen::Index>(tokens.size()), model_.config.vocab_size);
  for (std::size_t t = 0; t < tokens.size(); ++t)
    forward(tokens[t], static_cast<int>(t),
            std::span<float>(logits.row(static_cast<Eigen::Index>(t)).data(), model_.config.vocab_size));
  return logits;
}

std::vector<StageAccount> Transformer::accounts() const {
  std::vector<StageAccount> out = accounts_;
  auto fold = [&](const LinearStage* stage, const std::string& name) {
    if (!stage || mode_ != ForwardMode::spiking) return;
    StageAccount& a = out[account_index_.at(name)];
    a.run += stage->encoder().totals();
  };
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    const std::string p = fmt::format("layer{}.", l);
    fold(layer.attn_in.get(), p + "attn_in");
    fold(layer.attn_out.get(), p + "attn_out");
    fold(layer.mlp_in.get(), p + "mlp_in");
    fold(layer.mlp_down.get(), p + "mlp_down");
    StageAccount& att = out[account_index_.at(p + "attention")];
    att.run += layer.attention_counts.qk;
    att.run += layer.attention_counts.pv;
    att.run.dense += layer.attention_counts.softmax;
    if (layer.attention->spiking_kv())
      for (auto* encs : {&layer.attention->k_encoders(), &layer.attention->v_encoders()})
        for (const GifPopulation& e : *encs) att.run += e.totals();
  }
  if (lm_head_) fold(lm_head_.get(), "lm_head");
  return out;
}

int Transformer::cached_positions() const {
  return layers_.empty() ? 0 : static_cast<int>(layers_.front().attention->cached_positions());
}

void Transformer::reset_accounts() {
  for (StageAccount& a : accounts_) a.run = a.dense_equivalent = {};
  auto clear = [](Population& p) {
    p.totals() = {};
    p.totals().neurons = p.size();
    p.counters().resize(p.size());
  };
  for (Layer& l : layers_) {
    l.attention_counts = {};
    for (LinearStage* s : {l.attn_in.get(), l.attn_out.get(), l.mlp_in.get(), l.mlp_down.get()}) clear(s->encoder());
    for (auto* encs : {&l.attention->k_encoders(), &l.attention->v_encoders()})
      for (GifPopulation& e : *encs) clear(e);
  }
  if (lm_head_) clear(lm_head_->encoder());
  tokens_ = 0;
}

std::string Transformer::stage_of(const Population& population) const {
  // A population is a node of the network, or one of the per-head
  // populations of a node ("layer0.k_enc.h1" of "layer0.k_enc").
  std::string name = population.name();
  while (!network_.contains(name)) {
    const auto dot = name.rfind('.');
    if (dot == std::string::npos)
      throw Error(ExitCode::internal, fmt::format("population '{}' is not in the network", population.name()));
    name.resize(dot);
  }
  return network_.node(network_.vertex(name)).stage;
}

std::vector<const Population*> Transformer::populations() const {
  std::vector<const Population*> out;
  for (const Layer& layer : layers_) {
    out.push_back(&layer.attn_in->encoder());
    for (const GifPopulation& e : layer.attention->k_encoders()) out.push_back(&e);
    for (const GifPopulation& e : layer.attention->v_encoders()) out.push_back(&e);
    out.push_back(&layer.attn_out->encoder());
    out.push_back(&layer.mlp_in->encoder());
    out.push_back(&layer.mlp_down->encoder());
  }
  if (lm_head_) out.push_back(&lm_head_->encoder());
  return out;
}

std::map<std::string, std::vector<const WeightTensor*>> Transformer::stage_weights() const {
  std::map<std::string, std::vector<const WeightTensor*>> out;
  auto add = [&](const LinearStage* s) {
    if (!s) return;
    for (std::size_t k = 0; k < s->outputs(); ++k) out[s->name()].push_back(s->weight(k).weight);
  };
  for (const Layer& layer : layers_) {
    add(layer.attn_in.get());
    add(layer.attn_out.get());
    add(layer.mlp_in.get());
    add(layer.mlp_down.get());
  }
  add(lm_head_.get());
  return out;
}

SaliencyPlan compute_saliency_plan(const LlamaModel& model, const EncodingSpec& encoding,
                                   const std::vector<std::vector<int>>& calibration) {
  SaliencyPlan plan;
  if (encoding.saliency == SaliencyMethod::uniform || encoding.addbit == 0 || calibration.empty()) return plan;
  EncodingSpec dense_spec = encoding;
  Transformer dense(model, ForwardMode::dense, dense_spec);
  std::map<std::string, std::vector<std::vector<float>>> inputs;
  dense.set_stage_input_hook([&](const std::string& name, std::span<const float> x) {
    inputs[name].emplace_back(x.begin(), x.end());
  });
  for (const auto& seq : calibration) (void)dense.forward_sequence(seq);
  // With spike_lm_head the lm_head encoder is salient-mapped too.
  EncodingSpec with_head = encoding;
  Transformer shapes(model, ForwardMode::quantized, with_head);
  for (const auto& [name, weights] : shapes.stage_weights()) {
    const auto it = inputs.find(name);
    if (it == inputs.end()) continue;
    MatrixRM x(static_cast<Eigen::Index>(it->second.size()), static_cast<Eigen::Index>(it->second.front().size()));
    for (std::size_t t = 0; t < it->second.size(); ++t)
      x.row(static_cast<Eigen::Index>(t)) =
          Eigen::Map<const Eigen::RowVectorXf>(it->second[t].data(), x.cols());
    // Saliency reads the weights as values: dequantized for the moment.
    std::vector<MatrixRM> dense;
    for (const WeightTensor* w : weights) dense.push_back(w->to_f32());
    std::vector<const MatrixRM*> views;
    for (const MatrixRM& w : dense) views.push_back(&w);
    const auto saliency = channel_saliency(encoding.saliency, x, views);
    plan[name] = select_salient(saliency, encoding.low_p);
  }
  return plan;
}

}  // namespace spikesim
