#pragma once
// Every config.json key that changes what a Hugging Face checkpoint
// computes, in one table: which model types read it, and what spikesim does
// with it. parse_hf_config (hf_loader.cpp) walks this table before it reads
// anything, so a key that is present but not implemented is refused with
// its name instead of being ignored; docs/reference/model-families.md is
// this table in prose, and tests/unit/test_hf_config_keys.cpp walks it.
//
// Keys that are not in the table do not change the computation (dtype,
// transformers_version, use_cache, initializer_range, pad_token_id, ...)
// and are accepted whatever their value.
#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

namespace spikesim::hf {

// The model types spikesim loads (bit flags, so a key can name several).
enum Family : unsigned { llama = 1u, mistral = 2u, qwen2 = 4u };
inline constexpr unsigned kAllFamilies = llama | mistral | qwen2;

struct FamilyInfo {
  Family family;
  std::string_view model_type;    // config.json "model_type"
  std::string_view architecture;  // config.json "architectures" entry
};
inline constexpr std::array<FamilyInfo, 3> kFamilies{{
    {llama, "llama", "LlamaForCausalLM"},
    {mistral, "mistral", "MistralForCausalLM"},
    {qwen2, "qwen2", "Qwen2ForCausalLM"},
}};

enum class KeyUse {
  read,     // parse_hf_config reads it into LlamaConfig and checks its value itself
  value,    // only the values `ok` accepts are implemented; any other is refused
  refused,  // not implemented: refused unless `ok` accepts it as the neutral value (null: always refused)
};

struct ConfigKey {
  std::string_view key;
  // The model types whose transformers class reads the key. In a config of
  // another type transformers would ignore it, so a value other than the
  // neutral one `ok` accepts is refused there.
  unsigned families;
  KeyUse use;
  std::string_view accepts;  // what is accepted, as messages and docs say it
  // value / refused rows: the values accepted (null: none but null). Read
  // rows: the neutral value accepted where the key is not read (null: none).
  bool (*ok)(const nlohmann::json&);
  // Examples as JSON text (empty: none), for the test that walks the table:
  // `good` loads in a config of each accepting type, `bad` is refused.
  std::string_view good;
  std::string_view bad;
};

namespace accept {
inline bool is_false(const nlohmann::json& v) { return v.is_boolean() && !v.get<bool>(); }
inline bool is_zero(const nlohmann::json& v) { return v.is_number() && v.get<double>() == 0.0; }
inline bool is_one(const nlohmann::json& v) { return v.is_number() && v.get<double>() == 1.0; }
inline bool is_silu(const nlohmann::json& v) { return v == "silu"; }
inline bool positive_int(const nlohmann::json& v) { return v.is_number_integer() && v.get<std::int64_t>() > 0; }
}  // namespace accept

// clang-format off
inline constexpr ConfigKey kConfigKeys[] = {
  // Shape and numerics: read by every family.
  {"hidden_size", kAllFamilies, KeyUse::read, "an integer > 0", nullptr, "", "0"},
  {"intermediate_size", kAllFamilies, KeyUse::read, "an integer > 0", nullptr, "", "-1"},
  {"num_hidden_layers", kAllFamilies, KeyUse::read, "an integer > 0", nullptr, "", "\"2\""},
  {"num_attention_heads", kAllFamilies, KeyUse::read, "an integer > 0 dividing hidden_size (or head_dim given)", nullptr, "", "3"},
  {"num_key_value_heads", kAllFamilies, KeyUse::read, "an integer > 0 dividing num_attention_heads", nullptr, "1", "3"},
  {"head_dim", kAllFamilies, KeyUse::read, "an even integer > 0 (default hidden_size / num_attention_heads)", nullptr, "8", "3"},
  {"vocab_size", kAllFamilies, KeyUse::read, "an integer > 0", nullptr, "", "0"},
  {"max_position_embeddings", kAllFamilies, KeyUse::read, "an integer > 0 (default 2048)", nullptr, "64", "0"},
  {"rms_norm_eps", kAllFamilies, KeyUse::read, "a number > 0 that fits a float (default 1e-6)", nullptr, "1e-5", "-1"},
  {"tie_word_embeddings", kAllFamilies, KeyUse::read, "true or false (default false)", nullptr, "true", "\"yes\""},
  {"bos_token_id", kAllFamilies, KeyUse::read, "a non-negative 32-bit integer", nullptr, "0", "-1"},
  {"eos_token_id", kAllFamilies, KeyUse::read, "a non-negative 32-bit integer or a list of them", nullptr, "[2, 3]", "-1"},
  {"hidden_act", kAllFamilies, KeyUse::value, "\"silu\"", &accept::is_silu, "\"silu\"", "\"gelu\""},
  {"attention_dropout", kAllFamilies, KeyUse::value, "0 (dropout is training-only)", &accept::is_zero, "0.0", "0.1"},
  // RoPE (parse_hf_config: rope_scaling and rope_parameters must agree).
  {"rope_theta", kAllFamilies, KeyUse::read, "a number > 0 that fits a float (default 10000)", nullptr, "500000.0", "0"},
  {"rope_scaling", kAllFamilies, KeyUse::read, "null or an object of rope_type (or type) \"default\", \"linear\" or \"llama3\"", nullptr,
   R"({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8})",
   R"({"type": "dynamic", "factor": 2.0})"},
  {"rope_parameters", kAllFamilies, KeyUse::read, "an object of rope_type \"default\", \"linear\" or \"llama3\" (and rope_theta)", nullptr,
   R"({"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0})", R"({"rope_type": "yarn", "factor": 4.0})"},
  {"partial_rotary_factor", kAllFamilies, KeyUse::refused, "1 (RoPE on every channel of a head)", &accept::is_one, "1.0", "0.5"},
  // Biases.
  {"attention_bias", llama, KeyUse::read, "true or false: biases on q, k, v and o", &accept::is_false, "true", "1"},
  {"mlp_bias", llama, KeyUse::refused, "false (MLP biases are not implemented)", &accept::is_false, "false", "true"},
  // Sliding-window attention.
  {"sliding_window", mistral | qwen2, KeyUse::read, "null or an integer > 0: positions attended, the token's own included", nullptr, "8", "0"},
  {"use_sliding_window", qwen2, KeyUse::read, "true or false (default false)", &accept::is_false, "true", "\"yes\""},
  {"max_window_layers", qwen2, KeyUse::read, "an integer >= 0: layers from this index on use the window", nullptr, "1", "-1"},
  {"layer_types", qwen2, KeyUse::read, "a list of \"full_attention\" / \"sliding_attention\" agreeing with the window settings", nullptr,
   R"(["full_attention", "full_attention"])", R"(["full_attention", "chunked_attention"])"},
  // Equivalent computations.
  {"pretraining_tp", llama, KeyUse::value, "an integer > 0 (slices of the same matmuls)", &accept::positive_int, "1", "0"},
  // Other variants' features: not implemented.
  {"final_logit_softcapping", kAllFamilies, KeyUse::refused, "null (logit soft-capping is not implemented)", nullptr, "", "30.0"},
  {"attn_logit_softcapping", kAllFamilies, KeyUse::refused, "null (attention soft-capping is not implemented)", nullptr, "", "50.0"},
  {"use_qk_norm", kAllFamilies, KeyUse::refused, "false (QK normalisation is not implemented)", &accept::is_false, "false", "true"},
  {"qk_layernorm", kAllFamilies, KeyUse::refused, "false (QK normalisation is not implemented)", &accept::is_false, "false", "true"},
  {"num_local_experts", kAllFamilies, KeyUse::refused, "0 (mixture of experts is not implemented)", &accept::is_zero, "0", "8"},
  {"num_experts", kAllFamilies, KeyUse::refused, "0 (mixture of experts is not implemented)", &accept::is_zero, "0", "64"},
  {"num_experts_per_tok", kAllFamilies, KeyUse::refused, "0 (mixture of experts is not implemented)", &accept::is_zero, "0", "2"},
  {"moe_intermediate_size", kAllFamilies, KeyUse::refused, "0 (mixture of experts is not implemented)", &accept::is_zero, "0", "1408"},
  {"shared_expert_intermediate_size", kAllFamilies, KeyUse::refused, "0 (mixture of experts is not implemented)", &accept::is_zero, "0", "5632"},
  {"decoder_sparse_step", kAllFamilies, KeyUse::refused, "null (mixture of experts is not implemented)", nullptr, "", "1"},
  {"quantization_config", kAllFamilies, KeyUse::refused, "null (pre-quantized checkpoints are not implemented)", nullptr, "",
   R"({"quant_method": "gptq", "bits": 4})"},
  {"logit_scale", kAllFamilies, KeyUse::refused, "null (logit scaling is not implemented)", nullptr, "", "0.0625"},
  {"logits_scaling", kAllFamilies, KeyUse::refused, "null (logit scaling is not implemented)", nullptr, "", "8.0"},
  {"embedding_multiplier", kAllFamilies, KeyUse::refused, "null (embedding scaling is not implemented)", nullptr, "", "12.0"},
  {"residual_multiplier", kAllFamilies, KeyUse::refused, "null (residual scaling is not implemented)", nullptr, "", "0.22"},
  {"attention_multiplier", kAllFamilies, KeyUse::refused, "null (a custom attention scale is not implemented)", nullptr, "", "0.0078125"},
  {"query_pre_attn_scalar", kAllFamilies, KeyUse::refused, "null (a custom attention scale is not implemented)", nullptr, "", "256"},
  {"clip_qkv", kAllFamilies, KeyUse::refused, "null (QKV clipping is not implemented)", nullptr, "", "8.0"},
  {"attention_chunk_size", kAllFamilies, KeyUse::refused, "null (chunked attention is not implemented)", nullptr, "", "8192"},
  {"no_rope_layers", kAllFamilies, KeyUse::refused, "null (layers without RoPE are not implemented)", nullptr, "", "[1, 0]"},
};
// clang-format on

}  // namespace spikesim::hf
