#include "io/formats/text_tokenizer.hpp"

#include "io/formats/gguf.hpp"
#include "io/formats/gguf_tokenizer.hpp"
#include "io/formats/tokenizer.hpp"
#include "io/formats/tokenizer_json.hpp"

namespace spikesim {

std::unique_ptr<TextTokenizer> open_tokenizer(const std::filesystem::path& file) {
  if (file.extension() == ".json") return std::make_unique<TokenizerJson>(file);
  if (file.extension() == ".gguf") return std::make_unique<GgufTokenizer>(GgufFile(file));
  return std::make_unique<Tokenizer>(file);
}

std::filesystem::path find_model_tokenizer(const std::filesystem::path& model) {
  std::error_code ec;
  // A GGUF file carries its vocabulary in tokenizer.ggml.*; only the
  // metadata is parsed here (the tensors stay unread in the mapping).
  if (model.extension() == ".gguf" && std::filesystem::is_regular_file(model, ec))
    return GgufFile(model).has("tokenizer.ggml.model") ? model : std::filesystem::path();
  if (!std::filesystem::is_directory(model, ec)) return {};
  // sentencepiece first: a folder with both is a LLaMA 1/2 export whose
  // tokenizer.json is a conversion of the same model.
  for (const char* name : {"tokenizer.model", "tokenizer.json"})
    if (std::filesystem::is_regular_file(model / name, ec)) return model / name;
  return {};
}

}  // namespace spikesim
