// Writes the seeds of fuzz_gguf with the project's own GgufWriter
// (io/formats/gguf_writer.hpp): valid files of every tensor and value type,
// and copies patched to break one rule each, the refusals the reader must make.
//
//   ./build-asan/fuzz/make_gguf_corpus fuzz/corpus/fuzz_gguf     (from the repository root)
//
// Every seed is deterministic and at most a few KiB. Rerun after changing the
// format layer, and commit the result; files it does not write (regress_*
// inputs of fixed crashes) are left alone. (make_corpus.py writes the other
// harnesses' seeds; this one is C++ so that the seeds come from the writer.)
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/formats/gguf_writer.hpp"

using namespace spikesim;
using Bytes = std::vector<std::byte>;

namespace {

std::vector<float> ramp(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = 0.05f * (static_cast<float>((i * 37) % 29) - 14.0f);
  return v;
}

std::size_t find(const Bytes& image, const std::string& text) {
  for (std::size_t i = 0; i + text.size() <= image.size(); ++i)
    if (std::memcmp(image.data() + i, text.data(), text.size()) == 0) return i;
  throw Error(ExitCode::internal, "make_gguf_corpus: '" + text + "' not in the image");
}

template <class U>
Bytes patched(Bytes image, std::size_t at, U value) {
  for (std::size_t i = 0; i < sizeof(U); ++i)
    image.at(at + i) = static_cast<std::byte>((value >> (8 * i)) & 0xff);
  return image;
}

// Every tensor type, every value type, a nested array.
Bytes all_types() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::of_string("llama"));
  w.set("u8", GgufValue::of_u8(7));
  w.set("i8", GgufValue::of_i8(-7));
  w.set("u16", GgufValue::of_u16(700));
  w.set("i16", GgufValue::of_i16(-700));
  w.set("u32", GgufValue::of_u32(70000));
  w.set("i32", GgufValue::of_i32(-70000));
  w.set("u64", GgufValue::of_u64(7ULL << 40));
  w.set("i64", GgufValue::of_i64(-(7LL << 40)));
  w.set("f32", GgufValue::of_f32(1e-5f));
  w.set("f64", GgufValue::of_f64(0.1));
  w.set("bool", GgufValue::of_bool(true));
  w.set("strings", GgufValue::of_strings({"a",
                                          "\xe2\x96\x81"
                                          "b",
                                          ""}));
  w.set("nested", GgufValue::of_array(GgufValueType::array,
                                      {GgufValue::of_array(GgufValueType::i16, {GgufValue::of_i16(-1)}),
                                       GgufValue::of_array(GgufValueType::f64, {})}));
  w.add_tensor("f32", {4, 2}, ramp(8), GgufTensorType::f32);
  w.add_tensor("f16", {3}, ramp(3), GgufTensorType::f16);
  w.add_tensor("bf16", {2, 1, 1, 2}, ramp(4), GgufTensorType::bf16);
  w.add_tensor("q8_0", {32, 2}, ramp(64), GgufTensorType::q8_0);
  w.add_tensor("q4_0", {64}, ramp(64), GgufTensorType::q4_0);
  return w.bytes();
}

// The names and keys of a llama.cpp LLaMA file, one layer, dim 32, with a
// four-piece SPM vocabulary plus byte tokens.
Bytes tiny_llama() {
  GgufWriter w;
  w.set("general.architecture", GgufValue::of_string("llama"));
  w.set("llama.context_length", GgufValue::of_u32(64));
  w.set("llama.embedding_length", GgufValue::of_u32(32));
  w.set("llama.block_count", GgufValue::of_u32(1));
  w.set("llama.feed_forward_length", GgufValue::of_u32(32));
  w.set("llama.attention.head_count", GgufValue::of_u32(2));
  w.set("llama.attention.head_count_kv", GgufValue::of_u32(1));
  w.set("llama.attention.layer_norm_rms_epsilon", GgufValue::of_f32(1e-5f));
  w.set("llama.rope.freq_base", GgufValue::of_f32(10000.0f));
  w.set("llama.rope.dimension_count", GgufValue::of_u32(16));
  w.set("llama.vocab_size", GgufValue::of_u32(8));
  w.set("tokenizer.ggml.model", GgufValue::of_string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::of_strings({"<unk>", "<s>", "</s>", "<0x48>", "\xe2\x96\x81", "l",
                                                        "lo", "\xe2\x96\x81w"}));
  const std::vector<float> scores{0, 0, 0, 0, -1, -2, -3, -4};
  const std::vector<std::int32_t> types{2, 3, 3, 6, 1, 1, 1, 1};
  w.set("tokenizer.ggml.scores", GgufValue::of_f32s(scores));
  w.set("tokenizer.ggml.token_type", GgufValue::of_i32s(types));
  w.set("tokenizer.ggml.bos_token_id", GgufValue::of_u32(1));
  w.set("tokenizer.ggml.eos_token_id", GgufValue::of_u32(2));
  w.set("tokenizer.ggml.add_bos_token", GgufValue::of_bool(true));
  w.add_tensor("token_embd.weight", {32, 8}, ramp(256), GgufTensorType::q8_0);
  w.add_tensor("blk.0.attn_norm.weight", {32}, ramp(32), GgufTensorType::f32);
  w.add_tensor("blk.0.attn_q.weight", {32, 32}, ramp(1024), GgufTensorType::q4_0);
  w.add_tensor("blk.0.attn_k.weight", {32, 16}, ramp(512), GgufTensorType::q4_0);
  w.add_tensor("output_norm.weight", {32}, ramp(32), GgufTensorType::f32);
  return w.bytes();
}

Bytes two_tensors(std::uint32_t alignment = 32) {
  GgufWriter w(alignment);
  w.set("general.name", GgufValue::of_string("two"));
  w.set("flag", GgufValue::of_bool(false));
  w.set("scores", GgufValue::of_f32s(std::vector<float>{1.0f, 2.0f}));
  w.add_tensor("first", {4, 2}, ramp(8), GgufTensorType::f32);
  w.add_tensor("second", {32}, ramp(32), GgufTensorType::q4_0);
  return w.bytes();
}

// tiny_llama with every tensor the LLaMA loader (gguf_loader.hpp) needs, so
// that it loads: F32 norms, Q4_0 q/k, Q8_0 v/o, F16 MLP, BF16 output.
Bytes complete_llama() {
  GgufWriter w;
  const auto base = GgufFile::from_bytes(tiny_llama(), "tiny_llama.gguf");
  for (const auto& [key, value] : base.metadata()) w.set(key, value);
  w.add_tensor("token_embd.weight", {32, 8}, ramp(256), GgufTensorType::q8_0);
  w.add_tensor("blk.0.attn_norm.weight", {32}, ramp(32), GgufTensorType::f32);
  w.add_tensor("blk.0.attn_q.weight", {32, 32}, ramp(1024), GgufTensorType::q4_0);
  w.add_tensor("blk.0.attn_k.weight", {32, 16}, ramp(512), GgufTensorType::q4_0);
  w.add_tensor("blk.0.attn_v.weight", {32, 16}, ramp(512), GgufTensorType::q8_0);
  w.add_tensor("blk.0.attn_output.weight", {32, 32}, ramp(1024), GgufTensorType::q8_0);
  w.add_tensor("blk.0.ffn_norm.weight", {32}, ramp(32), GgufTensorType::f32);
  w.add_tensor("blk.0.ffn_gate.weight", {32, 32}, ramp(1024), GgufTensorType::f16);
  w.add_tensor("blk.0.ffn_up.weight", {32, 32}, ramp(1024), GgufTensorType::f16);
  w.add_tensor("blk.0.ffn_down.weight", {32, 32}, ramp(1024), GgufTensorType::f16);
  w.add_tensor("output_norm.weight", {32}, ramp(32), GgufTensorType::f32);
  w.add_tensor("output.weight", {32, 8}, ramp(256), GgufTensorType::bf16);
  return w.bytes();
}

std::map<std::string, Bytes> seeds() {
  std::map<std::string, Bytes> out;
  out["all_types.gguf"] = all_types();
  out["tiny_llama.gguf"] = tiny_llama();
  out["llama_model.gguf"] = complete_llama();
  out["two_tensors.gguf"] = two_tensors();
  out["alignment_64.gguf"] = two_tensors(64);
  out["header_only.gguf"] = GgufWriter().bytes();
  {
    GgufWriter w;
    w.set("tokenizer.ggml.model", GgufValue::of_string("gpt2"));
    w.set("tokenizer.ggml.tokens", GgufValue::of_strings({"a", "b", "c"}));
    out["tokenizer_gpt2.gguf"] = w.bytes();
  }

  const Bytes two = two_tensors();
  const std::size_t first = find(two, "first") + 5;    // n_dims, then ne[2], type, offset
  const std::size_t second = find(two, "second") + 6;  // n_dims, then ne[1], type, offset
  out["bad_magic.gguf"] = patched<std::uint8_t>(two, 0, 'g');
  out["bad_version_2.gguf"] = patched<std::uint32_t>(two, 4, 2);
  out["bad_kv_count.gguf"] = patched<std::uint64_t>(two, 16, 1ULL << 40);
  out["bad_truncated.gguf"] = Bytes(two.begin(), two.end() - 8);
  out["bad_type_q4_k.gguf"] = patched<std::uint32_t>(two, first + 4 + 16, 12);
  out["bad_n_dims_5.gguf"] = patched<std::uint32_t>(two, second, 5);
  out["bad_ne0_q4_0.gguf"] = patched<std::uint64_t>(two, second + 4, 16);
  out["bad_misaligned.gguf"] = patched<std::uint64_t>(two, second + 4 + 8 + 4, 16);
  out["bad_overlap.gguf"] = patched<std::uint64_t>(two, second + 4 + 8 + 4, 0);
  out["bad_beyond_file.gguf"] = patched<std::uint64_t>(two, second + 4 + 8 + 4, 4096);
  out["bad_string_length.gguf"] = patched<std::uint64_t>(two, find(two, "two") - 8, 1ULL << 50);
  out["bad_array_count.gguf"] = patched<std::uint64_t>(two, find(two, "scores") + 6 + 4 + 4, 1ULL << 61);
  out["bad_bool.gguf"] = patched<std::uint8_t>(two, find(two, "flag") + 4 + 4, 2);
  {
    GgufWriter w;
    w.set("a.x", GgufValue::of_u8(1));
    w.set("a.y", GgufValue::of_u8(2));
    auto image = w.bytes();
    image[find(image, "a.y") + 2] = std::byte{'x'};
    out["bad_duplicate_key.gguf"] = image;
  }
  {
    const Bytes aligned = two_tensors(64);
    out["bad_alignment_48.gguf"] =
        patched<std::uint32_t>(aligned, find(aligned, "general.alignment") + 17 + 4, 48);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_FOLDER   (fuzz/corpus/fuzz_gguf)\n", argv[0]);
    return 2;
  }
  const std::filesystem::path folder = argv[1];
  std::filesystem::create_directories(folder);
  std::size_t largest = 0;
  const auto all = seeds();
  for (const auto& [name, bytes] : all) {
    std::ofstream(folder / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    largest = std::max(largest, bytes.size());
  }
  std::printf("%s: %zu seeds, largest %zu bytes\n", folder.string().c_str(), all.size(), largest);
  return 0;
}
