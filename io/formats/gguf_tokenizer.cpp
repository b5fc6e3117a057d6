#include "io/formats/gguf_tokenizer.hpp"

#include <algorithm>
#include <limits>
#include <queue>

#include "core/error.hpp"

namespace spikesim {

namespace {

constexpr std::string_view kSpaceMark = "\xe2\x96\x81";  // U+2581, sentencepiece's space

// Bytes of the UTF-8 character that starts with `lead` (1 for a stray
// continuation byte, so that every byte ends up in some symbol).
std::size_t utf8_length(unsigned char lead) {
  if (lead < 0xc0) return 1;
  if (lead < 0xe0) return 2;
  if (lead < 0xf0) return 3;
  return lead < 0xf8 ? 4 : 1;
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text.substr(i, from.size()) == from) {
      out += to;
      i += from.size();
    } else {
      out += text[i++];
    }
  }
  return out;
}

// A byte token's value from its piece "<0xXX>"; -1 when the piece is not one.
int byte_of_piece(const std::string& piece) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return -1;
  int value = 0;
  for (int i = 3; i < 5; ++i) {
    const char c = piece[i];
    const int digit = c >= '0' && c <= '9'   ? c - '0'
                      : c >= 'A' && c <= 'F' ? c - 'A' + 10
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                             : -1;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// One run of bytes of the text being encoded; merged symbols keep the left
// one's start and grow, the right one's length drops to 0.
struct Symbol {
  std::size_t start = 0;
  std::size_t length = 0;
  int prev = -1;
  int next = -1;
};

struct Bigram {
  int left = 0;
  int right = 0;
  float score = 0;
  std::size_t length = 0;  // bytes of the merged piece, to spot stale entries
};

// The queue's top is the pair of highest score, the leftmost among equals.
struct LowerPriority {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

GgufTokenizer::GgufTokenizer(const GgufFile& file) : path_(file.path()) {
  auto fail = [&](const std::string& what) {
    throw Error(ExitCode::model, fmt::format("{}: {}", path_.string(), what));
  };
  const std::string model = file.get_string("tokenizer.ggml.model");
  if (model != "llama")
    fail(fmt::format(
        "key 'tokenizer.ggml.model' is '{}'; only 'llama' (a SentencePiece vocabulary) is supported", model));
  pieces_ = file.get_string_array("tokenizer.ggml.tokens");
  const std::size_t n = pieces_.size();
  if (n == 0) fail("key 'tokenizer.ggml.tokens': the vocabulary is empty");
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    fail(fmt::format("key 'tokenizer.ggml.tokens': {} tokens do not fit an int id", n));

  scores_.assign(n, 0.0f);
  if (file.has("tokenizer.ggml.scores")) {
    scores_ = file.get_f32_array("tokenizer.ggml.scores");
    if (scores_.size() != n)
      fail(fmt::format("key 'tokenizer.ggml.scores': {} scores for {} tokens", scores_.size(), n));
  }
  types_.assign(n, GgufTokenType::normal);
  if (file.has("tokenizer.ggml.token_type")) {
    const auto types = file.get_i32_array("tokenizer.ggml.token_type");
    if (types.size() != n)
      fail(fmt::format("key 'tokenizer.ggml.token_type': {} types for {} tokens", types.size(), n));
    for (std::size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > static_cast<int>(GgufTokenType::byte))
        fail(fmt::format("key 'tokenizer.ggml.token_type': token {} has type {}, expected 0 to 6", i,
                         types[i]));
      types_[i] = static_cast<GgufTokenType>(types[i]);
    }
  }
  // As llama.cpp: a piece listed twice is found at its last id.
  for (std::size_t i = 0; i < n; ++i) ids_[pieces_[i]] = static_cast<int>(i);

  auto special_id = [&](const std::string& key, int fallback) {
    const auto id = file.find_u32(key);
    if (id && *id >= n) fail(fmt::format("key '{}': token {} is outside the vocabulary of {}", key, *id, n));
    return id ? static_cast<int>(*id) : fallback;
  };
  bos_id_ = special_id("tokenizer.ggml.bos_token_id", 1);
  eos_id_ = special_id("tokenizer.ggml.eos_token_id", 2);
  unknown_id_ = special_id("tokenizer.ggml.unknown_token_id", 0);
  if (static_cast<std::size_t>(std::max({bos_id_, eos_id_, unknown_id_})) >= n)
    fail(fmt::format(
        "the default special ids (bos 1, eos 2, unknown 0) need a vocabulary of at least 3 tokens, "
        "found {}",
        n));
  add_bos_token_ = file.find_bool("tokenizer.ggml.add_bos_token").value_or(true);
  add_space_prefix_ = file.find_bool("tokenizer.ggml.add_space_prefix").value_or(true);
}

int GgufTokenizer::lookup(const std::string& piece) const {
  const auto it = ids_.find(piece);
  return it == ids_.end() ? -1 : it->second;
}

int GgufTokenizer::byte_token(unsigned char byte) const {
  const int id = lookup(fmt::format("<0x{:02X}>", byte));
  return id >= 0 ? id : unknown_id_;
}

std::vector<int> GgufTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  if (add_bos) ids.push_back(bos_id_);
  if (text.empty()) return ids;  // sentencepiece: no dummy prefix for empty text
  std::string spaced = add_space_prefix_ ? " " : "";
  spaced += text;
  encode_text(replace_all(spaced, " ", kSpaceMark), ids);
  return ids;
}

void GgufTokenizer::encode_text(const std::string& text, std::vector<int>& out) const {
  std::vector<Symbol> symbols;
  for (std::size_t offset = 0; offset < text.size();) {
    Symbol s;
    s.start = offset;
    s.length = std::min(utf8_length(static_cast<unsigned char>(text[offset])), text.size() - offset);
    offset += s.length;
    s.prev = static_cast<int>(symbols.size()) - 1;
    s.next = offset == text.size() ? -1 : static_cast<int>(symbols.size()) + 1;
    symbols.push_back(s);
  }

  std::priority_queue<Bigram, std::vector<Bigram>, LowerPriority> queue;
  auto try_pair = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::size_t length = symbols[left].length + symbols[right].length;
    const int id = lookup(text.substr(symbols[left].start, length));
    if (id < 0) return;
    queue.push({left, right, scores_[id], length});
  };
  for (int i = 1; i < static_cast<int>(symbols.size()); ++i) try_pair(i - 1, i);

  while (!queue.empty()) {
    const Bigram pair = queue.top();
    queue.pop();
    Symbol& left = symbols[pair.left];
    Symbol& right = symbols[pair.right];
    // Either side already merged elsewhere: the entry is stale.
    if (left.length == 0 || right.length == 0 || left.length + right.length != pair.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = pair.left;
    try_pair(left.prev, pair.left);
    try_pair(pair.left, left.next);
  }

  // Every merge made a piece, so a symbol is a piece or one character that is
  // none: its bytes then go out as byte tokens (llama.cpp's resegment).
  for (int i = symbols.empty() ? -1 : 0; i != -1; i = symbols[i].next) {
    const Symbol& s = symbols[i];
    const int id = lookup(text.substr(s.start, s.length));
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    for (std::size_t b = 0; b < s.length; ++b)
      out.push_back(byte_token(static_cast<unsigned char>(text[s.start + b])));
  }
}

std::string GgufTokenizer::decode(std::span<const int> ids) const {
  std::string text;
  bool strip_space = add_space_prefix_;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const int id = ids[i];
    if (id < 0 || id >= vocab_size())
      throw Error(ExitCode::data, fmt::format("{}: token {} at index {} is outside the vocabulary [0, {})",
                                              path_.string(), id, i, vocab_size()));
    std::string surface;
    switch (types_[id]) {
      case GgufTokenType::control:
      case GgufTokenType::unused:
        break;
      case GgufTokenType::unknown:
        surface = " \xe2\x81\x87 ";  // " ⁇ "
        break;
      case GgufTokenType::byte:
        if (const int byte = byte_of_piece(pieces_[id]); byte >= 0) {
          surface.push_back(static_cast<char>(byte));
          break;
        }
        [[fallthrough]];  // a byte token that is not "<0xXX>" reads as text
      default: {
        // The space the encoder added comes back as the first text piece's
        // leading "▁" (an unknown or byte token there is kept, as sentencepiece does).
        std::string_view text_piece = pieces_[id];
        if (strip_space && text_piece.starts_with(kSpaceMark)) text_piece.remove_prefix(kSpaceMark.size());
        surface = replace_all(text_piece, kSpaceMark, " ");
        strip_space = false;
      }
    }
    if (!surface.empty()) strip_space = false;
    text += surface;
  }
  return text;
}

std::string GgufTokenizer::piece(int id) const {
  if (id < 0 || id >= vocab_size())
    throw Error(ExitCode::data, fmt::format("{}: token {} is outside the vocabulary [0, {})", path_.string(),
                                            id, vocab_size()));
  return pieces_[id];
}

GgufTokenType GgufTokenizer::token_type(int id) const {
  (void)piece(id);  // the range check
  return types_[id];
}

float GgufTokenizer::score(int id) const {
  (void)piece(id);
  return scores_[id];
}

}  // namespace spikesim
