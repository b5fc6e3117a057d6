#pragma once
// A sentencepiece model's vocabulary written into a GGUF as llama.cpp's
// converter writes it (tokenizer.ggml.*, read back by gguf_tokenizer.hpp).
#include <sentencepiece_processor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "io/formats/gguf_tokenizer.hpp"
#include "io/formats/gguf_writer.hpp"

namespace spikesim::test {

// llama.cpp's token type (GgufTokenType) of a sentencepiece piece.
inline std::int32_t gguf_token_type(const sentencepiece::SentencePieceProcessor& sp, int id) {
  if (sp.IsUnknown(id)) return static_cast<std::int32_t>(GgufTokenType::unknown);
  if (sp.IsControl(id)) return static_cast<std::int32_t>(GgufTokenType::control);
  if (sp.IsByte(id)) return static_cast<std::int32_t>(GgufTokenType::byte);
  if (sp.IsUnused(id)) return static_cast<std::int32_t>(GgufTokenType::unused);
  return static_cast<std::int32_t>(GgufTokenType::normal);
}

// Sets tokenizer.ggml.model ("llama"), tokens, scores, token_type,
// bos/eos/unknown_token_id and add_bos_token (true) from `sp`.
inline void add_sentencepiece_vocabulary(GgufWriter& w, const sentencepiece::SentencePieceProcessor& sp) {
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    pieces.push_back(sp.IdToPiece(id));
    scores.push_back(sp.GetScore(id));
    types.push_back(gguf_token_type(sp, id));
  }
  w.set("tokenizer.ggml.model", GgufValue::of_string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::of_strings(pieces));
  w.set("tokenizer.ggml.scores", GgufValue::of_f32s(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::of_i32s(types));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::of_u32(static_cast<std::uint32_t>(sp.bos_id())));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::of_u32(static_cast<std::uint32_t>(sp.eos_id())));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::of_u32(static_cast<std::uint32_t>(sp.unk_id())));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::of_bool(true));
}

}  // namespace spikesim::test
