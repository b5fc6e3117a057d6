#pragma once
// Text <-> token ids through a sentencepiece model (tokenizer.model).
//
// A thin wrapper over sentencepiece::SentencePieceProcessor that turns its
// status codes into Error(ExitCode::model) naming the tokenizer file. The
// sentencepiece header stays out of this one (pimpl).
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/formats/text_tokenizer.hpp"

namespace spikesim {

class Tokenizer final : public TextTokenizer {
 public:
  explicit Tokenizer(const std::filesystem::path& model_file);
  ~Tokenizer();
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;

  // Token ids of `text`, with the BOS id in front when add_bos.
  [[nodiscard]] std::vector<int> encode(std::string_view text, bool add_bos = false) const override;
  // Text of `ids` (BOS/EOS and other control ids decode to nothing).
  [[nodiscard]] std::string decode(std::span<const int> ids) const override;
  // The piece of one id, e.g. "▁the" or "<0x0A>"; Error(data) outside the vocabulary.
  [[nodiscard]] std::string piece(int id) const override;
  [[nodiscard]] int vocab_size() const override;
  [[nodiscard]] int bos_id() const override;
  [[nodiscard]] int eos_id() const override;
  [[nodiscard]] const std::filesystem::path& path() const override { return path_; }

 private:
  struct Impl;
  std::filesystem::path path_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spikesim
