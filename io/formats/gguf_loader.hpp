#pragma once
// LLaMA models from GGUF files (llama.cpp's format; the file layer is
// gguf.hpp, the tensor and key names docs/reference/gguf.md).
//
// Metadata read (general.architecture must be "llama"):
//   llama.context_length, llama.embedding_length, llama.block_count,
//   llama.feed_forward_length, llama.attention.head_count,
//   llama.attention.layer_norm_rms_epsilon            required, integer > 0 / float > 0
//   llama.attention.head_count_kv   default head_count; must divide it (GQA)
//   llama.rope.freq_base            default 10000
//   llama.rope.dimension_count      default head_dim; must equal head_dim (partial RoPE is not implemented)
//   llama.attention.key_length / value_length   must equal head_dim when given
//   llama.rope.scaling.type         "none" or "linear" (with rope.scaling.factor)
//   llama.vocab_size                default: token_embd's rows
//   llama.expert_count, expert_used_count       only 0 (no mixture of experts)
//   tokenizer.ggml.bos_token_id / eos_token_id  default 1 / 2
// Every other llama.* key is refused by name rather than ignored: llama.cpp
// adds keys when it adds a change to the math, so an unknown one is a model
// this loader would get wrong. general.* and tokenizer.* keys are
// descriptive and are not checked here.
//
// Tensors, GGUF shape ne = [cols, rows] (H = head_count * head_dim,
// K = head_count_kv * head_dim):
//   token_embd.weight [dim, vocab]       output_norm.weight [dim]
//   output.weight [dim, vocab]           (absent: tied to token_embd)
//   blk.N.attn_norm.weight [dim]         blk.N.ffn_norm.weight [dim]
//   blk.N.attn_q.weight [dim, H]         blk.N.attn_k.weight [dim, K]
//   blk.N.attn_v.weight [dim, K]         blk.N.attn_output.weight [H, dim]
//   blk.N.ffn_gate.weight [dim, hidden]  blk.N.ffn_up.weight [dim, hidden]
//   blk.N.ffn_down.weight [hidden, dim]
// A missing tensor, a wrong shape or a tensor not in this list is refused
// by name.
//
// Types are kept: F32, F16 and BF16 stay f32, f16 and bf16 (the embedding
// and lm_head mapped from the file when aligned); Q8_0 becomes an int8
// tensor with groups of 32, one scale per block (widened exactly from its
// f16) and zero 0; Q4_0 an int4 tensor with groups of 32 and zero 8 (the
// int4 container's own zero, so w = d·(q − 8) as the block says). Codes are
// moved, never dequantized and requantized.
//
// RoPE: llama.cpp's converter permutes the rows of attn_q and attn_k for its
// interleaved RoPE (gguf_qk_permute.hpp); the loader moves them back (whole
// rows, quantized ones included), so the model is Hugging Face's
// rotate-half.
//
// Errors are Error(ExitCode::model) naming the file and the key or tensor,
// and what was expected; non-finite weights (for quantized tensors: block
// scales) Error(ExitCode::numeric) unless options allow them.
#include <cstddef>
#include <filesystem>
#include <span>
#include <string>

#include "io/formats/load_options.hpp"
#include "network/llama/model.hpp"

namespace spikesim {

LlamaModel load_gguf_model(const std::filesystem::path& file, const LoadOptions& options = {});
// The same from a file image in memory (copied); `source_name` stands for
// the file in messages. For tests and fuzzing.
LlamaModel load_gguf_model_from_bytes(std::span<const std::byte> bytes, const std::string& source_name,
                                      const LoadOptions& options = {});

// The model's shape without reading tensor data (the memory estimate,
// `spikesim graph`): the metadata, and every tensor's name and shape checked
// as load_gguf_model checks them.
LlamaConfig read_gguf_config(const std::filesystem::path& file);

}  // namespace spikesim
