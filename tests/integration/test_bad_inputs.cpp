// The bad-input corpus (docs/reliability.md): every malformed input is
// written here, in a temporary folder, and given to the built `spikesim`
// binary as a subprocess. For each case the process must
//   - exit with the documented code (core/error.hpp),
//   - print exactly one "spikesim: error:" line on stderr, naming the file,
//     key or tensor and what was expected (the needles below),
//   - leave no output file: neither <out>.h5 nor <out>.h5.partial,
//   - finish within a timeout (a hang fails the test; it is killed).
#include <catch2/catch.hpp>

#include <bit>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/formats/generated_model.hpp"
#include "io/formats/hf_config_keys.hpp"
#include "io/formats/llama2c_loader.hpp"
#include "io/formats/token_file.hpp"
#include "tests/support/files.hpp"
#include "tests/support/model_files.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;
using nlohmann::json;
using test::le_u64;
using test::Outcome;
using test::read_file;
using test::run_spikesim;
using test::TempDir;
using test::write_file;

namespace {

// Every file under `dir` whose name ends in ".h5" or ".partial".
std::vector<std::string> output_files(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".h5") || name.ends_with(".partial")) found.push_back(e.path().string());
  }
  return found;
}

// The documented failure: exit code, one error line holding every needle,
// no crash, no hang, no output file.
void expect_failure(const Outcome& o, const fs::path& dir, ExitCode code,
                    std::initializer_list<std::string> needles) {
  INFO("stderr:\n" << o.err << "stdout:\n" << o.out);
  REQUIRE_FALSE(o.timed_out);
  CHECK(o.code == static_cast<int>(code));
  CHECK(test::error_line_count(o.err) == 1);
  CHECK(o.err.find("internal error") == std::string::npos);
  const auto at = o.err.find("spikesim: error:");
  const std::string message = at == std::string::npos ? std::string() : o.err.substr(at);
  for (const auto& n : needles) CHECK_THAT(message, Catch::Contains(n));
  CHECK(output_files(dir).empty());
}

// ---- the inputs ---------------------------------------------------------------

// The tiny model every case starts from (seed 11).
LlamaModel tiny_model() {
  return test::tiny_model(11);
}

struct Tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

std::vector<Tensor> hf_tensors(const LlamaModel& m) {
  std::vector<Tensor> ts;
  test::for_each_hf_tensor(
      m,
      [&](const std::string& name, const MatrixRM& w) {
        ts.push_back({name, {w.rows(), w.cols()}, std::vector<float>(w.data(), w.data() + w.size())});
      },
      [&](const std::string& name, const Eigen::VectorXf& v) {
        ts.push_back({name, {v.size()}, std::vector<float>(v.data(), v.data() + v.size())});
      });
  return ts;
}

json hf_config(const LlamaModel& m) {
  json j = test::hf_config_common(m);
  j["tie_word_embeddings"] = false;
  j["rope_parameters"] = {{"rope_theta", m.config.rope_theta}, {"rope_type", "default"}};
  return j;
}

// How to spoil a Hugging Face folder.
struct HfEdits {
  std::function<void(json&)> config;                  // config.json
  std::function<void(std::vector<Tensor>&)> tensors;  // drop, add, change values
  std::function<void(json&)> header;                  // the safetensors header
  std::function<void(std::string&)> file;             // the finished safetensors bytes
};

// <dir>/model: config.json + model.safetensors (F32) of the tiny model.
fs::path write_hf_model(const fs::path& dir, const HfEdits& e = {}) {
  const LlamaModel m = tiny_model();
  const fs::path model = dir / "model";
  fs::create_directories(model);
  json config = hf_config(m);
  if (e.config) e.config(config);
  std::ofstream(model / "config.json") << config.dump(2);
  auto tensors = hf_tensors(m);
  if (e.tensors) e.tensors(tensors);
  json header = json::object();
  std::string data;
  for (const auto& t : tensors) {
    const std::size_t begin = data.size();
    for (float v : t.values) {
      const auto u = std::bit_cast<std::uint32_t>(v);
      for (int b = 0; b < 4; ++b) data.push_back(static_cast<char>((u >> (8 * b)) & 0xff));
    }
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {begin, data.size()}}};
  }
  if (e.header) e.header(header);
  const std::string text = header.dump();
  std::string bytes = le_u64(text.size()) + text + data;
  if (e.file) e.file(bytes);
  write_file(model / "model.safetensors", bytes);
  return model;
}

// <dir>/model.bin: the tiny model in llama2.c format, header fields replaced by `edit`.
fs::path write_llama2c(const fs::path& dir, const std::function<void(std::string&)>& edit = {}) {
  const fs::path file = dir / "model.bin";
  write_llama2c_model(tiny_model(), file);
  if (edit) {
    std::string bytes = read_file(file);
    edit(bytes);
    write_file(file, bytes);
  }
  return file;
}

void set_i32(std::string& bytes, std::size_t field, std::int32_t v) {
  const auto u = static_cast<std::uint32_t>(v);
  for (int b = 0; b < 4; ++b) bytes[4 * field + b] = static_cast<char>((u >> (8 * b)) & 0xff);
}

void set_f32(std::string& bytes, std::size_t offset, float v) {
  const auto u = std::bit_cast<std::uint32_t>(v);
  for (int b = 0; b < 4; ++b) bytes[offset + b] = static_cast<char>((u >> (8 * b)) & 0xff);
}

// A run config of 4 tokens on `model`, writing <dir>/out.h5.
fs::path write_config(const fs::path& dir, const std::string& model, const std::string& extra = {}) {
  const fs::path file = dir / "run.toml";
  std::ofstream(file) << "[run]\ntokens = 4\nprogress = false\n\n[model]\npath = \"" << model
                      << "\"\n\n[encoding]\ncalib_windows = 1\n\n[record]\noutput = \""
                      << (dir / "out.h5").string() << "\"\n"
                      << extra;
  return file;
}

Outcome run_model(const TempDir& dir, const fs::path& model, std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"run", write_config(dir.path(), model.string()).string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_spikesim(args, dir.path());
}

}  // namespace

TEST_CASE("bad inputs: the unspoilt inputs run, so each failure below is the spoiled part's", "[bad_input]") {
  TempDir dir("bad_inputs");
  SECTION("Hugging Face folder") {
    const auto o = run_model(dir, write_hf_model(dir.path()));
    INFO(o.err);
    CHECK(o.code == 0);
    CHECK(fs::exists(dir / "out.h5"));
  }
  SECTION("llama2.c file") {
    const auto o = run_model(dir, write_llama2c(dir.path()));
    INFO(o.err);
    CHECK(o.code == 0);
    CHECK(fs::exists(dir / "out.h5"));
  }
}

TEST_CASE("bad inputs: malformed safetensors are refused naming file and tensor", "[bad_input]") {
  TempDir dir("bad_inputs");
  SECTION("truncated file") {
    const auto model = write_hf_model(dir.path(), {.file = [](std::string& b) { b.resize(b.size() - 100); }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "tensor '", "outside the data area", "file truncated?"});
  }
  SECTION("shorter than the 8-byte length field") {
    const auto model = write_hf_model(dir.path(), {.file = [](std::string& b) { b.resize(5); }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "file is 5 bytes, shorter than the 8-byte header length"});
  }
  SECTION("header length larger than the file") {
    const auto model =
        write_hf_model(dir.path(), {.file = [](std::string& b) { b.replace(0, 8, le_u64(b.size() + 1)); }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "header length", "is larger than the file allows"});
  }
  SECTION("bad JSON header") {
    const auto model = write_hf_model(dir.path(), {.file = [](std::string& b) { b[8] = '['; }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "bad JSON header"});
  }
  SECTION("tensor offsets out of range") {
    const auto model = write_hf_model(dir.path(), {.header = [](json& h) {
                                        h["model.norm.weight"]["data_offsets"] = {1000000, 1000064};
                                      }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "tensor 'model.norm.weight'", "data_offsets [1000000, 1000064)",
                    "outside the data area"});
  }
  SECTION("overlapping tensors") {
    const auto model = write_hf_model(dir.path(), {.header = [](json& h) {
                                        h["model.norm.weight"]["data_offsets"] = {0, 64};
                                      }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "'model.norm.weight' [0, 64)", "overlaps tensor",
                    "'model.embed_tokens.weight' [0, 2048)"});
  }
  SECTION("unknown dtype") {
    const auto model =
        write_hf_model(dir.path(), {.header = [](json& h) { h["model.norm.weight"]["dtype"] = "F7"; }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "tensor 'model.norm.weight'", "unknown dtype 'F7'"});
  }
  SECTION("shape product not matching the byte count") {
    const auto model =
        write_hf_model(dir.path(), {.header = [](json& h) { h["model.norm.weight"]["shape"] = {17}; }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "tensor 'model.norm.weight'",
                    "shape [17] x 4 bytes (F32) = 68 bytes", "data_offsets span 64 bytes"});
  }
  SECTION("missing tensor") {
    const auto model = write_hf_model(
        dir.path(), {.tensors = [](std::vector<Tensor>& ts) {
          std::erase_if(ts, [](const Tensor& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
        }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "missing tensor 'model.layers.1.mlp.up_proj.weight'",
                    "expected shape [24, 16]"});
  }
  SECTION("extra tensor") {
    const auto model =
        write_hf_model(dir.path(), {.tensors = [](std::vector<Tensor>& ts) {
                         ts.push_back({"model.layers.2.mlp.up_proj.weight", {2}, {1.0f, 2.0f}});
                       }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "unexpected tensor 'model.layers.2.mlp.up_proj.weight'",
                    "not part of a LlamaForCausalLM with 2 layers"});
  }
  SECTION("tensor of the wrong shape (same size)") {
    const auto model = write_hf_model(dir.path(), {.tensors = [](std::vector<Tensor>& ts) {
                                        for (auto& t : ts)
                                          if (t.name == "model.layers.0.self_attn.k_proj.weight")
                                            t.shape = {16, 8};
                                      }});
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16, 8]",
                    "expected [8, 16]"});
  }
  SECTION("no weights file") {
    const auto model = write_hf_model(dir.path());
    fs::remove(model / "model.safetensors");
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model", "no model.safetensors or model.safetensors.index.json"});
  }
  SECTION("model path that does not exist") {
    expect_failure(run_model(dir, dir / "nowhere"), dir.path(), ExitCode::model,
                   {"nowhere", "no such file or directory"});
  }
}

TEST_CASE("bad inputs: absurd config.json fields are refused naming file and key", "[bad_input]") {
  TempDir dir("bad_inputs");
  auto with_config = [&](const std::function<void(json&)>& edit) {
    return run_model(dir, write_hf_model(dir.path(), {.config = edit}));
  };
  SECTION("missing field") {
    expect_failure(with_config([](json& c) { c.erase("hidden_size"); }), dir.path(), ExitCode::model,
                   {"config.json", "key 'hidden_size'", "missing (expected an integer > 0)"});
  }
  SECTION("wrong type") {
    expect_failure(with_config([](json& c) { c["num_hidden_layers"] = "2"; }), dir.path(), ExitCode::model,
                   {"config.json", "key 'num_hidden_layers'", "expected an integer > 0, found string \"2\""});
  }
  SECTION("zero size") {
    expect_failure(
        with_config([](json& c) { c["intermediate_size"] = 0; }), dir.path(), ExitCode::model,
        {"config.json", "key 'intermediate_size'", "expected an integer in [1, 1048576], found 0"});
  }
  SECTION("negative size") {
    expect_failure(with_config([](json& c) { c["vocab_size"] = -32; }), dir.path(), ExitCode::model,
                   {"config.json", "key 'vocab_size'", "found -32"});
  }
  SECTION("huge size beyond any model") {
    expect_failure(with_config([](json& c) { c["hidden_size"] = 1LL << 40; }), dir.path(), ExitCode::model,
                   {"config.json", "key 'hidden_size'", "expected an integer in [1, 1048576]"});
  }
  SECTION("large size the weights do not have: a model error, not a memory error") {
    expect_failure(with_config([](json& c) { c["hidden_size"] = 1 << 20; }), dir.path(), ExitCode::model,
                   {"model.safetensors", "tensor 'model.embed_tokens.weight' has shape [32, 16]",
                    "expected [32, 1048576]"});
  }
  SECTION("heads not dividing the hidden size") {
    expect_failure(with_config([](json& c) { c["num_attention_heads"] = 3; }), dir.path(), ExitCode::model,
                   {"config.json", "key 'num_attention_heads'", "3 heads do not divide hidden_size 16"});
  }
  SECTION("KV heads not dividing the heads") {
    expect_failure(
        with_config([](json& c) { c["num_key_value_heads"] = 3; }), dir.path(), ExitCode::model,
        {"config.json", "key 'num_key_value_heads'", "3 KV heads do not divide num_attention_heads 4"});
  }
  SECTION("not a llama") {
    expect_failure(with_config([](json& c) { c["model_type"] = "gpt2"; }), dir.path(), ExitCode::model,
                   {"config.json", "key 'model_type'", "expected \"llama\"", "found \"gpt2\""});
  }
  SECTION("not JSON") {
    const auto model = write_hf_model(dir.path());
    write_file(model / "config.json", "{\"hidden_size\": 16,");
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model, {"config.json", "bad JSON"});
  }
  SECTION("config.json absent") {
    const auto model = write_hf_model(dir.path());
    fs::remove(model / "config.json");
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"config.json", "cannot open (expected a transformers config.json)"});
  }
}

// The tiny model as another family: Qwen2 (q/k/v biases) or LLaMA with
// attention_bias (q/k/v/o biases); the bias tensors are written unless `edit` drops them.
HfEdits as_family(const std::string& model_type, const std::string& architecture, bool o_bias,
                  const std::function<void(json&)>& config = {},
                  const std::function<void(std::vector<Tensor>&)>& tensors = {}) {
  return {.config =
              [=](json& c) {
                c["model_type"] = model_type;
                c["architectures"] = {architecture};
                if (model_type == "llama") c["attention_bias"] = true;
                if (config) config(c);
              },
          .tensors =
              [=](std::vector<Tensor>& ts) {
                for (int l = 0; l < 2; ++l) {
                  const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
                  ts.push_back({p + "q_proj.bias", {16}, std::vector<float>(16, 0.01f)});
                  ts.push_back({p + "k_proj.bias", {8}, std::vector<float>(8, -0.02f)});
                  ts.push_back({p + "v_proj.bias", {8}, std::vector<float>(8, 0.03f)});
                  if (o_bias) ts.push_back({p + "o_proj.bias", {16}, std::vector<float>(16, 0.04f)});
                }
                if (tensors) tensors(ts);
              }};
}

void drop_tensor(std::vector<Tensor>& ts, const std::string& name) {
  std::erase_if(ts, [&](const Tensor& t) { return t.name == name; });
}

TEST_CASE("bad inputs: model families run, and their refused keys and tensors are named", "[bad_input][families]") {
  TempDir dir("bad_inputs");
  auto with_config = [&](const std::function<void(json&)>& edit) {
    return run_model(dir, write_hf_model(dir.path(), {.config = edit}));
  };
  SECTION("qwen2, llama with attention_bias and mistral with a window run") {
    for (const auto& edits :
         {as_family("qwen2", "Qwen2ForCausalLM", false), as_family("llama", "LlamaForCausalLM", true),
          HfEdits{.config = [](json& c) {
            c["model_type"] = "mistral", c["architectures"] = {"MistralForCausalLM"}, c["sliding_window"] = 3;
          }}}) {
      TempDir one("bad_inputs");
      const auto o = run_model(one, write_hf_model(one.path(), edits));
      INFO(o.err);
      CHECK(o.code == 0);
      CHECK(fs::exists(one / "out.h5"));
    }
  }
  SECTION("every refused key of the table, in a llama config") {
    for (const hf::ConfigKey& k : hf::kConfigKeys) {
      if (k.use == hf::KeyUse::read || (k.families & hf::llama) == 0) continue;
      INFO("key " << k.key);
      TempDir one("bad_inputs");
      const std::string key(k.key);
      const json value = json::parse(k.bad);
      const auto model = write_hf_model(one.path(), {.config = [&](json& c) { c[key] = value; }});
      expect_failure(run_model(one, model), one.path(), ExitCode::model, {"config.json", "key '" + key + "'"});
    }
  }
  SECTION("a key of another model type") {
    expect_failure(with_config([](json& c) { c["sliding_window"] = 8; }), dir.path(), ExitCode::model,
                   {"config.json", "key 'sliding_window'", "not read by transformers' LlamaForCausalLM"});
  }
  SECTION("RoPE scaling of a type not implemented") {
    expect_failure(with_config([](json& c) {
                     c["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
                   }),
                   dir.path(), ExitCode::model,
                   {"config.json", "key 'rope_scaling.type'", "\"dynamic\" is not implemented"});
  }
  SECTION("rope_scaling and rope_parameters that disagree") {
    expect_failure(with_config([](json& c) {
                     c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8}};
                   }),
                   dir.path(), ExitCode::model,
                   {"config.json", "key 'rope_scaling.rope_type'",
                    "\"llama3\" disagrees with rope_parameters.rope_type \"default\""});
    expect_failure(with_config([](json& c) {
                     c["rope_parameters"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 10000.0}};
                     c["rope_scaling"] = {{"type", "linear"}, {"factor", 3.0}};
                   }),
                   dir.path(), ExitCode::model,
                   {"config.json", "key 'rope_scaling.factor'", "disagrees with rope_parameters.factor"});
    expect_failure(with_config([](json& c) { c["rope_theta"] = 500000.0; }), dir.path(), ExitCode::model,
                   {"config.json", "key 'rope_theta'", "disagrees with rope_parameters.rope_theta"});
  }
  SECTION("model_type and architectures that disagree") {
    expect_failure(with_config([](json& c) { c["model_type"] = "mistral"; }), dir.path(), ExitCode::model,
                   {"config.json", "key 'architectures'", "disagrees with model_type \"mistral\""});
  }
  SECTION("a missing bias tensor") {
    const auto model = write_hf_model(
        dir.path(), as_family("qwen2", "Qwen2ForCausalLM", false, {}, [](std::vector<Tensor>& ts) {
          drop_tensor(ts, "model.layers.1.self_attn.k_proj.bias");
        }));
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "missing tensor 'model.layers.1.self_attn.k_proj.bias'", "expected shape [8]"});
  }
  SECTION("a bias the config does not have") {
    const auto model = write_hf_model(dir.path(), as_family("qwen2", "Qwen2ForCausalLM", true));
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "unexpected tensor 'model.layers.0.self_attn.o_proj.bias'",
                    "not part of a Qwen2ForCausalLM with 2 layers, q/k/v biases"});
  }
  SECTION("a bias of the wrong shape") {
    const auto model = write_hf_model(
        dir.path(), as_family("llama", "LlamaForCausalLM", true, {}, [](std::vector<Tensor>& ts) {
          for (auto& t : ts)
            if (t.name == "model.layers.0.self_attn.v_proj.bias") t.shape = {2, 4};
        }));
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.safetensors", "tensor 'model.layers.0.self_attn.v_proj.bias' has shape [2, 4]",
                    "expected [8]"});
  }
}

TEST_CASE("bad inputs: llama2.c headers with absurd dimensions or a short file", "[bad_input]") {
  TempDir dir("bad_inputs");
  SECTION("negative dimension") {
    const auto model = write_llama2c(dir.path(), [](std::string& b) { set_i32(b, 0, -16); });
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.bin", "header field 'dim' = -16", "expected in [1, 1048576]"});
  }
  SECTION("zero layers") {
    const auto model = write_llama2c(dir.path(), [](std::string& b) { set_i32(b, 2, 0); });
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.bin", "header field 'n_layers' = 0"});
  }
  SECTION("huge dimension") {
    const auto model = write_llama2c(dir.path(), [](std::string& b) { set_i32(b, 1, 1 << 30); });
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.bin", "header field 'hidden_dim' = 1073741824", "expected in [1, 1048576]"});
  }
  SECTION("KV heads not dividing heads") {
    const auto model = write_llama2c(dir.path(), [](std::string& b) { set_i32(b, 4, 3); });
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.bin", "header field 'n_kv_heads' = 3 does not divide 'n_heads' = 4"});
  }
  SECTION("file shorter than the header promises (more layers)") {
    const auto model = write_llama2c(dir.path(), [](std::string& b) { set_i32(b, 2, 3); });
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.bin", "but tensor '", "needs bytes", "n_layers 3"});
  }
  SECTION("truncated file") {
    const auto model = write_llama2c(dir.path(), [](std::string& b) { b.resize(b.size() - 10); });
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.bin", "but tensor 'wcls' needs bytes"});
  }
  SECTION("shorter than the header itself") {
    const auto model = write_llama2c(dir.path(), [](std::string& b) { b.resize(20); });
    expect_failure(run_model(dir, model), dir.path(), ExitCode::model,
                   {"model.bin", "file is 20 bytes, shorter than the 28-byte header"});
  }
}

TEST_CASE("bad inputs: NaN or Inf weights are refused unless model.allow_non_finite", "[bad_input]") {
  TempDir dir("bad_inputs");
  // Element 5 of layer 0's k_proj.
  const auto nan_model = [&] {
    return write_hf_model(dir.path(), {.tensors = [](std::vector<Tensor>& ts) {
                            for (auto& t : ts)
                              if (t.name == "model.layers.0.self_attn.k_proj.weight")
                                t.values[5] = std::numeric_limits<float>::quiet_NaN();
                          }});
  };
  SECTION("NaN in a Hugging Face weight: refused by default") {
    expect_failure(run_model(dir, nan_model()), dir.path(), ExitCode::numeric,
                   {"model.safetensors",
                    "tensor 'model.layers.0.self_attn.k_proj.weight' element 5 (row 0, col 5) is NaN",
                    "allow_non_finite"});
  }
  SECTION("NaN accepted with model.allow_non_finite: the run then stops at the first NaN activation") {
    // The NaN weight makes layer 0's K non-finite: the K encoder of the
    // KV head it belongs to refuses it, naming the population. The run had
    // started recording, so only the incomplete "<out>.partial" remains.
    const auto o = run_model(dir, nan_model(), {"--set", "model.allow_non_finite=true"});
    INFO("stderr:\n" << o.err);
    REQUIRE_FALSE(o.timed_out);
    CHECK(o.code == static_cast<int>(ExitCode::numeric));
    CHECK_THAT(o.err, Catch::Contains("spikesim: error: population 'layer0.k_enc.h0'") &&
                          Catch::Contains("non-finite input (nan)"));
    CHECK_FALSE(fs::exists(dir / "out.h5"));
  }
  SECTION("Inf in a llama2.c weight") {
    // Header 28 bytes, then the [32 x 16] embedding: element 3 of row 1.
    const auto model = write_llama2c(dir.path(), [](std::string& b) {
      set_f32(b, 28 + 4 * (16 + 3), std::numeric_limits<float>::infinity());
    });
    expect_failure(run_model(dir, model), dir.path(), ExitCode::numeric,
                   {"model.bin", "tensor 'token_embedding_table' element 19 (row 1, col 3) is +Inf"});
  }
}

TEST_CASE("bad inputs: TOML syntax, unknown keys, wrong types and out-of-range values", "[bad_input]") {
  TempDir dir("bad_inputs");
  auto run_toml = [&](const std::string& text, std::vector<std::string> extra = {}) {
    write_file(dir / "bad.toml", text);
    std::vector<std::string> args{"run", (dir / "bad.toml").string(), "-o", (dir / "out.h5").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_spikesim(args, dir.path());
  };
  SECTION("syntax error") {
    expect_failure(run_toml("[run]\ntokens = 4\n[encoding\nbits = 4\n"), dir.path(), ExitCode::config,
                   {"bad.toml:3:", "TOML syntax error"});
  }
  SECTION("unknown key") {
    expect_failure(run_toml("[encoding]\nbitz = 4\n"), dir.path(), ExitCode::config,
                   {"bad.toml:2", "unknown key 'encoding.bitz'", "did you mean 'encoding.bits'?"});
  }
  SECTION("unknown section") {
    expect_failure(run_toml("[encodings]\nbits = 4\n"), dir.path(), ExitCode::config,
                   {"bad.toml:", "encodings"});
  }
  SECTION("wrong type") {
    expect_failure(run_toml("[encoding]\nbits = \"four\"\n"), dir.path(), ExitCode::config,
                   {"bad.toml:2", "key 'encoding.bits' must be an integer, found string"});
  }
  SECTION("out of range") {
    expect_failure(run_toml("[encoding]\nbits = 40\n"), dir.path(), ExitCode::config,
                   {"bad.toml:2", "key 'encoding.bits' = 40 is out of range [1, 16]"});
  }
  SECTION("out of range in an override") {
    expect_failure(run_toml("[run]\ntokens = 4\n", {"--set", "run.tokens=0"}), dir.path(), ExitCode::config,
                   {"--set:", "run.tokens"});
  }
  SECTION("config file that does not exist") {
    expect_failure(run_spikesim({"run", (dir / "missing.toml").string()}, dir.path()), dir.path(),
                   ExitCode::config, {"missing.toml", "cannot open config file"});
  }
}

TEST_CASE("bad inputs: token files with ids outside the vocabulary or a ragged size", "[bad_input]") {
  TempDir dir("bad_inputs");
  const auto model = write_hf_model(dir.path());
  SECTION("id outside the vocabulary") {
    write_token_file(dir / "tokens.i32", std::vector<int>{1, 5, 40, 7, 9, 2});
    expect_failure(run_model(dir, model, {"--set", "input.token_file=" + (dir / "tokens.i32").string()}),
                   dir.path(), ExitCode::data,
                   {"tokens.i32", "token at index 2 is 40, outside the vocabulary [0, 32)"});
  }
  SECTION("negative id") {
    write_token_file(dir / "tokens.i32", std::vector<int>{1, -3, 4, 7});
    expect_failure(run_model(dir, model, {"--set", "input.token_file=" + (dir / "tokens.i32").string()}),
                   dir.path(), ExitCode::data, {"tokens.i32", "token at index 1 is -3"});
  }
  SECTION("size not a multiple of 4") {
    write_file(dir / "tokens.i32", std::string(10, '\1'));
    expect_failure(run_model(dir, model, {"--set", "input.token_file=" + (dir / "tokens.i32").string()}),
                   dir.path(), ExitCode::data, {"tokens.i32", "size 10 bytes is not a multiple of 4"});
  }
  SECTION("too few tokens for the run") {
    write_token_file(dir / "tokens.i32", std::vector<int>{1, 5});
    expect_failure(run_model(dir, model, {"--set", "input.token_file=" + (dir / "tokens.i32").string()}),
                   dir.path(), ExitCode::data, {"tokens.i32", "needs 4 tokens from offset 0, has 2"});
  }
  SECTION("eval: id outside the vocabulary") {
    write_token_file(dir / "tokens.i32", std::vector<int>{1, 5, 4, 7, 99, 2, 3, 4, 5, 6});
    expect_failure(run_spikesim({"eval", "--model", model.string(), "--tokens", (dir / "tokens.i32").string(),
                                 "--windows", "1", "--seq", "4"},
                                dir.path()),
                   dir.path(), ExitCode::data, {"tokens.i32", "token at index 4 is 99"});
  }
}

TEST_CASE("bad inputs: an output path that cannot be written", "[bad_input]") {
  TempDir dir("bad_inputs");
  const auto model = write_hf_model(dir.path());
  SECTION("folder does not exist") {
    const std::string out = (dir / "no_such_folder" / "out.h5").string();
    expect_failure(run_model(dir, model, {"-o", out}), dir.path(), ExitCode::output,
                   {"cannot write output '" + out + "'", "does not exist"});
  }
  SECTION("the output is a folder") {
    fs::create_directories(dir / "taken.h5");
    const auto o = run_model(dir, model, {"-o", (dir / "taken.h5").string()});
    fs::remove(dir / "taken.h5");  // the folder itself is not an output file
    expect_failure(o, dir.path(), ExitCode::output, {"taken.h5", "it is a folder"});
  }
  SECTION("read-only folder") {
    if (::geteuid() == 0) {
      WARN("running as root: a read-only folder is writable, case skipped");
      return;
    }
    fs::create_directories(dir / "ro");
    fs::permissions(dir / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    const auto o = run_model(dir, model, {"-o", (dir / "ro" / "out.h5").string()});
    fs::permissions(dir / "ro", fs::perms::owner_all);
    expect_failure(o, dir.path(), ExitCode::output, {"cannot write output", "ro/out.h5"});
  }
}

TEST_CASE("bad inputs: a run or eval larger than the memory limit is refused before loading", "[bad_input]") {
  TempDir dir("bad_inputs");
  const auto model = write_hf_model(dir.path());
  SECTION("--max-memory below the estimate") {
    expect_failure(run_model(dir, model, {"--max-memory", "1M"}), dir.path(), ExitCode::resource,
                   {"needs about", "weights", "projections", "KV cache", "recording",
                    "limit is 1.0 MiB (--max-memory 1M)"});
  }
  SECTION("a generated model larger than the machine") {
    expect_failure(
        run_spikesim({"run", write_config(dir.path(), "generated").string(), "--set", "generated.dim=16384",
                      "--set", "generated.hidden_dim=65536", "--set", "generated.layers=256"},
                     dir.path()),
        dir.path(), ExitCode::resource, {"needs about", "GiB", "available memory"});
  }
  SECTION("eval with --max-memory below the estimate") {
    write_token_file(dir / "tokens.i32", std::vector<int>{1, 5, 4, 7, 9, 2, 3, 4, 5, 6});
    expect_failure(run_spikesim({"eval", "--model", model.string(), "--tokens", (dir / "tokens.i32").string(),
                                 "--windows", "1", "--seq", "4", "--max-memory", "2M"},
                                dir.path()),
                   dir.path(), ExitCode::resource, {"eval of '", "needs about", "--max-memory 2M"});
  }
  SECTION("a malformed --max-memory is a usage error") {
    expect_failure(run_model(dir, model, {"--max-memory", "lots"}), dir.path(), ExitCode::usage,
                   {"--max-memory", "expected a size such as 512M", "got 'lots'"});
  }
  SECTION("a generous --max-memory lets the run through") {
    const auto o = run_model(dir, model, {"--max-memory", "64G"});
    INFO(o.err);
    CHECK(o.code == 0);
  }
}
