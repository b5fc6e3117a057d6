// Bugs the fuzzers of fuzz/ found (and their neighbours), one test each,
// named after the bug; then a replay of every seed of fuzz/corpus/ through
// the parsers the harnesses drive, so an input added there after a crash is
// checked by every build, with or without clang (docs/fuzzing.md). The
// sanitizer stage of scripts/test.sh runs these under ASan + UBSan.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "io/formats/gguf.hpp"
#include "io/formats/gguf_loader.hpp"
#include "io/formats/gguf_tokenizer.hpp"
#include "io/formats/hf_loader.hpp"
#include "io/formats/llama2c_loader.hpp"
#include "io/formats/safetensors.hpp"

using namespace spikesim;
namespace fs = std::filesystem;

namespace {

std::vector<std::byte> safetensors_image(const std::string& header, std::size_t data_bytes) {
  std::vector<std::byte> out(8 + header.size() + data_bytes);
  const std::uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::vector<std::byte> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  if (!chars.empty()) std::memcpy(out.data(), chars.data(), chars.size());
  return out;
}

std::vector<fs::path> seeds(const std::string& harness) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(SPIKESIM_SOURCE_DIR) / "fuzz" / "corpus" / harness))
    if (e.is_regular_file()) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// Runs `parse`; an Error is a refusal, anything else escapes and fails the test.
template <class Parse>
bool accepted(Parse&& parse) {
  try {
    parse();
    return true;
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.code() != ExitCode::internal);
    CHECK(e.code() != ExitCode::failure);
    return false;
  }
}

}  // namespace

// fuzz_safetensors: read_f32 of an F32 tensor with no elements called
// memcpy(nullptr, p, 0) (an empty vector's data()), undefined behaviour
// that UBSan reports.
TEST_CASE("safetensors empty F32 tensor read passes no null pointer to memcpy",
          "[fuzz_regression][safetensors]") {
  const auto image = safetensors_image(
      R"({"empty":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"one":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
      4);
  const auto file = SafetensorsFile::from_bytes(image, "empty.safetensors");
  CHECK(file.read_f32("empty").empty());
  CHECK(file.read_f32("one").size() == 1);
}

// Found while adding the in-memory entry point: file_size() on a directory
// threw std::filesystem_error instead of the loader's Error.
TEST_CASE("llama2c loader refuses a directory with Error, not filesystem_error",
          "[fuzz_regression][llama2c]") {
  static std::atomic<int> counter{0};
  const fs::path dir = fs::temp_directory_path() / ("spikesim_fuzzreg_" + std::to_string(::getpid()) + "_" +
                                                    std::to_string(counter++) + ".bin");
  fs::create_directories(dir);
  try {
    load_llama2c_model(dir);
    FAIL("a directory loaded as a llama2.c checkpoint");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::model);
    CHECK(std::string(e.what()).find(dir.string()) != std::string::npos);
  }
  fs::remove_all(dir);
}

// fuzz_hf_config: "rms_norm_eps": 1e105 is a positive finite double, so it
// passed the check, and became inf when stored as the model's float (the
// RMSNorm of every layer would then output zeros). The same for rope_theta,
// and for values that underflow to 0.
TEST_CASE("config.json numbers that do not fit a float are refused naming the key",
          "[fuzz_regression][hf_config]") {
  const std::string base =
      R"({"model_type":"llama","hidden_size":8,"intermediate_size":16,"num_hidden_layers":1,)"
      R"("num_attention_heads":2,"vocab_size":10,)";
  const auto refused_naming = [&](const std::string& field, const std::string& key) {
    INFO(field);
    try {
      (void)parse_hf_config(base + field + "}", "regress/config.json");
      FAIL_CHECK("accepted");
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK(e.code() == ExitCode::model);
      CHECK(m.find("regress/config.json") != std::string::npos);
      CHECK(m.find("'" + key + "'") != std::string::npos);
    }
  };
  refused_naming(R"("rms_norm_eps":1e105)", "rms_norm_eps");
  refused_naming(R"("rms_norm_eps":1e-50)", "rms_norm_eps");
  refused_naming(R"("rope_theta":1e39)", "rope_theta");
  refused_naming(R"("rope_parameters":{"rope_type":"default","rope_theta":1e300})",
                 "rope_parameters.rope_theta");
  refused_naming(R"("bos_token_id":4294967296)", "bos_token_id");
  // The largest and smallest normal floats still load, exactly.
  const auto c =
      parse_hf_config(base + R"("rms_norm_eps":1.1754943508222875e-38,"rope_theta":3.4028234663852886e38})",
                      "regress/config.json");
  CHECK(c.norm_eps == std::numeric_limits<float>::min());
  CHECK(c.rope_theta == std::numeric_limits<float>::max());
}

// fuzz_toml_config (a 10-minute run): a bare `--set` list with a byte that
// is not UTF-8 ("record.populations=lay\xfcer0.*") was accepted, because a
// bare word never passes through the TOML parser; the effective config
// written back as TOML then failed to parse. Overrides must be UTF-8.
TEST_CASE("override values that are not UTF-8 are refused naming the override", "[fuzz_regression][config]") {
  const auto refused = [](const std::string& override_text, const std::string& expected) {
    INFO(override_text);
    try {
      (void)parse_config("", "regress.toml", {override_text});
      FAIL_CHECK("accepted");
    } catch (const Error& e) {
      const std::string m = e.what();
      CHECK(e.code() == ExitCode::config);
      CHECK(m.find("not valid UTF-8") != std::string::npos);
      CHECK(m.find(expected) != std::string::npos);
    }
  };
  refused(
      "record.populations=lay\xfc"
      "er0.*",
      "byte 0xfc at offset 22");  // a lone Latin-1 byte
  refused(
      "record.output=a\xc0\xaf"
      "b.h5",
      "byte 0xc0 at offset 15");                                        // overlong '/'
  refused("record.output=\xed\xa0\x80.h5", "byte 0xed at offset 14");   // a UTF-16 surrogate
  refused("record.output=x\xe2\x82", "byte 0xe2 at offset 15");         // cut short
  refused("record.output=\xf4\x90\x80\x80", "byte 0xf4 at offset 14");  // above U+10FFFF
  // Real UTF-8 (2, 3 and 4 bytes) is accepted and survives the round trip.
  const std::string name = "r\xc3\xa9sum\xc3\xa9_\xe2\x82\xac_\xf0\x9f\xa7\xa0.h5";
  const SimConfig c =
      parse_config("", "regress.toml", {"record.output=" + name, "record.populations=\xc3\xa9*,b"});
  CHECK(c.record.output == name);
  const SimConfig again = parse_config(config_to_toml(c), "roundtrip.toml");
  CHECK(again.same_settings(c));
}

TEST_CASE("in-memory and file entry points give the same verdict", "[fuzz_regression][llama2c]") {
  for (const auto& seed : seeds("fuzz_llama2c")) {
    INFO(seed.string());
    const bool from_file = accepted([&] { (void)load_llama2c_model(seed); });
    const bool from_bytes =
        accepted([&] { (void)load_llama2c_model_from_bytes(read_bytes(seed), seed.string()); });
    CHECK(from_file == from_bytes);
  }
  for (const auto& seed : seeds("fuzz_safetensors")) {
    INFO(seed.string());
    const bool from_file = accepted([&] { (void)SafetensorsFile(seed); });
    const bool from_bytes =
        accepted([&] { (void)SafetensorsFile::from_bytes(read_bytes(seed), seed.string()); });
    CHECK(from_file == from_bytes);
  }
  for (const auto& seed : seeds("fuzz_gguf")) {
    INFO(seed.string());
    const bool from_file = accepted([&] { (void)GgufFile(seed); });
    const bool from_bytes = accepted([&] { (void)GgufFile::from_bytes(read_bytes(seed), seed.string()); });
    CHECK(from_file == from_bytes);
  }
  for (const auto& seed : seeds("fuzz_hf_config")) {
    INFO(seed.string());
    const auto bytes = read_bytes(seed);
    const std::string text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const bool from_file = accepted([&] { (void)read_hf_config(seed); });
    const bool from_text = accepted([&] { (void)parse_hf_config(text, seed.string()); });
    CHECK(from_file == from_text);
  }
}

TEST_CASE("every fuzz seed is accepted or refused with an Error", "[fuzz_regression]") {
  int accepted_count = 0, refused_count = 0;
  auto tally = [&](bool ok) { ++(ok ? accepted_count : refused_count); };
  for (const auto& seed : seeds("fuzz_safetensors")) {
    INFO(seed.string());
    tally(accepted([&] {
      const auto file = SafetensorsFile(seed);
      for (const auto& entry : file.tensors()) {
        const auto& t = entry.second;
        if (t.dtype == SafetensorsDtype::f32 || t.dtype == SafetensorsDtype::f16 ||
            t.dtype == SafetensorsDtype::bf16 || t.dtype == SafetensorsDtype::f64)
          CHECK(file.read_f32(entry.first).size() == t.elements());
      }
    }));
  }
  for (const auto& seed : seeds("fuzz_llama2c")) {
    INFO(seed.string());
    tally(accepted([&] { (void)load_llama2c_model(seed); }));
  }
  for (const auto& seed : seeds("fuzz_gguf")) {
    INFO(seed.string());
    tally(accepted([&] {
      const GgufFile file(seed);
      for (const auto& t : file.tensors()) CHECK(file.read_f32(t.name).size() == t.elements());
      if (file.has("tokenizer.ggml.model")) accepted([&] { (void)GgufTokenizer(file).encode("Hello world", true); });
    }));
    tally(accepted([&] { (void)load_gguf_model(seed); }));
  }
  for (const auto& seed : seeds("fuzz_hf_config")) {
    INFO(seed.string());
    tally(accepted([&] { (void)read_hf_config(seed); }));
  }
  for (const auto& seed : seeds("fuzz_toml_config")) {
    INFO(seed.string());
    // The harness's input: TOML text, then after a NUL byte one override per line.
    const auto bytes = read_bytes(seed);
    const std::string input(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const auto nul = input.find('\0');
    std::vector<std::string> overrides;
    if (nul != std::string::npos) {
      std::string rest = input.substr(nul + 1);
      for (std::size_t eol; (eol = rest.find('\n')) != std::string::npos; rest.erase(0, eol + 1))
        overrides.push_back(rest.substr(0, eol));
      if (!rest.empty()) overrides.push_back(rest);
    }
    tally(accepted([&] {
      const auto c = parse_config(input.substr(0, nul), seed.filename().string(), overrides);
      CHECK(parse_config(config_to_toml(c), "roundtrip.toml").same_settings(c));
    }));
  }
  // The corpora hold both kinds on purpose (fuzz/make_corpus.py).
  CHECK(accepted_count > 10);
  CHECK(refused_count > 10);
}
