#pragma once
// llama2.c legacy checkpoints (Karpathy's run.c "version 0" .bin).
//
// Layout, all little-endian, no padding:
//   int32 header[7]: dim, hidden_dim, n_layers, n_heads, n_kv_heads,
//                    vocab_size (> 0: lm_head shares the embedding;
//                                < 0: a separate classifier follows, |vocab| rows),
//                    seq_len
//   then fp32 arrays, with head_dim = dim / n_heads, kv_dim = n_kv_heads * head_dim,
//   matrices in nn.Linear layout [out x in], row-major:
//     token_embedding_table [vocab, dim]
//     rms_att_weight        [n_layers, dim]
//     wq                    [n_layers, dim, dim]
//     wk                    [n_layers, kv_dim, dim]
//     wv                    [n_layers, kv_dim, dim]
//     wo                    [n_layers, dim, dim]
//     rms_ffn_weight        [n_layers, dim]
//     w1 (gate)             [n_layers, hidden_dim, dim]
//     w2 (down)             [n_layers, dim, hidden_dim]
//     w3 (up)               [n_layers, hidden_dim, dim]
//     rms_final_weight      [dim]
//     freq_cis_real         [seq_len, head_dim / 2]   (skipped: recomputed from theta)
//     freq_cis_imag         [seq_len, head_dim / 2]   (skipped)
//     wcls                  [vocab, dim]              (only when vocab_size < 0)
// The file must be exactly as long as the header promises. RoPE pairs are
// interleaved (2i, 2i+1), theta 10000; RMSNorm eps 1e-5 (as run.c).
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

#include "network/llama/model.hpp"
#include "io/formats/load_options.hpp"

namespace spikesim {

LlamaModel load_llama2c_model(const std::filesystem::path& file, const LoadOptions& options = {});
// The same from a checkpoint image in memory; `source_name` stands for the
// file in messages. For tests and fuzzing.
LlamaModel load_llama2c_model_from_bytes(std::span<const std::byte> bytes, const std::string& source_name,
                                         const LoadOptions& options = {});

// Writes `model` in the layout above (Error(ExitCode::output) on I/O failure,
// Error(ExitCode::model) when it cannot be expressed: n_heads * head_dim != dim,
// attention biases, sliding windows, RoPE scaling or rope_theta != 10000).
// A rotate-half model has the rows of its wq and wk permuted into
// interleaved order, so the written file computes the same logits. The
// classifier is shared when the model is tied and lm_head equals the embedding.
void write_llama2c_model(const LlamaModel& model, const std::filesystem::path& file);

// Row permutations between the two RoPE conventions for a q or k projection
// [n_heads * head_dim x in]: within each head, rotate-half row p*head_dim/2 + i
// is interleaved row 2i + p (p in {0, 1}). This is the permutation of
// transformers' convert_llama_weights_to_hf.
MatrixRM rotate_half_to_interleaved(const MatrixRM& w, int n_heads, int head_dim);
MatrixRM interleaved_to_rotate_half(const MatrixRM& w, int n_heads, int head_dim);

}  // namespace spikesim
