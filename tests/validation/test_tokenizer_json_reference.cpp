// TokenizerJson against the Hugging Face `tokenizers` library on the real
// Llama 3 tokenizer: shared/models/families/llama3-tiny/tokenizer.json and
// tokenizer_reference.json beside it, a list of {"text", "ids"} that
// `tokenizers` produced (no BOS/EOS added; special tokens written in a text
// are recognised). Missing files fail the test in CI and skip it elsewhere
// (tests/support/shared_data.hpp).
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/formats/tokenizer_json.hpp"
#include "tests/support/shared_data.hpp"

using spikesim::TokenizerJson;

namespace {

constexpr const char* kTokenizer = "models/families/llama3-tiny/tokenizer.json";
constexpr const char* kReference = "models/families/llama3-tiny/tokenizer_reference.json";

std::string show_ids(const TokenizerJson& tok, const std::vector<int>& ids, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < ids.size() && i < from + 6; ++i) {
    out += std::to_string(ids[i]);
    // Appended piece by piece: gcc 12 warns (-Wrestrict, a false positive) on "(" + std::string&&.
    if (ids[i] >= 0 && ids[i] < tok.vocab_size()) out.append("(").append(tok.piece(ids[i])).append(")");
    out += " ";
  }
  return out;
}

}  // namespace

TEST_CASE("tokenizer.json: Llama 3 encodes every reference text as tokenizers does", "[tokenizer_json][validation]") {
  SPIKESIM_REQUIRE_SHARED(tokenizer_file, kTokenizer);
  SPIKESIM_REQUIRE_SHARED(reference_file, kReference);
  const TokenizerJson tok(tokenizer_file);
  REQUIRE(tok.vocab_size() == 128256);

  std::ifstream in(reference_file);
  const auto reference = nlohmann::json::parse(in);
  REQUIRE(reference.is_array());
  REQUIRE(!reference.empty());
  for (std::size_t i = 0; i < reference.size(); ++i) {
    const std::string text = reference[i].at("text").get<std::string>();
    const std::vector<int> want = reference[i].at("ids").get<std::vector<int>>();
    const std::vector<int> got = tok.encode(text);
    std::size_t first_difference = 0;
    while (first_difference < got.size() && first_difference < want.size() &&
           got[first_difference] == want[first_difference])
      ++first_difference;
    INFO("reference text " << i << ": " << text.substr(0, 120));
    INFO("first difference at token " << first_difference << ": got " << show_ids(tok, got, first_difference)
                                      << "/ want " << show_ids(tok, want, first_difference));
    CHECK(got == want);
    CHECK(tok.decode(got) == text);
  }
}

TEST_CASE("tokenizer.json: Llama 3 special tokens and round trips", "[tokenizer_json][validation]") {
  SPIKESIM_REQUIRE_SHARED(tokenizer_file, kTokenizer);
  const TokenizerJson tok(tokenizer_file);
  const int begin = tok.token_to_id("<|begin_of_text|>");
  const int eot = tok.token_to_id("<|eot_id|>");
  REQUIRE(begin >= 0);
  REQUIRE(eot >= 0);
  const auto ids = tok.encode("<|begin_of_text|>Hi<|eot_id|>");
  REQUIRE(ids.size() >= 3);
  CHECK(ids.front() == begin);
  CHECK(ids.back() == eot);
  CHECK(tok.decode(ids) == "<|begin_of_text|>Hi<|eot_id|>");
  CHECK(tok.decode(ids, true) == "Hi");
  CHECK(tok.piece(begin) == "<|begin_of_text|>");

  for (const std::string text : {"", " ", "\n\n\n", "   x", "a\r\nb", "tab\t\tend\t", "\u00a0\u2009\u3000",
                                 "1234567890 12 1", "I'M YOU'RE it'S", "\U0001F9D1\u200D\U0001F4BB \u0915\u094D\u0937",
                                 "\xF0\x9F\x98\x80\xF0\x9F\x98\x80", "<|eot_id", "<|reserved_special_token_5|>x"}) {
    CAPTURE(text);
    CHECK(tok.decode(tok.encode(text)) == text);
  }
  // Each id alone decodes to valid UTF-8, a lone byte of a character to U+FFFD.
  const auto euro = tok.encode("\u20ac");
  std::string joined;
  for (const int id : euro) joined += tok.decode(std::vector<int>{id});
  CHECK((euro.size() == 1 ? joined == "\u20ac" : joined.find("\uFFFD") != std::string::npos));
}
