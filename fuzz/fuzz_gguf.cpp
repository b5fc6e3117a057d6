// Fuzzes the GGUF reader (io/formats/gguf.hpp) on a whole file image: the
// header and its counts, every metadata value type (strings and arrays
// bounded by the file, nesting, duplicate keys), general.alignment, and the
// tensor infos (dims, type, block sizes, aligned offsets inside the file, no
// overlap); then touches what an accepted file offers: every typed getter
// on every key, every tensor's data span and its decoding, and the
// tokenizer built from the metadata; and the LLaMA loader
// (io/formats/gguf_loader.hpp) on the same image, which must load a model
// that validates or refuse with an Error.
//
// Seeds: fuzz/corpus/fuzz_gguf/ (fuzz/make_gguf_corpus.cpp). Running it:
// docs/fuzzing.md.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "io/formats/gguf.hpp"
#include "io/formats/gguf_blocks.hpp"
#include "io/formats/gguf_loader.hpp"
#include "io/formats/gguf_tokenizer.hpp"

using namespace spikesim;

namespace {

// Exactly one scalar getter accepts a scalar value: the one of its type.
void touch_value(const GgufFile& file, const std::string& key, const GgufValue& value) {
  int accepted = 0;
  accepted += fuzz::accepts([&] { (void)file.get_u8(key); });
  accepted += fuzz::accepts([&] { (void)file.get_i8(key); });
  accepted += fuzz::accepts([&] { (void)file.get_u16(key); });
  accepted += fuzz::accepts([&] { (void)file.get_i16(key); });
  accepted += fuzz::accepts([&] { (void)file.get_u32(key); });
  accepted += fuzz::accepts([&] { (void)file.get_i32(key); });
  accepted += fuzz::accepts([&] { (void)file.get_u64(key); });
  accepted += fuzz::accepts([&] { (void)file.get_i64(key); });
  accepted += fuzz::accepts([&] { (void)file.get_f32(key); });
  accepted += fuzz::accepts([&] { (void)file.get_f64(key); });
  accepted += fuzz::accepts([&] { (void)file.get_bool(key); });
  accepted += fuzz::accepts([&] { (void)file.get_string(key); });
  FUZZ_CHECK(accepted == (value.type == GgufValueType::array ? 0 : 1));
  if (value.type != GgufValueType::array) return;
  FUZZ_CHECK(file.get_array(key, value.element_type).size() == value.elements.size());
  const bool strings = fuzz::accepts([&] { (void)file.get_string_array(key); });
  const bool floats = fuzz::accepts([&] { (void)file.get_f32_array(key); });
  const bool ints = fuzz::accepts([&] { (void)file.get_i32_array(key); });
  FUZZ_CHECK(strings == (value.element_type == GgufValueType::string));
  FUZZ_CHECK(floats == (value.element_type == GgufValueType::f32));
  FUZZ_CHECK(ints == (value.element_type == GgufValueType::i32));
}

void touch_tensor(const GgufFile& file, const GgufTensorInfo& t, std::size_t size) {
  const auto bytes = file.data(t.name);
  FUZZ_CHECK(bytes.size() == t.byte_size);
  FUZZ_CHECK(t.offset % file.alignment() == 0);
  FUZZ_CHECK(file.data_offset() + t.offset + t.byte_size <= size);
  FUZZ_CHECK(t.rows() * t.row_bytes() == t.byte_size);
  FUZZ_CHECK(file.read_f32(t.name).size() == t.elements());
  if (t.type != GgufTensorType::q8_0 && t.type != GgufTensorType::q4_0) return;
  std::vector<float> scales(t.ne[0] / kGgufQuantBlock);
  std::vector<std::int8_t> codes8(t.ne[0]);
  std::vector<std::uint8_t> codes4(t.ne[0]);
  const auto row = bytes.first(t.row_bytes());
  if (t.type == GgufTensorType::q8_0) {
    decode_q8_0_row(row, scales, codes8);
  } else {
    decode_q4_0_row(row, scales, codes4);
    for (auto q : codes4) FUZZ_CHECK(q <= 15);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::accepts([&] {
    const auto file = GgufFile::from_bytes(fuzz::as_bytes(data, size), "fuzz.gguf");
    FUZZ_CHECK(file.data_offset() % file.alignment() == 0);
    for (const auto& entry : file.metadata()) touch_value(file, entry.first, entry.second);
    std::uint64_t covered = 0;
    for (const auto& t : file.tensors()) {
      touch_tensor(file, t, size);
      covered += t.byte_size;
    }
    FUZZ_CHECK(covered <= size);  // no two tensors share a byte
    fuzz::accepts([&] {
      const GgufTokenizer tok(file);
      const auto ids = tok.encode("Hello world, na\xc3\xafve \xe2\x80\x94 <s>", true);
      for (int id : ids) FUZZ_CHECK(id >= 0 && id < tok.vocab_size());
      (void)tok.decode(ids);
    });
  });
  fuzz::accepts([&] {
    const LlamaModel m = load_gguf_model_from_bytes(fuzz::as_bytes(data, size), "fuzz.gguf");
    validate_model(m);
  });
  return 0;
}
