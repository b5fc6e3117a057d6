#pragma once
// Text <-> token ids through a Hugging Face tokenizer.json holding a
// byte-level BPE model, the kind Llama 3, Qwen2 and GPT-2 ship.
//
// The result is meant to equal what the `tokenizers` library gives for
// encode(text, add_special_tokens=False) and decode(ids), token for token.
// So every setting below is either carried out the way that library does it,
// or refused with Error(ExitCode::model) naming the file, the JSON key and
// what was expected: a setting that is read but ignored would give other ids
// without a word.
//
// The format as read (a JSON object; keys not named here are ignored):
//
//   model            required. type "BPE" (WordPiece, Unigram, WordLevel are
//                    refused).
//     vocab          object, token string -> id, a non-negative integer below
//                    2^22. Two tokens with one id are refused.
//     merges         list, lowest rank first, of "left right" strings (split
//                    at the space; a line with several spaces is split where
//                    left, right and left+right are all in vocab, and only if
//                    that place is unique) or of ["left", "right"] pairs.
//                    Both parts and their concatenation must be in vocab. A
//                    pair listed twice keeps its last rank, as in `tokenizers`.
//     ignore_merges  bool (default false): a pre-token that is itself in
//                    vocab is emitted whole, before any merge.
//     unk_token      null or a token of vocab, emitted for a character that
//                    vocab lacks (fuse_unk: consecutive ones fused into one).
//                    With null, such a character makes encode fail.
//     dropout        null or 0 (other values refused: BPE would be random).
//     byte_fallback  false or null (true refused).
//     continuing_subword_prefix, end_of_word_suffix: null or "" (refused
//                    otherwise).
//   added_tokens     list of {id, content, special, normalized, lstrip,
//                    rstrip, single_word}. They are found in the text before
//                    pre-tokenization, longest first at the leftmost place,
//                    and emitted as their id: first those with normalized
//                    false in the raw text, then the others in the normalized
//                    text. lstrip/rstrip swallow the white space on that side;
//                    single_word matches only between non-word characters.
//                    A token in vocab must keep its vocab id; the others
//                    must have the ids `tokenizers` gives them whatever the
//                    file says: the ones after vocab's entries, in list order.
//   normalizer       null, or NFC, NFD, NFKC, NFKD, or a Sequence of these
//                    ("normalizers"). Others (Lowercase, Replace, ...) refused.
//   pre_tokenizer    a Split, Digits or ByteLevel, or a Sequence
//                    ("pretokenizers", nested Sequences allowed) of them, with
//                    exactly one ByteLevel in all:
//     Split          pattern {"Regex": r} or {"String": s}; behavior Isolated,
//                    Removed, MergedWithPrevious, MergedWithNext or Contiguous;
//                    invert bool. r is the file's own regex, run by ICU with
//                    Oniguruma's conventions (^ and $ at line ends, \n the only
//                    newline, an empty match right after a match skipped).
//                    Constructs the two engines read differently (\h, \H and
//                    the group options other than i and x) are refused.
//     Digits         individual_digits bool.
//     ByteLevel      add_prefix_space (default true: a space is put before
//                    every piece that does not start with one), use_regex
//                    (default true: split with GPT-2's regex
//                    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+),
//                    then every byte becomes one character of GPT-2's
//                    bytes_to_unicode alphabet (printable bytes stay, the
//                    others become U+0100 + n). trim_offsets is about offsets
//                    only and is ignored.
//   post_processor   null, ByteLevel, TemplateProcessing or a Sequence
//                    ("processors") of these; read only for bos_id(): the
//                    SpecialToken that starts the "single" template (and
//                    eos_id(): one that ends it after the sequence). Others
//                    refused.
//   decoder          ByteLevel: each token's characters map back to bytes (a
//                    token with a character outside the alphabet, as an added
//                    token may have, is taken as its UTF-8 text) and the bytes
//                    are read as UTF-8, each invalid sequence becoming U+FFFD
//                    as `tokenizers` does. Anything else (null included)
//                    refused.
//   truncation, padding: ignored, they are batch settings of the caller.
//
// Malformed JSON and wrong JSON types are refused the same way. encode()
// throws Error(data) for text that is not valid UTF-8, and when a regex runs
// past ICU's time or stack budget (which grow with the piece: a pattern that
// backtracks without end stops instead of hanging; a single run of millions
// of white-space characters can exceed the stack); decode() and piece()
// throw Error(data) for an id outside [0, vocab_size()) or one no token has.
//
// ICU (regex, normalization, character properties) stays out of this header
// (pimpl). A tokenizer is immutable once built: encode and decode may run on
// several threads at once.
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/formats/text_tokenizer.hpp"

namespace spikesim {

class TokenizerJson final : public TextTokenizer {
 public:
  // Reads and checks `tokenizer_json`; Error(model) naming it when it cannot.
  explicit TokenizerJson(const std::filesystem::path& tokenizer_json);
  // Same checks on text in memory; `source_name` stands for the file in messages.
  static TokenizerJson parse(std::string_view json_text, const std::string& source_name);

  ~TokenizerJson();
  TokenizerJson(TokenizerJson&&) noexcept;
  TokenizerJson& operator=(TokenizerJson&&) noexcept;

  // Token ids of `text`, with bos_id() in front when add_bos (Error(model)
  // when the file names no BOS). Added tokens written in the text, special
  // ones included, become their ids.
  [[nodiscard]] std::vector<int> encode(std::string_view text, bool add_bos = false) const override;
  // Text of `ids`, valid UTF-8; special added tokens give their content
  // (e.g. "<|begin_of_text|>") unless skip_special.
  [[nodiscard]] std::string decode(std::span<const int> ids, bool skip_special) const;
  [[nodiscard]] std::string decode(std::span<const int> ids) const override { return decode(ids, false); }
  // The token string of one id as the file writes it, e.g. "Ġthe" or "<|eot_id|>".
  [[nodiscard]] std::string piece(int id) const override;
  // The id of a token string (an added token's content or a vocab entry), -1 if none.
  [[nodiscard]] int token_to_id(std::string_view piece) const;
  // One more than the largest id.
  [[nodiscard]] int vocab_size() const override;
  // From the post-processor's template; -1 when the file does not say.
  [[nodiscard]] int bos_id() const override;
  [[nodiscard]] int eos_id() const override;
  [[nodiscard]] const std::filesystem::path& path() const override { return path_; }

 private:
  struct Impl;
  TokenizerJson(std::filesystem::path path, std::unique_ptr<Impl> impl);
  std::filesystem::path path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spikesim
