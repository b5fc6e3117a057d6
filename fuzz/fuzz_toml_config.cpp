// Fuzzes the run configuration (io/config/config.hpp, parse_config): TOML syntax,
// unknown keys and sections, types, ranges, choices, the rules between keys,
// and the `--set key=value` overrides.
//
// Input: TOML text, optionally followed by a NUL byte and `--set` overrides,
// one per line. An accepted config must survive its own round trip:
// parse_config(config_to_toml(c)) gives the same settings back.
//
// Seeds: fuzz/corpus/fuzz_toml_config/ (fuzz/make_corpus.py); dictionary
// fuzz/dict/toml.dict. Running it: docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "io/config/config.hpp"

using namespace spikesim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const auto nul = input.find('\0');
  const std::string_view toml_text = input.substr(0, nul);
  std::vector<std::string> overrides;
  if (nul != std::string_view::npos) {
    std::string_view rest = input.substr(nul + 1);
    while (!rest.empty()) {
      const auto eol = rest.find('\n');
      overrides.emplace_back(rest.substr(0, eol));
      if (eol == std::string_view::npos) break;
      rest = rest.substr(eol + 1);
    }
  }
  fuzz::accepts([&] {
    const SimConfig c = parse_config(toml_text, "fuzz.toml", overrides);
    SimConfig again;
    const bool reparsed = fuzz::accepts([&] { again = parse_config(config_to_toml(c), "roundtrip.toml"); });
    FUZZ_CHECK(reparsed);
    FUZZ_CHECK(again.same_settings(c));
  });
  return 0;
}
