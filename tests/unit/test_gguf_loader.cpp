// The GGUF model loader (io/formats/gguf_loader.hpp): small generated
// models written as llama.cpp's converter writes them
// (tests/support/gguf_model_files.hpp), loaded back, and compared with the
// model they came from: the same logits for float files, the blocks' own
// codes and scales for Q8_0 / Q4_0, the Q/K permutation undone; bad files
// refused by name.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/formats/generated_model.hpp"
#include "io/formats/gguf.hpp"
#include "io/formats/gguf_blocks.hpp"
#include "io/formats/gguf_loader.hpp"
#include "io/formats/gguf_qk_permute.hpp"
#include "io/formats/model_loader.hpp"
#include "io/formats/text_tokenizer.hpp"
#include "sim/transformer.hpp"
#include "tests/support/gguf_model_files.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
using Catch::Matchers::Contains;
using test::gguf_writer_for;
using test::GgufModelWriteOptions;

namespace {

// Dimensions that are multiples of 32, so every matrix can be Q8_0 / Q4_0;
// GQA (4 query heads, 2 KV heads) so Q and K are permuted with different head counts.
LlamaModel gguf_test_model(std::uint64_t seed) {
  GeneratedModelSpec s;
  s.seed = seed;
  s.dim = 64;
  s.hidden_dim = 96;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.vocab = 48;
  s.max_seq_len = 16;
  s.outliers = 2;
  return generate_model(s);
}

const std::vector<int> kTokens{1, 5, 17, 3, 40, 8, 22, 9, 31, 2};

MatrixRM logits_of(const LlamaModel& m) {
  Transformer t(m, ForwardMode::dense, {});
  return t.forward_sequence(kTokens);
}

LlamaModel load_bytes(const GgufWriter& w, const LoadOptions& options = {}) {
  return load_gguf_model_from_bytes(w.bytes(), "m.gguf", options);
}

std::string refusal(const GgufWriter& w, ExitCode expected = ExitCode::model) {
  try {
    (void)load_bytes(w);
  } catch (const Error& e) {
    CHECK(e.code() == expected);
    return e.what();
  }
  FAIL("the file was accepted");
  return {};
}

// `ref` written with every matrix (tables too) of `type`: the file as read, and the model loaded from it.
std::pair<GgufFile, LlamaModel> written_and_loaded(const LlamaModel& ref, GgufTensorType type) {
  GgufModelWriteOptions o;
  o.linear = type;
  o.tables = type;
  const GgufWriter w = gguf_writer_for(ref, o);
  return {GgufFile::from_bytes(w.bytes(), "m.gguf"), load_bytes(w)};
}

// The tensor's values as the file's blocks dequantize them, rows moved back
// to Hugging Face order for attn_q / attn_k.
MatrixRM file_values(const GgufFile& f, const std::string& name, std::size_t qk_heads = 0) {
  const GgufTensorInfo& t = f.tensor(name);
  const auto cols = static_cast<std::size_t>(t.ne[0]), rows = static_cast<std::size_t>(t.ne[1]);
  std::vector<float> v = f.read_f32(name);
  if (qk_heads > 0) v = gguf_unpermute_qk_rows(v, rows, cols, qk_heads);
  return Eigen::Map<const MatrixRM>(v.data(), static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
}

}  // namespace

TEST_CASE("GGUF loader: an F32 file gives the logits of the model it came from", "[gguf][loader]") {
  const LlamaModel ref = gguf_test_model(3);
  const LlamaModel m = load_bytes(gguf_writer_for(ref));
  CHECK(m.format == "gguf");
  CHECK(m.source == "m.gguf");
  CHECK(m.config.dim == ref.config.dim);
  CHECK(m.config.hidden_dim == ref.config.hidden_dim);
  CHECK(m.config.n_layers == ref.config.n_layers);
  CHECK(m.config.n_heads == ref.config.n_heads);
  CHECK(m.config.n_kv_heads == ref.config.n_kv_heads);
  CHECK(m.config.head_dim == ref.config.head_dim);
  CHECK(m.config.vocab_size == ref.config.vocab_size);
  CHECK(m.config.max_seq_len == ref.config.max_seq_len);
  CHECK(m.config.norm_eps == ref.config.norm_eps);
  CHECK(m.config.rope_theta == ref.config.rope_theta);
  CHECK(m.config.rope == RopeStyle::rotate_half);
  CHECK_FALSE(m.config.tied_embeddings);
  CHECK(m.layers[0].wq.type() == WeightType::f32);
  CHECK(m.layers[0].wq.order() == WeightOrder::by_input);
  CHECK(m.embedding.order() == WeightOrder::by_output);
  CHECK(m.lm_head.order() == WeightOrder::by_output);
  CHECK(m.embedding.mapped());  // the file's own bytes, aligned
  CHECK(m.layers[1].wq == ref.layers[1].wq);
  CHECK(m.layers[1].wk == ref.layers[1].wk);
  const double diff = (logits_of(m) - logits_of(ref)).cwiseAbs().maxCoeff();
  INFO("max |logit difference| " << diff);
  CHECK(diff <= 1e-5);
}

TEST_CASE("GGUF loader: the Q/K permutation is undone (and matters)", "[gguf][loader]") {
  const LlamaModel ref = gguf_test_model(5);
  const MatrixRM want = logits_of(ref);
  CHECK((logits_of(load_bytes(gguf_writer_for(ref))) - want).cwiseAbs().maxCoeff() <= 1e-5f);
  GgufModelWriteOptions unpermuted;
  unpermuted.permute_qk = false;
  // A file without the converter's permutation is a different model: the test has teeth.
  CHECK((logits_of(load_bytes(gguf_writer_for(ref, unpermuted))) - want).cwiseAbs().maxCoeff() > 1e-3f);
}

TEST_CASE("GGUF loader: F16 and BF16 keep their type", "[gguf][loader]") {
  const LlamaModel ref = gguf_test_model(7);
  for (const auto& [gguf, type] : {std::pair{GgufTensorType::f16, WeightType::f16},
                                  std::pair{GgufTensorType::bf16, WeightType::bf16}}) {
    const auto [file, m] = written_and_loaded(ref, gguf);
    CHECK(m.layers[0].wq.type() == type);
    CHECK(m.layers[0].w_down.type() == type);
    CHECK(m.embedding.type() == type);
    CHECK(m.lm_head.type() == type);
    CHECK(m.layers[0].wq.to_f32() == file_values(file, "blk.0.attn_q.weight", 4));
    CHECK(m.layers[0].wk.to_f32() == file_values(file, "blk.0.attn_k.weight", 2));
    CHECK(m.layers[1].w_down.to_f32() == file_values(file, "blk.1.ffn_down.weight"));
    CHECK(m.embedding.to_f32() == file_values(file, "token_embd.weight"));
  }
}

TEST_CASE("GGUF loader: Q8_0 and Q4_0 load as int8 / int4 groups of 32 holding the blocks", "[gguf][loader]") {
  const LlamaModel ref = gguf_test_model(11);
  for (const auto& [gguf, type] : {std::pair{GgufTensorType::q8_0, WeightType::int8},
                                  std::pair{GgufTensorType::q4_0, WeightType::int4}}) {
    const auto [file, m] = written_and_loaded(ref, gguf);
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
      const LlamaLayer& l = m.layers[i];
      const std::string p = "blk." + std::to_string(i) + ".";
      const std::vector<std::tuple<const WeightTensor*, std::string, std::size_t>> linear{
          {&l.wq, "attn_q", 4},   {&l.wk, "attn_k", 2},  {&l.wv, "attn_v", 0},      {&l.wo, "attn_output", 0},
          {&l.w_gate, "ffn_gate", 0}, {&l.w_up, "ffn_up", 0}, {&l.w_down, "ffn_down", 0}};
      for (const auto& [tensor, leaf, heads] : linear) {
        INFO(p + leaf);
        CHECK(tensor->type() == type);
        CHECK(tensor->order() == WeightOrder::by_input);
        CHECK(tensor->group() == 32);
        CHECK(tensor->bits() == (type == WeightType::int8 ? 8 : 4));
        CHECK(tensor->symmetric());
        CHECK(tensor->zeros().empty());
        // Exactly the blocks' dequantization: d · q (Q8_0) or d · (q − 8) (Q4_0).
        CHECK(tensor->to_f32() == file_values(file, p + leaf + ".weight", heads));
      }
    }
    CHECK(m.embedding.type() == type);
    CHECK(m.embedding.order() == WeightOrder::by_output);
    CHECK(m.embedding.to_f32() == file_values(file, "token_embd.weight"));
    CHECK(m.lm_head.to_f32() == file_values(file, "output.weight"));

    // The codes and scales are the block's own: the first block of ffn_up's first row.
    const auto row = file.data("blk.0.ffn_up.weight");
    const WeightTensor& up = m.layers[0].w_up;
    if (gguf == GgufTensorType::q8_0) {
      const Q8_0Block b = decode_q8_0_block(row.data());
      CHECK(up.scale(0, 0) == b.scale);
      for (std::size_t j = 0; j < 32; ++j) CHECK(up.code(0, j) == b.codes[j]);
    } else {
      const Q4_0Block b = decode_q4_0_block(row.data());
      CHECK(up.scale(0, 0) == b.scale);
      CHECK(up.zero(0, 0) == 8);
      for (std::size_t j = 0; j < 32; ++j) CHECK(up.code(0, j) == b.codes[j]);
    }
    // The model runs: logits close to the float model's (quantization error only).
    const MatrixRM logits = logits_of(m);
    CHECK(logits.allFinite());
  }
}

TEST_CASE("GGUF loader: without output.weight the lm_head is token_embd", "[gguf][loader]") {
  const LlamaModel ref = gguf_test_model(13);
  GgufModelWriteOptions o;
  o.tied = true;
  const LlamaModel m = load_bytes(gguf_writer_for(ref, o));
  CHECK(m.config.tied_embeddings);
  CHECK(m.lm_head == m.embedding);
}

TEST_CASE("GGUF loader: bad files are refused by name", "[gguf][loader]") {
  const LlamaModel ref = gguf_test_model(17);
  auto with = [&](std::vector<std::string> skip) {
    GgufModelWriteOptions o;
    o.skip = std::move(skip);
    return gguf_writer_for(ref, o);
  };
  {
    GgufWriter w = with({"general.architecture"});
    w.set("general.architecture", GgufValue::of_string("gpt2"));
    CHECK_THAT(refusal(w), Contains("m.gguf: key 'general.architecture': expected \"llama\", found \"gpt2\""));
    CHECK_THAT(refusal(with({"general.architecture"})), Contains("key 'general.architecture': missing"));
  }
  CHECK_THAT(refusal(with({"blk.1.ffn_up.weight"})),
             Contains("m.gguf: missing tensor 'blk.1.ffn_up.weight' (expected ne [64, 96])"));
  CHECK_THAT(refusal(with({"llama.block_count"})), Contains("key 'llama.block_count': missing"));
  {
    GgufWriter w = with({"llama.feed_forward_length"});
    w.set("llama.feed_forward_length", GgufValue::of_u32(128));
    CHECK_THAT(refusal(w), Contains("tensor 'blk.0.ffn_down.weight' has ne [96, 64], expected [128, 64]"));
  }
  {
    GgufWriter w = with({});
    w.add_tensor("blk.2.attn_q.weight", {64, 64}, std::vector<float>(64 * 64, 0.0f), GgufTensorType::f32);
    CHECK_THAT(refusal(w), Contains("unexpected tensor 'blk.2.attn_q.weight' (not part of a llama model with 2 layers)"));
  }
  {
    GgufWriter w = with({});
    w.add_tensor("rope_freqs.weight", {8}, std::vector<float>(8, 1.0f), GgufTensorType::f32);
    CHECK_THAT(refusal(w), Contains("tensor 'rope_freqs.weight'") && Contains("not implemented"));
  }
  // llama.* keys that change the math and are not implemented.
  {
    GgufWriter w = with({});
    w.set("llama.rope.scaling.type", GgufValue::of_string("yarn"));
    w.set("llama.rope.scaling.factor", GgufValue::of_f32(4.0f));
    CHECK_THAT(refusal(w), Contains("key 'llama.rope.scaling.type': RoPE scaling \"yarn\" is not implemented"));
  }
  {
    GgufWriter w = with({});
    w.set("llama.expert_count", GgufValue::of_u32(8));
    CHECK_THAT(refusal(w), Contains("key 'llama.expert_count': 8 (mixture of experts is not implemented"));
  }
  {
    GgufWriter w = with({"llama.rope.dimension_count"});
    w.set("llama.rope.dimension_count", GgufValue::of_u32(8));
    CHECK_THAT(refusal(w), Contains("key 'llama.rope.dimension_count': 8 differs from the head dimension 16"));
  }
  {
    GgufWriter w = with({});
    w.set("llama.attention.value_length", GgufValue::of_u32(32));
    CHECK_THAT(refusal(w), Contains("key 'llama.attention.value_length': 32 differs from the key length 16"));
  }
  {
    GgufWriter w = with({});
    w.set("llama.logit_scale", GgufValue::of_f32(0.5f));
    CHECK_THAT(refusal(w), Contains("key 'llama.logit_scale': not implemented") &&
                               Contains("refused rather than ignored"));
  }
  {
    GgufWriter w = with({"llama.block_count"});
    w.set("llama.block_count", GgufValue::of_string("2"));
    CHECK_THAT(refusal(w), Contains("key 'llama.block_count': expected an integer, found string"));
  }
  // An unsupported tensor type: the reader refuses it before the loader sees it.
  {
    std::vector<std::byte> image = with({}).bytes();
    const std::string name = "blk.0.ffn_up.weight";
    const auto* begin = reinterpret_cast<const char*>(image.data());
    const std::string_view text(begin, image.size());
    const std::size_t at = text.find(name) + name.size() + 4 + 2 * 8;  // n_dims, ne[0], ne[1], then the type
    const std::uint32_t q4_k = 12;
    std::memcpy(image.data() + at, &q4_k, sizeof q4_k);
    try {
      (void)load_gguf_model_from_bytes(image, "m.gguf");
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK_THAT(std::string(e.what()), Contains("tensor 'blk.0.ffn_up.weight': tensor type Q4_K (12) is not supported"));
    }
  }
  // Non-finite weights.
  {
    LlamaModel bad = gguf_test_model(17);
    bad.layers[1].ffn_norm[3] = std::numeric_limits<float>::quiet_NaN();
    CHECK_THAT(refusal(gguf_writer_for(bad), ExitCode::numeric),
               Contains("tensor 'blk.1.ffn_norm.weight' element 3") && Contains("NaN"));
    LoadOptions allow;
    allow.allow_non_finite = true;
    CHECK(std::isnan(load_bytes(gguf_writer_for(bad), allow).layers[1].ffn_norm[3]));
  }
}

TEST_CASE("GGUF loader: a .gguf path loads through load_model, peek_model_config and its own tokenizer",
          "[gguf][loader]") {
  const LlamaModel ref = gguf_test_model(19);
  test::TempDir dir("gguf_loader");
  GgufWriter w = gguf_writer_for(ref);
  const auto path = dir / "m.gguf";
  w.write(path);
  const LlamaModel m = load_model(path);
  CHECK(m.format == "gguf");
  CHECK(m.source == path.string());
  const LlamaConfig peeked = peek_model_config(path);
  CHECK(peeked.dim == m.config.dim);
  CHECK(peeked.n_layers == m.config.n_layers);
  CHECK(peeked.vocab_size == m.config.vocab_size);
  CHECK(peeked.head_dim == m.config.head_dim);
  CHECK(read_gguf_config(path).hidden_dim == m.config.hidden_dim);
  // Without tokenizer.ggml.* there is no tokenizer to find.
  CHECK(find_model_tokenizer(path).empty());

  // With one, the model file is its own tokenizer.
  std::vector<std::string> pieces{"<unk>", "<s>", "</s>", "\u2581a", "\u2581b", "a", "b"};
  pieces.resize(static_cast<std::size_t>(ref.config.vocab_size));
  for (std::size_t i = 7; i < pieces.size(); ++i) pieces[i] = "x" + std::to_string(i);
  w.set("tokenizer.ggml.model", GgufValue::of_string("llama"));
  w.set("tokenizer.ggml.tokens", GgufValue::of_strings(pieces));
  const auto with_vocab = dir / "v.gguf";
  w.write(with_vocab);
  REQUIRE(find_model_tokenizer(with_vocab) == with_vocab);
  const auto tok = open_tokenizer(with_vocab);
  CHECK(tok->vocab_size() == ref.config.vocab_size);
  CHECK(tok->encode("a b", true) == std::vector<int>{1, 3, 4});
}

TEST_CASE("GGUF loader: the fuzz seed of a complete model loads, mixed types kept", "[gguf][loader]") {
  // fuzz/corpus/fuzz_gguf/llama_model.gguf, written by fuzz/make_gguf_corpus.cpp.
  const LlamaModel m =
      load_gguf_model(std::filesystem::path(SPIKESIM_SOURCE_DIR) / "fuzz" / "corpus" / "fuzz_gguf" / "llama_model.gguf");
  CHECK(m.embedding.type() == WeightType::int8);
  CHECK(m.layers[0].wq.type() == WeightType::int4);
  CHECK(m.layers[0].wv.type() == WeightType::int8);
  CHECK(m.layers[0].w_up.type() == WeightType::f16);
  CHECK(m.lm_head.type() == WeightType::bf16);
  Transformer t(m, ForwardMode::dense, {});
  const std::vector<int> tokens{1, 3, 5, 7};  // vocabulary of 8
  CHECK(t.forward_sequence(tokens).allFinite());
}
