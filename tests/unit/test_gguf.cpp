// The GGUF layer (io/formats/gguf*.hpp): writer -> reader round trips for
// every accepted type and every metadata value type, the block layouts and
// llama.cpp's reference quantization, each refusal of the reader naming what
// it should, the q/k row permutation, and the SPM tokenizer on a small
// vocabulary (the real one is in tests/validation/test_gguf_tokenizer.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/formats/gguf.hpp"
#include "io/formats/gguf_blocks.hpp"
#include "io/formats/gguf_qk_permute.hpp"
#include "io/formats/gguf_tokenizer.hpp"
#include "io/formats/gguf_writer.hpp"
#include "io/formats/safetensors.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
using Catch::Matchers::Contains;

namespace {

using Bytes = std::vector<std::byte>;

// Offset of the first occurrence of `text` in `image` (a key or tensor name).
std::size_t find(const Bytes& image, const std::string& text) {
  for (std::size_t i = 0; i + text.size() <= image.size(); ++i)
    if (std::memcmp(image.data() + i, text.data(), text.size()) == 0) return i;
  FAIL("'" << text << "' not found in the image");
  return 0;
}

void put_u32(Bytes& image, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) image[at + i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}
void put_u64(Bytes& image, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) image[at + i] = static_cast<std::byte>((v >> (8 * i)) & 0xff);
}
// A copy of `image` with one field overwritten.
Bytes with_u32(Bytes image, std::size_t at, std::uint32_t v) {
  put_u32(image, at, v);
  return image;
}
Bytes with_u64(Bytes image, std::size_t at, std::uint64_t v) {
  put_u64(image, at, v);
  return image;
}

// Field offsets of a tensor info, found by the tensor's name.
struct InfoFields {
  std::size_t n_dims, ne0, type, offset;
};
InfoFields info_fields(const Bytes& image, const std::string& name, std::uint32_t n_dims) {
  const std::size_t after_name = find(image, name) + name.size();
  return {after_name, after_name + 4, after_name + 4 + 8 * n_dims, after_name + 8 + 8 * n_dims};
}

std::vector<float> ramp(std::size_t n, float scale = 0.37f) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * (static_cast<float>((i * 7919) % 61) - 30.0f);
  return v;
}

// Two small F32 tensors and a few keys: the image the refusal tests patch.
Bytes two_tensor_image() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::of_string("llama"));
  w.set("llama.block_count", GgufValue::of_u32(4));
  w.set("some.flag", GgufValue::of_bool(true));
  w.add_tensor("first", {4, 2}, ramp(8), GgufTensorType::f32);
  w.add_tensor("second", {8}, ramp(8), GgufTensorType::f32);
  return w.bytes();
}

std::string refusal(const Bytes& image) {
  try {
    (void)GgufFile::from_bytes(image, "bad.gguf");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::model);
    return e.what();
  }
  FAIL("the image was accepted");
  return {};
}

// llama.cpp's quantize_row_q8_0_ref / quantize_row_q4_0_ref (ggml-quants.c)
// for one block, transcribed here independently of gguf_blocks.cpp.
void reference_q8_0(const float* x, std::uint16_t& d_bits, std::int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < 32; j++) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / ((1 << 7) - 1);
  const float id = d ? 1.0f / d : 0.0f;
  d_bits = f32_to_f16(d);
  for (int j = 0; j < 32; ++j) q[j] = static_cast<std::int8_t>(std::roundf(x[j] * id));
}
void reference_q4_0(const float* x, std::uint16_t& d_bits, std::uint8_t* q) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; j++)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / -8;
  const float id = d ? 1.0f / d : 0.0f;
  d_bits = f32_to_f16(d);
  for (int j = 0; j < 32; ++j)
    q[j] =
        static_cast<std::uint8_t>(std::min(15, static_cast<int>(static_cast<std::int8_t>(x[j] * id + 8.5f))));
}

}  // namespace

// ---- round trips -----------------------------------------------------------------

TEST_CASE("GGUF: every tensor type survives writer -> reader", "[gguf]") {
  const auto values = ramp(64 * 3);
  GgufWriter w;
  for (auto type : {GgufTensorType::f32, GgufTensorType::f16, GgufTensorType::bf16, GgufTensorType::q8_0,
                    GgufTensorType::q4_0})
    w.add_tensor("t." + gguf_tensor_type_name(type), {64, 3}, values, type);
  const auto image = w.bytes();
  const auto file = GgufFile::from_bytes(image, "types.gguf");
  REQUIRE(file.tensors().size() == 5);
  CHECK(file.tensors()[0].name == "t.F32");  // file order kept

  CHECK(file.read_f32("t.F32") == values);
  const auto f16 = file.read_f32("t.F16");
  const auto bf16 = file.read_f32("t.BF16");
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHECK(f16[i] == f16_to_f32(f32_to_f16(values[i])));
    CHECK(bf16[i] == bf16_to_f32(f32_to_bf16(values[i])));
  }

  const auto& q8 = file.tensor("t.Q8_0");
  CHECK(q8.ne == std::vector<std::uint64_t>{64, 3});
  CHECK(q8.rows() == 3);
  CHECK(q8.row_bytes() == 2 * kQ8_0BlockBytes);
  CHECK(q8.byte_size == 6 * kQ8_0BlockBytes);
  CHECK(file.data("t.Q8_0").size() == q8.byte_size);
  const auto& q4 = file.tensor("t.Q4_0");
  CHECK(q4.byte_size == 6 * kQ4_0BlockBytes);
  for (std::size_t r = 0; r < 3; ++r) {
    std::vector<float> scales8(2), scales4(2);
    std::vector<std::int8_t> codes8(64);
    std::vector<std::uint8_t> codes4(64);
    decode_q8_0_row(file.data("t.Q8_0").subspan(r * q8.row_bytes(), q8.row_bytes()), scales8, codes8);
    decode_q4_0_row(file.data("t.Q4_0").subspan(r * q4.row_bytes(), q4.row_bytes()), scales4, codes4);
    for (std::size_t b = 0; b < 2; ++b) {
      const float* x = values.data() + r * 64 + b * 32;
      std::uint16_t d8 = 0, d4 = 0;
      std::int8_t want8[32];
      std::uint8_t want4[32];
      reference_q8_0(x, d8, want8);
      reference_q4_0(x, d4, want4);
      CHECK(scales8[b] == f16_to_f32(d8));
      CHECK(scales4[b] == f16_to_f32(d4));
      for (int j = 0; j < 32; ++j) {
        CHECK(codes8[b * 32 + j] == want8[j]);
        CHECK(codes4[b * 32 + j] == want4[j]);
      }
    }
  }
  // Dequantized: within half a step of the original.
  const auto dq8 = file.read_f32("t.Q8_0");
  const auto dq4 = file.read_f32("t.Q4_0");
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHECK(std::fabs(dq8[i] - values[i]) <= 11.1f / 127 * 0.5f + 1e-2f);
    CHECK(std::fabs(dq4[i] - values[i]) <= 11.1f / 8 + 1e-2f);
  }
}

TEST_CASE("GGUF: Q8_0 and Q4_0 codes of a block worked by hand", "[gguf]") {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);  // -16 .. 15
  std::vector<std::byte> q8(kQ8_0BlockBytes), q4(kQ4_0BlockBytes);
  quantize_row_q8_0(x, q8);
  quantize_row_q4_0(x, q4);
  const auto b8 = decode_q8_0_block(q8.data());
  CHECK(b8.scale == f16_to_f32(f32_to_f16(16.0f / 127)));
  CHECK(b8.codes[0] == -127);  // -16 * 127/16
  CHECK(b8.codes[16] == 0);
  CHECK(b8.codes[17] == 8);    // 1 * 127/16 = 7.94 -> 8
  CHECK(b8.codes[31] == 119);  // 15 * 127/16 = 119.06
  const auto b4 = decode_q4_0_block(q4.data());
  CHECK(b4.scale == 2.0f);    // max = -16 (largest |x|), d = -16 / -8
  CHECK(b4.codes[0] == 0);    // -16/2 + 8.5 = 0.5 -> 0
  CHECK(b4.codes[1] == 1);    // -7.5 + 8.5 = 1
  CHECK(b4.codes[2] == 1);    // -7 + 8.5 = 1.5 -> 1
  CHECK(b4.codes[16] == 8);   // 0 + 8.5 -> 8
  CHECK(b4.codes[31] == 15);  // 7.5 + 8.5 = 16 -> clamped to 15
  // Nibble layout: byte k holds element k low and element k + 16 high.
  CHECK(std::to_integer<int>(q4[2 + 1]) == (b4.codes[1] | (b4.codes[17] << 4)));
  std::vector<float> w(32);
  dequantize_row(GgufTensorType::q4_0, q4, w);
  CHECK(w[0] == -16.0f);
  CHECK(w[16] == 0.0f);
  CHECK(w[31] == 14.0f);
}

TEST_CASE("GGUF: Q4_0 nibbles decode as element k low, k + 16 high", "[gguf]") {
  std::vector<std::byte> block(kQ4_0BlockBytes);
  block[0] = std::byte{0x00};
  block[1] = std::byte{0x3c};  // f16 1.0
  for (int k = 0; k < 16; ++k) block[2 + k] = static_cast<std::byte>(k | ((15 - k) << 4));
  const auto b = decode_q4_0_block(block.data());
  CHECK(b.scale == 1.0f);
  for (int k = 0; k < 16; ++k) {
    CHECK(b.codes[k] == k);
    CHECK(b.codes[k + 16] == 15 - k);
  }
}

TEST_CASE("GGUF: every metadata value type survives writer -> reader", "[gguf]") {
  GgufWriter w(64);
  w.set("u8", GgufValue::of_u8(250));
  w.set("i8", GgufValue::of_i8(-120));
  w.set("u16", GgufValue::of_u16(65000));
  w.set("i16", GgufValue::of_i16(-32000));
  w.set("u32", GgufValue::of_u32(4000000000U));
  w.set("i32", GgufValue::of_i32(-2000000000));
  w.set("u64", GgufValue::of_u64(18000000000000000000ULL));
  w.set("i64", GgufValue::of_i64(-9000000000000000000LL));
  w.set("f32", GgufValue::of_f32(1e-5f));
  w.set("f64", GgufValue::of_f64(3.141592653589793));
  w.set("bool", GgufValue::of_bool(false));
  w.set("string", GgufValue::of_string("h\xc3\xa9llo"));
  w.set("strings", GgufValue::of_strings({"a", "", "\xe2\x96\x81the"}));
  const std::vector<float> floats{0.5f, -2.0f};
  w.set("floats", GgufValue::of_f32s(floats));
  w.set("nested", GgufValue::of_array(GgufValueType::array,
                                      {GgufValue::of_array(GgufValueType::u16, {GgufValue::of_u16(1)}),
                                       GgufValue::of_array(GgufValueType::string, {})}));
  w.add_tensor("x", {32}, ramp(32), GgufTensorType::q8_0);
  const auto image = w.bytes();
  const auto file = GgufFile::from_bytes(image, "meta.gguf");
  CHECK(file.alignment() == 64);
  CHECK(file.data_offset() % 64 == 0);
  CHECK(file.get_u32("general.alignment") == 64);
  CHECK(file.get_u8("u8") == 250);
  CHECK(file.get_i8("i8") == -120);
  CHECK(file.get_u16("u16") == 65000);
  CHECK(file.get_i16("i16") == -32000);
  CHECK(file.get_u32("u32") == 4000000000U);
  CHECK(file.get_i32("i32") == -2000000000);
  CHECK(file.get_u64("u64") == 18000000000000000000ULL);
  CHECK(file.get_i64("i64") == -9000000000000000000LL);
  CHECK(file.get_f32("f32") == 1e-5f);
  CHECK(file.get_f64("f64") == 3.141592653589793);
  CHECK_FALSE(file.get_bool("bool"));
  CHECK(file.get_string("string") == "h\xc3\xa9llo");
  CHECK(file.get_string_array("strings") == std::vector<std::string>{"a", "", "\xe2\x96\x81the"});
  CHECK(file.get_f32_array("floats") == floats);
  const auto& nested = file.get_array("nested", GgufValueType::array);
  REQUIRE(nested.size() == 2);
  CHECK(nested[0].element_type == GgufValueType::u16);
  CHECK(nested[0].elements.at(0).unsigned_value == 1);
  CHECK(nested[1].elements.empty());
  CHECK(file.find_u32("absent") == std::nullopt);
  CHECK(file.find_string("string") == "h\xc3\xa9llo");

  // Typed getters name the key and both types; absent keys are named too.
  CHECK_THROWS_WITH(file.get_u32("i32"),
                    Contains("meta.gguf") && Contains("key 'i32': expected uint32, found int32"));
  CHECK_THROWS_WITH(file.find_bool("u8"), Contains("key 'u8': expected bool, found uint8"));
  CHECK_THROWS_WITH(file.get_f32_array("strings"),
                    Contains("key 'strings': expected an array of float32, found an array of string"));
  CHECK_THROWS_WITH(file.get_u32("llama.block_count"), Contains("missing metadata key 'llama.block_count'"));
  CHECK_THROWS_WITH(file.tensor("y"), Contains("no tensor 'y'"));
}

TEST_CASE("GGUF: a written file opens memory-mapped as it reads from bytes", "[gguf]") {
  test::TempDir dir("gguf");
  GgufWriter w;
  w.set("general.architecture", GgufValue::of_string("llama"));
  w.add_tensor("token_embd.weight", {32, 4}, ramp(128), GgufTensorType::q4_0);
  w.write(dir.path() / "m.gguf");
  const GgufFile file(dir.path() / "m.gguf");
  const auto from_bytes = GgufFile::from_bytes(w.bytes(), "m.gguf");
  CHECK(file.read_f32("token_embd.weight") == from_bytes.read_f32("token_embd.weight"));
  CHECK(file.get_string("general.architecture") == "llama");
  CHECK_THROWS_WITH(GgufFile(dir.path() / "absent.gguf"), Contains("absent.gguf") && Contains("cannot open"));
  CHECK_THROWS_WITH(GgufFile(dir.path()), Contains("not a regular file"));
}

TEST_CASE("GGUF writer refuses what it cannot write, naming the tensor or key", "[gguf]") {
  GgufWriter w;
  w.set("a", GgufValue::of_u8(1));
  CHECK_THROWS_WITH(w.set("a", GgufValue::of_u8(2)), Contains("key 'a' is set twice"));
  CHECK_THROWS_WITH(w.set("general.alignment", GgufValue::of_u32(64)), Contains("general.alignment"));
  CHECK_THROWS_WITH(GgufWriter(48), Contains("alignment 48 is not a power of two"));
  CHECK_THROWS_WITH(w.add_tensor("q", {16, 2}, ramp(32), GgufTensorType::q4_0),
                    Contains("tensor 'q': ne[0] = 16 is not a multiple of the Q4_0 block size 32"));
  CHECK_THROWS_WITH(w.add_tensor("n", {3}, ramp(4), GgufTensorType::f32), Contains("tensor 'n': 4 values"));
  std::vector<float> nan(32, 0.0f);
  nan[5] = std::nanf("");
  CHECK_THROWS_WITH(w.add_tensor("nan", {32}, nan, GgufTensorType::q8_0),
                    Contains("tensor 'nan'") && Contains("element 5"));
  w.add_tensor("ok", {32}, ramp(32), GgufTensorType::f16);
  CHECK_THROWS_WITH(w.add_tensor("ok", {32}, ramp(32), GgufTensorType::f16), Contains("'ok' is added twice"));
}

// ---- refusals --------------------------------------------------------------------------

TEST_CASE("GGUF: the two-tensor image is valid before it is patched", "[gguf]") {
  const auto image = two_tensor_image();
  const auto file = GgufFile::from_bytes(image, "good.gguf");
  CHECK(file.get_u32("llama.block_count") == 4);
  CHECK(file.tensor("second").offset == 32);  // 32 bytes of "first", aligned
}

TEST_CASE("GGUF header refusals name the file and what was expected", "[gguf]") {
  const auto good = two_tensor_image();
  CHECK_THAT(refusal(Bytes(good.begin(), good.begin() + 10)),
             Contains("bad.gguf") && Contains("shorter than the 24-byte GGUF header"));
  auto magic = good;
  magic[0] = std::byte{'g'};
  CHECK_THAT(refusal(magic), Contains("not a GGUF file") && Contains("\"GGUF\""));
  CHECK_THAT(refusal(with_u32(good, 4, 2)), Contains("GGUF version 2 is not supported (expected version 3"));
  CHECK_THAT(refusal(with_u32(good, 4, 0x03000000U)), Contains("big-endian"));
  CHECK_THAT(refusal(with_u64(good, 16, 1ULL << 40)),
             Contains("metadata key-value count 1099511627776 is more than"));
  CHECK_THAT(refusal(with_u64(good, 8, ~0ULL)), Contains("tensor count 18446744073709551615 is more than"));
  // Cut inside the tensor infos, and inside the data section.
  CHECK_THAT(
      refusal(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(find(good, "second") + 8))),
      Contains("file truncated: tensor 'second' n_dims needs 4 bytes"));
  CHECK_THAT(refusal(Bytes(good.begin(), good.end() - 1)),
             Contains("tensor 'second'") && Contains("run past the end of the data section"));
}

TEST_CASE("GGUF metadata refusals name the key", "[gguf]") {
  const auto good = two_tensor_image();
  CHECK_THAT(
      refusal(with_u64(good, find(good, "general.architecture") + 20 + 4, 1ULL << 50)),
      Contains("key 'general.architecture'") && Contains("string length 1125899906842624 runs past the end"));
  {
    // Two keys of the same length, the second renamed to the first.
    GgufWriter w;
    w.set("a.x", GgufValue::of_u32(1));
    w.set("a.y", GgufValue::of_u32(2));
    auto image = w.bytes();
    image[find(image, "a.y") + 2] = std::byte{'x'};
    CHECK_THAT(refusal(image), Contains("key 'a.x' appears twice"));
  }
  CHECK_THAT(refusal(with_u32(good, find(good, "llama.block_count") + 17, 13)),
             Contains("key 'llama.block_count': unknown value type 13"));
  auto bad_bool = good;
  bad_bool[find(good, "some.flag") + 9 + 4] = std::byte{2};
  CHECK_THAT(refusal(bad_bool), Contains("key 'some.flag': bool must be 0 or 1, found 2"));
  {
    GgufWriter w;
    w.set("tokenizer.ggml.scores", GgufValue::of_f32s(std::vector<float>{1.0f, 2.0f}));
    auto image = w.bytes();
    put_u64(image, find(image, "tokenizer.ggml.scores") + 21 + 4 + 4, 1ULL << 61);
    CHECK_THAT(refusal(image),
               Contains("key 'tokenizer.ggml.scores': array of 2305843009213693952 float32 elements") &&
                   Contains("bytes are left in the file"));
  }
  {
    GgufWriter w(64);
    w.add_tensor("t", {4}, ramp(4), GgufTensorType::f32);
    auto image = w.bytes();
    put_u32(image, find(image, "general.alignment") + 17 + 4, 48);
    CHECK_THAT(refusal(image), Contains("key 'general.alignment': 48 is not a power of two"));
    put_u32(image, find(image, "general.alignment") + 17, 5);  // int32
    CHECK_THAT(refusal(image), Contains("key 'general.alignment': expected uint32, found int32"));
  }
  {
    // More array elements than the metadata budget, each one byte (the file
    // holds them all): refused before anything is allocated.
    GgufWriter w;
    w.set("big", GgufValue::of_array(GgufValueType::u8, {GgufValue::of_u8(1)}));
    auto image = w.bytes();
    image.resize(image.size() + kGgufMaxMetadataValues + 1);
    put_u64(image, find(image, "big") + 3 + 4 + 4, kGgufMaxMetadataValues + 1);
    CHECK_THAT(refusal(image), Contains("key 'big': array of 4194305 elements takes the file's metadata "
                                        "beyond 4194304 values"));
  }
  {
    // Arrays of arrays deeper than kGgufMaxArrayNesting.
    GgufValue v = GgufValue::of_array(GgufValueType::u8, {});
    for (int i = 0; i < kGgufMaxArrayNesting; ++i) v = GgufValue::of_array(GgufValueType::array, {v});
    GgufWriter w;
    w.set("deep", v);
    CHECK_THAT(refusal(w.bytes()), Contains("key 'deep'") && Contains("nested more than 8 deep"));
  }
}

TEST_CASE("GGUF tensor info refusals name the tensor", "[gguf]") {
  const auto good = two_tensor_image();
  const auto first = info_fields(good, "first", 2);
  const auto second = info_fields(good, "second", 1);

  CHECK_THAT(refusal(with_u32(good, first.type, 12)),
             Contains("bad.gguf") && Contains("tensor 'first': tensor type Q4_K (12) is not supported") &&
                 Contains("expected F32, F16, BF16, Q8_0 or Q4_0"));
  CHECK_THAT(refusal(with_u32(good, first.type, 1000)), Contains("tensor type type 1000 (1000)"));
  CHECK_THAT(refusal(with_u64(good, second.offset, 16)),
             Contains("tensor 'second': offset 16 is not a multiple of the alignment 32"));
  CHECK_THAT(refusal(with_u64(good, second.offset, 1024)),
             Contains("tensor 'second'") && Contains("at data offset 1024 run past the end"));
  CHECK_THAT(refusal(with_u64(good, second.offset, 0)),
             Contains("overlaps tensor") && Contains("'first'") && Contains("'second'"));
  CHECK_THAT(refusal(with_u32(good, second.n_dims, 0)),
             Contains("tensor 'second': n_dims is 0, expected 1 to 4"));
  CHECK_THAT(refusal(with_u32(good, second.n_dims, 5)),
             Contains("tensor 'second': n_dims is 5, expected 1 to 4"));
  CHECK_THAT(refusal(with_u64(good, first.ne0 + 8, 0)), Contains("tensor 'first': ne[1] = 0"));
  auto huge = good;
  put_u64(huge, first.ne0, 1ULL << 40);
  put_u64(huge, first.ne0 + 8, 1ULL << 40);
  CHECK_THAT(refusal(huge), Contains("tensor 'first'") && Contains("overflow"));
  {
    // Two names of the same length, the second renamed to the first.
    GgufWriter w;
    w.add_tensor("aa", {4}, ramp(4), GgufTensorType::f32);
    w.add_tensor("ab", {4}, ramp(4), GgufTensorType::f32);
    auto image = w.bytes();
    image[find(image, "ab") + 1] = std::byte{'a'};
    CHECK_THAT(refusal(image), Contains("tensor 'aa' appears twice"));
  }
  {
    GgufWriter w;
    w.add_tensor("blk.0.attn_q.weight", {32, 2}, ramp(64), GgufTensorType::q4_0);
    auto image = w.bytes();
    put_u64(image, info_fields(image, "blk.0.attn_q.weight", 2).ne0, 16);
    CHECK_THAT(refusal(image),
               Contains("tensor 'blk.0.attn_q.weight': ne[0] = 16 is not a multiple of the Q4_0 "
                        "block size 32"));
  }
}

// ---- q/k row permutation --------------------------------------------------------------------

TEST_CASE("GGUF q/k permutation matches reshape/swapaxes on a worked example", "[gguf]") {
  // rows 8, n_head 2: head_dim 4, pairs of 2. reshape(2, 2, 2, cols).swapaxes(1, 2)
  // takes element [h][j][p] from [h][p][j]: GGUF row h*4 + 2j + p <- HF row h*4 + 2p + j.
  const std::vector<std::size_t> hf_of_gguf{0, 2, 1, 3, 4, 6, 5, 7};
  for (std::size_t r = 0; r < 8; ++r) {
    CHECK(gguf_qk_row_to_hf(r, 8, 2) == hf_of_gguf[r]);
    CHECK(hf_qk_row_to_gguf(hf_of_gguf[r], 8, 2) == r);
  }
  // head_dim 6 (three pairs), one head: GGUF [0, 3, 1, 4, 2, 5].
  const std::vector<std::size_t> six{0, 3, 1, 4, 2, 5};
  for (std::size_t r = 0; r < 6; ++r) CHECK(gguf_qk_row_to_hf(r, 6, 1) == six[r]);

  const std::size_t cols = 3;
  std::vector<float> hf(8 * cols);
  for (std::size_t i = 0; i < hf.size(); ++i) hf[i] = static_cast<float>(i);
  const auto gguf = gguf_permute_qk_rows(hf, 8, cols, 2);
  for (std::size_t r = 0; r < 8; ++r)
    for (std::size_t c = 0; c < cols; ++c) CHECK(gguf[r * cols + c] == hf[hf_of_gguf[r] * cols + c]);
  CHECK(gguf_unpermute_qk_rows(gguf, 8, cols, 2) == hf);
}

TEST_CASE("GGUF q/k unpermute inverts permute for every head count", "[gguf]") {
  const std::size_t cols = 5;
  for (std::size_t n_head : {1, 2, 4, 8}) {
    for (std::size_t head_dim : {2, 4, 16}) {
      const std::size_t rows = n_head * head_dim;
      const auto w = ramp(rows * cols, 1.0f);
      CHECK(gguf_unpermute_qk_rows(gguf_permute_qk_rows(w, rows, cols, n_head), rows, cols, n_head) == w);
      CHECK(gguf_permute_qk_rows(gguf_unpermute_qk_rows(w, rows, cols, n_head), rows, cols, n_head) == w);
      for (std::size_t r = 0; r < rows; ++r)
        CHECK(hf_qk_row_to_gguf(gguf_qk_row_to_hf(r, rows, n_head), rows, n_head) == r);
    }
  }
  CHECK_THROWS_WITH(gguf_qk_row_to_hf(0, 6, 2), Contains("6 rows do not split into 2 heads"));
}

// ---- tokenizer ------------------------------------------------------------------------------------

namespace {

// A small SPM vocabulary: specials, byte tokens for 'A'..'C' and 0xC3 0xA9 ("é"),
// and pieces whose scores decide the merge order.
Bytes vocabulary_image(const std::string& model = "llama") {
  const std::string sp = "\xe2\x96\x81";
  std::vector<std::string> tokens{"<unk>", "<s>", "</s>", "<0x41>", "<0xC3>", "<0xA9>",  sp,         "a",
                                  "b",     "c",   "ab",   "bc",     sp + "a", sp + "ab", sp + "abc", "xyz"};
  std::vector<float> scores{0, 0, 0, 0, 0, 0, -1, -2, -3, -4, -5, -5, -6, -7, -8, -9};
  std::vector<std::int32_t> types{2, 3, 3, 6, 6, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5};
  GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::of_string(model));
  w.set("tokenizer.ggml.tokens", GgufValue::of_strings(tokens));
  w.set("tokenizer.ggml.scores", GgufValue::of_f32s(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::of_i32s(types));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::of_u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::of_u32(2));
  w.set("tokenizer.ggml.unknown_token_id", GgufValue::of_u32(0));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::of_bool(true));
  return w.bytes();
}

}  // namespace

TEST_CASE("GGUF tokenizer merges the best-scoring pair first, leftmost on ties", "[gguf][tokenizer]") {
  const auto file = GgufFile::from_bytes(vocabulary_image(), "vocab.gguf");
  const GgufTokenizer tok(file);
  CHECK(tok.vocab_size() == 16);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.add_bos_token());
  // "abc" -> "▁abc": ▁+a (-6) vs a+b (-5) vs b+c (-5): "ab" wins (leftmost of
  // the -5 pair), then ▁+ab (-7), then ▁ab+c (-8).
  CHECK(tok.encode("abc", false) == std::vector<int>{14});
  // "bc a": ▁ + b has no piece; b+c (-5) -> [▁][bc][▁][a] -> ▁a (-6).
  CHECK(tok.encode("bc a", true) == std::vector<int>{1, 6, 11, 12});
  // 'A' and "é" are no pieces: their bytes; 'B' has no byte token: unknown.
  CHECK(tok.encode("A\xc3\xa9"
                   "B",
                   false) == std::vector<int>{6, 3, 4, 5, 0});
  CHECK(tok.encode("", false).empty());
  CHECK(tok.encode("", true) == std::vector<int>{1});
  CHECK(tok.decode(std::vector<int>{1, 14, 6, 3, 4, 5, 2}) == "abc A\xc3\xa9");
  CHECK(tok.decode(std::vector<int>{0}) == " \xe2\x81\x87 ");
  CHECK(tok.decode(std::vector<int>{15, 12}) == "a");  // unused drops; the first space goes
  CHECK(tok.piece(13) ==
        "\xe2\x96\x81"
        "ab");
  CHECK(tok.token_type(3) == GgufTokenType::byte);
  CHECK_THROWS_WITH(tok.decode(std::vector<int>{16}),
                    Contains("token 16 at index 0 is outside the vocabulary"));
}

TEST_CASE("GGUF tokenizer refuses other models and malformed vocabularies by key", "[gguf][tokenizer]") {
  CHECK_THROWS_WITH(GgufTokenizer(GgufFile::from_bytes(vocabulary_image("gpt2"), "bpe.gguf")),
                    Contains("bpe.gguf") && Contains("'tokenizer.ggml.model' is 'gpt2'"));
  GgufWriter w;
  w.set("tokenizer.ggml.model", GgufValue::of_string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::of_strings({"<unk>", "<s>", "</s>"}));
  w.set("tokenizer.ggml.scores", GgufValue::of_f32s(std::vector<float>{0.0f}));
  CHECK_THROWS_WITH(GgufTokenizer(GgufFile::from_bytes(w.bytes(), "v.gguf")),
                    Contains("key 'tokenizer.ggml.scores': 1 scores for 3 tokens"));
  GgufWriter no_tokens;
  no_tokens.set("tokenizer.ggml.model", GgufValue::of_string("llama"));
  CHECK_THROWS_WITH(GgufTokenizer(GgufFile::from_bytes(no_tokens.bytes(), "v.gguf")),
                    Contains("missing metadata key 'tokenizer.ggml.tokens'"));
  GgufWriter bad_bos;
  bad_bos.set("tokenizer.ggml.model", GgufValue::of_string("llama"));
  bad_bos.set("tokenizer.ggml.tokens", GgufValue::of_strings({"<unk>", "<s>", "</s>"}));
  bad_bos.set("tokenizer.ggml.bos_token_id", GgufValue::of_u32(7));
  CHECK_THROWS_WITH(GgufTokenizer(GgufFile::from_bytes(bad_bos.bytes(), "v.gguf")),
                    Contains("key 'tokenizer.ggml.bos_token_id': token 7 is outside the vocabulary of 3"));
}
