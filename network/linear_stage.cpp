#include "network/linear_stage.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "network/weight_kernels.hpp"

namespace spikesim {

LinearStage::LinearStage(std::string name, PopulationId id, GifGrid grid, std::vector<StageWeight> weights,
                         ForwardMode mode, RankShape ranks)
    : mode_(mode), encoder_(std::move(name), id, std::move(grid)), weights_(std::move(weights)) {
  projection_counts_.resize(weights_.size());
  for (const StageWeight& w : weights_)
    if (w.weight->row_slice() != rank_rows(w.weight->full_rows(), ranks.ranks, ranks.rank))
      throw Error(ExitCode::internal, fmt::format("stage '{}': weight '{}' holds rows [{}, {}) of {}, not rank {} of "
                                                  "{}'s share",
                                                  encoder_.name(), w.name, w.weight->row_slice().begin,
                                                  w.weight->row_slice().end, w.weight->full_rows(), ranks.rank,
                                                  ranks.ranks));
  if (ranks.ranks > 1) encoder_.set_owned(rank_rows(encoder_.size(), ranks.ranks, ranks.rank));
  for (const StageWeight& w : weights_)
    if (w.weight->cols() != encoder_.size())
      throw Error(ExitCode::internal, fmt::format("stage '{}': weight '{}' has {} inputs, encoder {} neurons",
                                                  encoder_.name(), w.name, w.weight->cols(), encoder_.size()));
  for (const StageWeight& w : weights_)
    if (w.has_bias() && static_cast<std::size_t>(w.bias->size()) != w.weight->full_rows())
      throw Error(ExitCode::internal, fmt::format("stage '{}': bias of '{}' has {} entries, weight {} rows",
                                                  encoder_.name(), w.name, w.bias->size(), w.weight->full_rows()));
  if (mode_ == ForwardMode::dense) return;
  std::int64_t max_membrane = 0;
  for (std::size_t g = 0; g < encoder_.grid().groups(); ++g)
    max_membrane = std::max<std::int64_t>(max_membrane, encoder_.grid().group_levels(g));
  for (const StageWeight& w : weights_) {
    const WeightTensor* tensor = w.weight;
    if (tensor->order() != WeightOrder::by_input) {
      reordered_.push_back(std::make_unique<WeightTensor>(tensor->reordered(WeightOrder::by_input)));
      tensor = reordered_.back().get();
    }
    projections_.push_back(make_projection(projection_kind_for(*tensor), w.name, *tensor));
    projections_.back()->bind_groups(encoder_.group_of(), encoder_.groups(), max_membrane);
    integrators_.emplace_back();
    projections_.back()->prepare(integrators_.back());
  }
}

std::uint64_t LinearStage::dense_macs() const {
  std::uint64_t macs = 0;
  for (const StageWeight& w : weights_) macs += static_cast<std::uint64_t>(w.weight->full_rows()) * w.weight->cols();
  return macs;
}

void LinearStage::account_dense_equivalent(OpCounts& counts) const {
  for (const StageWeight& w : weights_) {
    account_dense_matvec(*w.weight, counts);
    if (w.has_bias()) counts.dense.add(DenseOp::add, static_cast<std::uint64_t>(w.bias->size()));
  }
}

namespace {
// The bias of the rows this rank holds.
std::span<const float> bias_of(const StageWeight& w) {
  if (!w.has_bias()) return {};
  const RowSlice rows = w.weight->row_slice();
  return std::span<const float>(w.bias->data(), static_cast<std::size_t>(w.bias->size())).subspan(rows.begin, rows.size());
}
// The part of y this rank computes.
std::span<float> rows_of(const StageWeight& w, std::span<float> y) {
  const RowSlice rows = w.weight->row_slice();
  return y.subspan(rows.begin, rows.size());
}
}  // namespace

void LinearStage::run(EncoderLoop& loop, std::span<const float> x, std::span<const std::span<float>> y,
                      DenseOpCounts* dense_ops) {
  switch (mode_) {
    case ForwardMode::dense:
      for (std::size_t k = 0; k < weights_.size(); ++k) {
        const std::span<float> mine = rows_of(weights_[k], y[k]);
        matvec(*weights_[k].weight, x, mine);
        if (weights_[k].has_bias()) {
          const std::span<const float> bias = bias_of(weights_[k]);
          for (std::size_t j = 0; j < mine.size(); ++j) mine[j] += bias[j];
          if (dense_ops) dense_ops->add(DenseOp::add, y[k].size());
        }
        loop.share_outputs(name(), y[k], weights_[k].weight->row_slice());
      }
      return;
    case ForwardMode::quantized: {
      const GifGrid& grid = encoder_.grid();
      q_.resize(grid.size());
      grid.quantize(x, encoder_.name(), scale_, q_);
      codes_.clear();
      for (std::size_t i = 0; i < q_.size(); ++i)
        if (q_[i] != 0) codes_.push_back({0, encoder_.id(), static_cast<NeuronId>(i), q_[i]});
      for (std::size_t k = 0; k < projections_.size(); ++k) {
        integrators_[k].clear();
        projections_[k]->deliver(codes_, grid.group_map(), integrators_[k]);
        projections_[k]->read_out(integrators_[k], scale_, bias_of(weights_[k]), rows_of(weights_[k], y[k]), nullptr);
        // The read-out's MACs are part of the quantized matvec counted by the caller; the bias is not.
        if (weights_[k].has_bias() && dense_ops) dense_ops->add(DenseOp::add, d_out(k));
        loop.share_outputs(name(), y[k], weights_[k].weight->row_slice());
      }
      return;
    }
    case ForwardMode::spiking: {
      std::vector<DeliveryTarget> targets;
      for (std::size_t k = 0; k < projections_.size(); ++k)
        targets.push_back({projections_[k].get(), &integrators_[k], &projection_counts_[k]});
      loop.run_encoder(encoder_, x, targets, nullptr);
      for (std::size_t k = 0; k < projections_.size(); ++k) {
        projections_[k]->read_out(integrators_[k], encoder_.scale(), bias_of(weights_[k]), rows_of(weights_[k], y[k]),
                                  dense_ops);
        loop.share_outputs(name(), y[k], weights_[k].weight->row_slice());
      }
      return;
    }
  }
}

}  // namespace spikesim
