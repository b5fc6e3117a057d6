#include "core/counters.hpp"

#include <numeric>

namespace spikesim {

std::string_view dense_op_name(DenseOp op) {
  switch (op) {
    case DenseOp::mac: return "mac";
    case DenseOp::add: return "add";
    case DenseOp::mul: return "mul";
    case DenseOp::div: return "div";
    case DenseOp::exp: return "exp";
    case DenseOp::sqrt: return "sqrt";
    case DenseOp::compare: return "compare";
    case DenseOp::count_: break;
  }
  return "?";
}

std::uint64_t DenseOpCounts::total() const { return std::accumulate(n.begin(), n.end(), std::uint64_t{0}); }

DenseOpCounts& DenseOpCounts::operator+=(const DenseOpCounts& o) {
  for (std::size_t k = 0; k < n.size(); ++k) n[k] += o.n[k];
  return *this;
}

OpCounts& OpCounts::operator+=(const OpCounts& o) {
  neurons += o.neurons;
  membrane_updates += o.membrane_updates;
  spikes += o.spikes;
  amplitude_sum += o.amplitude_sum;
  synaptic_events += o.synaptic_events;
  amplitude_acs += o.amplitude_acs;
  shift_add_acs += o.shift_add_acs;
  effective_acs += o.effective_acs;
  effective_macs += o.effective_macs;
  weight_bytes += o.weight_bytes;
  int_amplitude_acs += o.int_amplitude_acs;
  int_shift_add_acs += o.int_shift_add_acs;
  int_effective_acs += o.int_effective_acs;
  int_effective_macs += o.int_effective_macs;
  additive_acs += o.additive_acs;
  neuron_tokens += o.neuron_tokens;
  dense += o.dense;
  return *this;
}

double activation_sparsity(const OpCounts& c) {
  const double steps = static_cast<double>(c.membrane_updates) - static_cast<double>(c.neuron_tokens);
  return steps > 0 ? 1.0 - static_cast<double>(c.spikes) / steps : 0.0;
}

std::array<std::pair<std::string_view, std::uint64_t>, 16> op_count_fields(const OpCounts& c) {
  return {{{"neurons", c.neurons},
           {"membrane_updates", c.membrane_updates},
           {"spikes", c.spikes},
           {"amplitude_sum", c.amplitude_sum},
           {"synaptic_events", c.synaptic_events},
           {"amplitude_acs", c.amplitude_acs},
           {"shift_add_acs", c.shift_add_acs},
           {"effective_acs", c.effective_acs},
           {"effective_macs", c.effective_macs},
           {"weight_bytes", c.weight_bytes},
           {"neuron_tokens", c.neuron_tokens},
           {"int_amplitude_acs", c.int_amplitude_acs},
           {"int_shift_add_acs", c.int_shift_add_acs},
           {"int_effective_acs", c.int_effective_acs},
           {"int_effective_macs", c.int_effective_macs},
           {"additive_acs", c.additive_acs}}};
}

void NeuronCounters::resize(std::size_t n) {
  membrane_updates.assign(n, 0);
  spikes.assign(n, 0);
  amplitude_sum.assign(n, 0);
  shift_adds.assign(n, 0);
  synaptic_events.assign(n, 0);
}

}  // namespace spikesim
