#include "network/llama/mapper.hpp"

#include <fmt/format.h>

namespace spikesim {

NetworkGraph map_transformer(const LlamaConfig& c, const TransformerMapOptions& options) {
  NetworkGraph g;
  const auto dim = static_cast<std::size_t>(c.dim);
  const auto hidden = static_cast<std::size_t>(c.hidden_dim);
  const auto q_dim = static_cast<std::size_t>(c.n_heads * c.head_dim);
  const auto kv_dim = static_cast<std::size_t>(c.n_kv_heads * c.head_dim);
  // Nodes join the stage declared last (`stage`), so the stage order below is
  // the order a token runs through them, as Transformer::forward does.
  std::string stage;
  auto begin_stage = [&](const std::string& name, int layer, StageKind kind) {
    g.add_stage({name, layer, kind});
    stage = name;
  };
  auto node = [&](const std::string& name, NodeKind kind, std::size_t size, int layer, const std::string& op = "") {
    g.add_node({name, kind, size, op, layer, stage});
  };
  auto dense = [&](const std::string& name, std::size_t size, const std::string& op, int layer) {
    node(name, NodeKind::dense_unit, size, layer, op);
  };
  auto flow = [&](const std::string& a, const std::string& b) { g.connect(a, b, {"", EdgeKind::dataflow}); };
  auto project = [&](const std::string& enc, const std::string& integ, const std::string& name) {
    g.connect(enc, integ, {name, EdgeKind::projection, g.node(g.vertex(enc)).size, g.node(g.vertex(integ)).size});
  };

  g.add_node({"input", NodeKind::input, 1, "token id"});
  begin_stage("embedding", -1, StageKind::dense);
  dense("embedding", dim, "embedding_lookup", -1);
  flow("input", "embedding");
  std::string residual = "embedding";
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = fmt::format("layer{}.", l);
    auto n = [&](const char* s) { return p + s; };
    begin_stage(n("attn_norm"), l, StageKind::dense);
    dense(n("attn_norm"), dim, "rms_norm", l);
    begin_stage(n("attn_in"), l, StageKind::linear);
    node(n("attn_in"), NodeKind::encoder, dim, l);
    for (auto [integ, size] : {std::pair{"q", q_dim}, std::pair{"k", kv_dim}, std::pair{"v", kv_dim}})
      node(n(integ), NodeKind::integrator, size, l);
    begin_stage(n("rope"), l, StageKind::dense);
    dense(n("rope"), q_dim + kv_dim, "rope", l);
    flow(residual, n("attn_norm"));
    flow(n("attn_norm"), n("attn_in"));
    project(n("attn_in"), n("q"), n("wq"));
    project(n("attn_in"), n("k"), n("wk"));
    project(n("attn_in"), n("v"), n("wv"));
    flow(n("q"), n("rope"));
    flow(n("k"), n("rope"));
    const std::size_t positions = static_cast<std::size_t>(c.max_seq_len);
    begin_stage(n("attention"), l, StageKind::attention);
    dense(n("softmax"), static_cast<std::size_t>(c.n_heads), "softmax", l);
    if (options.kv_spiking) {
      // One population per KV head (network/attention.hpp).
      for (const char* kv : {"k_enc", "v_enc"})
        g.add_node({n(kv), NodeKind::encoder, kv_dim, "", l, stage, static_cast<std::size_t>(c.n_kv_heads)});
      node(n("scores"), NodeKind::integrator, static_cast<std::size_t>(c.n_heads) * positions, l);
      node(n("context"), NodeKind::integrator, q_dim, l);
      flow(n("rope"), n("k_enc"));
      flow(n("v"), n("v_enc"));
      g.connect(n("k_enc"), n("scores"), {n("qk"), EdgeKind::dynamic_projection, kv_dim, 0});
      g.connect(n("v_enc"), n("context"), {n("pv"), EdgeKind::dynamic_projection, kv_dim, q_dim});
      flow(n("rope"), n("scores"));  // the query: dynamic weights
      flow(n("scores"), n("softmax"));
      flow(n("softmax"), n("context"));  // the probabilities: dynamic weights
    } else {
      dense(n("qk"), static_cast<std::size_t>(c.n_heads) * positions, "matmul", l);
      dense(n("context"), q_dim, "matmul", l);
      flow(n("rope"), n("qk"));
      flow(n("qk"), n("softmax"));
      flow(n("softmax"), n("context"));
      flow(n("v"), n("context"));
    }
    begin_stage(n("attn_out"), l, StageKind::linear);
    node(n("attn_out"), NodeKind::encoder, q_dim, l);
    node(n("o"), NodeKind::integrator, dim, l);
    begin_stage(n("attn_residual"), l, StageKind::dense);
    dense(n("attn_residual"), dim, "residual_add", l);
    begin_stage(n("ffn_norm"), l, StageKind::dense);
    dense(n("ffn_norm"), dim, "rms_norm", l);
    begin_stage(n("mlp_in"), l, StageKind::linear);
    node(n("mlp_in"), NodeKind::encoder, dim, l);
    node(n("gate"), NodeKind::integrator, hidden, l);
    node(n("up"), NodeKind::integrator, hidden, l);
    begin_stage(n("silu_mul"), l, StageKind::dense);
    dense(n("silu_mul"), hidden, "silu_mul", l);
    begin_stage(n("mlp_down"), l, StageKind::linear);
    node(n("mlp_down"), NodeKind::encoder, hidden, l);
    node(n("down"), NodeKind::integrator, dim, l);
    begin_stage(n("mlp_residual"), l, StageKind::dense);
    dense(n("mlp_residual"), dim, "residual_add", l);
    flow(n("context"), n("attn_out"));
    project(n("attn_out"), n("o"), n("wo"));
    flow(n("o"), n("attn_residual"));
    flow(residual, n("attn_residual"));
    flow(n("attn_residual"), n("ffn_norm"));
    flow(n("ffn_norm"), n("mlp_in"));
    project(n("mlp_in"), n("gate"), n("w_gate"));
    project(n("mlp_in"), n("up"), n("w_up"));
    flow(n("gate"), n("silu_mul"));
    flow(n("up"), n("silu_mul"));
    flow(n("silu_mul"), n("mlp_down"));
    project(n("mlp_down"), n("down"), n("w_down"));
    flow(n("down"), n("mlp_residual"));
    flow(n("attn_residual"), n("mlp_residual"));
    residual = n("mlp_residual");
  }
  begin_stage("final_norm", -1, StageKind::dense);
  dense("final_norm", dim, "rms_norm", -1);
  flow(residual, "final_norm");
  g.add_node({"logits", NodeKind::output, static_cast<std::size_t>(c.vocab_size)});
  begin_stage("lm_head", -1, options.spike_lm_head ? StageKind::linear : StageKind::dense);
  if (options.spike_lm_head) {
    node("lm_head_in", NodeKind::encoder, dim, -1);
    node("lm_head", NodeKind::integrator, static_cast<std::size_t>(c.vocab_size), -1);
    flow("final_norm", "lm_head_in");
    project("lm_head_in", "lm_head", "w_lm_head");
  } else {
    dense("lm_head", static_cast<std::size_t>(c.vocab_size), "matmul", -1);
    flow("final_norm", "lm_head");
  }
  flow("lm_head", "logits");
  g.validate();
  return g;
}

}  // namespace spikesim
