#pragma once
// Hugging Face checkpoints of the LLaMA family: LlamaForCausalLM,
// MistralForCausalLM and Qwen2ForCausalLM (docs/reference/model-families.md).
//
// Expected directory:
//   config.json                      transformers config of one of those
//   model.safetensors                one file, or
//   model.safetensors.index.json     + the shards its weight_map names
//
// config.json keys read (v4 and v5 styles both accepted); every key that
// changes the computation is in the table of hf_config_keys.hpp, which
// refuses those not implemented by name:
//   model_type "llama", "mistral" or "qwen2" and/or architectures naming the
//   matching *ForCausalLM (they must agree)
//   hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
//   vocab_size                                           required, integer > 0
//   num_key_value_heads      default num_attention_heads; must divide it (GQA)
//   head_dim                 default hidden_size / num_attention_heads
//   rope_theta               top level, rope_parameters.rope_theta or rope_scaling.rope_theta
//   rope_scaling (v4), rope_parameters (v5)
//                            rope_type (or type) "default", "linear" (factor) or
//                            "llama3" (factor, low_freq_factor, high_freq_factor,
//                            original_max_position_embeddings); given in both
//                            objects they must say the same
//   attention_bias (llama)   q/k/v/o biases; Qwen2 always has q/k/v biases
//   sliding_window (mistral: every layer, default 4096; qwen2: with
//   use_sliding_window, layers >= max_window_layers; layer_types must agree)
//   rms_norm_eps (1e-6), max_position_embeddings (2048), bos_token_id (1),
//   eos_token_id (2), tie_word_embeddings (false)
//
// Tensors (dtype F32, F16 or BF16, widened to fp32; nn.Linear layout [out x in]),
// with H = n_heads * head_dim, K = n_kv_heads * head_dim:
//   model.embed_tokens.weight                          [vocab, dim]
//   model.layers.{i}.input_layernorm.weight            [dim]
//   model.layers.{i}.self_attn.q_proj.weight           [H, dim]
//   model.layers.{i}.self_attn.k_proj.weight           [K, dim]
//   model.layers.{i}.self_attn.v_proj.weight           [K, dim]
//   model.layers.{i}.self_attn.o_proj.weight           [dim, H]
//   model.layers.{i}.self_attn.{q,k,v}_proj.bias       [H], [K], [K]  (qkv_bias only)
//   model.layers.{i}.self_attn.o_proj.bias             [dim]          (o_bias only)
//   model.layers.{i}.post_attention_layernorm.weight   [dim]
//   model.layers.{i}.mlp.gate_proj.weight              [hidden, dim]
//   model.layers.{i}.mlp.up_proj.weight                [hidden, dim]
//   model.layers.{i}.mlp.down_proj.weight              [dim, hidden]
//   model.norm.weight                                  [dim]
//   lm_head.weight                                     [vocab, dim]  (absent when tied:
//                                                      the embedding is copied, as transformers ties them)
// A missing tensor, a shape mismatch or a tensor not in this list is refused
// (only `*.rotary_emb.inv_freq` buffers of old checkpoints are ignored: they
// are derived from the RoPE settings). RoPE is rotate-half (pairs i, i + head_dim/2).
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
