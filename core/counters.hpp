#pragma once
// Operation accounting (DESIGN.md §3).
//
// NeuronCounters hold one entry per neuron of a population; OpCounts are the
// totals of a population, a stage, a layer or a run. Both conventions of §3
// are kept side by side:
//   - spikesim's own: every amplitude unit on one synapse is one accumulate
//     (`amplitude_acs`), or ceil(log2(|s|+1)) shift-adds (`shift_add_acs`);
//   - NeuroBench/syops: an event of amplitude ±1 is an AC per synapse
//     (`effective_acs`), any other amplitude is a MAC (`effective_macs`).
// Dense units (norms, softmax, RoPE, SiLU, residual adds, embedding lookup,
// readout corrections) are counted by kind in `dense`.
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "core/types.hpp"

namespace spikesim {

enum class DenseOp : std::uint8_t { mac, add, mul, div, exp, sqrt, compare, count_ };
inline constexpr std::size_t kDenseOpKinds = static_cast<std::size_t>(DenseOp::count_);
std::string_view dense_op_name(DenseOp op);

struct DenseOpCounts {
  std::array<std::uint64_t, kDenseOpKinds> n{};
  void add(DenseOp op, std::uint64_t count) { n[static_cast<std::size_t>(op)] += count; }
  [[nodiscard]] std::uint64_t operator[](DenseOp op) const { return n[static_cast<std::size_t>(op)]; }
  [[nodiscard]] std::uint64_t total() const;
  DenseOpCounts& operator+=(const DenseOpCounts& o);
};

// Totals of one population, stage, layer or run.
struct OpCounts {
  std::uint64_t neurons = 0;            // neurons (static size, summed over populations)
  std::uint64_t membrane_updates = 0;   // injections + clocked steps of each neuron
  std::uint64_t spikes = 0;             // events emitted (amplitude != 0)
  std::uint64_t amplitude_sum = 0;      // sum of |amplitude| over events
  std::uint64_t synaptic_events = 0;    // events x fan-out
  std::uint64_t amplitude_acs = 0;      // sum of |amplitude| x fan-out
  std::uint64_t shift_add_acs = 0;      // sum of ceil(log2(|amplitude|+1)) x fan-out
  std::uint64_t effective_acs = 0;      // NeuroBench: binary (|s| = 1) events x fan-out
  std::uint64_t effective_macs = 0;     // NeuroBench: multi-level events x fan-out
  std::uint64_t weight_bytes = 0;       // weight bytes fetched by event delivery
  // The share of the synaptic figures above done in integer arithmetic
  // (integer weights times integer amplitudes), priced at integer figures.
  std::uint64_t int_amplitude_acs = 0;
  std::uint64_t int_shift_add_acs = 0;
  std::uint64_t int_effective_acs = 0;
  std::uint64_t int_effective_macs = 0;
  // Synaptic operations that are additions: a ternary weight adds or
  // subtracts the amplitude (network/ternary_projection.hpp). The additive
  // fraction of a layer is additive_acs / synaptic_events.
  std::uint64_t additive_acs = 0;
  std::uint64_t neuron_tokens = 0;      // neurons x tokens encoded (denominator of rates)
  DenseOpCounts dense;                  // dense units and readout work

  OpCounts& operator+=(const OpCounts& o);
};

// Activation sparsity (NeuroBench `ActivationSparsity`): the fraction of
// clocked neuron steps that emitted no spike, 1 - spikes / (membrane_updates
// - neuron_tokens): membrane updates are one injection per neuron and token
// plus one per clocked step, so subtracting the injections leaves the steps.
// 0 when nothing was clocked. The one definition the run summary and the
// report (io/report/report.hpp) share.
double activation_sparsity(const OpCounts& counts);

// NeuroBench `Effective_MACs` of a run: multi-level spike events x fan-out
// plus the MACs it still does densely (the dense lm_head, read-out and
// score corrections), since NeuroBench counts every connection layer. The
// one definition the run summary and the report share
// (docs/reference/neurobench.md).
inline std::uint64_t neurobench_effective_macs(const OpCounts& c) { return c.effective_macs + c.dense[DenseOp::mac]; }

// The scalar fields of OpCounts with their names: the one list that the
// JSON summaries, the report and the HDF5 attributes are written from.
std::array<std::pair<std::string_view, std::uint64_t>, 16> op_count_fields(const OpCounts& c);

// Per-neuron account of one population, accumulated over a run.
struct NeuronCounters {
  std::vector<std::uint64_t> membrane_updates;
  std::vector<std::uint64_t> spikes;
  std::vector<std::uint64_t> amplitude_sum;
  std::vector<std::uint64_t> shift_adds;  // Σ ceil(log2(|s| + 1)): the shift-add convention's per-spike cost
  std::vector<std::uint64_t> synaptic_events;

  void resize(std::size_t n);
  [[nodiscard]] std::size_t size() const { return spikes.size(); }
};

// Cost of a spike of amplitude |s| in the shift-add convention.
inline std::uint32_t shift_add_cost(std::uint32_t magnitude) {
  std::uint32_t bits = 0;
  while (magnitude != 0) {
    ++bits;
    magnitude >>= 1;
  }
  return bits;  // == ceil(log2(magnitude + 1))
}

}  // namespace spikesim
