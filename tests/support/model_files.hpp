#pragma once
// Pieces of the small model files the loader tests and the bad-input corpus
// write: the tiny generated model they start from, and how Hugging Face
// names and describes its tensors. The writers themselves stay with their
// tests (they spoil different parts of the file), but they must agree with
// each other and with transformers on these.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "io/formats/generated_model.hpp"
#include "network/llama/model.hpp"

namespace spikesim::test {

// A model small enough to write and load in milliseconds, with GQA (4 query
// heads, 2 KV heads) and outlier channels, so that every tensor shape and
// the quantisation path are exercised.
inline LlamaModel tiny_model(std::uint64_t seed) {
  GeneratedModelSpec s;
  s.seed = seed;
  s.dim = 16;
  s.hidden_dim = 24;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.vocab = 32;
  s.max_seq_len = 16;
  s.outliers = 2;
  return generate_model(s);
}

// `v` as 8 little-endian bytes (the safetensors header length).
inline std::string le_u64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// Calls mat(name, matrix) and vec(name, vector) for every tensor of `m`,
// named and ordered as transformers' LlamaForCausalLM state dict; matrices
// come dequantized, as fp32 [out x in].
template <class Mat, class Vec>
void for_each_hf_tensor(const LlamaModel& m, Mat&& mat, Vec&& vec) {
  mat("model.embed_tokens.weight", m.embedding.to_f32());
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    vec(p + "input_layernorm.weight", l.attn_norm);
    mat(p + "self_attn.q_proj.weight", l.wq.to_f32());
    mat(p + "self_attn.k_proj.weight", l.wk.to_f32());
    mat(p + "self_attn.v_proj.weight", l.wv.to_f32());
    mat(p + "self_attn.o_proj.weight", l.wo.to_f32());
    vec(p + "post_attention_layernorm.weight", l.ffn_norm);
    mat(p + "mlp.gate_proj.weight", l.w_gate.to_f32());
    mat(p + "mlp.up_proj.weight", l.w_up.to_f32());
    mat(p + "mlp.down_proj.weight", l.w_down.to_f32());
  }
  vec("model.norm.weight", m.final_norm);
  mat("lm_head.weight", m.lm_head.to_f32());
}

// The config.json keys every Llama checkpoint carries. Callers add
// tie_word_embeddings and the RoPE keys (v4 or v5 spelling) themselves.
inline nlohmann::json hf_config_common(const LlamaModel& m) {
  const auto& c = m.config;
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"hidden_size", c.dim},
          {"intermediate_size", c.hidden_dim},
          {"num_hidden_layers", c.n_layers},
          {"num_attention_heads", c.n_heads},
          {"num_key_value_heads", c.n_kv_heads},
          {"vocab_size", c.vocab_size},
          {"max_position_embeddings", c.max_seq_len},
          {"rms_norm_eps", c.norm_eps},
          {"hidden_act", "silu"}};
}

}  // namespace spikesim::test
