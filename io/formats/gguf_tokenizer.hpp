#pragma once
// The tokenizer stored in a GGUF file's metadata, for
// tokenizer.ggml.model = "llama" (a SentencePiece-style vocabulary):
//   tokenizer.ggml.tokens            array of string   the pieces, "▁" (U+2581) for a space
//   tokenizer.ggml.scores            array of float32  merge priority (optional, default 0)
//   tokenizer.ggml.token_type        array of int32    1 normal, 2 unknown, 3 control,
//                                                      4 user defined, 5 unused, 6 byte
//                                                      (optional, default normal)
//   tokenizer.ggml.bos_token_id / eos_token_id / unknown_token_id   uint32 (defaults 1, 2, 0)
//   tokenizer.ggml.add_bos_token     bool (default true)
//   tokenizer.ggml.add_space_prefix  bool (default true)
// Any other model ("gpt2", "bert", "t5", ...) is refused by name.
//
// Encoding follows llama.cpp's SPM tokenizer (llm_tokenizer_spm), which is
// sentencepiece's BPE: a leading space is added (sentencepiece's
// add_dummy_prefix) to non-empty text, spaces become "▁", the text is split
// into UTF-8 characters, and the adjacent pair whose concatenation is a piece
// of the highest score is merged (ties: the leftmost), until no pair is a
// piece. A symbol that is no piece is split back into the pieces it was
// merged from, and a character that is no piece falls back to its byte
// tokens "<0xXX>" (the unknown id when the vocabulary has none). No text
// normalization is applied (sentencepiece's "identity" normalizer).
//
// Decoding maps "▁" to a space and byte tokens to their bytes, drops control
// and unused tokens, writes the unknown token as " ⁇ " (as sentencepiece
// does), and drops the space in front of the first text when a prefix was added.
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/formats/gguf.hpp"
#include "io/formats/text_tokenizer.hpp"

namespace spikesim {

enum class GgufTokenType : int {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6
};

class GgufTokenizer final : public TextTokenizer {
 public:
  // Reads the keys above from `file` (which may be closed afterwards).
  // Error(model) naming the file and key when they are missing or malformed.
  explicit GgufTokenizer(const GgufFile& file);

  [[nodiscard]] std::vector<int> encode(std::string_view text, bool add_bos) const override;
  [[nodiscard]] std::string decode(std::span<const int> ids) const override;
  [[nodiscard]] std::string piece(int id) const override;
  [[nodiscard]] int vocab_size() const override { return static_cast<int>(pieces_.size()); }
  [[nodiscard]] int bos_id() const override { return bos_id_; }
  [[nodiscard]] int eos_id() const override { return eos_id_; }
  [[nodiscard]] int unknown_id() const { return unknown_id_; }
  [[nodiscard]] const std::filesystem::path& path() const override { return path_; }
  // tokenizer.ggml.add_bos_token: whether the model expects BOS in front of a prompt.
  [[nodiscard]] bool add_bos_token() const { return add_bos_token_; }
  [[nodiscard]] GgufTokenType token_type(int id) const;
  [[nodiscard]] float score(int id) const;

 private:
  void encode_text(const std::string& text, std::vector<int>& out) const;
  [[nodiscard]] int lookup(const std::string& piece) const;  // -1 when absent
  [[nodiscard]] int byte_token(unsigned char byte) const;
  std::filesystem::path path_;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::vector<GgufTokenType> types_;
  std::unordered_map<std::string, int> ids_;
  int bos_id_ = 1;
  int eos_id_ = 2;
  int unknown_id_ = 0;
  bool add_bos_token_ = true;
  bool add_space_prefix_ = true;
};

}  // namespace spikesim
