#include "io/formats/hf_loader.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "io/formats/safetensors.hpp"

namespace spikesim {

namespace {

// Larger than any real LLaMA dimension; anything above is a corrupt config.
constexpr std::int64_t kMaxDim = 1 << 20;

using nlohmann::json;

struct ConfigReader {
  const std::filesystem::path& file;
  const json& j;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(ExitCode::model, fmt::format("{}: key '{}': {}", file.string(), key, what));
  }
  [[nodiscard]] bool has(const std::string& key) const { return j.contains(key) && !j[key].is_null(); }

  int positive_int(const std::string& key, std::optional<int> fallback = std::nullopt) const {
    if (!has(key)) {
      if (fallback) return *fallback;
      fail(key, "missing (expected an integer > 0)");
    }
    const auto& v = j[key];
    if (!v.is_number_integer())
      fail(key, fmt::format("expected an integer > 0, found {} {}", v.type_name(), v.dump()));
    const auto x = v.get<std::int64_t>();
    if (x <= 0 || x > kMaxDim) fail(key, fmt::format("expected an integer in [1, {}], found {}", kMaxDim, x));
    return static_cast<int>(x);
  }

  // The model keeps these in float: a value that is positive as a double but
  // not as a float (1e105 becomes inf, 1e-50 becomes 0) is refused too.
  float positive_float(const json& v, const std::string& key) const {
    if (!v.is_number()) fail(key, fmt::format("expected a number > 0, found {} {}", v.type_name(), v.dump()));
    const auto x = v.get<double>();
    if (!(x > 0.0) || !std::isfinite(x)) fail(key, fmt::format("expected a finite number > 0, found {}", x));
    if (x > std::numeric_limits<float>::max() || x < std::numeric_limits<float>::min())
      fail(key, fmt::format("expected a number in [{}, {}] (float), found {}",
                            std::numeric_limits<float>::min(), std::numeric_limits<float>::max(), x));
    return static_cast<float>(x);
  }

  int token_id(const std::string& key, int fallback) const {
    if (!has(key)) return fallback;
    const json& v = j[key].is_array() && !j[key].empty() ? j[key][0] : j[key];  // eos may be a list
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 ||
        v.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max())
      fail(key, fmt::format("expected a non-negative 32-bit integer, found {}", j[key].dump()));
    return static_cast<int>(v.get<std::int64_t>());
  }

  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j[key].is_boolean()) fail(key, fmt::format("expected true or false, found {}", j[key].dump()));
    return j[key].get<bool>();
  }
};

void check_architecture(const ConfigReader& r) {
  const bool has_type = r.has("model_type");
  const bool has_arch = r.has("architectures");
  if (!has_type && !has_arch) r.fail("model_type", "missing (expected \"llama\")");
  if (has_type && r.j["model_type"] != "llama")
    r.fail("model_type", fmt::format("expected \"llama\", found {}", r.j["model_type"].dump()));
  if (has_arch) {
    const auto& a = r.j["architectures"];
    const bool ok = a.is_array() &&
                    std::any_of(a.begin(), a.end(), [](const json& x) { return x == "LlamaForCausalLM"; });
    if (!ok) r.fail("architectures", fmt::format("expected [\"LlamaForCausalLM\"], found {}", a.dump()));
  }
  if (r.has("hidden_act") && r.j["hidden_act"] != "silu")
    r.fail("hidden_act", fmt::format("expected \"silu\", found {}", r.j["hidden_act"].dump()));
  for (const char* key : {"attention_bias", "mlp_bias"})
    if (r.boolean(key, false)) r.fail(key, "expected false (biases are not supported), found true");
}

float rope_theta(const ConfigReader& r) {
  // transformers v5 moved rope settings into rope_parameters; v4 kept
  // rope_theta at the top level and scaling in rope_scaling.
  if (r.has("rope_parameters")) {
    const auto& p = r.j["rope_parameters"];
    if (!p.is_object()) r.fail("rope_parameters", fmt::format("expected an object, found {}", p.dump()));
    if (p.contains("rope_type") && p["rope_type"] != "default")
      r.fail("rope_parameters.rope_type",
             fmt::format("expected \"default\" (no RoPE scaling), found {}", p["rope_type"].dump()));
    if (p.contains("rope_theta")) return r.positive_float(p["rope_theta"], "rope_parameters.rope_theta");
  }
  if (r.has("rope_scaling")) {
    const auto& s = r.j["rope_scaling"];
    const json type = s.is_object() ? s.value("rope_type", s.value("type", json())) : json();
    if (type != "default")
      r.fail("rope_scaling", fmt::format("RoPE scaling is not supported, found {}", s.dump()));
  }
  if (r.has("rope_theta")) return r.positive_float(r.j["rope_theta"], "rope_theta");
  return 10000.0f;
}

std::string layer_name(int i, const char* leaf) {
  return fmt::format("model.layers.{}.{}", i, leaf);
}

class TensorReader {
 public:
  TensorReader(const SafetensorsArchive& archive, const LoadOptions& options)
      : a_(archive), options_(options) {}

  MatrixRM matrix(const std::string& name, long rows, long cols) const {
    const auto values = read(name, {rows, cols});
    return Eigen::Map<const MatrixRM>(values.data(), rows, cols);
  }
  Eigen::VectorXf vector(const std::string& name, long n) const {
    const auto values = read(name, {n});
    return Eigen::Map<const Eigen::VectorXf>(values.data(), n);
  }

 private:
  std::vector<float> read(const std::string& name, const std::vector<std::int64_t>& shape) const {
    if (!a_.contains(name))
      throw Error(ExitCode::model, fmt::format("{}: missing tensor '{}' (expected shape [{}])",
                                               a_.path().string(), name, fmt::join(shape, ", ")));
    const auto& info = a_.info(name);
    if (info.shape != shape)
      throw Error(ExitCode::model,
                  fmt::format("{}: tensor '{}' has shape [{}], expected [{}]", a_.file_of(name).string(),
                              name, fmt::join(info.shape, ", "), fmt::join(shape, ", ")));
    auto values = a_.read_f32(name);
    check_finite(values, a_.file_of(name).string(), name, options_, shape.size() == 2 ? shape[1] : 0);
    return values;
  }

  const SafetensorsArchive& a_;
  const LoadOptions& options_;
};

std::set<std::string> expected_tensors(const LlamaConfig& c) {
  std::set<std::string> names{"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};
  for (int i = 0; i < c.n_layers; ++i)
    for (const char* leaf :
         {"input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.q_proj.weight",
          "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
          "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"})
      names.insert(layer_name(i, leaf));
  return names;
}

}  // namespace

LlamaConfig read_hf_config(const std::filesystem::path& config_json) {
  std::ifstream in(config_json, std::ios::binary);
  if (!in)
    throw Error(ExitCode::model,
                fmt::format("{}: cannot open (expected a transformers config.json)", config_json.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(ExitCode::model, fmt::format("{}: read error", config_json.string()));
  return parse_hf_config(text.str(), config_json.string());
}

LlamaConfig parse_hf_config(std::string_view json_text, const std::string& source_name) {
  const std::filesystem::path config_json(source_name);
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::exception& e) {
    throw Error(ExitCode::model, fmt::format("{}: bad JSON: {}", config_json.string(), e.what()));
  }
  if (!j.is_object())
    throw Error(ExitCode::model,
                fmt::format("{}: expected a JSON object, found {}", config_json.string(), j.type_name()));
  const ConfigReader r{config_json, j};
  check_architecture(r);

  LlamaConfig c;
  c.dim = r.positive_int("hidden_size");
  c.hidden_dim = r.positive_int("intermediate_size");
  c.n_layers = r.positive_int("num_hidden_layers");
  c.n_heads = r.positive_int("num_attention_heads");
  c.n_kv_heads = r.positive_int("num_key_value_heads", c.n_heads);
  c.vocab_size = r.positive_int("vocab_size");
  c.max_seq_len = r.positive_int("max_position_embeddings", 2048);
  if (r.has("head_dim")) {
    c.head_dim = r.positive_int("head_dim");
  } else {
    if (c.dim % c.n_heads != 0)
      r.fail(
          "num_attention_heads",
          fmt::format("{} heads do not divide hidden_size {} (and head_dim is not given)", c.n_heads, c.dim));
    c.head_dim = c.dim / c.n_heads;
  }
  if (c.head_dim % 2 != 0)
    r.fail("head_dim", fmt::format("expected an even head dimension for RoPE, found {}", c.head_dim));
  if (c.n_heads % c.n_kv_heads != 0)
    r.fail("num_key_value_heads",
           fmt::format("{} KV heads do not divide num_attention_heads {}", c.n_kv_heads, c.n_heads));
  c.norm_eps = r.has("rms_norm_eps") ? r.positive_float(j["rms_norm_eps"], "rms_norm_eps") : 1e-6f;
  c.rope_theta = rope_theta(r);
  c.rope = RopeStyle::rotate_half;
  c.bos_id = r.token_id("bos_token_id", 1);
  c.eos_id = r.token_id("eos_token_id", 2);
  c.tied_embeddings = r.boolean("tie_word_embeddings", false);
  return c;
}

LlamaModel load_hf_model(const std::filesystem::path& dir, const LoadOptions& options) {
  if (!std::filesystem::is_directory(dir))
    throw Error(ExitCode::model,
                fmt::format("{}: not a directory (expected a Hugging Face model folder)", dir.string()));
  LlamaModel m;
  m.config = read_hf_config(dir / "config.json");
  m.format = "huggingface";
  m.source = dir.string();
  const LlamaConfig& c = m.config;

  std::filesystem::path weights = dir / "model.safetensors";
  if (!std::filesystem::exists(weights)) weights = dir / "model.safetensors.index.json";
  if (!std::filesystem::exists(weights))
    throw Error(
        ExitCode::model,
        fmt::format("{}: no model.safetensors or model.safetensors.index.json (PyTorch .bin weights are not "
                    "supported)",
                    dir.string()));
  const SafetensorsArchive archive(weights);

  const auto expected = expected_tensors(c);
  for (const auto& name : archive.names())
    if (expected.count(name) == 0 && !name.ends_with(".rotary_emb.inv_freq"))
      throw Error(ExitCode::model,
                  fmt::format("{}: unexpected tensor '{}' (not part of a LlamaForCausalLM with {} layers)",
                              archive.file_of(name).string(), name, c.n_layers));

  const TensorReader t(archive, options);
  const long q_rows = static_cast<long>(c.n_heads) * c.head_dim;
  const long kv_rows = static_cast<long>(c.n_kv_heads) * c.head_dim;
  m.embedding = t.matrix("model.embed_tokens.weight", c.vocab_size, c.dim);
  for (int i = 0; i < c.n_layers; ++i) {
    LlamaLayer l;
    l.attn_norm = t.vector(layer_name(i, "input_layernorm.weight"), c.dim);
    l.wq = t.matrix(layer_name(i, "self_attn.q_proj.weight"), q_rows, c.dim);
    l.wk = t.matrix(layer_name(i, "self_attn.k_proj.weight"), kv_rows, c.dim);
    l.wv = t.matrix(layer_name(i, "self_attn.v_proj.weight"), kv_rows, c.dim);
    l.wo = t.matrix(layer_name(i, "self_attn.o_proj.weight"), c.dim, q_rows);
    l.ffn_norm = t.vector(layer_name(i, "post_attention_layernorm.weight"), c.dim);
    l.w_gate = t.matrix(layer_name(i, "mlp.gate_proj.weight"), c.hidden_dim, c.dim);
    l.w_up = t.matrix(layer_name(i, "mlp.up_proj.weight"), c.hidden_dim, c.dim);
    l.w_down = t.matrix(layer_name(i, "mlp.down_proj.weight"), c.dim, c.hidden_dim);
    m.layers.push_back(std::move(l));
  }
  m.final_norm = t.vector("model.norm.weight", c.dim);
  if (c.tied_embeddings) {
    // transformers ties lm_head to the embedding and ignores a saved copy.
    m.lm_head = m.embedding;
  } else if (!archive.contains("lm_head.weight")) {
    throw Error(ExitCode::model,
                fmt::format("{}: missing tensor 'lm_head.weight' (expected shape [{}, {}]; config.json has "
                            "tie_word_embeddings = false)",
                            archive.path().string(), c.vocab_size, c.dim));
  } else {
    m.lm_head = t.matrix("lm_head.weight", c.vocab_size, c.dim);
  }
  validate_model(m);
  return m;
}

}  // namespace spikesim
