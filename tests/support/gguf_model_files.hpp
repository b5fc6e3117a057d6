#pragma once
// A LlamaModel written as a GGUF file the way llama.cpp's converter
// (convert_hf_to_gguf.py) writes a LlamaForCausalLM: llama.* metadata,
// tensors named token_embd / blk.N.* / output_norm / output, ggml shapes
// [cols, rows], and the rows of attn_q and attn_k permuted for llama.cpp's
// interleaved RoPE. For the GGUF loader's tests.
#include <algorithm>
#include <string>
#include <vector>

#include "io/formats/gguf.hpp"
#include "io/formats/gguf_qk_permute.hpp"
#include "io/formats/gguf_writer.hpp"
#include "network/llama/model.hpp"

namespace spikesim::test {

struct GgufModelWriteOptions {
  GgufTensorType linear = GgufTensorType::f32;  // the nine matrices of each block
  GgufTensorType tables = GgufTensorType::f32;  // token_embd and output
  bool permute_qk = true;                       // as the converter does; false: a wrong file on purpose
  bool tied = false;                            // leave output.weight out
  // Keys and tensors left out, for tests that set them otherwise (or not at all).
  std::vector<std::string> skip;
};

inline GgufWriter gguf_writer_for(const LlamaModel& m, const GgufModelWriteOptions& o = {}) {
  const LlamaConfig& c = m.config;
  auto u32 = [](int v) { return GgufValue::of_u32(static_cast<std::uint32_t>(v)); };
  GgufWriter w;
  auto skipped = [&o](const std::string& name) { return std::find(o.skip.begin(), o.skip.end(), name) != o.skip.end(); };
  auto set = [&](const std::string& key, GgufValue v) {
    if (!skipped(key)) w.set(key, std::move(v));
  };
  set("general.architecture", GgufValue::of_string("llama"));
  set("general.name", GgufValue::of_string(m.source));
  set("llama.context_length", u32(c.max_seq_len));
  set("llama.embedding_length", u32(c.dim));
  set("llama.block_count", u32(c.n_layers));
  set("llama.feed_forward_length", u32(c.hidden_dim));
  set("llama.attention.head_count", u32(c.n_heads));
  set("llama.attention.head_count_kv", u32(c.n_kv_heads));
  set("llama.attention.layer_norm_rms_epsilon", GgufValue::of_f32(c.norm_eps));
  set("llama.rope.freq_base", GgufValue::of_f32(c.rope_theta));
  set("llama.rope.dimension_count", u32(c.head_dim));
  set("llama.vocab_size", u32(c.vocab_size));
  set("tokenizer.ggml.bos_token_id", u32(c.bos_id));
  set("tokenizer.ggml.eos_token_id", u32(c.eos_id));

  // GGUF ne = [cols, rows]; the values row after row, as PyTorch holds them.
  auto matrix = [&](const std::string& name, const MatrixRM& values, GgufTensorType type, std::size_t qk_heads = 0) {
    const auto rows = static_cast<std::size_t>(values.rows()), cols = static_cast<std::size_t>(values.cols());
    if (skipped(name)) return;
    std::vector<float> v(values.data(), values.data() + values.size());
    if (qk_heads > 0) v = gguf_permute_qk_rows(v, rows, cols, qk_heads);
    w.add_tensor(name, {cols, rows}, v, type);
  };
  auto vector = [&](const std::string& name, const Eigen::VectorXf& v) {
    if (skipped(name)) return;
    w.add_tensor(name, {static_cast<std::uint64_t>(v.size())}, std::span<const float>(v.data(), v.size()),
                 GgufTensorType::f32);
  };
  matrix("token_embd.weight", m.embedding.to_f32(), o.tables);
  const std::size_t q_heads = o.permute_qk ? static_cast<std::size_t>(c.n_heads) : 0;
  const std::size_t k_heads = o.permute_qk ? static_cast<std::size_t>(c.n_kv_heads) : 0;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const LlamaLayer& l = m.layers[i];
    const std::string p = "blk." + std::to_string(i) + ".";
    vector(p + "attn_norm.weight", l.attn_norm);
    matrix(p + "attn_q.weight", l.wq.to_f32(), o.linear, q_heads);
    matrix(p + "attn_k.weight", l.wk.to_f32(), o.linear, k_heads);
    matrix(p + "attn_v.weight", l.wv.to_f32(), o.linear);
    matrix(p + "attn_output.weight", l.wo.to_f32(), o.linear);
    vector(p + "ffn_norm.weight", l.ffn_norm);
    matrix(p + "ffn_gate.weight", l.w_gate.to_f32(), o.linear);
    matrix(p + "ffn_up.weight", l.w_up.to_f32(), o.linear);
    matrix(p + "ffn_down.weight", l.w_down.to_f32(), o.linear);
  }
  vector("output_norm.weight", m.final_norm);
  if (!o.tied) matrix("output.weight", m.lm_head.to_f32(), o.tables);
  return w;
}

}  // namespace spikesim::test
