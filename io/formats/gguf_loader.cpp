#include "io/formats/gguf_loader.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "io/formats/gguf.hpp"
#include "io/formats/gguf_blocks.hpp"
#include "io/formats/gguf_qk_permute.hpp"

namespace spikesim {

namespace {

// Larger than any real LLaMA dimension (hf_loader.cpp's bound); anything
// above is a corrupt file.
constexpr std::int64_t kMaxDim = 1 << 20;

// The llama.* keys this loader reads. Any other llama.* key is refused:
// llama.cpp adds a key when a model needs different math (expert routing,
// YaRN, logit scaling, ...), and ignoring one would run a different model.
constexpr std::array<std::string_view, 16> kReadKeys{
    "llama.context_length",          "llama.embedding_length",
    "llama.block_count",             "llama.feed_forward_length",
    "llama.attention.head_count",    "llama.attention.head_count_kv",
    "llama.attention.layer_norm_rms_epsilon", "llama.attention.key_length",
    "llama.attention.value_length",  "llama.rope.freq_base",
    "llama.rope.dimension_count",    "llama.rope.scaling.type",
    "llama.rope.scaling.factor",     "llama.vocab_size",
    "llama.expert_count",            "llama.expert_used_count"};

class MetadataReader {
 public:
  explicit MetadataReader(const GgufFile& file) : f_(file) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(ExitCode::model, fmt::format("{}: key '{}': {}", f_.path().string(), key, what));
  }

  // Any integer type: the converter writes uint32, other writers int32 or uint64.
  [[nodiscard]] std::optional<std::int64_t> find_int(const std::string& key) const {
    if (!f_.has(key)) return std::nullopt;
    const GgufValue& v = f_.value(key);
    switch (v.type) {
      case GgufValueType::u8:
      case GgufValueType::u16:
      case GgufValueType::u32:
      case GgufValueType::u64:
        if (v.unsigned_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
          fail(key, fmt::format("expected an integer in [0, {}], found {}", kMaxDim, v.unsigned_value));
        return static_cast<std::int64_t>(v.unsigned_value);
      case GgufValueType::i8:
      case GgufValueType::i16:
      case GgufValueType::i32:
      case GgufValueType::i64:
        return v.signed_value;
      default:
        fail(key, fmt::format("expected an integer, found {}", gguf_value_type_name(v.type)));
    }
  }

  [[nodiscard]] int positive_int(const std::string& key, std::optional<int> fallback = std::nullopt) const {
    const auto v = find_int(key);
    if (!v) {
      if (fallback) return *fallback;
      fail(key, "missing (expected an integer > 0)");
    }
    if (*v <= 0 || *v > kMaxDim) fail(key, fmt::format("expected an integer in [1, {}], found {}", kMaxDim, *v));
    return static_cast<int>(*v);
  }

  // float32 or float64, finite, > 0 and representable as a float > 0.
  [[nodiscard]] std::optional<float> positive_float(const std::string& key) const {
    if (!f_.has(key)) return std::nullopt;
    const GgufValue& v = f_.value(key);
    if (v.type != GgufValueType::f32 && v.type != GgufValueType::f64)
      fail(key, fmt::format("expected float32, found {}", gguf_value_type_name(v.type)));
    const double x = v.float_value;
    if (!(x > 0.0) || !std::isfinite(x) || x > std::numeric_limits<float>::max() ||
        x < std::numeric_limits<float>::min())
      fail(key, fmt::format("expected a finite number > 0 (as float), found {}", x));
    return static_cast<float>(x);
  }

  [[nodiscard]] int token_id(const std::string& key, int fallback) const {
    const auto v = find_int(key);
    if (!v) return fallback;
    if (*v < 0 || *v > std::numeric_limits<std::int32_t>::max())
      fail(key, fmt::format("expected a non-negative 32-bit token id, found {}", *v));
    return static_cast<int>(*v);
  }

 private:
  const GgufFile& f_;
};

void check_architecture(const GgufFile& f, const MetadataReader& r) {
  if (!f.has("general.architecture")) r.fail("general.architecture", "missing (expected \"llama\")");
  const GgufValue& v = f.value("general.architecture");
  if (v.type != GgufValueType::string)
    r.fail("general.architecture", fmt::format("expected the string \"llama\", found {}", gguf_value_type_name(v.type)));
  if (v.string_value != "llama")
    r.fail("general.architecture",
           fmt::format("expected \"llama\", found \"{}\" (only the LLaMA architecture is implemented)", v.string_value));
}

void refuse_unknown_keys(const GgufFile& f, const MetadataReader& r) {
  for (const auto& [key, value] : f.metadata()) {
    if (!key.starts_with("llama.")) continue;
    if (std::find(kReadKeys.begin(), kReadKeys.end(), key) != kReadKeys.end()) continue;
    r.fail(key, fmt::format("not implemented (llama.* keys read: {}): refused rather than ignored",
                            fmt::join(kReadKeys, ", ")));
  }
}

RopeScaling rope_scaling_of(const GgufFile& f, const MetadataReader& r) {
  RopeScaling s;
  std::string type = "none";
  if (f.has("llama.rope.scaling.type")) {
    const GgufValue& v = f.value("llama.rope.scaling.type");
    if (v.type != GgufValueType::string)
      r.fail("llama.rope.scaling.type", fmt::format("expected a string, found {}", gguf_value_type_name(v.type)));
    type = v.string_value;
  }
  const auto factor = r.positive_float("llama.rope.scaling.factor");
  if (type == "none") {
    // llama.cpp ignores the factor without a scaling type; a factor other than 1 would be a contradiction.
    if (factor && *factor != 1.0f)
      r.fail("llama.rope.scaling.factor",
             fmt::format("{} given with rope.scaling.type \"none\" (expected 1 or no factor)", *factor));
    return s;
  }
  if (type != "linear")
    r.fail("llama.rope.scaling.type",
           fmt::format("RoPE scaling \"{}\" is not implemented (expected \"none\" or \"linear\")", type));
  if (!factor) r.fail("llama.rope.scaling.factor", "missing (rope.scaling.type \"linear\" needs it)");
  // llama.cpp's linear scaling (freq_scale = 1 / factor) is transformers' "linear": positions / factor.
  s.type = RopeScalingType::linear;
  s.factor = *factor;
  return s;
}

LlamaConfig parse_config(const GgufFile& f) {
  const MetadataReader r(f);
  check_architecture(f, r);
  refuse_unknown_keys(f, r);
  LlamaConfig c;
  c.max_seq_len = r.positive_int("llama.context_length");
  c.dim = r.positive_int("llama.embedding_length");
  c.n_layers = r.positive_int("llama.block_count");
  c.hidden_dim = r.positive_int("llama.feed_forward_length");
  c.n_heads = r.positive_int("llama.attention.head_count");
  c.n_kv_heads = r.positive_int("llama.attention.head_count_kv", c.n_heads);
  if (c.n_heads % c.n_kv_heads != 0)
    r.fail("llama.attention.head_count_kv",
           fmt::format("{} KV heads do not divide attention.head_count {}", c.n_kv_heads, c.n_heads));
  if (f.has("llama.attention.key_length")) {
    c.head_dim = r.positive_int("llama.attention.key_length");
  } else {
    if (c.dim % c.n_heads != 0)
      r.fail("llama.attention.head_count",
             fmt::format("{} heads do not divide embedding_length {} (and attention.key_length is not given)",
                         c.n_heads, c.dim));
    c.head_dim = c.dim / c.n_heads;
  }
  if (f.has("llama.attention.value_length")) {
    const int value_length = r.positive_int("llama.attention.value_length");
    if (value_length != c.head_dim)
      r.fail("llama.attention.value_length",
             fmt::format("{} differs from the key length {} (separate key and value head sizes are not implemented)",
                         value_length, c.head_dim));
  }
  if (c.head_dim % 2 != 0)
    r.fail("llama.attention.head_count", fmt::format("head dimension {} is odd (RoPE rotates pairs)", c.head_dim));
  const int rope_dims = r.positive_int("llama.rope.dimension_count", c.head_dim);
  if (rope_dims != c.head_dim)
    r.fail("llama.rope.dimension_count",
           fmt::format("{} differs from the head dimension {} (partial RoPE is not implemented)", rope_dims, c.head_dim));
  for (const char* key : {"llama.expert_count", "llama.expert_used_count"}) {
    const auto experts = r.find_int(key);
    if (experts && *experts != 0)
      r.fail(key, fmt::format("{} (mixture of experts is not implemented; expected 0 or absent)", *experts));
  }
  const auto eps = r.positive_float("llama.attention.layer_norm_rms_epsilon");
  if (!eps) r.fail("llama.attention.layer_norm_rms_epsilon", "missing (expected the RMSNorm epsilon, float32 > 0)");
  c.norm_eps = *eps;
  c.rope_theta = r.positive_float("llama.rope.freq_base").value_or(10000.0f);
  c.rope_scaling = rope_scaling_of(f, r);
  c.rope = RopeStyle::rotate_half;  // after the loader undoes the converter's Q/K permutation
  if (f.has("llama.vocab_size")) {
    c.vocab_size = r.positive_int("llama.vocab_size");
  } else if (f.contains("token_embd.weight") && f.tensor("token_embd.weight").ne.size() == 2 &&
             f.tensor("token_embd.weight").ne[1] <= static_cast<std::uint64_t>(kMaxDim)) {
    c.vocab_size = static_cast<int>(f.tensor("token_embd.weight").ne[1]);
  } else {
    r.fail("llama.vocab_size", "missing, and no two-dimensional token_embd.weight of at most 2^20 rows to take it from");
  }
  c.bos_id = r.token_id("tokenizer.ggml.bos_token_id", 1);
  c.eos_id = r.token_id("tokenizer.ggml.eos_token_id", 2);
  c.tied_embeddings = !f.contains("output.weight");
  return c;
}

std::string block_name(int layer, const char* leaf) {
  return fmt::format("blk.{}.{}.weight", layer, leaf);
}

// Every tensor of the model with its GGUF shape (ne: [cols, rows]).
std::map<std::string, std::vector<std::uint64_t>> expected_shapes(const LlamaConfig& c) {
  using u64 = std::uint64_t;
  const u64 dim = static_cast<u64>(c.dim), hidden = static_cast<u64>(c.hidden_dim),
            vocab = static_cast<u64>(c.vocab_size), q = static_cast<u64>(c.n_heads) * static_cast<u64>(c.head_dim),
            kv = static_cast<u64>(c.n_kv_heads) * static_cast<u64>(c.head_dim);
  std::map<std::string, std::vector<u64>> shapes{
      {"token_embd.weight", {dim, vocab}}, {"output_norm.weight", {dim}}, {"output.weight", {dim, vocab}}};
  for (int i = 0; i < c.n_layers; ++i) {
    shapes[block_name(i, "attn_norm")] = {dim};
    shapes[block_name(i, "attn_q")] = {dim, q};
    shapes[block_name(i, "attn_k")] = {dim, kv};
    shapes[block_name(i, "attn_v")] = {dim, kv};
    shapes[block_name(i, "attn_output")] = {q, dim};
    shapes[block_name(i, "ffn_norm")] = {dim};
    shapes[block_name(i, "ffn_gate")] = {dim, hidden};
    shapes[block_name(i, "ffn_up")] = {dim, hidden};
    shapes[block_name(i, "ffn_down")] = {hidden, dim};
  }
  return shapes;
}

// Names, shapes and types of every tensor, before any data is read.
void check_tensors(const GgufFile& f, const LlamaConfig& c) {
  const auto shapes = expected_shapes(c);
  const std::string file = f.path().string();
  for (const GgufTensorInfo& t : f.tensors()) {
    if (shapes.count(t.name) != 0) continue;
    if (t.name == "rope_freqs.weight")
      throw Error(ExitCode::model, fmt::format("{}: tensor 'rope_freqs.weight': per-frequency RoPE factors (Llama 3 "
                                               "RoPE scaling) are not implemented",
                                               file));
    throw Error(ExitCode::model, fmt::format("{}: unexpected tensor '{}' (not part of a llama model with {} layers)",
                                             file, t.name, c.n_layers));
  }
  for (const auto& [name, ne] : shapes) {
    if (!f.contains(name)) {
      if (name == "output.weight") continue;  // tied to token_embd
      throw Error(ExitCode::model,
                  fmt::format("{}: missing tensor '{}' (expected ne [{}])", file, name, fmt::join(ne, ", ")));
    }
    const GgufTensorInfo& t = f.tensor(name);
    if (t.ne != ne)
      throw Error(ExitCode::model, fmt::format("{}: tensor '{}' has ne [{}], expected [{}] (ne is [cols, rows])", file,
                                               name, fmt::join(t.ne, ", "), fmt::join(ne, ", ")));
    const bool is_vector = ne.size() == 1;
    const bool quantized = t.type == GgufTensorType::q8_0 || t.type == GgufTensorType::q4_0;
    if (is_vector && quantized)
      throw Error(ExitCode::model, fmt::format("{}: tensor '{}' is {}, expected F32, F16 or BF16 for a norm weight",
                                               file, name, gguf_tensor_type_name(t.type)));
  }
}

WeightType float_type_of(GgufTensorType t) {
  switch (t) {
    case GgufTensorType::f16:
      return WeightType::f16;
    case GgufTensorType::bf16:
      return WeightType::bf16;
    default:
      return WeightType::f32;
  }
}

class TensorReader {
 public:
  TensorReader(std::shared_ptr<const GgufFile> file, const LoadOptions& options)
      : f_(std::move(file)), options_(options) {}

  // Matrix [rows x cols] (PyTorch order) from a GGUF tensor of ne [cols, rows].
  // `qk_heads` > 0: the rows are in llama.cpp's Q/K order for that many heads,
  // and are moved back to Hugging Face's.
  WeightTensor matrix(const std::string& name, WeightOrder order, std::size_t qk_heads = 0) const {
    const GgufTensorInfo& t = f_->tensor(name);
    const auto cols = static_cast<std::size_t>(t.ne[0]), rows = static_cast<std::size_t>(t.ne[1]);
    const std::string file = f_->path().string();
    if (t.type == GgufTensorType::q8_0 || t.type == GgufTensorType::q4_0) {
      const std::span<const std::byte> bytes = f_->data(name);
      const auto row_bytes = static_cast<std::size_t>(t.row_bytes());
      const std::size_t blocks = cols / kGgufQuantBlock;
      std::vector<float> scales(rows * blocks);
      std::vector<std::int8_t> codes(rows * cols);
      std::vector<std::uint8_t> nibbles(t.type == GgufTensorType::q4_0 ? cols : 0);
      for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t source = qk_heads > 0 ? hf_qk_row_to_gguf(r, rows, qk_heads) : r;
        const auto row = bytes.subspan(source * row_bytes, row_bytes);
        const std::span<float> row_scales(scales.data() + r * blocks, blocks);
        const std::span<std::int8_t> row_codes(codes.data() + r * cols, cols);
        if (t.type == GgufTensorType::q8_0) {
          decode_q8_0_row(row, row_scales, row_codes);
        } else {
          decode_q4_0_row(row, row_scales, nibbles);
          std::copy(nibbles.begin(), nibbles.end(), row_codes.begin());  // 0..15, the int4 container's codes
        }
      }
      check_finite(scales, file, name + " (block scales)", options_, static_cast<long>(blocks));
      const bool q8 = t.type == GgufTensorType::q8_0;
      // Symmetric (no zeros): Q8_0's zero is 0 and Q4_0's 8, the int8 and int4 containers' own.
      return WeightTensor::from_codes(rows, cols, q8 ? WeightType::int8 : WeightType::int4, q8 ? 8 : 4,
                                      static_cast<int>(kGgufQuantBlock), codes, scales, {}, order);
    }
    std::vector<float> values = f_->read_f32(name);
    check_finite(values, file, name, options_, static_cast<long>(cols));
    const WeightType type = float_type_of(t.type);
    const std::span<const std::byte> raw = f_->data(name);
    const std::size_t element_bytes = storage_bits(type) / 8;
    if (qk_heads == 0 && order == WeightOrder::by_output &&
        reinterpret_cast<std::uintptr_t>(raw.data()) % element_bytes == 0)
      return WeightTensor::view_by_output(rows, cols, type, raw.data(), f_);
    if (qk_heads > 0) values = gguf_unpermute_qk_rows(values, rows, cols, qk_heads);
    return WeightTensor::from_f32(rows, cols, values, type, order);
  }

  Eigen::VectorXf vector(const std::string& name) const {
    const std::vector<float> values = f_->read_f32(name);
    check_finite(values, f_->path().string(), name, options_);
    return Eigen::Map<const Eigen::VectorXf>(values.data(), static_cast<Eigen::Index>(values.size()));
  }

 private:
  std::shared_ptr<const GgufFile> f_;
  const LoadOptions& options_;
};

LlamaModel load(std::shared_ptr<const GgufFile> file, const LoadOptions& options) {
  LlamaModel m;
  m.config = parse_config(*file);
  m.format = "gguf";
  m.source = file->path().string();
  const LlamaConfig& c = m.config;
  check_tensors(*file, c);
  const TensorReader t(file, options);
  constexpr auto by_input = WeightOrder::by_input;
  m.embedding = t.matrix("token_embd.weight", WeightOrder::by_output);
  for (int i = 0; i < c.n_layers; ++i) {
    LlamaLayer l;
    l.attn_norm = t.vector(block_name(i, "attn_norm"));
    l.wq = t.matrix(block_name(i, "attn_q"), by_input, static_cast<std::size_t>(c.n_heads));
    l.wk = t.matrix(block_name(i, "attn_k"), by_input, static_cast<std::size_t>(c.n_kv_heads));
    l.wv = t.matrix(block_name(i, "attn_v"), by_input);
    l.wo = t.matrix(block_name(i, "attn_output"), by_input);
    l.ffn_norm = t.vector(block_name(i, "ffn_norm"));
    l.w_gate = t.matrix(block_name(i, "ffn_gate"), by_input);
    l.w_up = t.matrix(block_name(i, "ffn_up"), by_input);
    l.w_down = t.matrix(block_name(i, "ffn_down"), by_input);
    m.layers.push_back(std::move(l));
  }
  m.final_norm = t.vector("output_norm.weight");
  // llama.cpp uses token_embd as the output matrix when output.weight is absent.
  m.lm_head = c.tied_embeddings ? m.embedding : t.matrix("output.weight", WeightOrder::by_output);
  validate_model(m);
  return m;
}

}  // namespace

LlamaModel load_gguf_model(const std::filesystem::path& file, const LoadOptions& options) {
  return load(std::make_shared<const GgufFile>(file), options);
}

LlamaModel load_gguf_model_from_bytes(std::span<const std::byte> bytes, const std::string& source_name,
                                      const LoadOptions& options) {
  return load(std::make_shared<const GgufFile>(GgufFile::from_bytes(bytes, source_name)), options);
}

LlamaConfig read_gguf_config(const std::filesystem::path& file) {
  const GgufFile f(file);
  LlamaConfig c = parse_config(f);
  check_tensors(f, c);
  return c;
}

}  // namespace spikesim
