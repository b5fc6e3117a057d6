#include "network/llama/mapper.hpp"

#include <fmt/format.h>

namespace spikesim {

NetworkGraph map_transformer(const LlamaConfig& c, const TransformerMapOptions& options) {
  NetworkGraph g;
  const auto dim = static_cast<std::size_t>(c.dim);
  const auto hidden = static_cast<std::size_t>(c.hidden_dim);
  const auto q_dim = static_cast<std::size_t>(c.n_heads * c.head_dim);
  const auto kv_dim = static_cast<std::size_t>(c.n_kv_heads * c.head_dim);
  auto dense = [&](const std::string& name, std::size_t size, const std::string& op, int layer) {
    g.add_node({name, NodeKind::dense_unit, size, op, layer});
  };
  auto flow = [&](const std::string& a, const std::string& b) { g.connect(a, b, {"", EdgeKind::dataflow}); };
  auto project = [&](const std::string& enc, const std::string& integ, const std::string& name) {
    g.connect(enc, integ, {name, EdgeKind::projection, g.node(g.vertex(enc)).size, g.node(g.vertex(integ)).size});
  };

  g.add_node({"input", NodeKind::input, 1, "token id"});
  dense("embedding", dim, "embedding_lookup", -1);
  flow("input", "embedding");
  std::string residual = "embedding";
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = fmt::format("layer{}.", l);
    auto n = [&](const char* s) { return p + s; };
    dense(n("attn_norm"), dim, "rms_norm", l);
    g.add_node({n("attn_in"), NodeKind::encoder, dim, "", l});
    for (auto [integ, size] : {std::pair{"q", q_dim}, std::pair{"k", kv_dim}, std::pair{"v", kv_dim}})
      g.add_node({n(integ), NodeKind::integrator, size, "", l});
    dense(n("rope"), q_dim + kv_dim, "rope", l);
    flow(residual, n("attn_norm"));
    flow(n("attn_norm"), n("attn_in"));
    project(n("attn_in"), n("q"), n("wq"));
    project(n("attn_in"), n("k"), n("wk"));
    project(n("attn_in"), n("v"), n("wv"));
    flow(n("q"), n("rope"));
    flow(n("k"), n("rope"));
    const std::size_t positions = static_cast<std::size_t>(c.max_seq_len);
    dense(n("softmax"), static_cast<std::size_t>(c.n_heads), "softmax", l);
    if (options.kv_spiking) {
      g.add_node({n("k_enc"), NodeKind::encoder, kv_dim, "", l});
      g.add_node({n("v_enc"), NodeKind::encoder, kv_dim, "", l});
      g.add_node({n("scores"), NodeKind::integrator, static_cast<std::size_t>(c.n_heads) * positions, "", l});
      g.add_node({n("context"), NodeKind::integrator, q_dim, "", l});
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
    g.add_node({n("attn_out"), NodeKind::encoder, q_dim, "", l});
    g.add_node({n("o"), NodeKind::integrator, dim, "", l});
    dense(n("attn_residual"), dim, "residual_add", l);
    dense(n("ffn_norm"), dim, "rms_norm", l);
    g.add_node({n("mlp_in"), NodeKind::encoder, dim, "", l});
    g.add_node({n("gate"), NodeKind::integrator, hidden, "", l});
    g.add_node({n("up"), NodeKind::integrator, hidden, "", l});
    dense(n("silu_mul"), hidden, "silu_mul", l);
    g.add_node({n("mlp_down"), NodeKind::encoder, hidden, "", l});
    g.add_node({n("down"), NodeKind::integrator, dim, "", l});
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
  dense("final_norm", dim, "rms_norm", -1);
  flow(residual, "final_norm");
  g.add_node({"logits", NodeKind::output, static_cast<std::size_t>(c.vocab_size)});
  if (options.spike_lm_head) {
    g.add_node({"lm_head_in", NodeKind::encoder, dim, "", -1});
    g.add_node({"lm_head", NodeKind::integrator, static_cast<std::size_t>(c.vocab_size), "", -1});
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
