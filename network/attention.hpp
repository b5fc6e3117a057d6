#pragma once
// Causal multi-head attention of one layer with its KV cache, in any
// ForwardMode.
//
// Spiking attention (kv_spiking on). Granularity: one GIF population per KV
// head ("layer<l>.k_enc.h<j>", head_dim neurons), so θ and z are per
// position and KV head, computed over that head's channels. Each new
// position's K and V vectors are encoded once and their spike trains are
// kept in the cache. Then, for query head h (KV head j = h / (H / H_kv)):
//
//   QKᵀ  every cached K spike (position p, channel c, amplitude s) is
//        delivered with the query as its dynamic weight:
//          acc_p += s · q_c
//          score_p = θ_p (acc_p - z_p Σ_c q_c) / sqrt(d)
//   PV   every cached V spike (p, c, s) is delivered with the probability as
//        its dynamic weight w_p = P_p θ^V_p:
//          out_c += s · w_p,  then out_c -= Σ_p w_p z^V_p
//
// The quantized mode runs the same arithmetic with each channel's whole code
// as one aggregate, so the two differ only in the order of products that
// are exact in double (see network/integrator.hpp for why that matters).
// Cached spikes are replayed for every query head that reads their KV head,
// through the dynamic projections of network/attention_projections.hpp; each
// replay is one synaptic event with amplitude s, priced by the projection.
// Corrections, scaling and softmax are dense work, counted as such.
//
// A sliding window (Mistral, Qwen2) limits a token to the latest `window`
// positions, itself included: older cached spike trains are not replayed,
// so they cause no synaptic events, and the dense products skip them too.
#include <span>
#include <vector>

#include "network/attention_projections.hpp"
#include "network/encoder_loop.hpp"
#include "neurons/encoding.hpp"
#include "neurons/gif_population.hpp"

namespace spikesim {

struct AttentionCounts {
  OpCounts qk;       // spiking: K-spike replays; dense: the score MACs
  OpCounts pv;       // spiking: V-spike replays; dense: the context MACs
  DenseOpCounts softmax;
};

// Heads of one attention layer (GQA: n_heads a multiple of n_kv_heads).
struct AttentionShape {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int window = 0;  // attended positions, 0 = all
};

class Attention {
 public:
  Attention(int layer, const AttentionShape& shape, ForwardMode mode, const EncodingSpec& encoding,
            PopulationId first_population_id);

  void reset();  // a new sequence
  // Forgets the cached positions from `positions` on (a rewind).
  void truncate(std::size_t positions);
  [[nodiscard]] std::size_t cached_positions() const { return k_cache_.empty() ? 0 : k_cache_[0].size(); }
  // q: [H·d] and k: [H_kv·d] after RoPE, v: [H_kv·d] of position `pos` (== number of cached positions).
  void step(EncoderLoop& loop, std::span<const float> q, std::span<const float> k, std::span<const float> v,
            std::span<float> out, AttentionCounts& counts);

  [[nodiscard]] std::vector<GifPopulation>& k_encoders() { return k_enc_; }
  [[nodiscard]] std::vector<GifPopulation>& v_encoders() { return v_enc_; }
  [[nodiscard]] bool spiking_kv() const { return mode_ == ForwardMode::spiking && kv_spiking_; }
  // K and V are on the GIF grid (quantized or spiking mode with KV encoding).
  [[nodiscard]] bool encoded_kv() const { return mode_ != ForwardMode::dense && kv_spiking_; }

 private:
  // One cached K or V vector of one KV head at one position.
  struct CachedVector {
    std::vector<float> values;       // dense values (dense mode, or KV spiking off)
    std::vector<SpikeEvent> events;  // spike trains (spiking), or one code per channel (quantized)
    float theta = 0;
    float zero = 0;
    EventSummary summary;            // what one replay of `events` costs
  };

  CachedVector encode(EncoderLoop& loop, GifPopulation* enc, std::span<const float> x);

  ForwardMode mode_;
  bool kv_spiking_;
  int n_heads_, n_kv_heads_, head_dim_, window_;
  float scale_;
  std::vector<GifPopulation> k_enc_, v_enc_;
  std::vector<std::vector<CachedVector>> k_cache_, v_cache_;  // [kv head][position]
  QkProjection qk_;
  PvProjection pv_;
  Integrator score_acc_, context_acc_;
  std::vector<float> scores_;
  std::vector<SpikeEvent> delivered_;
  TokenScale token_scale_;
  std::vector<std::int32_t> q_;
};

}  // namespace spikesim
