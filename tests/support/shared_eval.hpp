#pragma once
// `eval` on the shared models with --set overrides: the validation tests of
// weight formats (test_weight_fidelity.cpp, test_weight_spiking.cpp).
#include <filesystem>
#include <string>
#include <vector>

#include "io/config/config.hpp"
#include "sim/evaluation.hpp"

namespace spikesim::test {

struct SharedModel {
  const char* path;
  const char* tokens;
  bool rows;  // the token file is rows of 256 (stories260K), else windows
};
inline constexpr SharedModel kBrownLlamaS{"models/brown-llama-s", "models/brown-llama-s/dev_tokens.i32",
                                          false};
inline constexpr SharedModel kStories260K{"models/stories260K/stories260K.bin",
                                          "models/stories260K/sampled_tokens.i32", true};

// 16 windows (or rows) of 256 tokens, quantized mode, KV spiking off, unless `settings` say otherwise.
inline nlohmann::json evaluate_shared(const SharedModel& m, const std::filesystem::path& model,
                                      const std::filesystem::path& tokens,
                                      const std::vector<std::string>& settings) {
  std::vector<std::string> o = {"run.mode=quantized",
                                "record.enabled=false",
                                "run.progress=false",
                                "eval.windows=16",
                                "eval.seq=256",
                                "encoding.kv_spiking=false",
                                "model.path=\"" + model.string() + "\"",
                                "input.token_file=\"" + tokens.string() + "\""};
  if (m.rows) o.emplace_back("eval.rows=true");
  o.insert(o.end(), settings.begin(), settings.end());
  return evaluate(parse_config("", "shared model", o));
}

inline std::vector<std::string> plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace spikesim::test
