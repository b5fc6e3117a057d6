// The config.json key table (io/formats/hf_config_keys.hpp) and the
// settings of today's LLaMA-family variants: every refused key is refused
// naming it, every accepted value loads, RoPE settings given in several
// places must agree, and the windows and biases each family implies.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "core/error.hpp"
#include "io/formats/hf_config_keys.hpp"
#include "io/formats/hf_loader.hpp"

using namespace spikesim;
using nlohmann::json;

namespace {

// A valid config of `family`: 2 layers, d 16, 4 heads, 2 KV heads.
json base_config(const hf::FamilyInfo& family) {
  json j = {{"model_type", family.model_type},
            {"architectures", {family.architecture}},
            {"hidden_size", 16},
            {"intermediate_size", 24},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"vocab_size", 32},
            {"max_position_embeddings", 16}};
  if (family.family == hf::mistral) j["sliding_window"] = nullptr;  // else transformers' default 4096
  return j;
}

const hf::FamilyInfo& family(hf::Family f) {
  for (const auto& info : hf::kFamilies)
    if (info.family == f) return info;
  FAIL("no such family");
  return hf::kFamilies[0];
}

LlamaConfig parse(const json& j) { return parse_hf_config(j.dump(), "test/config.json"); }

// The error message of parsing `j`, or "" when it loads.
std::string refusal(const json& j) {
  try {
    (void)parse(j);
    return "";
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::model);
    return e.what();
  }
}

void require_refused(const json& j, std::initializer_list<std::string> needles) {
  INFO(j.dump());
  const std::string m = refusal(j);
  REQUIRE_FALSE(m.empty());
  CHECK_THAT(m, Catch::Contains("test/config.json"));
  for (const auto& n : needles) CHECK_THAT(m, Catch::Contains(n));
}

json llama3_scaling() {
  return {{"rope_type", "llama3"},
          {"factor", 8.0},
          {"low_freq_factor", 1.0},
          {"high_freq_factor", 4.0},
          {"original_max_position_embeddings", 8}};
}

}  // namespace

TEST_CASE("config key table: every key is refused or loads as the table says", "[hf_config][families]") {
  std::set<std::string_view> keys;
  for (const hf::ConfigKey& k : hf::kConfigKeys) {
    INFO("key " << k.key);
    CHECK(keys.insert(k.key).second);  // one row per key
    // Each row that refuses values shows one, so this test covers it.
    if (k.use != hf::KeyUse::read) CHECK_FALSE(k.bad.empty());
    for (const hf::FamilyInfo& f : hf::kFamilies) {
      INFO("model_type " << f.model_type);
      const std::string needle = "key '" + std::string(k.key);
      if ((k.families & f.family) != 0) {
        if (!k.good.empty()) {
          json j = base_config(f);
          j[std::string(k.key)] = json::parse(k.good);
          INFO(j.dump());
          CHECK(refusal(j).empty());
        }
        if (!k.bad.empty()) {
          json j = base_config(f);
          j[std::string(k.key)] = json::parse(k.bad);
          require_refused(j, {needle});
          if (k.use == hf::KeyUse::refused) CHECK_THAT(refusal(j), Catch::Contains("not implemented"));
        }
        // null is "not set" for every key.
        json j = base_config(f);
        j[std::string(k.key)] = nullptr;
        if (k.key != "hidden_size" && k.key != "intermediate_size" && k.key != "num_hidden_layers" &&
            k.key != "num_attention_heads" && k.key != "vocab_size")
          CHECK(refusal(j).empty());
      } else {
        // Another model type's key: ignored by transformers there, so
        // refused unless it holds the neutral value.
        const std::string_view example = k.good.empty() ? k.bad : k.good;
        if (example.empty()) continue;
        json j = base_config(f);
        const json value = json::parse(example);
        j[std::string(k.key)] = value;
        if (k.ok != nullptr && k.ok(value)) {
          INFO(j.dump());
          CHECK(refusal(j).empty());
        } else {
          require_refused(j, {needle, "not read by transformers' " + std::string(f.architecture)});
        }
      }
    }
  }
  // The keys the issue names are in the table.
  for (const char* key : {"partial_rotary_factor", "final_logit_softcapping", "attn_logit_softcapping", "use_qk_norm",
                          "qk_layernorm", "num_local_experts", "num_experts", "hidden_act", "head_dim", "rope_scaling",
                          "rope_parameters", "mlp_bias", "attention_bias", "attention_dropout", "tie_word_embeddings",
                          "sliding_window", "use_sliding_window", "max_window_layers"})
    CHECK(keys.count(key) == 1);
}

TEST_CASE("config keys that do not change the math are accepted", "[hf_config][families]") {
  for (const hf::FamilyInfo& f : hf::kFamilies) {
    json j = base_config(f);
    j["torch_dtype"] = "bfloat16";
    j["dtype"] = "float32";
    j["transformers_version"] = "4.46.0";
    j["use_cache"] = true;
    j["initializer_range"] = 0.02;
    j["pad_token_id"] = nullptr;
    j["bos_token_id"] = 1;
    j["eos_token_id"] = {2, 3};
    j["_name_or_path"] = "somewhere";
    CHECK(refusal(j).empty());
  }
}

TEST_CASE("model_type and architectures name the family and must agree", "[hf_config][families]") {
  json j = base_config(family(hf::qwen2));
  j["architectures"] = {"LlamaForCausalLM"};
  require_refused(j, {"key 'architectures'", "disagrees with model_type \"qwen2\"", "Qwen2ForCausalLM"});
  j = base_config(family(hf::llama));
  j["model_type"] = "gemma";
  require_refused(j, {"key 'model_type'", "\"llama\", \"mistral\" or \"qwen2\"", "gemma"});
  j = base_config(family(hf::mistral));
  j.erase("model_type");
  j.erase("sliding_window");
  const LlamaConfig c = parse(j);  // MistralForCausalLM alone: transformers' default window 4096
  CHECK(c.sliding_window == std::vector<int>{4096, 4096});
  CHECK_FALSE(c.qkv_bias);
}

TEST_CASE("attention biases and windows per family", "[hf_config][families]") {
  SECTION("qwen2: q/k/v biases, no o bias; windows from max_window_layers with use_sliding_window") {
    json j = base_config(family(hf::qwen2));
    LlamaConfig c = parse(j);
    CHECK(c.qkv_bias);
    CHECK_FALSE(c.o_bias);
    CHECK(c.sliding_window.empty());
    j["sliding_window"] = 8;
    j["max_window_layers"] = 1;
    CHECK(parse(j).sliding_window.empty());  // use_sliding_window false
    j["use_sliding_window"] = true;
    CHECK(parse(j).sliding_window == std::vector<int>{0, 8});
    j["layer_types"] = {"full_attention", "sliding_attention"};
    CHECK(parse(j).sliding_window == std::vector<int>{0, 8});
    j["layer_types"] = {"sliding_attention", "sliding_attention"};
    require_refused(j, {"key 'layer_types'", "entry 0", "disagrees"});
    j["layer_types"] = {"full_attention"};
    require_refused(j, {"key 'layer_types'", "a list of 2 layer types"});
  }
  SECTION("llama: attention_bias puts biases on q, k, v and o") {
    json j = base_config(family(hf::llama));
    CHECK_FALSE(parse(j).qkv_bias);
    j["attention_bias"] = true;
    const LlamaConfig c = parse(j);
    CHECK(c.qkv_bias);
    CHECK(c.o_bias);
    CHECK(c.sliding_window.empty());
  }
  SECTION("mistral: the window on every layer, null for none") {
    json j = base_config(family(hf::mistral));
    CHECK(parse(j).sliding_window.empty());
    j["sliding_window"] = 16;
    CHECK(parse(j).sliding_window == std::vector<int>{16, 16});
    j["sliding_window"] = 0;
    require_refused(j, {"key 'sliding_window'", "found 0"});
  }
}

TEST_CASE("RoPE scaling: types, both spellings, and rope_scaling / rope_parameters agreement",
          "[hf_config][families][rope]") {
  const json base = base_config(family(hf::llama));
  SECTION("llama3 in rope_scaling (v4) with a top-level rope_theta") {
    json j = base;
    j["rope_theta"] = 500000.0;
    j["rope_scaling"] = llama3_scaling();
    const LlamaConfig c = parse(j);
    CHECK(c.rope_theta == 500000.0f);
    CHECK(c.rope_scaling.type == RopeScalingType::llama3);
    CHECK(c.rope_scaling.factor == 8.0f);
    CHECK(c.rope_scaling.low_freq_factor == 1.0f);
    CHECK(c.rope_scaling.high_freq_factor == 4.0f);
    CHECK(c.rope_scaling.original_max_position_embeddings == 8);
  }
  SECTION("llama3 in rope_parameters (v5) with its rope_theta") {
    json j = base;
    j["rope_parameters"] = llama3_scaling();
    j["rope_parameters"]["rope_theta"] = 500000.0;
    const LlamaConfig c = parse(j);
    CHECK(c.rope_theta == 500000.0f);
    CHECK(c.rope_scaling.type == RopeScalingType::llama3);
  }
  SECTION("linear, spelled type or rope_type") {
    for (const char* spelling : {"type", "rope_type"}) {
      json j = base;
      j["rope_scaling"] = {{spelling, "linear"}, {"factor", 2.0}};
      const LlamaConfig c = parse(j);
      CHECK(c.rope_scaling.type == RopeScalingType::linear);
      CHECK(c.rope_scaling.factor == 2.0f);
    }
    json j = base;
    j["rope_scaling"] = {{"type", "linear"}, {"rope_type", "default"}, {"factor", 2.0}};
    require_refused(j, {"key 'rope_scaling.type'", "disagrees"});
  }
  SECTION("the same scaling in both objects loads") {
    json j = base;
    j["rope_parameters"] = llama3_scaling();
    j["rope_parameters"]["rope_theta"] = 500000.0;
    j["rope_scaling"] = llama3_scaling();
    j["rope_scaling"].erase("rope_type");
    j["rope_scaling"]["type"] = "llama3";
    const LlamaConfig c = parse(j);
    CHECK(c.rope_scaling.type == RopeScalingType::llama3);
    CHECK(c.rope_theta == 500000.0f);
  }
  SECTION("rope_parameters with rope_theta and a llama3 rope_scaling: refused, not half-read") {
    json j = base;
    j["rope_parameters"] = {{"rope_theta", 500000.0}, {"rope_type", "default"}};
    j["rope_scaling"] = llama3_scaling();
    require_refused(j, {"key 'rope_scaling.rope_type'", "\"llama3\" disagrees with rope_parameters.rope_type \"default\""});
    j["rope_parameters"] = {{"rope_theta", 500000.0}};
    require_refused(j, {"key 'rope_scaling.rope_type'", "disagrees", "absent"});
  }
  SECTION("different factors, thetas or fields in the two places") {
    json j = base;
    j["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}};
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 4.0}};
    require_refused(j, {"key 'rope_scaling.factor'", "disagrees with rope_parameters.factor"});
    j = base;
    j["rope_theta"] = 10000.0;
    j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500000.0}};
    require_refused(j, {"key 'rope_theta'", "disagrees with rope_parameters.rope_theta"});
    j = base;
    j["rope_parameters"] = llama3_scaling();
    j["rope_scaling"] = llama3_scaling();
    j["rope_scaling"].erase("low_freq_factor");
    require_refused(j, {"key 'rope_scaling.low_freq_factor'", "missing, but rope_parameters.low_freq_factor gives it"});
  }
  SECTION("other types are refused by name") {
    for (const char* type : {"dynamic", "yarn", "longrope", "su", "ntk"}) {
      json j = base;
      j["rope_scaling"] = {{"rope_type", type}, {"factor", 4.0}, {"beta_fast", 32}};
      require_refused(j, {"key 'rope_scaling.rope_type'", std::string("\"") + type + "\" is not implemented"});
    }
  }
  SECTION("missing, misplaced and unknown scaling fields") {
    json j = base;
    j["rope_scaling"] = llama3_scaling();
    j["rope_scaling"].erase("original_max_position_embeddings");
    require_refused(j, {"key 'rope_scaling.original_max_position_embeddings'", "missing", "rope_type \"llama3\""});
    j["rope_scaling"] = {{"rope_type", "default"}, {"factor", 2.0}};
    require_refused(j, {"key 'rope_scaling.factor'", "rope_type \"default\""});
    j["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"attention_factor", 1.5}};
    require_refused(j, {"key 'rope_scaling.attention_factor'", "not implemented"});
    j["rope_scaling"] = llama3_scaling();
    j["rope_scaling"]["high_freq_factor"] = 1.0;
    require_refused(j, {"key 'rope_scaling.high_freq_factor'", "more than low_freq_factor"});
    j["rope_scaling"] = "llama3";
    require_refused(j, {"key 'rope_scaling'", "expected an object"});
  }
}
