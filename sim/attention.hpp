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
// are exact in double (see network/integrator.hpp for why that matters). Cached spikes are replayed for every query head that
// reads their KV head; each replay is one synaptic event with amplitude s.
// Corrections, scaling and softmax are dense work, counted as such.
#include <span>
#include <vector>

#include "network/llama/model.hpp"
#include "neurons/encoding.hpp"
#include "sim/simulator.hpp"

namespace spikesim {

struct AttentionCounts {
  OpCounts qk;       // spiking: K-spike replays; dense: the score MACs
  OpCounts pv;       // spiking: V-spike replays; dense: the context MACs
  DenseOpCounts softmax;
};

class Attention {
 public:
  Attention(int layer, const LlamaConfig& config, ForwardMode mode, const EncodingSpec& encoding,
            PopulationId first_population_id);

  void reset();  // a new sequence
  // q: [H·d] and k: [H_kv·d] after RoPE, v: [H_kv·d] of position `pos` (== number of cached positions).
  void step(Simulator& sim, std::span<const float> q, std::span<const float> k, std::span<const float> v,
            std::span<float> out, AttentionCounts& counts);

  [[nodiscard]] std::vector<GifPopulation>& k_encoders() { return k_enc_; }
  [[nodiscard]] std::vector<GifPopulation>& v_encoders() { return v_enc_; }
  [[nodiscard]] bool spiking_kv() const { return mode_ == ForwardMode::spiking && kv_spiking_; }
  // K and V are on the GIF grid (quantized or spiking mode with KV encoding).
  [[nodiscard]] bool encoded_kv() const { return mode_ != ForwardMode::dense && kv_spiking_; }

 private:
  // One cached K or V vector of one KV head at one position.
  struct CachedVector {
    std::vector<float> values;            // dense values (dense mode, or KV spiking off)
    std::vector<std::uint16_t> channel;   // spike trains (spiking), or one code per channel (quantized)
    std::vector<std::int32_t> amplitude;
    float theta = 0;
    float zero = 0;
    // Per-replay account of these spikes.
    std::uint64_t amplitude_sum = 0, shift_adds = 0, binary = 0;
  };

  CachedVector encode(Simulator& sim, GifPopulation* enc, std::span<const float> x);
  static void account_replay(const CachedVector& cv, OpCounts& c);

  ForwardMode mode_;
  bool kv_spiking_;
  int n_heads_, n_kv_heads_, head_dim_;
  float scale_;
  std::vector<GifPopulation> k_enc_, v_enc_;
  std::vector<std::vector<CachedVector>> k_cache_, v_cache_;  // [kv head][position]
  std::vector<float> scores_;
  std::vector<double> out_acc_;
  std::vector<SpikeEvent> delivered_;
  TokenScale token_scale_;
  std::vector<std::int32_t> q_;
};

}  // namespace spikesim
