#pragma once
// Text <-> token ids, whatever file the tokenizer comes in: a sentencepiece
// tokenizer.model (tokenizer.hpp), a Hugging Face tokenizer.json
// (tokenizer_json.hpp) or a GGUF file's vocabulary (gguf_tokenizer.hpp). A run uses it for prompts and generated text.
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spikesim {

class TextTokenizer {
 public:
  virtual ~TextTokenizer() = default;
  // Token ids of `text`, with the BOS id in front when add_bos.
  [[nodiscard]] virtual std::vector<int> encode(std::string_view text, bool add_bos) const = 0;
  [[nodiscard]] virtual std::string decode(std::span<const int> ids) const = 0;
  // The token string of one id as the file writes it; Error(data) outside the vocabulary.
  [[nodiscard]] virtual std::string piece(int id) const = 0;
  [[nodiscard]] virtual int vocab_size() const = 0;
  // -1 when the file does not say (a tokenizer.json without a template).
  [[nodiscard]] virtual int bos_id() const = 0;
  [[nodiscard]] virtual int eos_id() const = 0;
  [[nodiscard]] virtual const std::filesystem::path& path() const = 0;
};

// Opens `file` by its name: *.json as tokenizer.json, *.gguf as the GGUF's
// own tokenizer.ggml.* vocabulary (gguf_tokenizer.hpp), anything else as a
// sentencepiece model. Error(model) naming the file when it cannot.
std::unique_ptr<TextTokenizer> open_tokenizer(const std::filesystem::path& file);

// The tokenizer file of a model folder: tokenizer.model when present, else
// tokenizer.json; a .gguf model file itself when it holds tokenizer.ggml.*;
// empty when there is none.
std::filesystem::path find_model_tokenizer(const std::filesystem::path& model);

}  // namespace spikesim
