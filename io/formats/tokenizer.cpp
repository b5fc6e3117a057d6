#include "io/formats/tokenizer.hpp"

#include <sentencepiece_processor.h>

#include "core/error.hpp"

namespace spikesim {

struct Tokenizer::Impl {
  sentencepiece::SentencePieceProcessor sp;
};

Tokenizer::Tokenizer(const std::filesystem::path& model_file)
    : path_(model_file), impl_(std::make_unique<Impl>()) {
  if (!std::filesystem::is_regular_file(model_file))
    throw Error(ExitCode::model, fmt::format("{}: tokenizer model not found (expected a sentencepiece "
                                             "tokenizer.model)",
                                             model_file.string()));
  const auto status = impl_->sp.Load(model_file.string());
  if (!status.ok())
    throw Error(ExitCode::model, fmt::format("{}: cannot load sentencepiece model: {}", model_file.string(),
                                             status.ToString()));
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

std::vector<int> Tokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  const auto status = impl_->sp.Encode(text, &ids);
  if (!status.ok())
    throw Error(ExitCode::data, fmt::format("{}: cannot encode text: {}", path_.string(), status.ToString()));
  if (add_bos) ids.insert(ids.begin(), bos_id());
  return ids;
}

std::string Tokenizer::decode(std::span<const int> ids) const {
  const int n = vocab_size();
  for (std::size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= n)
      throw Error(ExitCode::data, fmt::format("{}: token {} at index {} is outside the vocabulary [0, {})",
                                              path_.string(), ids[i], i, n));
  std::string text;
  const auto status = impl_->sp.Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  if (!status.ok())
    throw Error(ExitCode::data, fmt::format("{}: cannot decode ids: {}", path_.string(), status.ToString()));
  return text;
}

std::string Tokenizer::piece(int id) const {
  if (id < 0 || id >= vocab_size())
    throw Error(ExitCode::data, fmt::format("{}: token {} is outside the vocabulary [0, {})", path_.string(),
                                            id, vocab_size()));
  return impl_->sp.IdToPiece(id);
}

int Tokenizer::vocab_size() const {
  return impl_->sp.GetPieceSize();
}
int Tokenizer::bos_id() const {
  return impl_->sp.bos_id();
}
int Tokenizer::eos_id() const {
  return impl_->sp.eos_id();
}

}  // namespace spikesim
