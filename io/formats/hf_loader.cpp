#include "io/formats/hf_loader.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "io/formats/hf_config_keys.hpp"
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

const hf::FamilyInfo& family_info(hf::Family f) {
  for (const auto& info : hf::kFamilies)
    if (info.family == f) return info;
  return hf::kFamilies[0];
}

std::string family_list(std::string_view hf::FamilyInfo::*field) {
  std::string out;
  for (std::size_t i = 0; i < hf::kFamilies.size(); ++i)
    out += fmt::format("{}\"{}\"", i == 0 ? "" : i + 1 == hf::kFamilies.size() ? " or " : ", ",
                       hf::kFamilies[i].*field);
  return out;
}

// model_type and architectures name the family; when both are given they must agree.
hf::Family check_architecture(const ConfigReader& r) {
  const bool has_type = r.has("model_type");
  const bool has_arch = r.has("architectures");
  if (!has_type && !has_arch)
    r.fail("model_type", fmt::format("missing (expected {})", family_list(&hf::FamilyInfo::model_type)));
  std::optional<hf::Family> from_type, from_arch;
  if (has_type) {
    for (const auto& f : hf::kFamilies)
      if (r.j["model_type"] == f.model_type) from_type = f.family;
    if (!from_type)
      r.fail("model_type", fmt::format("expected {}, found {}", family_list(&hf::FamilyInfo::model_type),
                                       r.j["model_type"].dump()));
  }
  if (has_arch) {
    const auto& a = r.j["architectures"];
    if (a.is_array())
      for (const auto& x : a)
        for (const auto& f : hf::kFamilies)
          if (x == f.architecture) {
            if (from_arch && *from_arch != f.family)
              r.fail("architectures", fmt::format("names two model types, found {}", a.dump()));
            from_arch = f.family;
          }
    if (!from_arch)
      r.fail("architectures",
             fmt::format("expected a list holding {}, found {}", family_list(&hf::FamilyInfo::architecture), a.dump()));
  }
  if (from_type && from_arch && *from_type != *from_arch)
    r.fail("architectures", fmt::format("{} disagrees with model_type {} (expected [\"{}\"])", r.j["architectures"].dump(),
                                        r.j["model_type"].dump(), family_info(*from_type).architecture));
  return from_type ? *from_type : *from_arch;
}

// The table of hf_config_keys.hpp: keys of other model types and values
// that are not implemented are refused by name.
void check_config_keys(const ConfigReader& r, hf::Family family) {
  for (const hf::ConfigKey& k : hf::kConfigKeys) {
    const std::string key(k.key);
    if (!r.has(key)) continue;
    const json& v = r.j[key];
    const bool accepted_here = (k.families & family) != 0;
    if (!accepted_here) {
      if (k.ok != nullptr && k.ok(v)) continue;
      const auto& info = family_info(family);
      r.fail(key, fmt::format("not read by transformers' {} (model_type \"{}\"), found {}: refused rather than ignored",
                              info.architecture, info.model_type, v.dump()));
    }
    if (k.use == hf::KeyUse::read) continue;
    if (k.ok == nullptr || !k.ok(v))
      r.fail(key, fmt::format("expected {}, found {}{}", k.accepts, v.dump(),
                              k.use == hf::KeyUse::refused ? " (not implemented)" : ""));
  }
}

// One place a RoPE setting can come from: rope_parameters (v5), rope_scaling
// (v4) or the top level (rope_theta only).
struct RopeSource {
  std::string name;  // "rope_parameters", "rope_scaling", "" for the top level
  const json* obj;
  [[nodiscard]] std::string key(const std::string& field) const { return name.empty() ? field : name + "." + field; }
  [[nodiscard]] bool has(const std::string& field) const { return obj->contains(field) && !(*obj)[field].is_null(); }
};

constexpr std::array<const char*, 4> kRopeScalingFields{"factor", "low_freq_factor", "high_freq_factor",
                                                        "original_max_position_embeddings"};

std::optional<std::string> rope_type_of(const ConfigReader& r, const RopeSource& s) {
  std::optional<std::string> type;
  for (const char* field : {"rope_type", "type"}) {
    if (!s.has(field)) continue;
    const json& v = (*s.obj)[field];
    if (!v.is_string()) r.fail(s.key(field), fmt::format("expected a string, found {}", v.dump()));
    if (type && *type != v.get<std::string>())
      r.fail(s.key(field), fmt::format("\"{}\" disagrees with {} \"{}\"", v.get<std::string>(), s.key("rope_type"), *type));
    type = v.get<std::string>();
  }
  return type;
}

// rope_theta and the scaling. transformers v5 moved both into rope_parameters;
// v4 kept rope_theta at the top level and the scaling in rope_scaling.
// Wherever a config holds them they must say one thing: a setting given in
// two places with different values is refused, and when both objects are
// present each must hold the same scaling.
std::pair<float, RopeScaling> rope_settings(const ConfigReader& r) {
  std::vector<RopeSource> objects;
  for (const char* name : {"rope_parameters", "rope_scaling"}) {
    if (!r.has(name)) continue;
    if (!r.j[name].is_object()) r.fail(name, fmt::format("expected an object or null, found {}", r.j[name].dump()));
    objects.push_back({name, &r.j[name]});
  }
  std::vector<std::optional<std::string>> types;
  for (const RopeSource& s : objects) types.push_back(rope_type_of(r, s));
  auto type_key = [](const RopeSource& s) { return s.key(s.has("rope_type") || !s.has("type") ? "rope_type" : "type"); };
  for (std::size_t i = 0; i < objects.size(); ++i)
    if (types[i] && *types[i] != "default" && *types[i] != "linear" && *types[i] != "llama3")
      r.fail(type_key(objects[i]),
             fmt::format("RoPE scaling \"{}\" is not implemented (expected \"default\", \"linear\" or \"llama3\")",
                         *types[i]));
  auto shown = [](const std::optional<std::string>& t) { return t ? fmt::format("\"{}\"", *t) : std::string("absent"); };
  if (types.size() == 2 && types[0] != types[1])
    r.fail(type_key(objects[1]), fmt::format("{} disagrees with {} {} (they must describe the same RoPE)",
                                             shown(types[1]), type_key(objects[0]), shown(types[0])));
  const std::string type_name = types.empty() ? "default" : types[0].value_or("default");
  RopeScaling scaling;
  std::vector<std::string> needed;
  if (type_name == "linear") {
    scaling.type = RopeScalingType::linear;
    needed = {"factor"};
  } else if (type_name == "llama3") {
    scaling.type = RopeScalingType::llama3;
    needed.assign(kRopeScalingFields.begin(), kRopeScalingFields.end());
  }
  for (const RopeSource& s : objects)
    for (const auto& [field, value] : s.obj->items()) {
      const bool known = field == "rope_type" || field == "type" || field == "rope_theta" ||
                         std::find(kRopeScalingFields.begin(), kRopeScalingFields.end(), field) != kRopeScalingFields.end();
      if (!known && !value.is_null())
        r.fail(s.key(field), fmt::format("not implemented (RoPE settings read: rope_type, rope_theta, {})",
                                         fmt::join(kRopeScalingFields, ", ")));
    }

  // Each scaling field: required by the type, absent otherwise, equal wherever given.
  for (const char* field : kRopeScalingFields) {
    const bool wanted = std::find(needed.begin(), needed.end(), field) != needed.end();
    std::optional<double> value;
    std::string value_key;
    for (const RopeSource& s : objects) {
      if (!s.has(field)) {
        if (wanted && objects.size() == 2)
          r.fail(s.key(field), fmt::format("missing, but {} gives it (they must describe the same RoPE)",
                                           objects[s.name == objects[0].name ? 1 : 0].key(field)));
        continue;
      }
      if (!wanted)
        r.fail(s.key(field), fmt::format("given for rope_type \"{}\", which takes no {}", type_name, field));
      const json& v = (*s.obj)[field];
      double x = 0;
      if (std::string_view(field) == "original_max_position_embeddings") {
        if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 || v.get<std::int64_t>() > kMaxDim)
          r.fail(s.key(field), fmt::format("expected an integer in [1, {}], found {}", kMaxDim, v.dump()));
        x = static_cast<double>(v.get<std::int64_t>());
      } else {
        x = r.positive_float(v, s.key(field));
      }
      if (value && *value != x)
        r.fail(s.key(field), fmt::format("{} disagrees with {} = {}", v.dump(), value_key, *value));
      value = x;
      value_key = s.key(field);
    }
    if (wanted && !value)
      r.fail(objects.empty() ? std::string(field) : objects.front().key(field),
             fmt::format("missing (rope_type \"{}\" needs {})", type_name, fmt::join(needed, ", ")));
    if (!value) continue;
    const std::string_view f(field);
    if (f == "factor") scaling.factor = static_cast<float>(*value);
    if (f == "low_freq_factor") scaling.low_freq_factor = static_cast<float>(*value);
    if (f == "high_freq_factor") scaling.high_freq_factor = static_cast<float>(*value);
    if (f == "original_max_position_embeddings") scaling.original_max_position_embeddings = static_cast<int>(*value);
  }
  if (scaling.type == RopeScalingType::llama3 && !(scaling.high_freq_factor > scaling.low_freq_factor))
    r.fail(objects.front().key("high_freq_factor"),
           fmt::format("expected more than low_freq_factor {}, found {}", scaling.low_freq_factor,
                       scaling.high_freq_factor));

  std::optional<float> theta;
  std::string theta_key;
  std::vector<RopeSource> theta_sources = objects;
  theta_sources.push_back({"", &r.j});
  for (const RopeSource& s : theta_sources) {
    if (!s.has("rope_theta")) continue;
    const float t = r.positive_float((*s.obj)["rope_theta"], s.key("rope_theta"));
    if (theta && *theta != t)
      r.fail(s.key("rope_theta"), fmt::format("{} disagrees with {} = {}", t, theta_key, *theta));
    theta = t;
    theta_key = s.key("rope_theta");
  }
  return {theta.value_or(10000.0f), scaling};
}

// Per-layer windows: Mistral windows every layer; Qwen2 the layers from
// max_window_layers on, and only with use_sliding_window (as transformers'
// Qwen2Config derives layer_types). The defaults are transformers'.
std::vector<int> sliding_windows(const ConfigReader& r, hf::Family family, int n_layers) {
  if (family == hf::llama) return {};
  int window = 4096;
  if (r.j.contains("sliding_window")) window = r.has("sliding_window") ? r.positive_int("sliding_window") : 0;
  std::vector<int> windows(static_cast<std::size_t>(n_layers), 0);
  if (family == hf::mistral) {
    std::fill(windows.begin(), windows.end(), window);
  } else {
    if (!r.boolean("use_sliding_window", false)) window = 0;
    int first = 28;
    if (r.has("max_window_layers")) {
      const json& v = r.j["max_window_layers"];
      if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > kMaxDim)
        r.fail("max_window_layers", fmt::format("expected an integer in [0, {}], found {}", kMaxDim, v.dump()));
      first = static_cast<int>(v.get<std::int64_t>());
    }
    for (int i = first; i < n_layers; ++i) windows[static_cast<std::size_t>(i)] = window;
    if (r.has("layer_types")) {
      // Newer transformers store the derived layer_types and use them; older
      // ones derive from max_window_layers: both must give the same windows.
      const json& t = r.j["layer_types"];
      if (!t.is_array() || static_cast<int>(t.size()) != n_layers)
        r.fail("layer_types", fmt::format("expected a list of {} layer types, found {}", n_layers, t.dump()));
      for (int i = 0; i < n_layers; ++i) {
        const json& x = t[static_cast<std::size_t>(i)];
        if (x != "full_attention" && x != "sliding_attention")
          r.fail("layer_types", fmt::format("entry {}: expected \"full_attention\" or \"sliding_attention\", found {}",
                                            i, x.dump()));
        const int w = x == "sliding_attention" ? window : 0;
        if (w != windows[static_cast<std::size_t>(i)])
          r.fail("layer_types",
                 fmt::format("entry {} ({}) disagrees with use_sliding_window, sliding_window and max_window_layers "
                             "(layer {} window {})", i, x.dump(), i, windows[static_cast<std::size_t>(i)]));
      }
    }
  }
  if (std::all_of(windows.begin(), windows.end(), [](int w) { return w == 0; })) return {};
  return windows;
}

std::string layer_name(int i, const char* leaf) {
  return fmt::format("model.layers.{}.{}", i, leaf);
}

// Reads tensors in the file's own element type (a BF16 checkpoint stays
// bf16; F64 is narrowed to f32). Tables read by output (embedding, lm_head)
// are mapped from the file where its bytes can be used as they are.
class TensorReader {
 public:
  TensorReader(std::shared_ptr<const SafetensorsArchive> archive, const LoadOptions& options)
      : a_(std::move(archive)), options_(options) {}

  WeightTensor matrix(const std::string& name, long rows, long cols, WeightOrder order) const {
    const auto values = read(name, {rows, cols});
    const SafetensorsTensorInfo& info = a_->info(name);
    const WeightType type = info.dtype == SafetensorsDtype::bf16  ? WeightType::bf16
                            : info.dtype == SafetensorsDtype::f16 ? WeightType::f16
                                                                  : WeightType::f32;
    const auto r = static_cast<std::size_t>(rows), c = static_cast<std::size_t>(cols);
    const std::span<const std::byte> raw = a_->raw(name);
    const bool as_stored = info.dtype != SafetensorsDtype::f64 &&
                           reinterpret_cast<std::uintptr_t>(raw.data()) % info.dtype_size == 0;
    if (order == WeightOrder::by_output && as_stored)
      return WeightTensor::view_by_output(r, c, type, raw.data(), a_);
    return WeightTensor::from_f32(r, c, values, type, order);
  }
  Eigen::VectorXf vector(const std::string& name, long n) const {
    const auto values = read(name, {n});
    return Eigen::Map<const Eigen::VectorXf>(values.data(), n);
  }

 private:
  std::vector<float> read(const std::string& name, const std::vector<std::int64_t>& shape) const {
    if (!a_->contains(name))
      throw Error(ExitCode::model, fmt::format("{}: missing tensor '{}' (expected shape [{}])",
                                               a_->path().string(), name, fmt::join(shape, ", ")));
    const auto& info = a_->info(name);
    if (info.shape != shape)
      throw Error(ExitCode::model,
                  fmt::format("{}: tensor '{}' has shape [{}], expected [{}]", a_->file_of(name).string(),
                              name, fmt::join(info.shape, ", "), fmt::join(shape, ", ")));
    auto values = a_->read_f32(name);
    check_finite(values, a_->file_of(name).string(), name, options_, shape.size() == 2 ? shape[1] : 0);
    return values;
  }

  std::shared_ptr<const SafetensorsArchive> a_;
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
  for (int i = 0; i < c.n_layers; ++i) {
    if (c.qkv_bias)
      for (const char* leaf : {"self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"})
        names.insert(layer_name(i, leaf));
    if (c.o_bias) names.insert(layer_name(i, "self_attn.o_proj.bias"));
  }
  return names;
}

std::string read_config_text(const std::filesystem::path& config_json) {
  std::ifstream in(config_json, std::ios::binary);
  if (!in)
    throw Error(ExitCode::model,
                fmt::format("{}: cannot open (expected a transformers config.json)", config_json.string()));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(ExitCode::model, fmt::format("{}: read error", config_json.string()));
  return text.str();
}

LlamaConfig parse_config(std::string_view json_text, const std::string& source_name, hf::Family& family_out) {
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
  const hf::Family family = check_architecture(r);
  family_out = family;
  check_config_keys(r, family);

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
  std::tie(c.rope_theta, c.rope_scaling) = rope_settings(r);
  c.rope = RopeStyle::rotate_half;
  // Qwen2 always has q/k/v biases and no o bias; LLaMA's attention_bias sets all four.
  c.qkv_bias = family == hf::qwen2 || (family == hf::llama && r.boolean("attention_bias", false));
  c.o_bias = family == hf::llama && c.qkv_bias;
  c.sliding_window = sliding_windows(r, family, c.n_layers);
  c.bos_id = r.token_id("bos_token_id", 1);
  c.eos_id = r.token_id("eos_token_id", 2);
  c.tied_embeddings = r.boolean("tie_word_embeddings", false);
  return c;
}

}  // namespace

LlamaConfig read_hf_config(const std::filesystem::path& config_json) {
  return parse_hf_config(read_config_text(config_json), config_json.string());
}

LlamaConfig parse_hf_config(std::string_view json_text, const std::string& source_name) {
  hf::Family family{};
  return parse_config(json_text, source_name, family);
}

LlamaModel load_hf_model(const std::filesystem::path& dir, const LoadOptions& options) {
  if (!std::filesystem::is_directory(dir))
    throw Error(ExitCode::model,
                fmt::format("{}: not a directory (expected a Hugging Face model folder)", dir.string()));
  LlamaModel m;
  hf::Family family{};
  m.config = parse_config(read_config_text(dir / "config.json"), (dir / "config.json").string(), family);
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
  const auto shared_archive = std::make_shared<const SafetensorsArchive>(weights);
  const SafetensorsArchive& archive = *shared_archive;

  const auto expected = expected_tensors(c);
  for (const auto& name : archive.names())
    if (expected.count(name) == 0 && !name.ends_with(".rotary_emb.inv_freq"))
      throw Error(ExitCode::model,
                  fmt::format("{}: unexpected tensor '{}' (not part of a {} with {} layers{})",
                              archive.file_of(name).string(), name, family_info(family).architecture, c.n_layers,
                              c.qkv_bias ? (c.o_bias ? ", q/k/v/o biases" : ", q/k/v biases") : ""));

  const TensorReader t(shared_archive, options);
  constexpr auto by_input = WeightOrder::by_input;
  const long q_rows = static_cast<long>(c.n_heads) * c.head_dim;
  const long kv_rows = static_cast<long>(c.n_kv_heads) * c.head_dim;
  m.embedding = t.matrix("model.embed_tokens.weight", c.vocab_size, c.dim, WeightOrder::by_output);
  for (int i = 0; i < c.n_layers; ++i) {
    LlamaLayer l;
    l.attn_norm = t.vector(layer_name(i, "input_layernorm.weight"), c.dim);
    l.wq = t.matrix(layer_name(i, "self_attn.q_proj.weight"), q_rows, c.dim, by_input);
    l.wk = t.matrix(layer_name(i, "self_attn.k_proj.weight"), kv_rows, c.dim, by_input);
    l.wv = t.matrix(layer_name(i, "self_attn.v_proj.weight"), kv_rows, c.dim, by_input);
    l.wo = t.matrix(layer_name(i, "self_attn.o_proj.weight"), c.dim, q_rows, by_input);
    if (c.qkv_bias) {
      l.bq = t.vector(layer_name(i, "self_attn.q_proj.bias"), q_rows);
      l.bk = t.vector(layer_name(i, "self_attn.k_proj.bias"), kv_rows);
      l.bv = t.vector(layer_name(i, "self_attn.v_proj.bias"), kv_rows);
    }
    if (c.o_bias) l.bo = t.vector(layer_name(i, "self_attn.o_proj.bias"), c.dim);
    l.ffn_norm = t.vector(layer_name(i, "post_attention_layernorm.weight"), c.dim);
    l.w_gate = t.matrix(layer_name(i, "mlp.gate_proj.weight"), c.hidden_dim, c.dim, by_input);
    l.w_up = t.matrix(layer_name(i, "mlp.up_proj.weight"), c.hidden_dim, c.dim, by_input);
    l.w_down = t.matrix(layer_name(i, "mlp.down_proj.weight"), c.dim, c.hidden_dim, by_input);
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
    m.lm_head = t.matrix("lm_head.weight", c.vocab_size, c.dim, WeightOrder::by_output);
  }
  validate_model(m);
  return m;
}

}  // namespace spikesim
