#pragma once
// Maps a LLaMA configuration onto the graph of DESIGN.md §2: every encoder,
// projection, integrator and dense unit of the event flow of one token is a
// vertex or an edge. The spiking forward (sim/transformer.cpp) uses the same
// names for its populations and accounts, so the graph, the HDF5 groups and
// the report tables line up.
//
// Per layer l (prefix "layer<l>."):
//   attn_norm -> attn_in (encoder) =wq,wk,wv=> q, k, v (integrators) -> rope
//   -> k_enc, v_enc (encoders, one population per KV head: k_enc.h<j>)
//   k_enc =qk (dynamic, the query as weights)=> scores -> softmax
//   v_enc =pv (dynamic, the probabilities as weights)=> context
//   -> attn_out (encoder) =wo=> o -> attn_residual -> ffn_norm -> mlp_in (encoder)
//   =w_gate,w_up=> gate, up -> silu_mul -> mlp_down (encoder) =w_down=> down -> mlp_residual
// Around the layers: input -> embedding ... final_norm -> lm_head -> logits.
// Stages, in run order: embedding; per layer attn_norm, attn_in, rope,
// attention, attn_out, attn_residual, ffn_norm, mlp_in, silu_mul, mlp_down,
// mlp_residual; final_norm, lm_head. Only the shape is read: no weight is
// needed, so `spikesim graph` and the memory estimate map a 70B config in
// milliseconds.
// With kv_spiking off, k/v feed qk/pv as dense units; with spike_lm_head the
// lm_head is an encoder "lm_head_in" and a projection into "logits".
#include "network/llama/model.hpp"
#include "network/network_graph.hpp"
#include "neurons/encoding.hpp"

namespace spikesim {

struct TransformerMapOptions {
  bool kv_spiking = true;
  bool spike_lm_head = false;

  // The network a run in `mode` executes: a dense run encodes nothing.
  static TransformerMapOptions for_run(ForwardMode mode, const EncodingSpec& encoding) {
    return {mode != ForwardMode::dense && encoding.kv_spiking, mode != ForwardMode::dense && encoding.spike_lm_head};
  }
};

NetworkGraph map_transformer(const LlamaConfig& config, const TransformerMapOptions& options);

}  // namespace spikesim
