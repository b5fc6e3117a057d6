#include "io/formats/tokenizer_json.hpp"

#include <unicode/normalizer2.h>
#include <unicode/regex.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utf16.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <utility>
#include <variant>

#include "core/error.hpp"

namespace spikesim {
namespace {

using json = nlohmann::json;

// Real vocabularies stay below 300k ids; the bound keeps a hostile file from
// making us allocate a table for billions of ids.
constexpr std::int64_t kIdLimit = std::int64_t{1} << 22;
// Deep enough for any real file, shallow enough that recursion stays cheap.
constexpr int kMaxNesting = 16;
// ICU's budgets for one find(), grown with the piece searched: a long run of
// letters or spaces must pass (Oniguruma has no limits), a pattern that
// backtracks without end must stop. A tick is about ten thousand engine steps
// (1000 ticks take some 0.1 s); real patterns take a few steps a character,
// and the backtracking stack some 20-40 bytes a character.
constexpr std::size_t kRegexBaseTicks = 1000;
constexpr std::size_t kRegexUnitsPerTick = 50;
constexpr std::size_t kRegexStackBytesPerUnit = 128;
constexpr std::size_t kRegexMinStackBytes = std::size_t{8} << 20;
// ICU indexes text with int32_t.
constexpr std::size_t kMaxTextBytes = std::size_t{1} << 30;

constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// ---------------------------------------------------------------- UTF-8

// Decodes the sequence at s[i]. Returns its length, or minus the length of the
// maximal ill-formed subpart there (Unicode 15 §3.9, the count Rust's
// String::from_utf8_lossy uses) when the bytes are not well-formed UTF-8.
int utf8_next(std::string_view s, std::size_t i, char32_t& cp) {
  const auto at = [&](std::size_t k) -> unsigned {
    return k < s.size() ? static_cast<unsigned char>(s[k]) : 0x100u;
  };
  const unsigned b0 = at(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  int need = 0;
  unsigned lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return -1;
  }
  for (int k = 1; k <= need; ++k) {
    const unsigned b = at(i + static_cast<std::size_t>(k));
    if (b < lo || b > hi) return -k;
    cp = (cp << 6) | (b & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::optional<std::size_t> first_invalid_utf8(std::string_view s) {
  char32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    const int n = utf8_next(s, i, cp);
    if (n < 0) return i;
    i += static_cast<std::size_t>(n);
  }
  return std::nullopt;
}

// Ids that split a character decode to broken UTF-8; `tokenizers` hands the
// bytes to from_utf8_lossy, so one U+FFFD per maximal ill-formed subpart.
std::string lossy_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  char32_t cp = 0;
  for (std::size_t i = 0; i < s.size();) {
    const int n = utf8_next(s, i, cp);
    if (n > 0) {
      out.append(s.substr(i, static_cast<std::size_t>(n)));
      i += static_cast<std::size_t>(n);
    } else {
      out += "\xEF\xBF\xBD";
      i += static_cast<std::size_t>(-n);
    }
  }
  return out;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Code point starting at s[i] of a string known to be valid, and its length.
std::pair<char32_t, std::size_t> cp_at(std::string_view s, std::size_t i) {
  char32_t cp = 0;
  const int n = utf8_next(s, i, cp);
  if (n < 0) return {0xFFFD, static_cast<std::size_t>(-n)};
  return {cp, static_cast<std::size_t>(n)};
}

// Code point ending at s[i] (exclusive) of a valid string, and where it starts.
std::pair<char32_t, std::size_t> cp_before(std::string_view s, std::size_t i) {
  std::size_t b = i - 1;
  while (b > 0 && (static_cast<unsigned char>(s[b]) & 0xC0) == 0x80 && i - b < 4) --b;
  return {cp_at(s, b).first, b};
}

std::string quote_cp(char32_t cp) {
  std::string shown;
  if (cp >= 0x20 && cp != 0x7F) append_utf8(shown, cp);
  return shown.empty() ? fmt::format("U+{:04X}", static_cast<std::uint32_t>(cp))
                       : fmt::format("'{}' (U+{:04X})", shown, static_cast<std::uint32_t>(cp));
}

// ------------------------------------------------- character properties
// The properties Rust's char and regex crates use, as ICU knows them.

bool is_white_space(char32_t c) {
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE) != 0;
}

// Rust regex \w: Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control.
bool is_word_char(char32_t c) {
  const auto u = static_cast<UChar32>(c);
  return u_hasBinaryProperty(u, UCHAR_ALPHABETIC) != 0 ||
         (U_GET_GC_MASK(u) & (U_GC_M_MASK | U_GC_ND_MASK | U_GC_PC_MASK)) != 0 ||
         u_hasBinaryProperty(u, UCHAR_JOIN_CONTROL) != 0;
}

// Rust char::is_numeric: general category Nd, Nl or No.
bool is_numeric(char32_t c) {
  return (U_GET_GC_MASK(static_cast<UChar32>(c)) & U_GC_N_MASK) != 0;
}

// ------------------------------------------------- byte-level alphabet

// GPT-2's bytes_to_unicode: bytes that print as themselves keep their code
// point, the 68 others get U+0100, U+0101, ... in byte order, so that every
// byte is one visible character and a token never holds a raw space.
struct ByteAlphabet {
  std::array<std::string, 256> to_char;     // byte -> UTF-8 of its character
  std::array<std::int16_t, 0x144> to_byte;  // code point -> byte, -1 outside
};

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet = [] {
    ByteAlphabet a;
    a.to_byte.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool prints = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      const char32_t cp = prints ? static_cast<char32_t>(b) : next++;
      append_utf8(a.to_char[static_cast<std::size_t>(b)], cp);
      a.to_byte[cp] = static_cast<std::int16_t>(b);
    }
    return a;
  }();
  return alphabet;
}

std::string to_byte_level(std::string_view s) {
  const auto& a = byte_alphabet();
  std::string out;
  out.reserve(s.size() * 2);
  for (const char c : s) out += a.to_char[static_cast<unsigned char>(c)];
  return out;
}

// The ByteLevel decoder's rule for one token: its characters' bytes when all
// of them are in the alphabet, else the token's own UTF-8.
void append_token_bytes(std::string_view token, std::string& out) {
  const auto& a = byte_alphabet();
  const std::size_t mark = out.size();
  for (std::size_t i = 0; i < token.size();) {
    const auto [cp, n] = cp_at(token, i);
    i += n;
    if (cp >= a.to_byte.size() || a.to_byte[cp] < 0) {
      out.resize(mark);
      out.append(token);
      return;
    }
    out += static_cast<char>(a.to_byte[cp]);
  }
}

// ------------------------------------------------------------- JSON

// Not noexcept on purpose: libstdc++ then keeps each node's hash, and a
// lookup no longer rehashes every string along its bucket chain (a third of
// the loading time of a 128k vocabulary otherwise).
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIds = std::unordered_map<std::string, int, StringHash, std::equal_to<>>;

class Reader {
 public:
  explicit Reader(const std::string& source) : source_(source) {}
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(ExitCode::model, fmt::format("{}: {}: {}", source_, key, what));
  }
  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  const std::string& source_;
};

std::string join(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : fmt::format("{}.{}", path, name);
}

std::string at_index(const std::string& path, std::size_t i) {
  return fmt::format("{}[{}]", path, i);
}

// A JSON value as a message shows it: short values themselves, others by type.
std::string describe(const json& v) {
  if (v.is_string() || v.is_number() || v.is_boolean()) {
    std::string text = v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > 60) {
      std::size_t cut = 60;
      while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
      text = text.substr(0, cut) + "...";
    }
    return text;
  }
  return v.is_null() ? "null" : fmt::format("an {}", v.type_name());
}

const json* member(const json& obj, const char* name) {
  const auto it = obj.find(name);
  return it == obj.end() ? nullptr : &*it;
}

const json* member_or_null(const json& obj, const char* name) {
  const json* v = member(obj, name);
  return v == nullptr || v->is_null() ? nullptr : v;
}

bool read_bool(const Reader& r, const json& obj, const std::string& path, const char* name, bool fallback) {
  const json* v = member_or_null(obj, name);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) r.fail(join(path, name), fmt::format("expected true or false, found {}", describe(*v)));
  return v->get<bool>();
}

const std::string& read_string(const Reader& r, const json& obj, const std::string& path, const char* name,
                               const char* expected) {
  const json* v = member(obj, name);
  if (v == nullptr) r.fail(join(path, name), fmt::format("missing (expected {})", expected));
  if (!v->is_string()) r.fail(join(path, name), fmt::format("expected {}, found {}", expected, describe(*v)));
  return v->get_ref<const std::string&>();
}

void require_object(const Reader& r, const json& v, const std::string& key, const char* expected) {
  if (!v.is_object()) r.fail(key, fmt::format("expected {}, found {}", expected, describe(v)));
}

// `key` makes the name of the value for a message; it is called only then,
// since vocab has a hundred thousand of them.
template <class Key>
int read_id_lazy(const Reader& r, const json& v, Key&& key) {
  if (!v.is_number_integer())
    r.fail(key(), fmt::format("expected a token id (an integer in [0, {})), found {}", kIdLimit, describe(v)));
  const bool in_range = v.is_number_unsigned() ? v.get<std::uint64_t>() < static_cast<std::uint64_t>(kIdLimit)
                                               : v.get<std::int64_t>() >= 0 && v.get<std::int64_t>() < kIdLimit;
  if (!in_range) r.fail(key(), fmt::format("token id {} is outside [0, {})", v.dump(), kIdLimit));
  return static_cast<int>(v.get<std::int64_t>());
}

int read_id(const Reader& r, const json& v, const std::string& key) {
  return read_id_lazy(r, v, [&] { return key; });
}

// ------------------------------------------------------------ regex

// Oniguruma (what `tokenizers` runs) and ICU read these constructs
// differently; anything else in tokenizer patterns means the same to both.
std::optional<std::string> onig_icu_difference(std::string_view re) {
  int class_depth = 0;
  for (std::size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 < re.size() && (re[i + 1] == 'h' || re[i + 1] == 'H'))
        return fmt::format("\\{} (a hex digit class in Oniguruma, horizontal space in ICU)", re[i + 1]);
      ++i;
    } else if (c == '[') {
      ++class_depth;
    } else if (c == ']' && class_depth > 0) {
      --class_depth;
    } else if (c == '(' && class_depth == 0 && i + 1 < re.size() && re[i + 1] == '?') {
      std::size_t j = i + 2;
      while (j < re.size() && ((re[j] >= 'a' && re[j] <= 'z') || (re[j] >= 'A' && re[j] <= 'Z') || re[j] == '-'))
        ++j;
      if (j > i + 2 && j < re.size() && (re[j] == ':' || re[j] == ')')) {
        const std::string_view options = re.substr(i + 2, j - i - 2);
        if (options.find_first_not_of("ix-") != std::string_view::npos)
          return fmt::format("the group option (?{}) (only i and x mean the same in Oniguruma and ICU)", options);
      }
    }
  }
  return std::nullopt;
}

// Oniguruma's defaults as `tokenizers` uses them: ^ and $ also match at line
// ends, and \n is the only line end.
std::unique_ptr<icu::RegexPattern> compile_regex(const Reader& r, const std::string& key, std::string_view pattern,
                                                 bool literal) {
  if (pattern.size() > static_cast<std::size_t>(INT32_MAX / 2)) r.fail(key, "the pattern is too long");
  UParseError where{};
  UErrorCode status = U_ZERO_ERROR;
  const auto text = icu::UnicodeString::fromUTF8(icu::StringPiece(pattern.data(), static_cast<int32_t>(pattern.size())));
  const std::uint32_t flags = literal && !pattern.empty() ? UREGEX_LITERAL : (UREGEX_MULTILINE | UREGEX_UNIX_LINES);
  std::unique_ptr<icu::RegexPattern> compiled(icu::RegexPattern::compile(text, flags, where, status));
  if (U_FAILURE(status) || !compiled)
    r.fail(key, fmt::format("cannot compile the regex: {} at line {}, offset {}", u_errorName(status), where.line,
                            where.offset));
  return compiled;
}

// Text converted once for ICU, with the UTF-8 offset of every UTF-16 unit.
struct Utf16Text {
  std::u16string units;
  std::vector<std::uint32_t> byte_of;  // one more entry than units: the end

  void assign(std::string_view s) {
    units.clear();
    byte_of.clear();
    for (std::size_t i = 0; i < s.size();) {
      const auto [cp, n] = cp_at(s, i);
      const auto offset = static_cast<std::uint32_t>(i);
      if (cp < 0x10000) {
        units.push_back(static_cast<char16_t>(cp));
        byte_of.push_back(offset);
      } else {
        units.push_back(static_cast<char16_t>(U16_LEAD(cp)));
        units.push_back(static_cast<char16_t>(U16_TRAIL(cp)));
        byte_of.push_back(offset);
        byte_of.push_back(offset);
      }
      i += n;
    }
    byte_of.push_back(static_cast<std::uint32_t>(s.size()));
  }
};

// ------------------------------------------------------- components

// A piece of text as `tokenizers` cuts it: byte offsets, and whether the
// pattern matched there.
struct Span {
  std::size_t begin;
  std::size_t end;
  bool match;
};

enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

struct SplitStep {
  std::unique_ptr<icu::RegexPattern> regex;
  Behavior behavior;
  bool invert;
  std::string key;  // names the step when its regex fails on some text
};
struct DigitsStep {
  bool individual;
};
struct ByteLevelStep {
  bool add_prefix_space;
  bool use_regex;
};
using PreStep = std::variant<SplitStep, DigitsStep, ByteLevelStep>;

struct AddedToken {
  std::string content;
  int id;
  bool special;
  bool normalized;
  bool lstrip;
  bool rstrip;
  bool single_word;
};

// Finds added tokens the way aho-corasick's LeftmostLongest does: at the
// leftmost place where one starts, the longest one.
class TokenTrie {
 public:
  void add(std::string_view pattern, int value) {
    if (pattern.empty()) return;
    if (values_.empty()) values_.push_back(-1);
    first_bytes_[static_cast<unsigned char>(pattern[0])] = true;
    int node = 0;
    for (const char c : pattern) {
      const auto key = edge(node, c);
      auto it = edges_.find(key);
      if (it == edges_.end()) {
        it = edges_.emplace(key, static_cast<int>(values_.size())).first;
        values_.push_back(-1);
      }
      node = it->second;
    }
    // The first of equal patterns wins, as the first pattern does in aho-corasick.
    if (values_[static_cast<std::size_t>(node)] < 0) values_[static_cast<std::size_t>(node)] = value;
  }

  [[nodiscard]] bool empty() const { return values_.empty(); }

  // (end, value) of the longest pattern starting at s[pos]; value -1 if none.
  [[nodiscard]] std::pair<std::size_t, int> longest_at(std::string_view s, std::size_t pos) const {
    std::pair<std::size_t, int> best{pos, -1};
    if (!first_bytes_[static_cast<unsigned char>(s[pos])]) return best;
    int node = 0;
    for (std::size_t i = pos; i < s.size(); ++i) {
      const auto it = edges_.find(edge(node, s[i]));
      if (it == edges_.end()) break;
      node = it->second;
      if (values_[static_cast<std::size_t>(node)] >= 0) best = {i + 1, values_[static_cast<std::size_t>(node)]};
    }
    return best;
  }

 private:
  static std::uint64_t edge(int node, char c) {
    return (static_cast<std::uint64_t>(node) << 8) | static_cast<unsigned char>(c);
  }
  std::vector<int> values_;
  std::unordered_map<std::uint64_t, int> edges_;
  std::array<bool, 256> first_bytes_{};
};

struct Merge {
  int rank;
  int new_id;
};

struct PairHash {
  std::size_t operator()(std::uint64_t k) const noexcept {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return static_cast<std::size_t>(k);
  }
};

std::uint64_t pair_key(int left, int right) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(left)) << 32) | static_cast<std::uint32_t>(right);
}

enum IdKind : std::uint8_t { kUnused = 0, kModel = 1, kAdded = 2, kAddedSpecial = 3 };

// ------------------------------------------------------------ the data

// Everything a loaded tokenizer holds. TokenizerJson::Impl is this; the
// loading and encoding code below works on it without being a member.
struct Data {
  std::string source;

  // model
  StringIds vocab;
  std::unordered_map<std::uint64_t, Merge, PairHash> merges;
  bool ignore_merges = false;
  std::optional<std::string> unk_token;
  bool fuse_unk = false;

  // every id: its string and what it is
  std::vector<std::string> id_text;
  std::vector<std::uint8_t> id_kind;

  std::vector<AddedToken> added;
  StringIds added_ids;
  TokenTrie raw_trie;         // added tokens with normalized false
  TokenTrie normalized_trie;  // the others, in their normalized form

  std::vector<const icu::Normalizer2*> normalizers;
  std::vector<PreStep> pre_steps;
  std::unique_ptr<icu::RegexPattern> gpt2_regex;

  int bos = -1;
  int eos = -1;

  [[nodiscard]] std::string normalize(std::string_view s) const;
};

std::string Data::normalize(std::string_view s) const {
  // ASCII is the same in all four normal forms.
  if (normalizers.empty() || is_ascii(s)) return std::string(s);
  auto text = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  for (const icu::Normalizer2* n : normalizers) {
    UErrorCode status = U_ZERO_ERROR;
    text = n->normalize(text, status);
    if (U_FAILURE(status))
      throw Error(ExitCode::data, fmt::format("{}: normalizer: ICU cannot normalize the text: {}", source,
                                              u_errorName(status)));
  }
  std::string out;
  text.toUTF8String(out);
  return out;
}

// ------------------------------------------------------------ loading

void load_model(const Reader& r, const json& root, Data& m,
                std::vector<std::pair<int, const std::string*>>& vocab_ids) {
  const json* model = member(root, "model");
  if (model == nullptr) r.fail("model", "missing (expected an object with \"type\": \"BPE\")");
  require_object(r, *model, "model", "an object with \"type\": \"BPE\"");
  const json* type = member(*model, "type");
  if (type == nullptr) r.fail("model.type", "missing (expected \"BPE\")");
  if (!type->is_string() || type->get_ref<const std::string&>() != "BPE")
    r.fail("model.type", fmt::format("{} is not supported (expected \"BPE\": only byte-level BPE models are read)",
                                     describe(*type)));

  if (const json* dropout = member_or_null(*model, "dropout")) {
    if (!dropout->is_number()) r.fail("model.dropout", fmt::format("expected null, found {}", describe(*dropout)));
    if (dropout->get<double>() != 0.0)
      r.fail("model.dropout", fmt::format("{} is not supported (expected null: BPE dropout makes encoding random)",
                                          describe(*dropout)));
  }
  if (read_bool(r, *model, "model", "byte_fallback", false))
    r.fail("model.byte_fallback", "true is not supported (expected false: byte-level BPE has every byte in vocab)");
  for (const char* name : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const json* v = member_or_null(*model, name);
    if (v == nullptr) continue;
    if (!v->is_string() || !v->get_ref<const std::string&>().empty())
      r.fail(join("model", name), fmt::format("{} is not supported (expected null or \"\")", describe(*v)));
  }
  m.ignore_merges = read_bool(r, *model, "model", "ignore_merges", false);
  m.fuse_unk = read_bool(r, *model, "model", "fuse_unk", false);
  if (const json* unk = member_or_null(*model, "unk_token")) {
    if (!unk->is_string()) r.fail("model.unk_token", fmt::format("expected null or a token, found {}", describe(*unk)));
    m.unk_token = unk->get<std::string>();
  }

  const json* vocab = member(*model, "vocab");
  if (vocab == nullptr) r.fail("model.vocab", "missing (expected an object mapping token strings to ids)");
  require_object(r, *vocab, "model.vocab", "an object mapping token strings to ids");
  m.vocab.reserve(vocab->size());
  vocab_ids.reserve(vocab->size());
  for (auto it = vocab->begin(); it != vocab->end(); ++it) {
    const int id = read_id_lazy(r, it.value(), [&] { return fmt::format("model.vocab[{}]", json(it.key()).dump()); });
    const auto [slot, fresh] = m.vocab.emplace(it.key(), id);
    if (fresh) vocab_ids.emplace_back(id, &slot->first);
  }
}

// Needs m.vocab. `tokenizers` builds a hash map from the list, so a pair
// listed twice keeps its last rank; we do the same.
void load_merges(const Reader& r, const json& root, Data& m) {
  const json* merges = member(*member(root, "model"), "merges");
  if (merges == nullptr) r.fail("model.merges", "missing (expected a list of merges, lowest rank first)");
  if (!merges->is_array())
    r.fail("model.merges", fmt::format("expected a list of merges, found {}", describe(*merges)));
  m.merges.reserve(merges->size());
  const auto find = [&](std::string_view token) -> int {
    const auto it = m.vocab.find(token);
    return it == m.vocab.end() ? -1 : it->second;
  };
  std::string joined;
  for (std::size_t rank = 0; rank < merges->size(); ++rank) {
    const json& entry = (*merges)[rank];
    std::string_view left, right;
    if (entry.is_string()) {
      const std::string_view line = entry.get_ref<const std::string&>();
      const std::size_t space = line.find(' ');
      if (space == std::string_view::npos)
        r.fail(at_index("model.merges", rank),
               fmt::format("expected \"left right\" (two tokens and one space), found {}", describe(entry)));
      left = line.substr(0, space);
      right = line.substr(space + 1);
      if (right.find(' ') != std::string_view::npos) {
        // A token may hold a space; the cut is then the one place where
        // both sides and their join are tokens.
        int found = 0;
        for (std::size_t cut = line.find(' '); cut != std::string_view::npos; cut = line.find(' ', cut + 1)) {
          const std::string_view a = line.substr(0, cut), b = line.substr(cut + 1);
          joined.assign(a).append(b);
          if (find(a) >= 0 && find(b) >= 0 && find(joined) >= 0) {
            left = a;
            right = b;
            ++found;
          }
        }
        if (found != 1)
          r.fail(at_index("model.merges", rank),
                 fmt::format("{} has several spaces and {} places to cut it into two tokens whose join is a token "
                             "(expected exactly one; the [\"left\", \"right\"] form avoids this)",
                             describe(entry), found == 0 ? "no" : "several"));
      }
    } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
      left = entry[0].get_ref<const std::string&>();
      right = entry[1].get_ref<const std::string&>();
    } else {
      r.fail(at_index("model.merges", rank),
             fmt::format("expected \"left right\" or [\"left\", \"right\"], found {}", describe(entry)));
    }
    const int a = find(left);
    const int b = find(right);
    joined.assign(left).append(right);
    const int merged = find(joined);
    for (const auto& [token, id] : {std::pair{std::string_view(left), a}, std::pair{std::string_view(right), b},
                                    std::pair{std::string_view(joined), merged}})
      if (id < 0)
        r.fail(at_index("model.merges", rank),
               fmt::format("token {} is not in model.vocab (a merge must join two tokens into a third)",
                           json(std::string(token)).dump(-1, ' ', false, json::error_handler_t::replace)));
    m.merges.insert_or_assign(pair_key(a, b), Merge{static_cast<int>(rank), merged});
  }
}

void load_added_tokens(const Reader& r, const json& root, Data& m) {
  const json* list = member_or_null(root, "added_tokens");
  if (list == nullptr) return;
  if (!list->is_array()) r.fail("added_tokens", fmt::format("expected a list, found {}", describe(*list)));
  std::unordered_map<int, std::size_t> index_of_id;
  // `tokenizers` does not take these ids from the file: it gives a token its
  // vocab id, or else the id after the largest one so far (at least the
  // vocab's size), and only warns when that differs from the file's. Such a
  // file has no one right answer, so it is refused.
  const auto vocab_entries = static_cast<std::int64_t>(m.vocab.size());
  std::int64_t largest = -1;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    const std::string key = at_index("added_tokens", i);
    require_object(r, item, key, "an object with id and content");
    const json* id_value = member(item, "id");
    if (id_value == nullptr) r.fail(join(key, "id"), "missing (expected a token id)");
    AddedToken t;
    t.id = read_id(r, *id_value, join(key, "id"));
    t.content = read_string(r, item, key, "content", "the token's text");
    if (t.content.empty()) r.fail(join(key, "content"), "is empty (expected the token's text)");
    t.special = read_bool(r, item, key, "special", false);
    t.normalized = read_bool(r, item, key, "normalized", !t.special);
    t.lstrip = read_bool(r, item, key, "lstrip", false);
    t.rstrip = read_bool(r, item, key, "rstrip", false);
    t.single_word = read_bool(r, item, key, "single_word", false);

    if (const auto it = m.added_ids.find(t.content); it != m.added_ids.end())
      r.fail(join(key, "content"), fmt::format("{} is also added_tokens[{}] (expected each content once)",
                                               describe(json(t.content)), index_of_id.at(it->second)));
    if (const auto it = index_of_id.find(t.id); it != index_of_id.end())
      r.fail(join(key, "id"), fmt::format("id {} is also added_tokens[{}] (expected each id once)", t.id, it->second));
    if (const auto it = m.vocab.find(t.content); it != m.vocab.end() && it->second != t.id)
      r.fail(join(key, "id"), fmt::format("{} has id {} in model.vocab, not {} (expected the same id)",
                                          describe(json(t.content)), it->second, t.id));
    if (!m.vocab.contains(t.content)) {
      const std::int64_t given =
          largest < 0 ? vocab_entries : (largest >= vocab_entries || vocab_entries == 0 ? largest + 1 : vocab_entries);
      if (t.id != given)
        r.fail(join(key, "id"), fmt::format("id {} is not the id `tokenizers` gives this token, {} (expected the ids "
                                            "after model.vocab's {} entries, in list order)",
                                            t.id, given, vocab_entries));
    }
    largest = std::max<std::int64_t>(largest, t.id);
    index_of_id.emplace(t.id, i);
    m.added_ids.emplace(t.content, t.id);
    m.added.push_back(std::move(t));
  }
}

// Gives every id its string; an added token may reuse a vocab id only for
// the same string (GPT-2's <|endoftext|>), which load_added_tokens checked
// from the content side and is checked here from the id side.
void build_id_table(const Reader& r, Data& m, std::vector<std::pair<int, const std::string*>>& vocab_ids) {
  int max_id = -1;
  for (const auto& [id, text] : vocab_ids) max_id = std::max(max_id, id);
  for (const auto& t : m.added) max_id = std::max(max_id, t.id);
  m.id_text.assign(static_cast<std::size_t>(max_id + 1), std::string());
  m.id_kind.assign(static_cast<std::size_t>(max_id + 1), kUnused);
  std::sort(vocab_ids.begin(), vocab_ids.end(),
            [](const auto& a, const auto& b) { return a.first != b.first ? a.first < b.first : *a.second < *b.second; });
  for (std::size_t i = 0; i < vocab_ids.size(); ++i) {
    const auto [id, text] = vocab_ids[i];
    if (i > 0 && vocab_ids[i - 1].first == id)
      r.fail(fmt::format("model.vocab[{}]", json(*text).dump()),
             fmt::format("id {} is also the id of {} (expected each id once)", id, json(*vocab_ids[i - 1].second).dump()));
    m.id_text[static_cast<std::size_t>(id)] = *text;
    m.id_kind[static_cast<std::size_t>(id)] = kModel;
  }
  for (std::size_t i = 0; i < m.added.size(); ++i) {
    const AddedToken& t = m.added[i];
    const auto slot = static_cast<std::size_t>(t.id);
    if (m.id_kind[slot] == kModel && m.id_text[slot] != t.content)
      r.fail(join(at_index("added_tokens", i), "id"),
             fmt::format("id {} is model.vocab's id for {} (expected an id of its own, or the id vocab gives {})", t.id,
                         json(m.id_text[slot]).dump(), json(t.content).dump()));
    m.id_text[slot] = t.content;
    m.id_kind[slot] = t.special ? kAddedSpecial : kAdded;
  }
  // Special tokens first, then the others, as `tokenizers` orders its patterns.
  for (const bool special : {true, false})
    for (std::size_t i = 0; i < m.added.size(); ++i) {
      const AddedToken& t = m.added[i];
      if (t.special != special) continue;
      if (t.normalized)
        m.normalized_trie.add(m.normalize(t.content), static_cast<int>(i));
      else
        m.raw_trie.add(t.content, static_cast<int>(i));
    }
}

void load_normalizer(const Reader& r, const json& v, const std::string& key, int depth, Data& m) {
  if (depth > kMaxNesting) r.fail(key, fmt::format("Sequences nested more than {} deep", kMaxNesting));
  require_object(r, v, key, "an object with a \"type\"");
  const std::string& type = read_string(r, v, key, "type", "a normalizer type");
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  if (type == "NFC") {
    n = icu::Normalizer2::getNFCInstance(status);
  } else if (type == "NFD") {
    n = icu::Normalizer2::getNFDInstance(status);
  } else if (type == "NFKC") {
    n = icu::Normalizer2::getNFKCInstance(status);
  } else if (type == "NFKD") {
    n = icu::Normalizer2::getNFKDInstance(status);
  } else if (type == "Sequence") {
    const json* list = member(v, "normalizers");
    if (list == nullptr || !list->is_array())
      r.fail(join(key, "normalizers"), "expected a list of normalizers");
    for (std::size_t i = 0; i < list->size(); ++i)
      load_normalizer(r, (*list)[i], at_index(join(key, "normalizers"), i), depth + 1, m);
    return;
  } else {
    r.fail(join(key, "type"), fmt::format("\"{}\" is not supported (expected null, NFC, NFD, NFKC, NFKD or a Sequence "
                                          "of them)",
                                          type));
  }
  if (U_FAILURE(status) || n == nullptr)
    r.fail(join(key, "type"), fmt::format("ICU has no {} data: {}", type, u_errorName(status)));
  m.normalizers.push_back(n);
}

Behavior read_behavior(const Reader& r, const json& v, const std::string& key) {
  constexpr const char* expected = "Isolated, Removed, MergedWithPrevious, MergedWithNext or Contiguous";
  const std::string& name = read_string(r, v, key, "behavior", expected);
  if (name == "Isolated") return Behavior::isolated;
  if (name == "Removed") return Behavior::removed;
  if (name == "MergedWithPrevious") return Behavior::merged_with_previous;
  if (name == "MergedWithNext") return Behavior::merged_with_next;
  if (name == "Contiguous") return Behavior::contiguous;
  r.fail(join(key, "behavior"), fmt::format("\"{}\" is not supported (expected {})", name, expected));
}

void load_pre_tokenizer(const Reader& r, const json& v, const std::string& key, int depth, Data& m) {
  if (depth > kMaxNesting) r.fail(key, fmt::format("Sequences nested more than {} deep", kMaxNesting));
  require_object(r, v, key, "an object with a \"type\"");
  const std::string& type = read_string(r, v, key, "type", "a pre-tokenizer type");
  if (type == "Sequence") {
    const json* list = member(v, "pretokenizers");
    if (list == nullptr || !list->is_array())
      r.fail(join(key, "pretokenizers"), "expected a list of pre-tokenizers");
    for (std::size_t i = 0; i < list->size(); ++i)
      load_pre_tokenizer(r, (*list)[i], at_index(join(key, "pretokenizers"), i), depth + 1, m);
  } else if (type == "ByteLevel") {
    m.pre_steps.emplace_back(ByteLevelStep{read_bool(r, v, key, "add_prefix_space", true),
                                           read_bool(r, v, key, "use_regex", true)});
  } else if (type == "Digits") {
    m.pre_steps.emplace_back(DigitsStep{read_bool(r, v, key, "individual_digits", false)});
  } else if (type == "Split") {
    const std::string pattern_key = join(key, "pattern");
    const json* pattern = member(v, "pattern");
    if (pattern == nullptr) r.fail(pattern_key, "missing (expected {\"Regex\": ...} or {\"String\": ...})");
    if (!pattern->is_object() || pattern->size() != 1 || !pattern->begin().value().is_string() ||
        (pattern->begin().key() != "Regex" && pattern->begin().key() != "String"))
      r.fail(pattern_key, fmt::format("expected {{\"Regex\": \"...\"}} or {{\"String\": \"...\"}}, found {}",
                                      pattern->dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 80)));
    const bool literal = pattern->begin().key() == "String";
    const std::string& text = pattern->begin().value().get_ref<const std::string&>();
    const std::string text_key = join(pattern_key, literal ? "String" : "Regex");
    if (!literal)
      if (const auto difference = onig_icu_difference(text))
        r.fail(text_key, fmt::format("the regex uses {}, which is not supported", *difference));
    SplitStep step{compile_regex(r, text_key, text, literal), read_behavior(r, v, key),
                   read_bool(r, v, key, "invert", false), text_key};
    m.pre_steps.emplace_back(std::move(step));
  } else {
    r.fail(join(key, "type"),
           fmt::format("\"{}\" is not supported (expected Split, ByteLevel, Digits or a Sequence of them)", type));
  }
}

// A SpecialToken of a template: its single id, or -1 when it stands for several.
int template_token(const Reader& r, const json& processor, const std::string& processor_key, const std::string& key,
                   const json& piece, const Data& m) {
  const std::string& name = read_string(r, piece, key, "id", "the special token's name");
  const json* specials = member(processor, "special_tokens");
  const std::string specials_key = join(processor_key, "special_tokens");
  if (specials == nullptr || !specials->is_object() || member(*specials, name.c_str()) == nullptr)
    r.fail(specials_key, fmt::format("has no entry {} (the single template uses it)", json(name).dump()));
  const json& entry = (*specials)[name];
  const std::string entry_key = fmt::format("{}[{}]", specials_key, json(name).dump());
  require_object(r, entry, entry_key, "an object with \"ids\"");
  const json* ids = member(entry, "ids");
  if (ids == nullptr || !ids->is_array()) r.fail(join(entry_key, "ids"), "expected a list of token ids");
  for (std::size_t i = 0; i < ids->size(); ++i) {
    const int id = read_id(r, (*ids)[i], at_index(join(entry_key, "ids"), i));
    if (static_cast<std::size_t>(id) >= m.id_kind.size() || m.id_kind[static_cast<std::size_t>(id)] == kUnused)
      r.fail(at_index(join(entry_key, "ids"), i), fmt::format("no token has id {}", id));
  }
  return ids->size() == 1 ? (*ids)[0].get<int>() : -1;
}

void load_post_processor(const Reader& r, const json& v, const std::string& key, int depth, Data& m) {
  if (depth > kMaxNesting) r.fail(key, fmt::format("Sequences nested more than {} deep", kMaxNesting));
  require_object(r, v, key, "an object with a \"type\"");
  const std::string& type = read_string(r, v, key, "type", "a post-processor type");
  if (type == "ByteLevel") return;  // it only trims offsets
  if (type == "Sequence") {
    const json* list = member(v, "processors");
    if (list == nullptr || !list->is_array()) r.fail(join(key, "processors"), "expected a list of post-processors");
    for (std::size_t i = 0; i < list->size(); ++i)
      load_post_processor(r, (*list)[i], at_index(join(key, "processors"), i), depth + 1, m);
    return;
  }
  if (type != "TemplateProcessing")
    r.fail(join(key, "type"), fmt::format("\"{}\" is not supported (expected ByteLevel, TemplateProcessing or a "
                                          "Sequence of them)",
                                          type));
  const std::string single_key = join(key, "single");
  const json* single = member(v, "single");
  if (single == nullptr || !single->is_array()) r.fail(single_key, "expected the template as a list of pieces");
  bool seen_sequence = false;
  for (std::size_t i = 0; i < single->size(); ++i) {
    const json& piece = (*single)[i];
    const std::string piece_key = at_index(single_key, i);
    if (!piece.is_object() || piece.size() != 1 ||
        (piece.begin().key() != "SpecialToken" && piece.begin().key() != "Sequence") ||
        !piece.begin().value().is_object())
      r.fail(piece_key, "expected {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": {\"id\": ...}}");
    if (piece.begin().key() == "Sequence") {
      seen_sequence = true;
      continue;
    }
    const int id = template_token(r, v, key, join(piece_key, "SpecialToken"), piece.begin().value(), m);
    if (i == 0 && !seen_sequence) m.bos = id;
    if (i + 1 == single->size() && seen_sequence) m.eos = id;
  }
}

void load_decoder(const Reader& r, const json& root) {
  const json* decoder = member_or_null(root, "decoder");
  if (decoder == nullptr) r.fail("decoder", "missing (expected {\"type\": \"ByteLevel\"})");
  require_object(r, *decoder, "decoder", "{\"type\": \"ByteLevel\"}");
  const std::string& type = read_string(r, *decoder, "decoder", "type", "\"ByteLevel\"");
  if (type != "ByteLevel")
    r.fail("decoder.type", fmt::format("\"{}\" is not supported (expected ByteLevel)", type));
}

void load(std::string_view text, const std::string& source, Data& data) {
  Data* m = &data;
  m->source = source;
  const Reader r(m->source);
  try {
    json root;
    try {
      root = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
      throw Error(ExitCode::model, fmt::format("{}: not valid JSON: {}", source, e.what()));
    }
    if (!root.is_object())
      throw Error(ExitCode::model, fmt::format("{}: expected a JSON object (a tokenizer.json), found {}", source,
                                               describe(root)));
    std::vector<std::pair<int, const std::string*>> vocab_ids;
    load_model(r, root, *m, vocab_ids);
    load_merges(r, root, *m);
    // The normalizer comes before the added tokens: their normalized forms need it.
    if (const json* n = member_or_null(root, "normalizer")) load_normalizer(r, *n, "normalizer", 0, *m);
    load_added_tokens(r, root, *m);
    build_id_table(r, *m, vocab_ids);

    const json* pre = member_or_null(root, "pre_tokenizer");
    if (pre == nullptr)
      r.fail("pre_tokenizer", "missing (expected ByteLevel, or a Sequence holding one: only byte-level BPE is read)");
    load_pre_tokenizer(r, *pre, "pre_tokenizer", 0, *m);
    const auto byte_levels = std::count_if(m->pre_steps.begin(), m->pre_steps.end(),
                                           [](const PreStep& s) { return std::holds_alternative<ByteLevelStep>(s); });
    if (byte_levels != 1)
      r.fail("pre_tokenizer", fmt::format("has {} ByteLevel steps (expected exactly one: this reader handles "
                                          "byte-level BPE)",
                                          byte_levels));
    for (const PreStep& s : m->pre_steps)
      if (const auto* b = std::get_if<ByteLevelStep>(&s); b != nullptr && b->use_regex)
        m->gpt2_regex = compile_regex(r, "pre_tokenizer (ByteLevel)", kGpt2Pattern, false);

    if (const json* post = member_or_null(root, "post_processor"))
      load_post_processor(r, *post, "post_processor", 0, *m);
    load_decoder(r, root);
  } catch (const json::exception& e) {
    // Every access above checks types first; this is a backstop that still names the file.
    throw Error(ExitCode::model, fmt::format("{}: unexpected JSON content: {}", source, e.what()));
  }
}

// ------------------------------------------------------------ encoding

// Runs one encode: the regex matchers and buffers it needs, made per call so
// that a tokenizer can encode on several threads at once.
class Encoder {
 public:
  explicit Encoder(const Data& m) : m_(m) {
    matchers_.resize(m.pre_steps.size());
    for (std::size_t i = 0; i < m.pre_steps.size(); ++i)
      if (const auto* split = std::get_if<SplitStep>(&m.pre_steps[i]))
        matchers_[i] = make_matcher(*split->regex, split->key);
    if (m.gpt2_regex) gpt2_ = make_matcher(*m.gpt2_regex, "pre_tokenizer (ByteLevel)");
  }

  void run(std::string_view text, std::vector<int>& ids) {
    std::vector<Segment> raw, normalized_segments;
    split_added(text, m_.raw_trie, raw);
    for (const Segment& seg : raw) {
      if (seg.id >= 0) {
        ids.push_back(seg.id);
        continue;
      }
      const std::string normalized = m_.normalize(seg.text);
      normalized_segments.clear();
      split_added(normalized, m_.normalized_trie, normalized_segments);
      for (const Segment& part : normalized_segments) {
        if (part.id >= 0) {
          ids.push_back(part.id);
        } else if (!part.text.empty()) {
          pre_tokenize(part.text);
          for (const std::string& piece : pieces_) bpe(piece, ids);
        }
      }
    }
  }

 private:
  struct Segment {
    std::string_view text;
    int id;  // an added token's id, or -1 for text
  };

  std::unique_ptr<icu::RegexMatcher> make_matcher(const icu::RegexPattern& pattern, const std::string& key) const {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::RegexMatcher> matcher(pattern.matcher(status));
    if (U_FAILURE(status) || !matcher)
      throw Error(ExitCode::data, fmt::format("{}: {}: ICU cannot run the regex: {}", m_.source, key,
                                              u_errorName(status)));
    return matcher;
  }

  // AddedVocabulary::find_matches of `tokenizers`, offsets and all: the
  // search goes on from the end of the raw match even when lstrip/rstrip
  // moved the token's edges, and single_word rejects without a retry.
  void split_added(std::string_view s, const TokenTrie& trie, std::vector<Segment>& out) const {
    if (trie.empty()) {
      out.push_back({s, -1});
      return;
    }
    std::size_t start_offset = 0;
    std::size_t pos = 0;
    while (pos < s.size()) {
      const auto [end, index] = trie.longest_at(s, pos);
      if (index < 0) {
        ++pos;
        continue;
      }
      std::size_t start = pos;
      std::size_t stop = end;
      pos = end;
      const AddedToken& t = m_.added[static_cast<std::size_t>(index)];
      if (t.single_word) {
        const bool space_before = start == 0 || !is_word_char(cp_before(s, start).first);
        const bool space_after = stop == s.size() || !is_word_char(cp_at(s, stop).first);
        if (!space_before || !space_after) continue;
      }
      if (t.lstrip) {
        std::size_t new_start = start;
        while (new_start > 0) {
          const auto [cp, begin] = cp_before(s, new_start);
          if (!is_white_space(cp)) break;
          new_start = begin;
        }
        start = std::max(new_start, start_offset);
      }
      if (t.rstrip) {
        while (stop < s.size()) {
          const auto [cp, n] = cp_at(s, stop);
          if (!is_white_space(cp)) break;
          stop += n;
        }
      }
      if (start_offset < start) out.push_back({s.substr(start_offset, start - start_offset), -1});
      out.push_back({{}, t.id});
      start_offset = stop;
    }
    if (start_offset < s.size()) out.push_back({s.substr(start_offset), -1});
  }

  // find_iter of the onig crate over ICU: an empty match right where the
  // previous match ended is skipped, and the search resumes one character on.
  void regex_spans(icu::RegexMatcher& matcher, std::string_view s, const std::string& key) {
    spans_.clear();
    utf16_.assign(s);
    const icu::UnicodeString text(false, utf16_.units.data(), static_cast<int32_t>(utf16_.units.size()));
    matcher.reset(text);
    const std::size_t units = utf16_.units.size();
    UErrorCode status = U_ZERO_ERROR;
    matcher.setTimeLimit(static_cast<int32_t>(std::min<std::size_t>(kRegexBaseTicks + units / kRegexUnitsPerTick,
                                                                     INT32_MAX)),
                         status);
    matcher.setStackLimit(static_cast<int32_t>(std::clamp<std::size_t>(units * kRegexStackBytesPerUnit,
                                                                       kRegexMinStackBytes, INT32_MAX)),
                          status);
    const auto n = static_cast<std::int64_t>(units);
    std::int64_t last_end = 0;
    std::int64_t last_match_end = -1;
    std::size_t prev = 0;
    while (U_SUCCESS(status) && last_end <= n) {
      if (!matcher.find(last_end, status)) break;
      const std::int64_t begin16 = matcher.start64(status);
      const std::int64_t end16 = matcher.end64(status);
      if (U_FAILURE(status)) break;
      if (begin16 == end16 && last_match_end == end16) {
        last_end += (last_end + 1 < n && U16_IS_LEAD(utf16_.units[static_cast<std::size_t>(last_end)]) &&
                     U16_IS_TRAIL(utf16_.units[static_cast<std::size_t>(last_end + 1)]))
                        ? 2
                        : 1;
        continue;
      }
      last_end = end16;
      last_match_end = end16;
      const std::size_t begin = utf16_.byte_of[static_cast<std::size_t>(begin16)];
      const std::size_t end = utf16_.byte_of[static_cast<std::size_t>(end16)];
      if (prev != begin) spans_.push_back({prev, begin, false});
      spans_.push_back({begin, end, true});
      prev = end;
    }
    if (U_FAILURE(status))
      throw Error(ExitCode::data, fmt::format("{}: {}: the regex failed on the text: {}", m_.source, key,
                                              u_errorName(status)));
    if (prev != s.size()) spans_.push_back({prev, s.size(), false});
  }

  // `tokenizers`' Pattern for a char predicate: each matching character is a
  // match of its own, runs of the others are one span.
  void digit_spans(std::string_view s) {
    spans_.clear();
    std::size_t last = 0;
    for (std::size_t i = 0; i < s.size();) {
      const auto [cp, n] = cp_at(s, i);
      if (is_numeric(cp)) {
        if (last < i) spans_.push_back({last, i, false});
        spans_.push_back({i, i + n, true});
        last = i + n;
      }
      i += n;
    }
    if (last < s.size()) spans_.push_back({last, s.size(), false});
  }

  // NormalizedString::split: which spans become pieces, and how they join.
  void cut(std::string_view s, Behavior behavior, std::vector<std::string>& out) {
    ranges_.clear();
    bool previous_match = false;
    switch (behavior) {
      case Behavior::isolated:
        for (const Span& sp : spans_) ranges_.push_back(sp);
        break;
      case Behavior::removed:
        for (const Span& sp : spans_)
          if (!sp.match) ranges_.push_back(sp);
        break;
      case Behavior::contiguous:
        for (const Span& sp : spans_) {
          if (sp.match == previous_match && !ranges_.empty())
            ranges_.back().end = sp.end;
          else
            ranges_.push_back(sp);
          previous_match = sp.match;
        }
        break;
      case Behavior::merged_with_previous:
        for (const Span& sp : spans_) {
          if (sp.match && !previous_match && !ranges_.empty())
            ranges_.back().end = sp.end;
          else
            ranges_.push_back(sp);
          previous_match = sp.match;
        }
        break;
      case Behavior::merged_with_next:
        for (auto it = spans_.rbegin(); it != spans_.rend(); ++it) {
          if (it->match && !previous_match && !ranges_.empty())
            ranges_.back().begin = it->begin;
          else
            ranges_.push_back(*it);
          previous_match = it->match;
        }
        std::reverse(ranges_.begin(), ranges_.end());
        break;
    }
    for (const Span& sp : ranges_)
      if (sp.end > sp.begin) out.emplace_back(s.substr(sp.begin, sp.end - sp.begin));
  }

  void pre_tokenize(std::string_view text) {
    pieces_.assign(1, std::string(text));
    for (std::size_t k = 0; k < m_.pre_steps.size(); ++k) {
      next_.clear();
      const PreStep& step = m_.pre_steps[k];
      for (const std::string& piece : pieces_) {
        if (const auto* split = std::get_if<SplitStep>(&step)) {
          regex_spans(*matchers_[k], piece, split->key);
          if (split->invert)
            for (Span& sp : spans_) sp.match = !sp.match;
          cut(piece, split->behavior, next_);
        } else if (const auto* digits = std::get_if<DigitsStep>(&step)) {
          digit_spans(piece);
          cut(piece, digits->individual ? Behavior::isolated : Behavior::contiguous, next_);
        } else {
          const auto& byte_level = std::get<ByteLevelStep>(step);
          std::string spaced;
          if (byte_level.add_prefix_space && piece[0] != ' ') spaced = " ";
          spaced += piece;
          if (byte_level.use_regex) {
            regex_spans(*gpt2_, spaced, "pre_tokenizer (ByteLevel)");
            for (const Span& sp : spans_)
              if (sp.end > sp.begin)
                next_.push_back(to_byte_level(std::string_view(spaced).substr(sp.begin, sp.end - sp.begin)));
          } else {
            next_.push_back(to_byte_level(spaced));
          }
        }
      }
      pieces_.swap(next_);
    }
  }

  int vocab_id(std::string_view token) const {
    const auto it = m_.vocab.find(token);
    return it == m_.vocab.end() ? -1 : it->second;
  }

  int unk_id(char32_t cp) const {
    if (!m_.unk_token)
      throw Error(ExitCode::model,
                  fmt::format("{}: model.vocab has no token for the character {} and model.unk_token is null",
                              m_.source, quote_cp(cp)));
    const int id = vocab_id(*m_.unk_token);
    if (id < 0)
      throw Error(ExitCode::model, fmt::format("{}: model.unk_token {} is not in model.vocab", m_.source,
                                               json(*m_.unk_token).dump()));
    return id;
  }

  struct Symbol {
    int id;
    int prev;
    int next;
    std::size_t len;  // bytes; 0 once merged into its left neighbour
  };
  struct Candidate {
    int pos;
    int rank;
    int new_id;
  };
  // Makes the heap pop the lowest rank, then the leftmost pair.
  struct Later {
    bool operator()(const Candidate& a, const Candidate& b) const {
      return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
    }
  };

  void push_pair(int pos, int left, int right) {
    const auto it = m_.merges.find(pair_key(left, right));
    if (it == m_.merges.end()) return;
    heap_.push_back({pos, it->second.rank, it->second.new_id});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
  }

  void add_symbol(int id, std::size_t len) {
    const int n = static_cast<int>(symbols_.size());
    if (n > 0) symbols_.back().next = n;
    symbols_.push_back({id, n - 1, -1, len});
  }

  // BPE::merge_word and Word::merge_all of `tokenizers`, step for step,
  // including its check that a queued pair still stands.
  void bpe(std::string_view piece, std::vector<int>& ids) {
    if (m_.ignore_merges) {
      if (const int id = vocab_id(piece); id >= 0) {
        ids.push_back(id);
        return;
      }
    }
    symbols_.clear();
    int unk = -1;
    std::size_t unk_len = 0;
    for (std::size_t i = 0; i < piece.size();) {
      const auto [cp, n] = cp_at(piece, i);
      const int id = vocab_id(piece.substr(i, n));
      i += n;
      if (id >= 0) {
        if (unk >= 0) {
          add_symbol(unk, unk_len);
          unk = -1;
        }
        add_symbol(id, n);
      } else if (unk >= 0 && m_.fuse_unk) {
        unk_len += n;
      } else {
        if (unk >= 0) add_symbol(unk, unk_len);
        unk = unk_id(cp);
        unk_len = n;
      }
    }
    if (unk >= 0) add_symbol(unk, unk_len);

    heap_.clear();
    const int count = static_cast<int>(symbols_.size());
    for (int i = 0; i + 1 < count; ++i) push_pair(i, symbols_[static_cast<std::size_t>(i)].id,
                                                  symbols_[static_cast<std::size_t>(i + 1)].id);
    while (!heap_.empty()) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      const Candidate top = heap_.back();
      heap_.pop_back();
      Symbol& left = symbols_[static_cast<std::size_t>(top.pos)];
      if (left.len == 0 || left.next == -1) continue;
      const int right_pos = left.next;
      const Symbol right = symbols_[static_cast<std::size_t>(right_pos)];
      const auto it = m_.merges.find(pair_key(left.id, right.id));
      if (it == m_.merges.end() || it->second.new_id != top.new_id) continue;
      left.id = top.new_id;
      left.len += right.len;
      left.next = right.next;
      symbols_[static_cast<std::size_t>(right_pos)].len = 0;
      if (right.next >= 0) symbols_[static_cast<std::size_t>(right.next)].prev = top.pos;
      const Symbol current = symbols_[static_cast<std::size_t>(top.pos)];
      if (current.prev >= 0) push_pair(current.prev, symbols_[static_cast<std::size_t>(current.prev)].id, current.id);
      if (current.next >= 0) push_pair(top.pos, current.id, symbols_[static_cast<std::size_t>(current.next)].id);
    }
    for (const Symbol& s : symbols_)
      if (s.len != 0) ids.push_back(s.id);
  }

  const Data& m_;
  std::vector<std::unique_ptr<icu::RegexMatcher>> matchers_;  // per pre-tokenizer step; null but for Split
  std::unique_ptr<icu::RegexMatcher> gpt2_;
  Utf16Text utf16_;
  std::vector<Span> spans_, ranges_;
  std::vector<std::string> pieces_, next_;
  std::vector<Symbol> symbols_;
  std::vector<Candidate> heap_;
};

}  // namespace

struct TokenizerJson::Impl : Data {};

// ------------------------------------------------------------ public

TokenizerJson::TokenizerJson(std::filesystem::path path, std::unique_ptr<Impl> impl)
    : path_(std::move(path)), impl_(std::move(impl)) {}

TokenizerJson::TokenizerJson(const std::filesystem::path& tokenizer_json) : path_(tokenizer_json) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(tokenizer_json, ec))
    throw Error(ExitCode::model, fmt::format("{}: tokenizer file not found (expected a Hugging Face tokenizer.json)",
                                             tokenizer_json.string()));
  std::ifstream in(tokenizer_json, std::ios::binary);
  std::string text;
  const auto size = std::filesystem::file_size(tokenizer_json, ec);
  if (in && !ec) {
    text.resize(static_cast<std::size_t>(size));
    in.read(text.data(), static_cast<std::streamsize>(size));
    text.resize(static_cast<std::size_t>(in.gcount()));
  }
  if (!in || ec)
    throw Error(ExitCode::model, fmt::format("{}: cannot read the tokenizer file", tokenizer_json.string()));
  impl_ = std::make_unique<Impl>();
  load(text, tokenizer_json.string(), *impl_);
}

TokenizerJson TokenizerJson::parse(std::string_view json_text, const std::string& source_name) {
  auto impl = std::make_unique<Impl>();
  load(json_text, source_name, *impl);
  return TokenizerJson(source_name, std::move(impl));
}

TokenizerJson::~TokenizerJson() = default;
TokenizerJson::TokenizerJson(TokenizerJson&&) noexcept = default;
TokenizerJson& TokenizerJson::operator=(TokenizerJson&&) noexcept = default;

std::vector<int> TokenizerJson::encode(std::string_view text, bool add_bos) const {
  const Impl& m = *impl_;
  if (text.size() > kMaxTextBytes)
    throw Error(ExitCode::data, fmt::format("{}: cannot encode {} bytes of text at once (at most {})", m.source,
                                            text.size(), kMaxTextBytes));
  if (const auto bad = first_invalid_utf8(text))
    throw Error(ExitCode::data,
                fmt::format("{}: cannot encode the text: it is not valid UTF-8 at byte {}", m.source, *bad));
  std::vector<int> ids;
  if (add_bos) {
    if (m.bos < 0)
      throw Error(ExitCode::model, fmt::format("{}: post_processor names no BOS token (expected a TemplateProcessing "
                                               "whose single template starts with one SpecialToken)",
                                               m.source));
    ids.push_back(m.bos);
  }
  Encoder(m).run(text, ids);
  return ids;
}

std::string TokenizerJson::decode(std::span<const int> ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string bytes;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int id = ids[i];
    if (id < 0 || id >= vocab_size())
      throw Error(ExitCode::data, fmt::format("{}: token {} at index {} is outside the vocabulary [0, {})", m.source,
                                              id, i, vocab_size()));
    const auto kind = m.id_kind[static_cast<std::size_t>(id)];
    if (kind == kUnused)
      throw Error(ExitCode::data, fmt::format("{}: token {} at index {} belongs to no token of the vocabulary",
                                              m.source, id, i));
    if (kind == kAddedSpecial && skip_special) continue;
    append_token_bytes(m.id_text[static_cast<std::size_t>(id)], bytes);
  }
  return lossy_utf8(bytes);
}

std::string TokenizerJson::piece(int id) const {
  const Impl& m = *impl_;
  if (id < 0 || id >= vocab_size())
    throw Error(ExitCode::data,
                fmt::format("{}: token {} is outside the vocabulary [0, {})", m.source, id, vocab_size()));
  if (m.id_kind[static_cast<std::size_t>(id)] == kUnused)
    throw Error(ExitCode::data, fmt::format("{}: token {} belongs to no token of the vocabulary", m.source, id));
  return m.id_text[static_cast<std::size_t>(id)];
}

int TokenizerJson::token_to_id(std::string_view piece) const {
  if (const auto it = impl_->added_ids.find(piece); it != impl_->added_ids.end()) return it->second;
  if (const auto it = impl_->vocab.find(piece); it != impl_->vocab.end()) return it->second;
  return -1;
}

int TokenizerJson::vocab_size() const {
  return static_cast<int>(impl_->id_kind.size());
}
int TokenizerJson::bos_id() const {
  return impl_->bos;
}
int TokenizerJson::eos_id() const {
  return impl_->eos;
}

}  // namespace spikesim
