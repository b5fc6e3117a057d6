#pragma once
// Attention's dynamic projections (DESIGN.md §2): cached K and V spikes are
// delivered with activations as their weights. One event is one cached
// spike (channel c of one position, amplitude s) replayed for one query
// head; it reaches exactly one synapse.
//
//   QkProjection  K spikes of a position -> that position's score:
//                 acc += s · q_c          (the query is the weight row)
//   PvProjection  V spikes of a position -> the context channels:
//                 acc_c += s · w          (w = P_p · θ^V_p, one weight per position)
//
// Both accumulate in double into row 0 of an Integrator; the attention
// applies θ, z and the 1/sqrt(d) scale itself (network/attention.cpp).
// Dynamic weights are activations the attention already holds, so no
// weight bytes are fetched.
#include <span>
#include <string>

#include "network/projection.hpp"

namespace spikesim {

// What both share: one synapse per replayed spike, no weight fetched.
class DynamicProjection : public Projection {
 public:
  DynamicProjection(std::string name, std::size_t head_dim) : name_(std::move(name)), d_(head_dim) {}
  [[nodiscard]] const std::string& name() const override { return name_; }
  [[nodiscard]] std::size_t d_in() const override { return d_; }
  [[nodiscard]] std::uint64_t fan_out() const override { return 1; }
  [[nodiscard]] std::uint64_t weight_bytes_per_event() const override { return 0; }

 protected:
  std::string name_;
  std::size_t d_;
};

class QkProjection final : public DynamicProjection {
 public:
  using DynamicProjection::DynamicProjection;
  void set_query(std::span<const float> q) { q_ = q; }

  [[nodiscard]] std::string_view kind() const override { return "qk dynamic"; }
  [[nodiscard]] std::size_t d_out() const override { return 1; }
  void deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
               Integrator& target) const override;

 private:
  std::span<const float> q_;
};

class PvProjection final : public DynamicProjection {
 public:
  using DynamicProjection::DynamicProjection;
  void set_weight(double w) { w_ = w; }

  [[nodiscard]] std::string_view kind() const override { return "pv dynamic"; }
  [[nodiscard]] std::size_t d_out() const override { return d_; }
  void deliver(std::span<const SpikeEvent> events, std::span<const std::uint32_t> group_of,
               Integrator& target) const override;

 private:
  double w_ = 0;
};

}  // namespace spikesim
