// Fuzzes the Hugging Face config.json reader (io/formats/hf_loader.hpp,
// parse_hf_config): JSON syntax, the architecture checks, integer ranges,
// GQA and head_dim rules, v4/v5 RoPE settings and their scaling, the key
// table of hf_config_keys.hpp, sliding windows, token ids.
//
// Seeds: fuzz/corpus/fuzz_hf_config/ (fuzz/make_corpus.py); dictionary
// fuzz/dict/json.dict. Running it: docs/fuzzing.md.
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_support.hpp"
#include "io/formats/hf_loader.hpp"

using namespace spikesim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::accepts([&] {
    const LlamaConfig c = parse_hf_config(fuzz::as_text(data, size), "fuzz/config.json");
    // What the loader promises of an accepted config (validate_model relies on it).
    FUZZ_CHECK(c.dim > 0 && c.hidden_dim > 0 && c.n_layers > 0 && c.vocab_size > 0 && c.max_seq_len > 0);
    FUZZ_CHECK(c.n_heads > 0 && c.n_kv_heads > 0 && c.n_heads % c.n_kv_heads == 0);
    FUZZ_CHECK(c.head_dim > 0 && c.head_dim % 2 == 0);
    FUZZ_CHECK(c.norm_eps > 0.0f && std::isfinite(c.norm_eps));
    FUZZ_CHECK(c.rope_theta > 0.0f && std::isfinite(c.rope_theta));
    FUZZ_CHECK(c.bos_id >= 0 && c.eos_id >= 0);
    FUZZ_CHECK(c.rope_scaling.factor > 0.0f && std::isfinite(c.rope_scaling.factor));
    FUZZ_CHECK(c.rope_scaling.type != RopeScalingType::llama3 ||
               (c.rope_scaling.high_freq_factor > c.rope_scaling.low_freq_factor &&
                c.rope_scaling.original_max_position_embeddings > 0));
    FUZZ_CHECK(c.sliding_window.empty() || static_cast<int>(c.sliding_window.size()) == c.n_layers);
    FUZZ_CHECK(!c.o_bias || c.qkv_bias);
  });
  return 0;
}
