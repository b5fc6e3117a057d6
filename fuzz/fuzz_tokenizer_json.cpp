// Fuzzes the Hugging Face tokenizer.json reader (io/formats/tokenizer_json.hpp,
// TokenizerJson::parse): JSON syntax, the model, vocab and merges checks,
// added tokens, normalizers, the pre-tokenizer steps and their regexes (run
// by ICU), the post-processor template. A file it accepts then encodes and
// decodes a few fixed texts.
//
// Seeds: fuzz/corpus/fuzz_tokenizer_json/; dictionary fuzz/dict/json.dict.
// Running it: docs/fuzzing.md.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "io/formats/tokenizer_json.hpp"

using namespace spikesim;

namespace {

constexpr std::array<std::string_view, 8> kTexts = {
    "",
    "a",
    "Hello, world! It's 2026.",
    "  two  spaces\n\ttab\r\n",
    "x<|y|>z <s> 1234567",
    "don't WON'T",
    "caf\xc3\xa9 \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x9a\x80",
    "\x01\x7f end ",
};

bool is_ascii(std::string_view s) {
  for (const char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int n = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (b < 0x80) {
      ++i;
      continue;
    }
    if (b >= 0xC2 && b <= 0xDF) {
      n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      n = 2;
      lo = b == 0xE0 ? 0xA0 : 0x80;
      hi = b == 0xED ? 0x9F : 0xBF;
    } else if (b >= 0xF0 && b <= 0xF4) {
      n = 3;
      lo = b == 0xF0 ? 0x90 : 0x80;
      hi = b == 0xF4 ? 0x8F : 0xBF;
    } else {
      return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + static_cast<std::size_t>(k) >= s.size()) return false;
      const auto c = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if (c < lo || c > hi) return false;
      lo = 0x80;
      hi = 0xBF;
    }
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

// Whether some pre-tokenizer step drops text (Removed) or adds some (a
// ByteLevel whose add_prefix_space is not false).
bool pre_tokenizer_changes_text(const nlohmann::json& v) {
  if (v.is_array()) {
    for (const auto& item : v)
      if (pre_tokenizer_changes_text(item)) return true;
    return false;
  }
  if (!v.is_object()) return false;
  if (const auto it = v.find("behavior"); it != v.end() && *it == "Removed") return true;
  if (const auto it = v.find("type"); it != v.end() && *it == "ByteLevel") {
    const auto prefix = v.find("add_prefix_space");
    if (prefix == v.end() || *prefix != false) return true;
  }
  for (const auto& item : v)
    if (pre_tokenizer_changes_text(item)) return true;
  return false;
}

// A bool setting of an added token as the reader takes it (null or absent: the default).
bool flag(const nlohmann::json& token, const char* name, bool fallback) {
  const auto it = token.find(name);
  return it != token.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// decode(encode(s)) == s is promised for ASCII s unless the file itself asks
// for a change: a step above, an unk token for characters vocab lacks, added
// tokens that swallow white space, or normalized added tokens whose
// normalized form (ASCII, say) is not their content.
bool round_trip_promised(const nlohmann::json& root) {
  if (const auto pre = root.find("pre_tokenizer"); pre != root.end() && pre_tokenizer_changes_text(*pre))
    return false;
  if (const auto model = root.find("model"); model != root.end() && model->is_object()) {
    const auto unk = model->find("unk_token");
    if (unk != model->end() && !unk->is_null()) return false;
  }
  const auto normalizer = root.find("normalizer");
  const bool normalizes = normalizer != root.end() && !normalizer->is_null();
  if (const auto added = root.find("added_tokens"); added != root.end() && added->is_array())
    for (const auto& t : *added) {
      if (flag(t, "lstrip", false) || flag(t, "rstrip", false)) return false;
      if (normalizes && flag(t, "normalized", !flag(t, "special", false))) return false;
    }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  std::optional<TokenizerJson> tok;
  fuzz::accepts([&] { tok.emplace(TokenizerJson::parse(text, "fuzz/tokenizer.json")); });
  if (!tok) return 0;

  // What an accepted file promises: ids in range, each naming a token whose
  // string leads back to it, decoding to valid UTF-8.
  const int n = tok->vocab_size();
  FUZZ_CHECK(n >= 0);
  FUZZ_CHECK(tok->bos_id() >= -1 && tok->bos_id() < n);
  FUZZ_CHECK(tok->eos_id() >= -1 && tok->eos_id() < n);
  const bool round_trip = round_trip_promised(nlohmann::json::parse(text));
  for (const std::string_view s : kTexts) {
    fuzz::accepts([&] {
      const std::vector<int> ids = tok->encode(s);
      for (const int id : ids) {
        FUZZ_CHECK(id >= 0 && id < n);
        FUZZ_CHECK(tok->token_to_id(tok->piece(id)) == id);
      }
      const std::string back = tok->decode(ids);
      FUZZ_CHECK(is_utf8(back));
      FUZZ_CHECK(is_utf8(tok->decode(ids, true)));
      if (round_trip && is_ascii(s)) FUZZ_CHECK(back == s);
      if (tok->bos_id() >= 0) {
        const std::vector<int> with_bos = tok->encode(s, true);
        FUZZ_CHECK(with_bos.size() == ids.size() + 1 && with_bos[0] == tok->bos_id());
        FUZZ_CHECK(std::equal(ids.begin(), ids.end(), with_bos.begin() + 1));
      }
    });
  }
  return 0;
}
