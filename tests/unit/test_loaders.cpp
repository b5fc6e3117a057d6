// Model loaders, token files, the tokenizer wrapper and the generated model.
// Every file is written here, in a temporary folder, by the small writers
// below; each malformed input must give an Error with the right exit code
// and a message naming the file and the tensor or key.
#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.hpp"
#include "io/formats/generated_model.hpp"
#include "io/formats/hf_loader.hpp"
#include "io/formats/llama2c_loader.hpp"
#include "io/formats/model_loader.hpp"
#include "io/formats/safetensors.hpp"
#include "io/formats/token_file.hpp"
#include "io/formats/tokenizer.hpp"
#include "sim/transformer.hpp"
#include "tests/support/files.hpp"
#include "tests/support/model_files.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;
using nlohmann::json;
using test::le_u64;
using test::read_file;
using test::TempDir;
using test::write_file;

namespace {

// ---- helpers -----------------------------------------------------------------

// Runs `fn`, requires an Error with `code` whose message holds every needle.
void require_error(const std::function<void()>& fn, ExitCode code,
                   std::initializer_list<std::string> needles) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO("message: " << msg);
    CHECK(e.code() == code);
    for (const auto& n : needles) CHECK_THAT(msg, Catch::Contains(n));
    return;
  }
  FAIL("expected spikesim::Error, nothing was thrown");
}

// A tensor to write: its dtype and its raw little-endian bytes.
struct StTensor {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;
  std::string bytes;
};

StTensor f32_tensor(const std::string& name, std::vector<std::int64_t> shape, const float* data) {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  std::string bytes(n * 4, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    const auto u = std::bit_cast<std::uint32_t>(data[i]);
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<char>((u >> (8 * b)) & 0xff);
  }
  return {name, "F32", std::move(shape), std::move(bytes)};
}

StTensor half_tensor(const std::string& name, std::vector<std::int64_t> shape, const float* data, bool bf16) {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  std::string bytes(n * 2, '\0');
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint16_t h = bf16 ? f32_to_bf16(data[i]) : f32_to_f16(data[i]);
    bytes[2 * i] = static_cast<char>(h & 0xff);
    bytes[2 * i + 1] = static_cast<char>(h >> 8);
  }
  return {name, bf16 ? "BF16" : "F16", std::move(shape), std::move(bytes)};
}

// Writes a safetensors file; `edit` may corrupt the header JSON before it is written.
void write_safetensors(const fs::path& file, const std::vector<StTensor>& tensors,
                       const std::function<void(json&)>& edit = {}) {
  json header = json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const auto& t : tensors) {
    header[t.name] = {{"dtype", t.dtype},
                      {"shape", t.shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data += t.bytes;
  }
  if (edit) edit(header);
  // Padded with spaces to 8 bytes, as the safetensors library writes it, so
  // the data area is aligned and tensors can be used where they lie.
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');
  write_file(file, le_u64(text.size()) + text + data);
}

// The tiny model every test uses (seed 7 unless a test needs a second one).
LlamaModel tiny_model(std::uint64_t seed = 7) {
  return test::tiny_model(seed);
}

// HF tensors of a model, named as transformers names them.
std::vector<std::pair<std::string, std::vector<float>>> hf_tensor_data(
    const LlamaModel& m, std::vector<std::vector<std::int64_t>>& shapes) {
  std::vector<std::pair<std::string, std::vector<float>>> out;
  auto add = [&](const std::string& name, const float* p, std::vector<std::int64_t> shape) {
    std::size_t n = 1;
    for (auto d : shape) n *= static_cast<std::size_t>(d);
    out.emplace_back(name, std::vector<float>(p, p + n));
    shapes.push_back(std::move(shape));
  };
  test::for_each_hf_tensor(
      m,
      [&](const std::string& name, const MatrixRM& w) {
        add(name, w.data(), {w.rows(), w.cols()});
      },
      [&](const std::string& name, const Eigen::VectorXf& v) { add(name, v.data(), {v.size()}); });
  return out;
}

struct HfWriteOptions {
  bool v5 = true;                          // rope_parameters (v5) or top-level rope_theta (v4)
  bool tied = false;                       // tie_word_embeddings; lm_head.weight is then omitted
  std::string dtype = "F32";               // F32, F16 or BF16
  std::function<void(json&)> edit_config;  // corrupt config.json
  std::function<void(std::vector<StTensor>&)> edit_tensors;  // drop / add / reshape tensors
};

json hf_config(const LlamaModel& m, const HfWriteOptions& o) {
  const auto& c = m.config;
  json j = test::hf_config_common(m);
  j["bos_token_id"] = 1;
  j["eos_token_id"] = 2;
  j["tie_word_embeddings"] = o.tied;
  if (o.v5)
    j["rope_parameters"] = {{"rope_theta", c.rope_theta}, {"rope_type", "default"}};
  else
    j["rope_theta"] = c.rope_theta, j["rope_scaling"] = nullptr;
  return j;
}

void write_hf_dir(const fs::path& dir, const LlamaModel& m, const HfWriteOptions& o = {}) {
  fs::create_directories(dir);
  json config = hf_config(m, o);
  if (o.edit_config) o.edit_config(config);
  std::ofstream(dir / "config.json") << config.dump(2);
  std::vector<std::vector<std::int64_t>> shapes;
  const auto data = hf_tensor_data(m, shapes);
  std::vector<StTensor> tensors;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (o.tied && data[i].first == "lm_head.weight") continue;
    if (o.dtype == "F32")
      tensors.push_back(f32_tensor(data[i].first, shapes[i], data[i].second.data()));
    else
      tensors.push_back(half_tensor(data[i].first, shapes[i], data[i].second.data(), o.dtype == "BF16"));
  }
  if (o.edit_tensors) o.edit_tensors(tensors);
  write_safetensors(dir / "model.safetensors", tensors);
}

void erase_tensor(std::vector<StTensor>& ts, const std::string& name) {
  std::erase_if(ts, [&](const StTensor& t) { return t.name == name; });
}

MatrixRM logits_of(const LlamaModel& m, const std::vector<int>& tokens) {
  Transformer t(m, ForwardMode::dense, {});
  return t.forward_sequence(tokens);
}

const std::vector<int> kTokens = {1, 5, 9, 31, 0, 17, 17, 3, 22, 8, 12, 30};

bool same_weights(const LlamaModel& a, const LlamaModel& b) {
  if (a.layers.size() != b.layers.size()) return false;
  bool ok = a.embedding == b.embedding && a.final_norm == b.final_norm && a.lm_head == b.lm_head;
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const auto &x = a.layers[i], &y = b.layers[i];
    ok = ok && x.attn_norm == y.attn_norm && x.wq == y.wq && x.wk == y.wk && x.wv == y.wv && x.wo == y.wo &&
         x.ffn_norm == y.ffn_norm && x.w_gate == y.w_gate && x.w_up == y.w_up && x.w_down == y.w_down;
  }
  return ok;
}

}  // namespace

// ---- half precision ----------------------------------------------------------

TEST_CASE("f16 and bf16 conversions are exact, subnormals and specials included", "[loaders][safetensors]") {
  CHECK(f16_to_f32(0x3c00) == 1.0f);
  CHECK(f16_to_f32(0xc000) == -2.0f);
  CHECK(f16_to_f32(0x7bff) == 65504.0f);
  CHECK(f16_to_f32(0x0400) == std::ldexp(1.0f, -14));     // smallest normal
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));     // smallest subnormal
  CHECK(f16_to_f32(0x03ff) == std::ldexp(1023.0f, -24));  // largest subnormal
  CHECK(std::signbit(f16_to_f32(0x8000)));
  CHECK(f16_to_f32(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(f16_to_f32(0xfc00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(f16_to_f32(0x7e00)));
  CHECK(std::isnan(f16_to_f32(0x7c01)));  // signalling NaN stays NaN

  // Every half survives a round trip through float.
  for (std::uint32_t h = 0; h <= 0xffff; ++h) {
    const float f = f16_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) {
      REQUIRE(std::isnan(f16_to_f32(f32_to_f16(f))));
    } else {
      REQUIRE(f32_to_f16(f) == h);
    }
    const float g = bf16_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(g)) {
      REQUIRE(std::isnan(bf16_to_f32(f32_to_bf16(g))));
    } else {
      REQUIRE(f32_to_bf16(g) == h);
    }
  }
  // Rounding to nearest even, overflow to inf, underflow to subnormals.
  CHECK(f32_to_f16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);      // tie -> even
  CHECK(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);  // tie -> even (up)
  CHECK(f32_to_f16(65519.0f) == 0x7bff);
  CHECK(f32_to_f16(65520.0f) == 0x7c00);
  CHECK(f32_to_f16(std::ldexp(1.0f, -25)) == 0x0000);  // tie -> even (zero)
  CHECK(f32_to_f16(std::ldexp(3.0f, -25)) == 0x0002);
  CHECK(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3f80);        // tie -> even
  CHECK(f32_to_bf16(std::numeric_limits<float>::max()) == 0x7f80);  // rounds to inf
  CHECK(bf16_to_f32(0x0001) == std::ldexp(1.0f, -133));             // bf16 subnormal
}

// ---- safetensors ------------------------------------------------------------

TEST_CASE("safetensors: F32, F16 and BF16 tensors read back as float", "[loaders][safetensors]") {
  TempDir tmp("loaders");
  const std::vector<float> values = {0.0f, -1.5f, 3.140625f, 65504.0f, std::ldexp(1.0f, -24), -0.0f};
  const auto file = tmp / "a.safetensors";
  write_safetensors(file,
                    {f32_tensor("x32", {2, 3}, values.data()), half_tensor("x16", {6}, values.data(), false),
                     half_tensor("xbf", {3, 2}, values.data(), true)});
  const SafetensorsFile st(file);
  CHECK(st.metadata().at("format") == "pt");
  CHECK(st.info("x32").shape == std::vector<std::int64_t>{2, 3});
  CHECK(st.info("x16").dtype == SafetensorsDtype::f16);
  CHECK(st.read_f32("x32") == values);
  CHECK(st.read_f32("x16") == values);  // every value is exact in half
  const auto bf = st.read_f32("xbf");
  for (std::size_t i = 0; i < values.size(); ++i) CHECK(bf[i] == bf16_to_f32(f32_to_bf16(values[i])));
  require_error([&] { (void)st.read_f32("nope"); }, ExitCode::model, {"a.safetensors", "nope"});
}

TEST_CASE("safetensors: malformed files are refused naming file and tensor", "[loaders][safetensors]") {
  TempDir tmp("loaders");
  const std::vector<float> v(12, 1.0f);
  const std::vector<StTensor> good = {f32_tensor("alpha", {3, 2}, v.data()),
                                      f32_tensor("beta", {6}, v.data())};
  const auto file = tmp / "bad.safetensors";
  auto open = [&] { SafetensorsFile st(file); };

  SECTION("shorter than the length field") {
    write_file(file, "abc");
    require_error(open, ExitCode::model, {"bad.safetensors", "8-byte"});
  }
  SECTION("header length larger than the file") {
    write_file(file, le_u64(1000) + "{}");
    require_error(open, ExitCode::model, {"bad.safetensors", "header length 1000"});
  }
  SECTION("bad JSON") {
    const std::string text = "{\"alpha\": [";
    write_file(file, le_u64(text.size()) + text);
    require_error(open, ExitCode::model, {"bad.safetensors", "bad JSON"});
  }
  SECTION("unknown dtype") {
    write_safetensors(file, good, [](json& h) { h["beta"]["dtype"] = "F12"; });
    require_error(open, ExitCode::model, {"bad.safetensors", "beta", "F12"});
  }
  SECTION("shape product x dtype size != byte count") {
    write_safetensors(file, good, [](json& h) { h["alpha"]["shape"] = {4, 2}; });
    require_error(open, ExitCode::model, {"bad.safetensors", "alpha", "32 bytes", "24 bytes"});
  }
  SECTION("offsets outside the data area") {
    write_safetensors(file, good, [](json& h) { h["beta"]["data_offsets"] = {1000, 1024}; });
    require_error(open, ExitCode::model, {"bad.safetensors", "beta", "outside the data area"});
  }
  SECTION("offsets running backwards") {
    write_safetensors(file, good, [](json& h) { h["beta"]["data_offsets"] = {24, 0}; });
    require_error(open, ExitCode::model, {"bad.safetensors", "beta", "backwards"});
  }
  SECTION("overlapping tensors") {
    write_safetensors(file, good, [](json& h) { h["beta"]["data_offsets"] = {8, 32}; });
    require_error(open, ExitCode::model, {"bad.safetensors", "alpha", "beta", "overlaps"});
  }
  SECTION("truncated file") {
    write_safetensors(file, good);
    const auto bytes = read_file(file);
    write_file(file, bytes.substr(0, bytes.size() - 5));
    require_error(open, ExitCode::model, {"bad.safetensors", "beta", "truncated"});
  }
  SECTION("entry that is not an object") {
    write_safetensors(file, good, [](json& h) { h["gamma"] = 3; });
    require_error(open, ExitCode::model, {"bad.safetensors", "gamma"});
  }
  SECTION("integer dtype cannot be read as float") {
    write_safetensors(file, good, [](json& h) { h["beta"]["dtype"] = "I32"; });
    SafetensorsFile st(file);
    require_error([&] { (void)st.read_f32("beta"); }, ExitCode::model, {"bad.safetensors", "beta", "I32"});
  }
}

TEST_CASE("safetensors: sharded checkpoints through model.safetensors.index.json", "[loaders][safetensors]") {
  TempDir tmp("loaders");
  const std::vector<float> a = {1, 2, 3, 4}, b = {5, 6};
  write_safetensors(tmp / "model-00001-of-00002.safetensors", {f32_tensor("a", {2, 2}, a.data())});
  write_safetensors(tmp / "model-00002-of-00002.safetensors", {f32_tensor("b", {2}, b.data())});
  const json index = {
      {"metadata", {{"total_size", 24}}},
      {"weight_map", {{"a", "model-00001-of-00002.safetensors"}, {"b", "model-00002-of-00002.safetensors"}}}};
  std::ofstream(tmp / "model.safetensors.index.json") << index.dump();
  const SafetensorsArchive archive(tmp / "model.safetensors.index.json");
  CHECK(archive.names() == std::vector<std::string>{"a", "b"});
  CHECK(archive.read_f32("a") == a);
  CHECK(archive.read_f32("b") == b);
  CHECK(archive.file_of("b").filename() == "model-00002-of-00002.safetensors");

  SECTION("a weight_map entry its shard lacks") {
    json bad = index;
    bad["weight_map"]["c"] = "model-00002-of-00002.safetensors";
    std::ofstream(tmp / "model.safetensors.index.json") << bad.dump();
    require_error([&] { SafetensorsArchive x(tmp / "model.safetensors.index.json"); }, ExitCode::model,
                  {"model.safetensors.index.json", "'c'", "model-00002-of-00002.safetensors"});
  }
  SECTION("a shard tensor the index does not list") {
    json bad = index;
    bad["weight_map"].erase("b");
    bad["weight_map"]["a"] = "model-00001-of-00002.safetensors";
    write_safetensors(tmp / "model-00001-of-00002.safetensors",
                      {f32_tensor("a", {2, 2}, a.data()), f32_tensor("b", {2}, b.data())});
    std::ofstream(tmp / "model.safetensors.index.json") << bad.dump();
    require_error([&] { SafetensorsArchive x(tmp / "model.safetensors.index.json"); }, ExitCode::model,
                  {"model-00001-of-00002.safetensors", "'b'"});
  }
  SECTION("a missing shard") {
    json bad = index;
    bad["weight_map"]["b"] = "model-00003-of-00002.safetensors";
    std::ofstream(tmp / "model.safetensors.index.json") << bad.dump();
    require_error([&] { SafetensorsArchive x(tmp / "model.safetensors.index.json"); }, ExitCode::model,
                  {"model-00003-of-00002.safetensors"});
  }
}

// ---- Hugging Face -------------------------------------------------------------

TEST_CASE("HF loader: v4 and v5 configs, tied and untied, F16 and BF16", "[loaders][hf]") {
  TempDir tmp("loaders");
  LlamaModel ref = tiny_model();

  SECTION("v5 config (rope_parameters), untied, F32: identical weights and logits") {
    ref.config.rope_theta = 500000.0f;
    write_hf_dir(tmp / "m", ref);
    const LlamaModel m = load_model(tmp / "m");
    CHECK(m.format == "huggingface");
    CHECK(m.config.rope_theta == 500000.0f);
    CHECK(m.config.rope == RopeStyle::rotate_half);
    CHECK(m.config.head_dim == 4);
    CHECK_FALSE(m.config.tied_embeddings);
    CHECK(same_weights(m, ref));
    CHECK((logits_of(m, kTokens) - logits_of(ref, kTokens)).cwiseAbs().maxCoeff() == 0.0f);
  }
  SECTION("v4 config (top-level rope_theta)") {
    ref.config.rope_theta = 250000.0f;
    write_hf_dir(tmp / "m", ref, {.v5 = false});
    const LlamaConfig c = read_hf_config(tmp / "m" / "config.json");
    CHECK(c.rope_theta == 250000.0f);
    CHECK(same_weights(load_model(tmp / "m"), ref));
  }
  SECTION("tied: lm_head absent, the embedding is copied") {
    write_hf_dir(tmp / "m", ref, {.tied = true});
    const LlamaModel m = load_model(tmp / "m");
    CHECK(m.config.tied_embeddings);
    CHECK(m.lm_head == m.embedding);
  }
  SECTION("untied without lm_head is an error") {
    write_hf_dir(tmp / "m", ref, {.edit_tensors = [](auto& ts) { erase_tensor(ts, "lm_head.weight"); }});
    require_error([&] { load_model(tmp / "m"); }, ExitCode::model,
                  {"model.safetensors", "lm_head.weight", "tie_word_embeddings"});
  }
  SECTION("F16 and BF16 weights widen to the rounded values") {
    for (const char* dtype : {"F16", "BF16"}) {
      write_hf_dir(tmp / dtype, ref, {.dtype = dtype});
      const LlamaModel m = load_model(tmp / dtype);
      const bool bf = std::string(dtype) == "BF16";
      // The file's type is kept: a BF16 checkpoint stays bf16, and the
      // embedding and lm_head are read from the file where they lie.
      CHECK(m.layers[1].w_up.type() == (bf ? WeightType::bf16 : WeightType::f16));
      CHECK(m.embedding.mapped());
      CHECK(m.lm_head.mapped());
      const float w = ref.layers[1].w_up(3, 5);
      CHECK(m.layers[1].w_up(3, 5) == (bf ? bf16_to_f32(f32_to_bf16(w)) : f16_to_f32(f32_to_f16(w))));
    }
  }
  SECTION("head_dim given explicitly (wider than hidden_size / heads)") {
    GeneratedModelSpec s;
    s.dim = 16, s.hidden_dim = 24, s.heads = 2, s.kv_heads = 1, s.vocab = 32, s.max_seq_len = 16;
    LlamaModel wide = generate_model(s);  // head_dim 8; now widen q/k/v/o to head_dim 12
    wide.config.head_dim = 12;
    for (auto& l : wide.layers) {
      auto random = [](long rows, long cols) {
        return WeightTensor::from_f32(MatrixRM::Random(rows, cols), WeightType::f32, WeightOrder::by_input);
      };
      l.wq = random(24, 16), l.wk = random(12, 16), l.wv = random(12, 16);
      l.wo = random(16, 24);
    }
    write_hf_dir(tmp / "m", wide, {.edit_config = [](json& c) { c["head_dim"] = 12; }});
    const LlamaModel m = load_model(tmp / "m");
    CHECK(m.config.head_dim == 12);
    CHECK(same_weights(m, wide));
  }
}

TEST_CASE("HF loader: bad tensors are refused naming file and tensor", "[loaders][hf]") {
  TempDir tmp("loaders");
  const LlamaModel ref = tiny_model();
  const auto dir = tmp / "m";
  auto load = [&] { load_model(dir); };

  SECTION("missing tensor") {
    write_hf_dir(dir, ref,
                 {.edit_tensors = [](auto& ts) { erase_tensor(ts, "model.layers.1.mlp.up_proj.weight"); }});
    require_error(load, ExitCode::model,
                  {"model.safetensors", "model.layers.1.mlp.up_proj.weight", "[24, 16]"});
  }
  SECTION("extra tensor") {
    const std::vector<float> v(4, 0.0f);
    write_hf_dir(dir, ref, {.edit_tensors = [&](auto& ts) {
                   ts.push_back(f32_tensor("model.layers.2.extra", {4}, v.data()));
                 }});
    require_error(load, ExitCode::model, {"model.safetensors", "model.layers.2.extra", "unexpected"});
  }
  SECTION("shape mismatch") {
    write_hf_dir(dir, ref, {.edit_tensors = [](auto& ts) {
                   for (auto& t : ts)
                     if (t.name == "model.layers.0.self_attn.k_proj.weight") t.shape = {16, 8};
                 }});
    require_error(
        load, ExitCode::model,
        {"model.safetensors", "model.layers.0.self_attn.k_proj.weight", "[16, 8]", "expected [8, 16]"});
  }
  SECTION("NaN weights are refused by default, accepted on request") {
    LlamaModel bad = ref;
    MatrixRM wv = bad.layers[0].wv.to_f32();
    wv(2, 3) = std::numeric_limits<float>::quiet_NaN();
    bad.layers[0].wv = WeightTensor::from_f32(wv, WeightType::f32, WeightOrder::by_input);
    write_hf_dir(dir, bad);
    require_error(
        load, ExitCode::numeric,
        {"model.safetensors", "model.layers.0.self_attn.v_proj.weight", "element 35", "row 2, col 3", "NaN"});
    const LlamaModel m = load_model(dir, LoadOptions{.allow_non_finite = true});
    CHECK(std::isnan(m.layers[0].wv(2, 3)));
  }
  SECTION("Inf in a norm weight") {
    LlamaModel bad = ref;
    bad.final_norm[5] = -std::numeric_limits<float>::infinity();
    write_hf_dir(dir, bad);
    require_error(load, ExitCode::numeric, {"model.norm.weight", "element 5", "-Inf"});
  }
  SECTION("no weights file") {
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << hf_config(ref, {}).dump();
    require_error(load, ExitCode::model, {"model.safetensors"});
  }
}

TEST_CASE("HF loader: absurd config.json fields are refused naming file and key", "[loaders][hf]") {
  TempDir tmp("loaders");
  const LlamaModel ref = tiny_model();
  const auto dir = tmp / "m";
  auto with_config = [&](const std::function<void(json&)>& edit) {
    write_hf_dir(dir, ref, {.edit_config = edit});
  };
  auto load = [&] { load_model(dir); };

  SECTION("missing key") {
    with_config([](json& c) { c.erase("intermediate_size"); });
    require_error(load, ExitCode::model, {"config.json", "intermediate_size", "missing"});
  }
  SECTION("wrong type") {
    with_config([](json& c) { c["num_hidden_layers"] = "two"; });
    require_error(load, ExitCode::model, {"config.json", "num_hidden_layers", "string"});
  }
  SECTION("non-integer number") {
    with_config([](json& c) { c["hidden_size"] = 16.5; });
    require_error(load, ExitCode::model, {"config.json", "hidden_size", "16.5"});
  }
  SECTION("zero and negative") {
    with_config([](json& c) { c["num_attention_heads"] = 0; });
    require_error(load, ExitCode::model, {"config.json", "num_attention_heads", "found 0"});
    with_config([](json& c) { c["vocab_size"] = -32; });
    require_error(load, ExitCode::model, {"config.json", "vocab_size", "found -32"});
  }
  SECTION("heads not dividing hidden_size when head_dim is absent") {
    with_config([](json& c) { c["num_attention_heads"] = 3, c["num_key_value_heads"] = 3; });
    require_error(load, ExitCode::model, {"config.json", "num_attention_heads", "3 heads", "hidden_size 16"});
  }
  SECTION("KV heads not dividing heads") {
    with_config([](json& c) { c["num_key_value_heads"] = 3; });
    require_error(load, ExitCode::model, {"config.json", "num_key_value_heads", "3 KV heads", "4"});
  }
  SECTION("non-llama architecture") {
    with_config([](json& c) { c["model_type"] = "gpt2", c["architectures"] = {"GPT2LMHeadModel"}; });
    require_error(load, ExitCode::model, {"config.json", "model_type", "gpt2"});
  }
  SECTION("RoPE scaling") {
    with_config([](json& c) { c["rope_parameters"]["rope_type"] = "llama3"; });
    require_error(load, ExitCode::model, {"config.json", "rope_type", "llama3"});
  }
  SECTION("negative rope_theta") {
    with_config([](json& c) { c["rope_parameters"]["rope_theta"] = -1.0; });
    require_error(load, ExitCode::model, {"config.json", "rope_theta"});
  }
  SECTION("bad JSON") {
    write_hf_dir(dir, ref);
    std::ofstream(dir / "config.json") << "{\"hidden_size\": ";
    require_error(load, ExitCode::model, {"config.json", "bad JSON"});
  }
}

// ---- llama2.c -----------------------------------------------------------------

TEST_CASE("llama2.c: a written model loads back identically", "[loaders][llama2c]") {
  TempDir tmp("loaders");
  SECTION("interleaved model, separate classifier: bitwise the same weights") {
    LlamaModel ref = tiny_model();
    ref.config.rope = RopeStyle::interleaved;
    write_llama2c_model(ref, tmp / "m.bin");
    const LlamaModel m = load_model(tmp / "m.bin");
    CHECK(m.format == "llama2c");
    CHECK(m.config.rope == RopeStyle::interleaved);
    CHECK(m.config.dim == ref.config.dim);
    CHECK(m.config.hidden_dim == ref.config.hidden_dim);
    CHECK(m.config.n_kv_heads == ref.config.n_kv_heads);
    CHECK(m.config.max_seq_len == ref.config.max_seq_len);
    CHECK_FALSE(m.config.tied_embeddings);
    CHECK(same_weights(m, ref));
  }
  SECTION("shared classifier: positive vocab_size, lm_head = embedding") {
    LlamaModel ref = tiny_model();
    ref.config.rope = RopeStyle::interleaved;
    ref.config.tied_embeddings = true;
    ref.lm_head = ref.embedding;
    write_llama2c_model(ref, tmp / "m.bin");
    const auto bytes = read_file(tmp / "m.bin");
    std::int32_t vocab = 0;
    std::memcpy(&vocab, bytes.data() + 20, 4);
    CHECK(vocab == 32);
    const LlamaModel m = load_model(tmp / "m.bin");
    CHECK(m.config.tied_embeddings);
    CHECK(same_weights(m, ref));
  }
}

TEST_CASE("RoPE: rotate-half and interleaved agree once q/k rows are permuted", "[loaders][llama2c][rope]") {
  // The classic HF <-> llama2.c conversion test: the same network written in
  // either convention gives the same logits.
  TempDir tmp("loaders");
  const LlamaModel hf = tiny_model(11);
  LlamaModel meta = hf;
  meta.config.rope = RopeStyle::interleaved;
  for (auto& l : meta.layers) {
    auto permuted = [](const WeightTensor& w, int heads, int head_dim) {
      return WeightTensor::from_f32(rotate_half_to_interleaved(w.to_f32(), heads, head_dim), WeightType::f32,
                                    WeightOrder::by_input);
    };
    l.wq = permuted(l.wq, hf.config.n_heads, hf.config.head_dim);
    l.wk = permuted(l.wk, hf.config.n_kv_heads, hf.config.head_dim);
  }
  const MatrixRM a = logits_of(hf, kTokens);
  const MatrixRM b = logits_of(meta, kTokens);
  CHECK((a - b).cwiseAbs().maxCoeff() <= 1e-5f);

  // Without the permutation the logits differ: the test has teeth.
  LlamaModel wrong = hf;
  wrong.config.rope = RopeStyle::interleaved;
  CHECK((a - logits_of(wrong, kTokens)).cwiseAbs().maxCoeff() > 1e-3f);

  // The permutations are inverse to each other.
  CHECK(interleaved_to_rotate_half(meta.layers[0].wq.to_f32(), 4, 4) == hf.layers[0].wq.to_f32());

  // write_llama2c_model applies the permutation to a rotate-half model.
  write_llama2c_model(hf, tmp / "hf.bin");
  const LlamaModel loaded = load_model(tmp / "hf.bin");
  CHECK(loaded.config.rope == RopeStyle::interleaved);
  CHECK(loaded.layers[1].wk == meta.layers[1].wk);
  CHECK((a - logits_of(loaded, kTokens)).cwiseAbs().maxCoeff() <= 1e-5f);
}

TEST_CASE("llama2.c: bad headers and sizes are refused naming file and field", "[loaders][llama2c]") {
  TempDir tmp("loaders");
  LlamaModel ref = tiny_model();
  ref.config.rope = RopeStyle::interleaved;
  const auto good_file = tmp / "good.bin";
  write_llama2c_model(ref, good_file);
  const std::string good = read_file(good_file);
  const auto file = tmp / "bad.bin";
  auto with_header_field = [&](int field, std::int32_t value) {
    std::string b = good;
    std::memcpy(b.data() + 4 * field, &value, 4);
    write_file(file, b);
  };
  auto load = [&] { load_model(file); };

  SECTION("zero, negative and huge dimensions") {
    with_header_field(0, 0);
    require_error(load, ExitCode::model, {"bad.bin", "'dim' = 0"});
    with_header_field(2, -3);
    require_error(load, ExitCode::model, {"bad.bin", "'n_layers' = -3"});
    with_header_field(1, 1 << 30);
    require_error(load, ExitCode::model, {"bad.bin", "'hidden_dim'"});
    with_header_field(5, 0);
    require_error(load, ExitCode::model, {"bad.bin", "'vocab_size' = 0"});
  }
  SECTION("heads not dividing dim, KV heads not dividing heads") {
    with_header_field(3, 5);
    require_error(load, ExitCode::model, {"bad.bin", "'n_heads' = 5"});
    with_header_field(4, 3);
    require_error(load, ExitCode::model, {"bad.bin", "'n_kv_heads' = 3"});
  }
  SECTION("file shorter than the header promises") {
    write_file(file, good.substr(0, good.size() - 100));
    require_error(load, ExitCode::model, {"bad.bin", "wcls"});
    write_file(file, good.substr(0, 28 + 4 * 32 * 16 + 10));
    require_error(load, ExitCode::model, {"bad.bin", "rms_att_weight"});
    write_file(file, good.substr(0, 12));
    require_error(load, ExitCode::model, {"bad.bin", "28-byte header"});
  }
  SECTION("file longer than the header promises") {
    write_file(file, good + std::string(8, '\0'));
    require_error(load, ExitCode::model, {"bad.bin", "8 more"});
  }
  SECTION("vocab sign flipped: the classifier is then missing from the size") {
    with_header_field(5, 32);  // claims shared, file carries wcls
    require_error(load, ExitCode::model, {"bad.bin", "more than the header promises"});
  }
  SECTION("NaN in a weight") {
    std::string b = good;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::memcpy(b.data() + 28 + 4, &nan, 4);  // token_embedding_table[0][1]
    write_file(file, b);
    require_error(load, ExitCode::numeric, {"bad.bin", "token_embedding_table", "element 1"});
    CHECK(std::isnan(load_model(file, {.allow_non_finite = true}).embedding(0, 1)));
  }
}

// ---- dispatch, token files, tokenizer, generated model ------------------------

TEST_CASE("load_model dispatches on the path and refuses the unknown", "[loaders]") {
  TempDir tmp("loaders");
  require_error([&] { load_model(tmp / "missing.bin"); }, ExitCode::model, {"missing.bin"});
  require_error([&] { load_model(tmp / "nothing_here"); }, ExitCode::model, {"nothing_here", "no such"});
  write_file(tmp / "weights.pt", "PK");
  require_error([&] { load_model(tmp / "weights.pt"); }, ExitCode::model,
                {"weights.pt", "unknown model format", ".gguf"});
  // .gguf is a format of its own (gguf_loader.hpp): its reader names what is wrong.
  write_file(tmp / "weights.gguf", "GGUF");
  require_error([&] { load_model(tmp / "weights.gguf"); }, ExitCode::model,
                {"weights.gguf", "shorter than the 24-byte GGUF header"});
  fs::create_directories(tmp / "empty");
  require_error([&] { load_model(tmp / "empty"); }, ExitCode::model, {"config.json"});
}

TEST_CASE("token files: round trip, size and range errors", "[loaders][token_file]") {
  TempDir tmp("loaders");
  const std::vector<int> tokens = {1, 0, 511, 42, 7};
  write_token_file(tmp / "t.i32", tokens);
  CHECK(fs::file_size(tmp / "t.i32") == 20);
  CHECK(read_token_file(tmp / "t.i32", 512) == tokens);
  require_error([&] { read_token_file(tmp / "t.i32", 500); }, ExitCode::data, {"t.i32", "index 2", "511"});
  write_token_file(tmp / "neg.i32", std::vector<int>{3, -1});
  require_error([&] { read_token_file(tmp / "neg.i32", 10); }, ExitCode::data, {"neg.i32", "index 1", "-1"});
  write_file(tmp / "odd.i32", std::string(10, '\1'));
  require_error([&] { read_token_file(tmp / "odd.i32", 10); }, ExitCode::data, {"odd.i32", "10 bytes"});
  require_error([&] { read_token_file(tmp / "absent.i32", 10); }, ExitCode::data, {"absent.i32"});

  const std::vector<float> values = {1.5f, -0.0f, 3e38f};
  write_f32_file(tmp / "l.f32", values);
  CHECK(read_f32_file(tmp / "l.f32") == values);
}

TEST_CASE("tokenizer: a missing or corrupt model file is an error naming it", "[loaders][tokenizer]") {
  TempDir tmp("loaders");
  require_error([&] { Tokenizer t(tmp / "tokenizer.model"); }, ExitCode::model, {"tokenizer.model"});
  write_file(tmp / "junk.model", "not a protobuf at all");
  require_error([&] { Tokenizer t(tmp / "junk.model"); }, ExitCode::model, {"junk.model"});
}

TEST_CASE("generated model: deterministic, synthetic, with outlier channels", "[loaders][generated]") {
  const GeneratedModelSpec spec;  // defaults: dim 128, 2 layers, vocab 256
  const LlamaModel a = generate_model(spec);
  const LlamaModel b = generate_model(spec);
  CHECK(same_weights(a, b));
  CHECK(a.format == "generated");
  CHECK(a.source ==
        "generated:seed=1,dim=128,hidden_dim=384,n_layers=2,n_heads=4,n_kv_heads=2,vocab=256,max_seq_len=256,"
        "outlier_channels=4,outlier_scale=8");
  CHECK(a.config.head_dim == 32);
  CHECK(a.layers[0].wk.rows() == 64);

  GeneratedModelSpec other = spec;
  other.seed = 2;
  CHECK_FALSE(same_weights(a, generate_model(other)));

  // Fixed draws pin the generator (mt19937_64 + our Box-Muller) across
  // platforms; the tolerance only admits last-ulp libm differences.
  CHECK(a.embedding(0, 0) == Approx(1.22852194).epsilon(1e-6));
  CHECK(a.embedding(1, 0) == Approx(0.166678801).epsilon(1e-6));
  CHECK(a.layers[1].w_down(3, 7) == Approx(-0.0948483869).epsilon(1e-6));

  // Weight scale ~ 1/sqrt(fan_in).
  const MatrixRM w = a.layers[0].w_gate.to_f32();
  const float rms = std::sqrt(w.squaredNorm() / static_cast<float>(w.size()));
  CHECK(rms == Approx(1.0f / std::sqrt(128.0f)).epsilon(0.05));

  // Exactly outlier_channels norm weights are ~outlier_scale; their embedding
  // columns are outlier_scale times larger than the rest.
  std::vector<int> outliers;
  const MatrixRM embedding = a.embedding.to_f32();
  double plain_norm = 0.0;
  for (int c = 0; c < 128; ++c) {
    if (a.layers[0].attn_norm[c] > 4.0f)
      outliers.push_back(c);
    else
      plain_norm += embedding.col(c).norm() / (128.0 - 4.0);
  }
  for (int c : outliers) {
    CHECK(a.final_norm[c] > 4.0f);
    CHECK(embedding.col(c).norm() > 4.0 * plain_norm);
  }
  CHECK(outliers.size() == 4);

  GeneratedModelSpec bad = spec;
  bad.kv_heads = 3;
  require_error([&] { generate_model(bad); }, ExitCode::config, {"n_kv_heads"});
  bad = spec;
  bad.dim = 0;
  require_error([&] { generate_model(bad); }, ExitCode::config, {"dim"});
}
