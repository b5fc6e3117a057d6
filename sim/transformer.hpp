#pragma once
// The transformer forward of DESIGN.md §2, one token at a time with a KV
// cache, in any ForwardMode. The structure is shared by the three modes;
// only LinearStage and Attention differ between them, so dense, quantized
// and spiking runs are comparable stage by stage.
//
// Accounting: every stage of network/transformer_mapper.hpp has a
// StageAccount holding what the run did (`run`: spikes, synaptic events,
// ACs/MACs, dense-unit work) and what the dense-equivalent network does for
// the same tokens (`dense_equivalent`: d_in·d_out MACs per linear layer, the
// attention products, the same dense units).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "network/llama/model.hpp"
#include "network/dense_units.hpp"
#include "network/llama/mapper.hpp"
#include "network/network_graph.hpp"
#include "network/attention.hpp"
#include "network/linear_stage.hpp"
#include "sim/simulator.hpp"

namespace spikesim {

struct StageAccount {
  std::string name;  // as in the graph, e.g. "layer0.attn_in"
  int layer = -1;
  std::string kind;  // "linear", "attention", "dense"
  OpCounts run;
  OpCounts dense_equivalent;
};

// Salient channels per encoder stage name (absent: none salient).
using SaliencyPlan = std::map<std::string, std::vector<bool>>;

// What calibration chose for one encoder stage beyond saliency: its bits
// (mixed precision, sim/mixed_precision.hpp) and its range clip ratio
// (sim/clipping.hpp). Absent from the map: encoding.bits, no clipping.
struct EncoderSetting {
  unsigned bits = 0;  // 0: encoding.bits
  float clip = 1.0f;
  bool operator==(const EncoderSetting&) const = default;
};
using EncoderSettings = std::map<std::string, EncoderSetting>;

class Transformer {
 public:
  // `comm`: the ranks the forward runs among, when `model` holds one rank's
  // rows of its linear layers (partition_model, sim/rank_partition.hpp);
  // null for one rank and a whole model. Logits and counts are the whole
  // model's on every rank.
  Transformer(const LlamaModel& model, ForwardMode mode, const EncodingSpec& encoding,
              const SaliencyPlan& plan = {}, SpikeObserver* observer = nullptr,
              const EncoderSettings& settings = {}, Communicator* comm = nullptr);

  void reset();  // a new sequence: clears the KV cache
  // Logits of `token` at position `pos`. Positions come in order: pos ==
  // cached_positions(), or smaller, which rewinds the KV cache to pos first.
  // Error(ExitCode::data) for a token outside the vocabulary, a gap, or
  // pos >= max_seq_len.
  void forward(int token, int pos, std::span<float> logits);
  [[nodiscard]] int cached_positions() const;
  // Zeroes every account (stages, populations), keeping the KV cache.
  void reset_accounts();
  // Resets, then runs every token; returns [n x vocab] logits.
  MatrixRM forward_sequence(std::span<const int> tokens);

  // Called with the input of every encoder stage (calibration for saliency).
  void set_stage_input_hook(std::function<void(const std::string&, std::span<const float>)> hook) {
    input_hook_ = std::move(hook);
  }

  [[nodiscard]] ForwardMode mode() const { return mode_; }
  [[nodiscard]] const LlamaModel& model() const { return model_; }
  // The network this forward runs, as `spikesim graph` draws it.
  [[nodiscard]] const NetworkGraph& network() const { return network_; }
  // The stage each population is accounted in (a K/V encoder: its layer's attention).
  [[nodiscard]] std::string stage_of(const Population& population) const;
  [[nodiscard]] Simulator& simulator() { return sim_; }
  [[nodiscard]] std::uint64_t tokens() const { return tokens_; }
  // Stage accounts in stage order; linear stages fold in their encoder's and projections' counts.
  [[nodiscard]] std::vector<StageAccount> accounts() const;
  // Every GIF population, in stage order (for counters and recording).
  [[nodiscard]] std::vector<const Population*> populations() const;
  // The weights each encoder stage feeds (for saliency).
  [[nodiscard]] std::map<std::string, std::vector<const WeightTensor*>> stage_weights() const;

 private:
  // A layer's stage accounts, looked up once (the forward runs per token).
  struct LayerAccounts {
    std::size_t attn_norm, attn_in, rope, attention, attn_out, attn_residual, ffn_norm, mlp_in, silu_mul, mlp_down,
        mlp_residual;
  };
  struct Layer {
    LayerAccounts at{};
    std::unique_ptr<LinearStage> attn_in, attn_out, mlp_in, mlp_down;
    std::unique_ptr<Attention> attention;
    AttentionCounts attention_counts;
  };
  void check_against_network(const LinearStage& stage) const;
  DenseOpCounts& dense_ops(std::size_t stage) { return accounts_[stage].run.dense; }
  template <class F>
  void dense_unit(std::size_t stage, F&& f) {
    // Dense units do the same work in the run and in the dense equivalent.
    DenseOpCounts ops;
    f(&ops);
    accounts_[stage].run.dense += ops;
    accounts_[stage].dense_equivalent.dense += ops;
  }
  void run_linear(LinearStage& stage, std::size_t account, std::span<const float> x,
                  std::span<const std::span<float>> y);

  const LlamaModel& model_;
  ForwardMode mode_;
  EncodingSpec encoding_;
  NetworkGraph network_;  // what runs: stages, populations and projections (network/llama/mapper.hpp)
  Simulator sim_;
  RopeTable rope_;
  std::vector<Layer> layers_;
  std::unique_ptr<LinearStage> lm_head_;
  std::vector<StageAccount> accounts_;
  std::map<std::string, std::size_t> account_index_;
  std::size_t embedding_account_ = 0, final_norm_account_ = 0, lm_head_account_ = 0;
  std::function<void(const std::string&, std::span<const float>)> input_hook_;
  std::uint64_t tokens_ = 0;
  // Work buffers.
  std::vector<float> x_, xn_, q_, k_, v_, ctx_, o_, gate_, up_, act_, down_;
};

// Saliency from calibration sequences (dense forward, inputs of each encoder).
SaliencyPlan compute_saliency_plan(const LlamaModel& model, const EncodingSpec& encoding,
                                   const std::vector<std::vector<int>>& calibration);

}  // namespace spikesim
