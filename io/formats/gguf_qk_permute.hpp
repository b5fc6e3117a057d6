#pragma once
// The row order llama.cpp's converter gives the q and k projections.
//
// convert_hf_to_gguf.py (LlamaModel.permute) reorders the rows of a Hugging
// Face q_proj / k_proj weight [rows = n_head * head_dim, cols] so that
// llama.cpp's RoPE, which rotates adjacent pairs (2i, 2i+1), computes what
// transformers' rotate-half RoPE computes on pairs (i, i + head_dim / 2):
//   w.reshape(n_head, 2, head_dim / 2, cols).swapaxes(1, 2).reshape(rows, cols)
// so GGUF row h * head_dim + 2 * j + p holds HF row h * head_dim + p * head_dim / 2 + j
// (head h, pair j, p in {0, 1}). n_head is the number of query heads for q
// and of key/value heads for k (the converter passes n_head_kv there).
//
// The functions work on a row-major float matrix; the row mappings let a
// quantized tensor's rows (whole blocks) be moved without dequantizing.
// Error(model) when rows is not a multiple of 2 * n_head or the sizes disagree.
#include <cstddef>
#include <span>
#include <vector>

namespace spikesim {

// The HF row that GGUF row `gguf_row` holds (used by unpermute).
std::size_t gguf_qk_row_to_hf(std::size_t gguf_row, std::size_t rows, std::size_t n_head);
// The GGUF row that HF row `hf_row` goes to (used by permute).
std::size_t hf_qk_row_to_gguf(std::size_t hf_row, std::size_t rows, std::size_t n_head);

// HF order -> GGUF order, as the converter writes it.
std::vector<float> gguf_permute_qk_rows(std::span<const float> w, std::size_t rows, std::size_t cols,
                                        std::size_t n_head);
// GGUF order -> HF order: the exact inverse.
std::vector<float> gguf_unpermute_qk_rows(std::span<const float> w, std::size_t rows, std::size_t cols,
                                          std::size_t n_head);

}  // namespace spikesim
