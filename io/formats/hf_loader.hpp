#pragma once
// Hugging Face LlamaForCausalLM checkpoints.
//
// Expected directory:
//   config.json                      transformers LlamaConfig
//   model.safetensors                one file, or
//   model.safetensors.index.json     + the shards its weight_map names
//
// config.json keys read (v4 and v5 styles both accepted):
//   model_type "llama" and/or architectures containing "LlamaForCausalLM"
//   hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
//   vocab_size                                           required, integer > 0
//   num_key_value_heads      default num_attention_heads; must divide it (GQA)
//   head_dim                 default hidden_size / num_attention_heads
//   rope_theta               v4: top level; v5: rope_parameters.rope_theta
//                            (rope_type / rope_scaling other than "default" is refused)
//   rms_norm_eps (1e-6), max_position_embeddings (2048), bos_token_id (1),
//   eos_token_id (2), tie_word_embeddings (false)
//   hidden_act must be "silu"; attention_bias / mlp_bias must be false.
//
// Tensors (dtype F32, F16 or BF16, widened to fp32; nn.Linear layout [out x in]),
// with H = n_heads * head_dim, K = n_kv_heads * head_dim:
//   model.embed_tokens.weight                          [vocab, dim]
//   model.layers.{i}.input_layernorm.weight            [dim]
//   model.layers.{i}.self_attn.q_proj.weight           [H, dim]
//   model.layers.{i}.self_attn.k_proj.weight           [K, dim]
//   model.layers.{i}.self_attn.v_proj.weight           [K, dim]
//   model.layers.{i}.self_attn.o_proj.weight           [dim, H]
//   model.layers.{i}.post_attention_layernorm.weight   [dim]
//   model.layers.{i}.mlp.gate_proj.weight              [hidden, dim]
//   model.layers.{i}.mlp.up_proj.weight                [hidden, dim]
//   model.layers.{i}.mlp.down_proj.weight              [dim, hidden]
//   model.norm.weight                                  [dim]
//   lm_head.weight                                     [vocab, dim]  (absent when tied:
//                                                      the embedding is copied, as transformers ties them)
// A missing tensor, a shape mismatch or a tensor not in this list is refused
// (only `*.rotary_emb.inv_freq` buffers of old checkpoints are ignored: they
// are derived from rope_theta). RoPE is rotate-half (pairs i, i + head_dim/2).
#include <filesystem>
#include <string>
#include <string_view>

#include "network/llama/model.hpp"
#include "io/formats/load_options.hpp"

namespace spikesim {

// Parses and checks config.json (Error(ExitCode::model) naming the file and key).
LlamaConfig read_hf_config(const std::filesystem::path& config_json);
// The same from the JSON text; `source_name` stands for the file in messages.
LlamaConfig parse_hf_config(std::string_view json_text, const std::string& source_name);

LlamaModel load_hf_model(const std::filesystem::path& dir, const LoadOptions& options = {});

}  // namespace spikesim
