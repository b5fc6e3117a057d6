// TokenizerJson (io/formats/tokenizer_json.hpp) on small tokenizer.json texts
// written here: BPE merges by rank, the byte-level alphabet, added and
// special tokens, the pre-tokenizer steps, round trips, and a refusal naming
// the key for every setting it does not carry out.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "io/formats/text_tokenizer.hpp"
#include "io/formats/tokenizer_json.hpp"
#include "tests/support/temp_dir.hpp"

using spikesim::Error;
using spikesim::ExitCode;
using spikesim::TokenizerJson;
using spikesim::find_model_tokenizer;
using spikesim::open_tokenizer;
using json = nlohmann::json;

namespace {

// GPT-2's bytes_to_unicode written out again from its definition, so that the
// reader is checked against the rule rather than against itself.
std::string byte_char(int b) {
  const bool prints = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
  char32_t cp = static_cast<char32_t>(b);
  if (!prints) {
    int n = 0;
    for (int k = 0; k < b; ++k)
      if (!((k >= 0x21 && k <= 0x7E) || (k >= 0xA1 && k <= 0xAC) || (k >= 0xAE && k <= 0xFF))) ++n;
    cp = 0x100 + static_cast<char32_t>(n);
  }
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

std::string byte_level(std::string_view text) {
  std::string out;
  for (const char c : text) out += byte_char(static_cast<unsigned char>(c));
  return out;
}

json byte_level_step(bool add_prefix_space = false, bool use_regex = true) {
  return {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"trim_offsets", true}, {"use_regex", use_regex}};
}

// A byte-level BPE tokenizer.json in which every byte's character has the
// byte's value as id, so that without merges the ids are the text's bytes;
// `extra` tokens get 256, 257, ...
json make_tokenizer(const std::vector<std::string>& extra = {}, const json& merges = json::array()) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  int id = 256;
  for (const auto& token : extra) vocab[token] = id++;
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level_step()},
          {"post_processor", byte_level_step()},
          {"decoder", byte_level_step()},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr},
            {"fuse_unk", false},
            {"byte_fallback", false},
            {"ignore_merges", false},
            {"vocab", vocab},
            {"merges", merges}}}};
}

json added_token(int id, const std::string& content, bool special, bool normalized = false) {
  return {{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
          {"rstrip", false},   {"normalized", normalized}, {"special", special}};
}

TokenizerJson load(const json& j) {
  return TokenizerJson::parse(j.dump(), "test/tokenizer.json");
}

std::vector<int> bytes_of(std::string_view text) {
  std::vector<int> ids;
  for (const char c : text) ids.push_back(static_cast<unsigned char>(c));
  return ids;
}

int id_of(const TokenizerJson& t, const std::string& piece) {
  const int id = t.token_to_id(piece);
  REQUIRE(id >= 0);
  return id;
}

// The message of the Error(model) that loading `j` throws; fails otherwise.
std::string refusal(const std::string& text) {
  try {
    (void)TokenizerJson::parse(text, "test/tokenizer.json");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::model);
    const std::string message = e.what();
    CHECK(message.rfind("test/tokenizer.json: ", 0) == 0);
    return message;
  }
  FAIL("the tokenizer was accepted: " << text.substr(0, 200));
  return {};
}

std::string refusal(const json& j) {
  return refusal(j.dump());
}

// The message of the Error with `code` that `f` throws; fails otherwise.
template <class F>
std::string error_of(F&& f, ExitCode code) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.code() == code);
    return e.what();
  }
  FAIL("no Error was thrown");
  return {};
}

constexpr const char* kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Texts whose round trip through any lossless byte-level tokenizer must hold.
const std::vector<std::string>& round_trip_texts() {
  static const std::vector<std::string> texts = {
      "",
      " ",
      "a",
      "Hello, world!",
      "  leading and   inner   spaces\tand\ttabs\n\nnewlines\r\n",
      "trailing spaces   ",
      "numbers 1234567 3.14159 2026-12-01 0x1F",
      "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2014 \u201cquotes\u201d",
      "\u6771\u4eac\u306f\u65e5\u672c\u306e\u9996\u90fd\u3067\u3059\u3002",
      "emoji \U0001F680\U0001F525\U0001F44D\U0001F3FD ZWJ \U0001F468\u200D\U0001F469\u200D\U0001F467",
      "don't won't I'm we'll they've I'D",
      "control \x01\x02\x1f\x7f bytes",
      std::string("nul \0 inside", 12),
      "\u00a0nbsp\u2009thin\u3000ideographic",
      "e\u0301 combining",
      "\U0010FFFF last code point",
      "<|not an added token|>",
  };
  return texts;
}

}  // namespace

TEST_CASE("tokenizer.json: merges apply lowest rank first", "[tokenizer_json]") {
  SECTION("the lower-ranked pair merges first, even to the right") {
    const auto t = load(make_tokenizer({"ab", "bc", "abc"}, json{"b c", "a b"}));
    CHECK(t.encode("abc") == std::vector<int>{'a', id_of(t, "bc")});
  }
  SECTION("merges go on until no listed pair is left") {
    const auto t = load(make_tokenizer({"ab", "bc", "abc"}, json{"a b", "b c", "ab c"}));
    CHECK(t.encode("abc") == std::vector<int>{id_of(t, "abc")});
    CHECK(t.encode("abcab") == std::vector<int>{id_of(t, "abc"), id_of(t, "ab")});
  }
  SECTION("equal pairs merge from the left") {
    const auto t = load(make_tokenizer({"aa"}, json{"a a"}));
    CHECK(t.encode("aaa") == std::vector<int>{id_of(t, "aa"), 'a'});
    CHECK(t.encode("aaaa") == std::vector<int>{id_of(t, "aa"), id_of(t, "aa")});
  }
  SECTION("the [left, right] form reads as the string form") {
    const auto a = load(make_tokenizer({"ab", "bc", "abc"}, json{"b c", "a b", "a bc"}));
    const auto b = load(make_tokenizer(
        {"ab", "bc", "abc"}, json::array({json::array({"b", "c"}), json::array({"a", "b"}), json::array({"a", "bc"})})));
    for (const char* text : {"abc", "abcabc", "cab", "bca"}) CHECK(a.encode(text) == b.encode(text));
    CHECK(a.encode("abc") == std::vector<int>{a.token_to_id("abc")});
  }
  SECTION("a pair listed twice keeps its last rank") {
    // "a b" first at rank 0 would beat "b c" (rank 1); listed again at rank 2 it loses.
    const auto t = load(make_tokenizer({"ab", "bc"}, json{"a b", "b c", "a b"}));
    CHECK(t.encode("abc") == std::vector<int>{'a', id_of(t, "bc")});
  }
  SECTION("merges work on the byte-level characters") {
    const std::string space_the = byte_level(" the");
    const auto t = load(make_tokenizer({byte_level(" t"), byte_level(" th"), space_the},
                                       json{byte_level(" ") + " t", byte_level(" t") + " h", byte_level(" th") + " e"}));
    CHECK(t.encode("the the") == std::vector<int>{'t', 'h', 'e', id_of(t, space_the)});
    CHECK(t.piece(id_of(t, space_the)) == "\u0120the");
    CHECK(t.decode(t.encode("the the")) == "the the");
  }
  SECTION("a legacy merge line with several spaces is cut where both sides and their join are tokens") {
    // "x" + "y z" is no merge ("y z" is not a token); "x y" + "z" is.
    const auto t = load(make_tokenizer({"x y", "x yz"}, json{"x y z"}));
    CHECK(t.token_to_id("x yz") == 257);
    CHECK_THAT(refusal(make_tokenizer({"x y", "x yz", "y z", "xy z"}, json{"x y z"})), Catch::Contains("several places"));
  }
}

TEST_CASE("tokenizer.json: ignore_merges emits a pre-token found in vocab whole", "[tokenizer_json]") {
  // "abc" is in vocab but no merge makes it.
  json j = make_tokenizer({"ab", "abc"}, json{"a b"});
  SECTION("false: merges only") {
    const auto t = load(j);
    CHECK(t.encode("abc") == std::vector<int>{id_of(t, "ab"), 'c'});
  }
  SECTION("true: the whole pre-token") {
    j["model"]["ignore_merges"] = true;
    const auto t = load(j);
    CHECK(t.encode("abc") == std::vector<int>{id_of(t, "abc")});
    CHECK(t.encode("abc abc") == std::vector<int>{id_of(t, "abc"), ' ', id_of(t, "ab"), 'c'});
  }
}

TEST_CASE("tokenizer.json: the byte-level alphabet maps every byte to one character", "[tokenizer_json]") {
  const auto t = load(make_tokenizer());
  CHECK(t.vocab_size() == 256);
  CHECK(t.piece(' ') == "\u0120");   // Ġ
  CHECK(t.piece('\n') == "\u010A");  // Ċ
  CHECK(t.piece('\t') == "\u0109");
  CHECK(t.piece(0x00) == "\u0100");
  CHECK(t.piece(0x7F) == "\u0121");
  CHECK(t.piece(0xA0) == "\u0142");
  CHECK(t.piece(0xAD) == "\u0143");  // the last one
  CHECK(t.piece('a') == "a");
  CHECK(t.piece(0xE9) == "\u00e9");
  CHECK(t.piece(0xA1) == "\u00a1");
  SECTION("without merges the ids are the bytes, for any text") {
    for (const auto& text : round_trip_texts()) {
      CAPTURE(text);
      CHECK(t.encode(text) == bytes_of(text));
      CHECK(t.decode(t.encode(text)) == text);
    }
    std::string all;
    for (int b = 1; b < 128; ++b) all += static_cast<char>(b);
    CHECK(t.encode(all) == bytes_of(all));
  }
  SECTION("ids that split a character decode to U+FFFD, one per broken sequence") {
    CHECK(t.decode(std::vector<int>{0xC3}) == "\uFFFD");
    CHECK(t.decode(std::vector<int>{0xC3, 'a'}) == "\uFFFDa");
    CHECK(t.decode(std::vector<int>{0xE2, 0x82}) == "\uFFFD");
    CHECK(t.decode(std::vector<int>{0xE2, 0x82, 0xAC}) == "\u20ac");
    CHECK(t.decode(std::vector<int>{0xF0, 0x9F, 0x9A}) == "\uFFFD");
    CHECK(t.decode(std::vector<int>{0xFF, 0xFE}) == "\uFFFD\uFFFD");
    CHECK(t.decode(std::vector<int>{0xED, 0xA0, 0x80}) == "\uFFFD\uFFFD\uFFFD");  // a surrogate
    CHECK(t.decode(std::vector<int>{0xC0, 0xAF}) == "\uFFFD\uFFFD");              // overlong
  }
  SECTION("GPT-2's regex splits pre-tokens") {
    // With the merge " a" -> one token, only a space that the regex keeps in
    // front of a letter run can merge.
    const auto m = load(make_tokenizer({byte_level(" a")}, json{byte_level(" ") + " a"}));
    const int space_a = id_of(m, byte_level(" a"));
    CHECK(m.encode(" a a") == std::vector<int>{space_a, space_a});
    CHECK(m.encode("  a") == std::vector<int>{' ', space_a});  // \s+(?!\S) leaves one space to the word
    CHECK(m.encode("'s a") == std::vector<int>{'\'', 's', space_a});
  }
}

TEST_CASE("tokenizer.json: ByteLevel settings", "[tokenizer_json]") {
  json j = make_tokenizer({byte_level(" a")}, json{byte_level(" ") + " a"});
  SECTION("add_prefix_space puts a space before the text") {
    j["pre_tokenizer"] = byte_level_step(true, true);
    const auto t = load(j);
    const int space_a = id_of(t, byte_level(" a"));
    CHECK(t.encode("a") == std::vector<int>{space_a});
    CHECK(t.encode(" a") == std::vector<int>{space_a});
    CHECK(t.decode(t.encode("a")) == " a");  // as `tokenizers` decodes it
  }
  SECTION("use_regex false keeps the piece whole") {
    j["pre_tokenizer"] = byte_level_step(false, false);
    const auto t = load(j);
    const int space_a = id_of(t, byte_level(" a"));
    CHECK(t.encode("  a") == std::vector<int>{' ', space_a});
    CHECK(t.encode("x a") == std::vector<int>{'x', space_a});
  }
  SECTION("a bare ByteLevel and one inside a Sequence are the same") {
    const auto bare = load(j);
    j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", json::array({byte_level_step()})}};
    const auto in_sequence = load(j);
    for (const auto& text : round_trip_texts()) CHECK(bare.encode(text) == in_sequence.encode(text));
  }
}

TEST_CASE("tokenizer.json: Split steps cut as tokenizers does", "[tokenizer_json]") {
  // Merges that cross the cuts show where the pieces end.
  json j = make_tokenizer({"a-", "-b", "--", "ab"}, json{"a -", "- b", "- -", "a b"});
  const auto with_split = [&](const json& pattern, const char* behavior, bool invert = false) {
    json copy = j;
    copy["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         json::array({{{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", invert}},
                      byte_level_step(false, false)})}};
    return load(copy);
  };
  const json dash = {{"String", "-"}};
  const auto ids = [&](const TokenizerJson& t, std::initializer_list<const char*> pieces) {
    std::vector<int> out;
    for (const char* p : pieces) out.push_back(p[1] == 0 ? static_cast<unsigned char>(p[0]) : id_of(t, p));
    return out;
  };
  SECTION("no split: the merges run over the whole text") {
    j["pre_tokenizer"] = byte_level_step(false, false);
    const auto t = load(j);
    CHECK(t.encode("a-b") == ids(t, {"a-", "b"}));
  }
  SECTION("Isolated") {
    const auto t = with_split(dash, "Isolated");
    CHECK(t.encode("a-b") == ids(t, {"a", "-", "b"}));
    CHECK(t.encode("a--b") == ids(t, {"a", "-", "-", "b"}));
  }
  SECTION("Removed") {
    const auto t = with_split(dash, "Removed");
    CHECK(t.encode("a-b") == ids(t, {"a", "b"}));
  }
  SECTION("MergedWithPrevious") {
    const auto t = with_split(dash, "MergedWithPrevious");
    CHECK(t.encode("a-b") == ids(t, {"a-", "b"}));
    CHECK(t.encode("a--b") == ids(t, {"a-", "-", "b"}));
  }
  SECTION("MergedWithNext") {
    const auto t = with_split(dash, "MergedWithNext");
    CHECK(t.encode("a-b") == ids(t, {"a", "-b"}));
    CHECK(t.encode("a--b") == ids(t, {"a", "-", "-b"}));
  }
  SECTION("Contiguous") {
    const auto t = with_split(dash, "Contiguous");
    CHECK(t.encode("a--b") == ids(t, {"a", "--", "b"}));
  }
  SECTION("invert swaps what matched") {
    const auto t = with_split(json{{"Regex", "[ab]+"}}, "Removed", true);
    CHECK(t.encode("ab-ab") == ids(t, {"ab", "ab"}));
  }
  SECTION("a String pattern is literal") {
    const auto t = with_split(json{{"String", "."}}, "Removed");
    CHECK(t.encode("a.-b") == ids(t, {"a", "-b"}));
  }
  SECTION("^ and $ match at line ends, as in Oniguruma") {
    const auto t = with_split(json{{"Regex", "^a|b$"}}, "Removed");
    CHECK(t.encode("ab\nab") == ids(t, {"\n"}));
  }
  SECTION("a regex with Unicode classes and case folding") {
    const auto t = with_split(json{{"Regex", "(?i:'s)|\\p{L}+|\\p{N}{1,3}|\\s+"}}, "Isolated");
    CHECK(t.decode(t.encode("IT'S 12345 \u00e9t\u00e9")) == "IT'S 12345 \u00e9t\u00e9");
  }
}

TEST_CASE("tokenizer.json: regex budgets stop runaway patterns, not long pieces", "[tokenizer_json]") {
  json j = make_tokenizer();
  const auto with_regex = [&](const char* regex) {
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", "Isolated"},
                                        {"invert", false}},
                                       byte_level_step(false, false)})}};
    return load(j);
  };
  SECTION("a pattern that backtracks without end is an Error naming it") {
    const auto t = with_regex("(a*)*b");
    CHECK_THAT(error_of([&] { (void)t.encode(std::string(40, 'a')); }, ExitCode::data),
               Catch::Contains("pre_tokenizer.pretokenizers[0].pattern.Regex") && Catch::Contains("TIME_OUT"));
  }
  SECTION("a long run of white space fits the stack") {
    // Llama 3's pattern: \s*[\r\n]+ backtracks over the whole run before
    // \s+(?!\S) takes it, more than ICU's default 8 MB of stack.
    const auto t = with_regex(kLlama3Pattern);
    const std::string spaces(600000, ' ');
    CHECK(t.encode(spaces + "x").size() == spaces.size() + 1);
  }
}

TEST_CASE("tokenizer.json: Digits", "[tokenizer_json]") {
  json j = make_tokenizer({"12", "a1"}, json{"1 2", "a 1"});
  const auto with_digits = [&](bool individual) {
    json copy = j;
    copy["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers", json::array({{{"type", "Digits"}, {"individual_digits", individual}},
                                       byte_level_step(false, false)})}};
    return load(copy);
  };
  CHECK(with_digits(true).encode("a123") == std::vector<int>{'a', '1', '2', '3'});
  const auto contiguous = with_digits(false);
  CHECK(contiguous.encode("a123") == std::vector<int>{'a', id_of(contiguous, "12"), '3'});
  // Any numeric character counts, as in Rust's char::is_numeric.
  CHECK(with_digits(true).decode(with_digits(true).encode("\u00bd\u0663x")) == "\u00bd\u0663x");
}

TEST_CASE("tokenizer.json: added tokens are found in the text first", "[tokenizer_json]") {
  json j = make_tokenizer({"ab"}, json{"a b"});
  // Ids after vocab's 257 entries, in list order, as `tokenizers` gives them.
  j["added_tokens"] = json::array({added_token(257, "<|x|>", true), added_token(258, "<|x", true),
                                   added_token(259, "word", false, true), added_token(260, "<|begin|>", true)});
  const auto t = load(j);
  CHECK(t.vocab_size() == 261);
  CHECK(t.piece(257) == "<|x|>");
  CHECK(t.token_to_id("<|x|>") == 257);
  CHECK(t.token_to_id("ab") == 256);
  CHECK(t.token_to_id("nothing") == -1);
  SECTION("as their ids, the longest one where one starts") {
    CHECK(t.encode("ab<|x|>ab") == std::vector<int>{256, 257, 256});
    CHECK(t.encode("<|x|<|x") == std::vector<int>{258, '|', 258});
    CHECK(t.encode("awordb") == std::vector<int>{'a', 259, 'b'});
    CHECK(t.encode("<|x|><|x|>") == std::vector<int>{257, 257});
  }
  SECTION("a merge never reaches across an added token") {
    CHECK(t.encode("a<|x|>b") == std::vector<int>{'a', 257, 'b'});
  }
  SECTION("decoding gives their content unless special ones are skipped") {
    const std::vector<int> ids = {260, 256, 257, 259};
    CHECK(t.decode(ids) == "<|begin|>ab<|x|>word");
    CHECK(t.decode(ids, true) == "abword");
  }
  SECTION("round trips keep them") {
    for (const std::string text : {"<|begin|> is text", "x<|x|>y<|x", "words and word"}) CHECK(t.decode(t.encode(text)) == text);
  }
  SECTION("an added token may reuse the vocab id of the same string") {
    json k = make_tokenizer({"<|endoftext|>"});
    k["added_tokens"] = json::array({added_token(256, "<|endoftext|>", true)});
    const auto g = load(k);
    CHECK(g.encode("a<|endoftext|>") == std::vector<int>{'a', 256});
    CHECK(g.decode(std::vector<int>{'a', 256}, true) == "a");
  }
  SECTION("an added token whose content is outside the alphabet decodes as its text") {
    json k = make_tokenizer();
    k["added_tokens"] = json::array({added_token(256, "<|im start|>\n", false)});
    const auto g = load(k);
    CHECK(g.decode(g.encode("<|im start|>\nhi")) == "<|im start|>\nhi");
  }
}

TEST_CASE("tokenizer.json: lstrip, rstrip and single_word of added tokens", "[tokenizer_json]") {
  json j = make_tokenizer();
  auto mask = added_token(256, "<mask>", false);
  SECTION("lstrip and rstrip swallow white space, Unicode white space too") {
    mask["lstrip"] = true;
    mask["rstrip"] = true;
    mask["single_word"] = true;
    j["added_tokens"] = json::array({mask});
    const auto t = load(j);
    // The cases of tokenizers' test_lstrip_unicode_space.
    std::vector<int> want = bytes_of("Hi");
    want.push_back(256);
    for (int c : bytes_of("there")) want.push_back(c);
    want.push_back(256);
    want.push_back(256);
    CHECK(t.encode("Hi <mask> there\t<mask>\t<mask>\u2000") == want);
  }
  SECTION("single_word matches only between non-word characters") {
    mask["single_word"] = true;
    j["added_tokens"] = json::array({mask});
    const auto t = load(j);
    // The cases of tokenizers' test_single_word_is_correct.
    const std::string text = "<mask> My name <mask> A<mask> <mask>ony <mask>";
    std::vector<int> want = {256};
    for (int c : bytes_of(" My name ")) want.push_back(c);
    want.push_back(256);
    for (int c : bytes_of(" A<mask> <mask>ony ")) want.push_back(c);
    want.push_back(256);
    CHECK(t.encode(text) == want);
    // Punctuation and dashes are not word characters; a combining mark is.
    std::vector<int> want2 = {256};
    for (int c : bytes_of(", ")) want2.push_back(c);
    want2.push_back(256);
    for (int c : bytes_of("- \u25cc\u0330<mask>")) want2.push_back(c);
    CHECK(t.encode("<mask>, <mask>- \u25cc\u0330<mask>") == want2);
  }
  SECTION("lstrip alone keeps the space on the right") {
    mask["lstrip"] = true;
    j["added_tokens"] = json::array({mask});
    const auto t = load(j);
    CHECK(t.encode("a  <mask> b") == std::vector<int>{'a', 256, ' ', 'b'});
  }
}

TEST_CASE("tokenizer.json: normalizers and normalized added tokens", "[tokenizer_json]") {
  json j = make_tokenizer();
  SECTION("NFC composes before pre-tokenization") {
    j["normalizer"] = {{"type", "NFC"}};
    const auto t = load(j);
    CHECK(t.encode("e\u0301") == bytes_of("\u00e9"));
    CHECK(t.encode("plain ascii") == bytes_of("plain ascii"));
  }
  SECTION("a Sequence applies its normalizers in order") {
    j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFKD"}}, {{"type", "NFC"}}})}};
    const auto t = load(j);
    CHECK(t.encode("\ufb01 e\u0301") == bytes_of("fi \u00e9"));
  }
  SECTION("normalized added tokens match the normalized text, the others the raw text") {
    j["normalizer"] = {{"type", "NFC"}};
    j["added_tokens"] = json::array({added_token(256, "\u00e9t\u00e9", false, true), added_token(257, "o\u0301", true, false)});
    const auto t = load(j);
    CHECK(t.encode("e\u0301te\u0301") == std::vector<int>{256});
    CHECK(t.encode("\u00e9t\u00e9") == std::vector<int>{256});
    CHECK(t.encode("o\u0301") == std::vector<int>{257});
    CHECK(t.encode("\u00f3") == bytes_of("\u00f3"));
  }
}

TEST_CASE("tokenizer.json: unk_token stands for characters vocab lacks", "[tokenizer_json]") {
  json j = make_tokenizer({"<unk>"});
  j["model"]["vocab"].erase(byte_char('x'));
  j["model"]["vocab"].erase(byte_char('y'));
  SECTION("without unk_token encoding fails, naming it") {
    const auto t = load(j);
    const auto message = error_of([&] { (void)t.encode("axb"); }, ExitCode::model);
    CHECK_THAT(message, Catch::Contains("model.unk_token") && Catch::Contains("U+0078"));
    CHECK(t.encode("ab") == bytes_of("ab"));
  }
  SECTION("one unk per character") {
    j["model"]["unk_token"] = "<unk>";
    const auto t = load(j);
    CHECK(t.encode("axyb") == std::vector<int>{'a', 256, 256, 'b'});
    CHECK_THROWS_AS(t.piece('x'), Error);
  }
  SECTION("fuse_unk makes a run of them one") {
    j["model"]["unk_token"] = "<unk>";
    j["model"]["fuse_unk"] = true;
    const auto t = load(j);
    CHECK(t.encode("axyb") == std::vector<int>{'a', 256, 'b'});
  }
  SECTION("an unk_token vocab lacks fails when needed") {
    j["model"]["unk_token"] = "<missing>";
    const auto t = load(j);
    CHECK_THAT(error_of([&] { (void)t.encode("x"); }, ExitCode::model), Catch::Contains("model.unk_token"));
  }
}

TEST_CASE("tokenizer.json: BOS and EOS come from the TemplateProcessing", "[tokenizer_json]") {
  json j = make_tokenizer();
  j["added_tokens"] = json::array({added_token(256, "<s>", true), added_token(257, "</s>", true)});
  const json specials = {{"<s>", {{"id", "<s>"}, {"ids", {256}}, {"tokens", {"<s>"}}}},
                         {"</s>", {{"id", "</s>"}, {"ids", {257}}, {"tokens", {"</s>"}}}}};
  const json bos = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
  const json eos = {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}};
  const json a = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};
  SECTION("none: add_bos is an error naming post_processor") {
    const auto t = load(j);
    CHECK(t.bos_id() == -1);
    CHECK(t.eos_id() == -1);
    CHECK(t.encode("hi", false) == bytes_of("hi"));
    CHECK_THAT(error_of([&] { (void)t.encode("hi", true); }, ExitCode::model), Catch::Contains("post_processor"));
  }
  SECTION("a template that starts with a special token") {
    j["post_processor"] = {{"type", "TemplateProcessing"},
                           {"single", {bos, a}},
                           {"pair", {bos, a, bos, a}},
                           {"special_tokens", specials}};
    const auto t = load(j);
    CHECK(t.bos_id() == 256);
    CHECK(t.eos_id() == -1);
    CHECK(t.encode("hi", true) == std::vector<int>{256, 'h', 'i'});
    CHECK(t.encode("hi") == bytes_of("hi"));
  }
  SECTION("inside a Sequence, with an EOS at the end") {
    j["post_processor"] = {
        {"type", "Sequence"},
        {"processors", json::array({byte_level_step(), {{"type", "TemplateProcessing"},
                                                        {"single", {bos, a, eos}},
                                                        {"pair", {bos, a, eos}},
                                                        {"special_tokens", specials}}})}};
    const auto t = load(j);
    CHECK(t.bos_id() == 256);
    CHECK(t.eos_id() == 257);
  }
  SECTION("a template naming a token special_tokens lacks is refused") {
    j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", {bos, a}}, {"special_tokens", json::object()}};
    CHECK_THAT(refusal(j), Catch::Contains("post_processor.special_tokens"));
  }
}

TEST_CASE("tokenizer.json: round trips through a merging tokenizer", "[tokenizer_json]") {
  // A sample of merges over common pairs, spaces and multi-byte characters.
  std::vector<std::string> extra;
  json merges = json::array();
  const auto add = [&](const std::string& a, const std::string& b) {
    extra.push_back(a + b);
    merges.push_back(a + " " + b);
  };
  const std::string sp = byte_char(' '), nl = byte_char('\n');
  add(sp, "t");
  add(sp + "t", "h");
  add("e", "r");
  add(sp, sp);
  add(sp + sp, sp + sp);
  add(nl, nl);
  add(byte_level("\xC3"), byte_level("\xA9"));
  add(byte_level("\xE6"), byte_level("\x9D"));
  add("1", "2");
  add("'", "s");
  json j = make_tokenizer(extra, merges);
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array({{{"type", "Split"},
                     {"pattern", {{"Regex", kLlama3Pattern}}},
                     {"behavior", "Isolated"},
                     {"invert", false}},
                    byte_level_step(false, false)})}};
  for (const bool ignore : {false, true}) {
    j["model"]["ignore_merges"] = ignore;
    const auto t = load(j);
    for (const auto& text : round_trip_texts()) {
      CAPTURE(text, ignore);
      const auto ids = t.encode(text);
      CHECK(t.decode(ids) == text);
      for (const int id : ids) CHECK((id >= 0 && id < t.vocab_size()));
    }
    CHECK(t.encode("12345") == std::vector<int>{id_of(t, "12"), '3', '4', '5'});
    CHECK(t.encode("there") == std::vector<int>{'t', 'h', id_of(t, "er"), 'e'});
  }
}

TEST_CASE("tokenizer.json: bad ids and bad text are errors, not crashes", "[tokenizer_json]") {
  json j = make_tokenizer({"gap-before"});
  j["model"]["vocab"]["gap-before"] = 300;  // ids 256..299 belong to nothing
  const auto t = load(j);
  CHECK(t.vocab_size() == 301);
  CHECK_THAT(error_of([&] { (void)t.decode(std::vector<int>{1, 301}); }, ExitCode::data),
             Catch::Contains("301") && Catch::Contains("index 1"));
  CHECK_THAT(error_of([&] { (void)t.decode(std::vector<int>{-1}); }, ExitCode::data), Catch::Contains("-1"));
  CHECK_THAT(error_of([&] { (void)t.decode(std::vector<int>{270}); }, ExitCode::data), Catch::Contains("270"));
  CHECK_THAT(error_of([&] { (void)t.piece(270); }, ExitCode::data), Catch::Contains("270"));
  CHECK_THAT(error_of([&] { (void)t.piece(100000); }, ExitCode::data), Catch::Contains("100000"));
  CHECK_THAT(error_of([&] { (void)t.encode("ok \xC3("); }, ExitCode::data), Catch::Contains("UTF-8 at byte 3"));
  CHECK_THAT(error_of([&] { (void)t.encode("\xED\xA0\x80"); }, ExitCode::data), Catch::Contains("UTF-8"));
  CHECK(t.decode(std::vector<int>{}) == "");
  CHECK(t.encode("").empty());
}

TEST_CASE("tokenizer.json: files", "[tokenizer_json]") {
  const spikesim::test::TempDir dir("tokenizer_json");
  const auto file = dir / "tokenizer.json";
  {
    std::ofstream out(file, std::ios::binary);
    out << make_tokenizer({"ab"}, json{"a b"}).dump(2);
  }
  TokenizerJson t(file);
  CHECK(t.path() == file);
  CHECK(t.encode("ab") == std::vector<int>{256});
  TokenizerJson moved = std::move(t);
  CHECK(moved.encode("ab") == std::vector<int>{256});
  const auto missing = dir / "missing.json";
  CHECK_THAT(error_of([&] { TokenizerJson m(missing); }, ExitCode::model),
             Catch::Contains(missing.string()) && Catch::Contains("not found"));
}

// json::array, not braces, around one added token: clang reads `= {obj}` as a copy of the
// object where gcc builds a one-element array.
TEST_CASE("tokenizer.json: unsupported settings are refused by name", "[tokenizer_json]") {
  json j = make_tokenizer({"ab"}, json{"a b"});
  const auto refused = [&](auto&& edit, const char* key, const char* detail) {
    json copy = j;
    edit(copy);
    const std::string message = refusal(copy);
    CHECK_THAT(message, Catch::Contains(key) && Catch::Contains(detail));
  };
  refused([](json& c) { c["model"]["type"] = "WordPiece"; }, "model.type", "\"WordPiece\"");
  refused([](json& c) { c["model"]["type"] = "Unigram"; }, "model.type", "expected \"BPE\"");
  refused([](json& c) { c["model"].erase("type"); }, "model.type", "missing");
  refused([](json& c) { c["model"]["dropout"] = 0.1; }, "model.dropout", "0.1");
  refused([](json& c) { c["model"]["continuing_subword_prefix"] = "##"; }, "model.continuing_subword_prefix", "##");
  refused([](json& c) { c["model"]["end_of_word_suffix"] = "</w>"; }, "model.end_of_word_suffix", "</w>");
  refused([](json& c) { c["model"]["byte_fallback"] = true; }, "model.byte_fallback", "true");
  refused([](json& c) { c["model"]["ignore_merges"] = "yes"; }, "model.ignore_merges", "expected true or false");
  refused([](json& c) { c["normalizer"] = {{"type", "Lowercase"}}; }, "normalizer.type", "\"Lowercase\"");
  refused([](json& c) { c["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFC"}}, {{"type", "Strip"}}}}}; },
          "normalizer.normalizers[1].type", "\"Strip\"");
  refused([](json& c) { c["pre_tokenizer"] = {{"type", "Metaspace"}}; }, "pre_tokenizer.type", "\"Metaspace\"");
  refused([](json& c) { c["pre_tokenizer"] = nullptr; }, "pre_tokenizer", "ByteLevel");
  refused([](json& c) {
    c["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {byte_level_step(), {{"type", "Whitespace"}}}}};
  },
          "pre_tokenizer.pretokenizers[1].type", "\"Whitespace\"");
  refused([](json& c) {
    c["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Isolated"}, {"invert", false}};
  },
          "pre_tokenizer", "0 ByteLevel");
  refused([](json& c) {
    c["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {byte_level_step(), byte_level_step()}}};
  },
          "pre_tokenizer", "2 ByteLevel");
  const auto split = [](const json& pattern, const json& behavior) {
    return json{{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Split"}, {"pattern", pattern}, {"behavior", behavior}, {"invert", false}}, byte_level_step()}}};
  };
  refused([&](json& c) { c["pre_tokenizer"] = split({{"Regex", "\\s+"}}, "Bogus"); },
          "pre_tokenizer.pretokenizers[0].behavior", "\"Bogus\"");
  refused([&](json& c) { c["pre_tokenizer"] = split({{"Regex", "(unclosed"}}, "Isolated"); },
          "pre_tokenizer.pretokenizers[0].pattern.Regex", "cannot compile");
  refused([&](json& c) { c["pre_tokenizer"] = split({{"Regex", "\\h+"}}, "Isolated"); },
          "pre_tokenizer.pretokenizers[0].pattern.Regex", "\\h");
  refused([&](json& c) { c["pre_tokenizer"] = split({{"Regex", "(?m:a.b)"}}, "Isolated"); },
          "pre_tokenizer.pretokenizers[0].pattern.Regex", "(?m)");
  refused([&](json& c) { c["pre_tokenizer"] = split({{"Glob", "*"}}, "Isolated"); },
          "pre_tokenizer.pretokenizers[0].pattern", "Regex");
  refused([](json& c) { c["decoder"] = {{"type", "WordPiece"}}; }, "decoder.type", "\"WordPiece\"");
  refused([](json& c) { c["decoder"] = nullptr; }, "decoder", "ByteLevel");
  refused([](json& c) { c["post_processor"] = {{"type", "RobertaProcessing"}}; }, "post_processor.type",
          "\"RobertaProcessing\"");
  refused([](json& c) { c["added_tokens"] = json::array({added_token(257, "<a>", true), added_token(258, "<a>", true)}); },
          "added_tokens[1].content", "added_tokens[0]");
  refused([](json& c) { c["added_tokens"] = json::array({added_token(257, "<a>", true), added_token(257, "<b>", true)}); },
          "added_tokens[1].id", "added_tokens[0]");
  refused([](json& c) { c["added_tokens"] = json::array({added_token(5, "<a>", true)}); }, "added_tokens[0].id", "model.vocab");
  refused([](json& c) { c["added_tokens"] = json::array({added_token(300, "<a>", true)}); }, "added_tokens[0].id", "257");
  refused([](json& c) { c["added_tokens"] = json::array({added_token(258, "<a>", true), added_token(257, "<b>", true)}); },
          "added_tokens[0].id", "257");
  refused([](json& c) {
    c["model"]["vocab"]["gap"] = 258;  // vocab has 258 entries, so the added token gets 258 too
    c["added_tokens"] = json::array({added_token(258, "<a>", true)});
  },
          "added_tokens[0].id", "model.vocab's id for \"gap\"");
  refused([](json& c) { c["added_tokens"] = json::array({added_token(300, "ab", false)}); }, "added_tokens[0].id", "256");
  refused([](json& c) { c["added_tokens"] = json::array({added_token(300, "", false)}); }, "added_tokens[0].content", "empty");
  refused([](json& c) { c["added_tokens"] = {{{"content", "<a>"}}}; }, "added_tokens[0].id", "missing");
  refused([](json& c) { c["added_tokens"] = {{{"id", 300}, {"content", "<a>"}, {"lstrip", 1}}}; },
          "added_tokens[0].lstrip", "expected true or false");
  refused([](json& c) { c["model"]["vocab"]["ab"] = 5; }, "model.vocab", "id 5");
  refused([](json& c) { c["model"]["vocab"]["ab"] = -1; }, "model.vocab[\"ab\"]", "-1");
  refused([](json& c) { c["model"]["vocab"]["ab"] = 1.5; }, "model.vocab[\"ab\"]", "1.5");
  refused([](json& c) { c["model"]["vocab"]["ab"] = 1 << 30; }, "model.vocab[\"ab\"]", "outside");
  refused([](json& c) { c["model"]["vocab"] = json::array(); }, "model.vocab", "object");
  refused([](json& c) { c["model"]["merges"] = {"a x9"}; }, "model.merges[0]", "\"x9\"");
  refused([](json& c) { c["model"]["merges"] = {"a b", "b c"}; }, "model.merges[1]", "\"bc\"");
  refused([](json& c) { c["model"]["merges"] = {"ab"}; }, "model.merges[0]", "one space");
  refused([](json& c) { c["model"]["merges"] = {7}; }, "model.merges[0]", "7");
  refused([](json& c) { c["model"]["merges"] = {{"a", "b", "c"}}; }, "model.merges[0]", "expected");
  refused([](json& c) { c["model"].erase("merges"); }, "model.merges", "missing");
  refused([](json& c) { c.erase("model"); }, "model", "missing");
  refused([](json& c) { c["post_processor"] = {{"type", "TemplateProcessing"}, {"single", "$A"}}; },
          "post_processor.single", "list");
}

TEST_CASE("tokenizer.json: malformed JSON is refused, naming the file", "[tokenizer_json]") {
  const std::vector<std::string> texts = {"",
                                          "{",
                                          "[]",
                                          "null",
                                          "{\"model\": }",
                                          "{\"model\": {\"type\": \"BPE\"",
                                          "\xff\xfe",
                                          "{\"model\": \"\xc3\x28\"}",
                                          std::string(100000, '[')};
  for (const std::string& text : texts) {
    CAPTURE(text.substr(0, 40));
    const std::string message = refusal(text);
    CHECK(message.size() > std::string("test/tokenizer.json: ").size());
  }
  CHECK_THAT(refusal(std::string("{")), Catch::Contains("not valid JSON"));
  CHECK_THAT(refusal(std::string("[1, 2]")), Catch::Contains("expected a JSON object"));
}

TEST_CASE("a model folder's tokenizer: tokenizer.model first, else tokenizer.json, chosen by file name",
          "[tokenizer_json]") {
  spikesim::test::TempDir dir("tokenizer_choice");
  CHECK(find_model_tokenizer(dir.path()).empty());
  CHECK(find_model_tokenizer(dir / "no_such_folder").empty());
  std::ofstream(dir / "tokenizer.json") << make_tokenizer().dump();
  CHECK(find_model_tokenizer(dir.path()) == dir / "tokenizer.json");
  const auto t = open_tokenizer(find_model_tokenizer(dir.path()));
  CHECK(t->encode("hi", false) == bytes_of("hi"));
  CHECK(t->bos_id() == -1);  // a ByteLevel post-processor names no BOS
  std::ofstream(dir / "tokenizer.model") << "not a sentencepiece model";
  CHECK(find_model_tokenizer(dir.path()) == dir / "tokenizer.model");
  // A .model file goes to sentencepiece, which refuses this one by name.
  const std::string message = error_of([&] { (void)open_tokenizer(dir / "tokenizer.model"); }, ExitCode::model);
  CHECK_THAT(message, Catch::Contains("tokenizer.model"));
}
