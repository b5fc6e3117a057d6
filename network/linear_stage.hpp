#pragma once
// One encoder and the linear layers it feeds (e.g. attn_in -> Wq, Wk, Wv),
// computed in any ForwardMode so that dense, quantized and spiking runs share
// one structure and differ only here.
#include <span>
#include <string>
#include <vector>

#include <memory>

#include "network/dense_projection.hpp"
#include "network/projection_kinds.hpp"
#include "network/encoder_loop.hpp"
#include "neurons/encoding.hpp"
#include "neurons/gif_population.hpp"

namespace spikesim {

struct StageWeight {
  std::string name;            // projection name, e.g. "layer0.wq"
  const WeightTensor* weight;  // [d_out x d_in], the model's
  const Eigen::VectorXf* bias = nullptr;  // [d_out], or null / empty: none
  [[nodiscard]] bool has_bias() const { return bias != nullptr && bias->size() > 0; }
};

// Ranks (core/partition.hpp): the weights may be one rank's rows of the
// model's (WeightTensor::output_rows); the stage then clocks its share of
// the encoder's neurons, delivers every event into the rows it holds, reads
// those out and has the loop gather the rest (EncoderLoop::share_outputs).
// Outputs y, d_out and the counts are the whole stage's on every rank.
class LinearStage {
 public:
  LinearStage(std::string name, PopulationId id, GifGrid grid, std::vector<StageWeight> weights, ForwardMode mode,
              RankShape ranks = {});

  [[nodiscard]] const std::string& name() const { return encoder_.name(); }
  [[nodiscard]] std::size_t d_in() const { return encoder_.size(); }
  [[nodiscard]] std::size_t outputs() const { return weights_.size(); }
  [[nodiscard]] std::size_t d_out(std::size_t k) const { return weights_[k].weight->full_rows(); }
  // The projection of weight k (quantized and spiking modes; null in dense mode).
  [[nodiscard]] const StaticProjection* projection(std::size_t k) const {
    return projections_.empty() ? nullptr : projections_[k].get();
  }
  [[nodiscard]] const StageWeight& weight(std::size_t k) const { return weights_[k]; }
  [[nodiscard]] const GifPopulation& encoder() const { return encoder_; }
  GifPopulation& encoder() { return encoder_; }
  [[nodiscard]] const OpCounts& projection_counts(std::size_t k) const { return projection_counts_[k]; }
  [[nodiscard]] std::uint64_t dense_macs() const;  // Σ_k d_in·d_out_k per token
  // The dense network's work for this stage and one token: every weight
  // multiplied once and fetched once, and d_out adds per bias.
  void account_dense_equivalent(OpCounts& counts) const;

  // x -> y_k = W_k x (dense), W_k x̂ (quantized) or the event-driven
  // equivalent (spiking). Quantized mode applies each channel's whole code
  // q_i at once through the same projection and read-out as the spiking
  // run (one aggregate per channel instead of T spikes), so the two differ
  // only in the order of exact-in-double products. A bias is added at
  // read-out (dense mode: after the matvec). Read-out work goes to
  // `dense_ops`; in dense and quantized modes that is the bias adds only.
  void run(EncoderLoop& loop, std::span<const float> x, std::span<const std::span<float>> y, DenseOpCounts* dense_ops);

 private:
  ForwardMode mode_;
  GifPopulation encoder_;
  std::vector<StageWeight> weights_;
  std::vector<std::unique_ptr<StaticProjection>> projections_;  // quantized and spiking modes
  // By-input copies of weights the model holds by output (a spiked lm_head).
  std::vector<std::unique_ptr<WeightTensor>> reordered_;
  std::vector<SpikeEvent> codes_;
  std::vector<Integrator> integrators_;
  std::vector<OpCounts> projection_counts_;
  TokenScale scale_;
  std::vector<std::int32_t> q_;
};

}  // namespace spikesim
