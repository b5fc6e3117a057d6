// GgufTokenizer (io/formats/gguf_tokenizer.hpp) against sentencepiece on the
// real Brown tokenizer: its pieces, scores and types are read with the
// sentencepiece API, written into a GGUF as llama.cpp's converter does
// (tokenizer.ggml.*), loaded back, and every one of the first 200 lines of
// data/brown_dev.txt must encode id for id as sentencepiece encodes it, and
// decode back to the line. Missing files fail the test in CI and skip it
// elsewhere (tests/support/shared_data.hpp).
#include <catch2/catch.hpp>

#include <sentencepiece_processor.h>

#include <fstream>
#include <string>
#include <vector>

#include "io/formats/gguf.hpp"
#include "io/formats/gguf_tokenizer.hpp"
#include "io/formats/gguf_writer.hpp"
#include "tests/support/gguf_vocabulary.hpp"
#include "tests/support/shared_data.hpp"

using namespace spikesim;

namespace {

std::string show(const std::vector<int>& ids, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < ids.size() && i < from + 8; ++i) out += std::to_string(ids[i]) + " ";
  return out;
}

}  // namespace

TEST_CASE("GGUF tokenizer: Brown vocabulary encodes brown_dev as sentencepiece does",
          "[gguf][tokenizer][validation]") {
  SPIKESIM_REQUIRE_SHARED(model_file, "models/brown-llama-s/tokenizer.model");
  SPIKESIM_REQUIRE_SHARED(text_file, "data/brown_dev.txt");
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.Load(model_file.string()).ok());

  GgufWriter writer;
  writer.set("general.architecture", GgufValue::of_string("llama"));
  test::add_sentencepiece_vocabulary(writer, sp);
  const auto file = GgufFile::from_bytes(writer.bytes(), "brown-vocab.gguf");
  const GgufTokenizer tok(file);
  REQUIRE(tok.vocab_size() == sp.GetPieceSize());
  CHECK(tok.bos_id() == sp.bos_id());
  CHECK(tok.eos_id() == sp.eos_id());

  std::ifstream in(text_file);
  std::string line;
  int lines = 0;
  std::size_t tokens = 0;
  while (lines < 200 && std::getline(in, line)) {
    ++lines;
    std::vector<int> want;
    REQUIRE(sp.Encode(line, &want).ok());
    const auto got = tok.encode(line, false);
    std::size_t first_difference = 0;
    while (first_difference < got.size() && first_difference < want.size() &&
           got[first_difference] == want[first_difference])
      ++first_difference;
    INFO("line " << lines << ": " << line.substr(0, 120));
    INFO("first difference at token " << first_difference << ": got " << show(got, first_difference)
                                      << "/ want " << show(want, first_difference));
    CHECK(got == want);
    CHECK(tok.decode(got) == line);
    std::vector<int> with_bos = got;
    with_bos.insert(with_bos.begin(), sp.bos_id());
    CHECK(tok.encode(line, true) == with_bos);
    tokens += got.size();
  }
  CHECK(lines == 200);
  CHECK(tokens > 1000);

  // Characters outside the vocabulary (byte fallback), control characters,
  // and text that looks like a control piece. (Not leading, trailing or
  // double spaces: sentencepiece's remove_extra_whitespaces collapses them,
  // llama.cpp does not.)
  for (const std::string text :
       {"na\xc3\xafve caf\xc3\xa9 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "tabs\there",
        "line\nbreak", "emoji \xf0\x9f\x98\x80 ok", "<s> and </s> and <unk>", "1946, 1945."}) {
    std::vector<int> want;
    REQUIRE(sp.Encode(text, &want).ok());
    INFO(text);
    CHECK(tok.encode(text, false) == want);
    CHECK(tok.decode(want) == text);
  }
}
