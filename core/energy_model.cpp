#include "core/energy_model.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace spikesim {
namespace {

double dense_units(const EnergyModel& m, const DenseOpCounts& d) {
  return static_cast<double>(d[DenseOp::mac]) * m.mac_pj + static_cast<double>(d[DenseOp::add]) * m.add_pj +
         static_cast<double>(d[DenseOp::mul]) * m.mul_pj + static_cast<double>(d[DenseOp::div]) * m.div_pj +
         static_cast<double>(d[DenseOp::exp]) * m.exp_pj + static_cast<double>(d[DenseOp::sqrt]) * m.sqrt_pj +
         static_cast<double>(d[DenseOp::compare]) * m.compare_pj;
}

// A neuron emits at most one spike per membrane update, so `spikes` of the
// updates were active and the rest inactive.
double neuron_side(const EnergyModel& m, const OpCounts& c) {
  const std::uint64_t active = std::min(c.spikes, c.membrane_updates);
  const std::uint64_t inactive = c.membrane_updates - active;
  return static_cast<double>(inactive) * m.neuron_update_pj +
         static_cast<double>(active) * m.active_update_pj + static_cast<double>(c.spikes) * m.spike_pj;
}

}  // namespace

EnergyBreakdown spiking_energy(const EnergyModel& m, const OpCounts& c, AcConvention conv) {
  EnergyBreakdown e;
  const auto acs = conv == AcConvention::amplitude ? c.amplitude_acs : c.shift_add_acs;
  const auto int_acs = conv == AcConvention::amplitude ? c.int_amplitude_acs : c.int_shift_add_acs;
  e.synaptic_pj = static_cast<double>(acs - int_acs) * m.ac_pj + static_cast<double>(int_acs) * m.int_ac_pj +
                  static_cast<double>(c.synaptic_events) * m.synop_pj;
  e.neuron_pj = neuron_side(m, c);
  e.dense_pj = dense_units(m, c.dense);
  e.memory_pj = static_cast<double>(c.weight_bytes) * m.fetch_pj_per_byte;
  return e;
}

std::vector<double> neuron_energy_pj(const EnergyModel& m, const NeuronCounters& n, const OpCounts& population,
                                     AcConvention conv) {
  const double bytes_per_event = population.synaptic_events > 0
                                     ? static_cast<double>(population.weight_bytes) /
                                           static_cast<double>(population.synaptic_events)
                                     : 0.0;
  if (n.membrane_updates.size() != n.size() || n.amplitude_sum.size() != n.size() ||
      n.shift_adds.size() != n.size() || n.synaptic_events.size() != n.size())
    throw Error(ExitCode::internal, "neuron_energy_pj: neuron counters of different lengths");
  // A population's projections may mix float and integer synapses; each
  // neuron's accumulates are priced at the population's blend, so the
  // neurons still sum to the population.
  EnergyModel blended = m;
  const auto acs = conv == AcConvention::amplitude ? population.amplitude_acs : population.shift_add_acs;
  const auto int_acs = conv == AcConvention::amplitude ? population.int_amplitude_acs : population.int_shift_add_acs;
  if (acs > 0)
    blended.ac_pj = (static_cast<double>(acs - int_acs) * m.ac_pj + static_cast<double>(int_acs) * m.int_ac_pj) /
                    static_cast<double>(acs);
  std::vector<double> out(n.size());
  for (std::size_t i = 0; i < n.size(); ++i) {
    OpCounts c;
    c.membrane_updates = n.membrane_updates[i];
    c.spikes = n.spikes[i];
    c.amplitude_sum = n.amplitude_sum[i];
    c.synaptic_events = n.synaptic_events[i];
    const std::uint64_t fan_out = c.spikes > 0 ? c.synaptic_events / c.spikes : 0;
    c.amplitude_acs = c.amplitude_sum * fan_out;
    c.shift_add_acs = n.shift_adds[i] * fan_out;
    const EnergyBreakdown e = spiking_energy(blended, c, conv);
    out[i] = e.total_pj() + static_cast<double>(c.synaptic_events) * bytes_per_event * m.fetch_pj_per_byte;
  }
  return out;
}

EnergyBreakdown neurobench_energy(const EnergyModel& m, const OpCounts& c) {
  EnergyBreakdown e;
  e.synaptic_pj = static_cast<double>(c.effective_acs - c.int_effective_acs) * m.ac_pj +
                  static_cast<double>(c.int_effective_acs) * m.int_ac_pj +
                  static_cast<double>(c.effective_macs - c.int_effective_macs) * m.mac_pj +
                  static_cast<double>(c.int_effective_macs) * m.int_mac_pj +
                  static_cast<double>(c.synaptic_events) * m.synop_pj;
  e.neuron_pj = neuron_side(m, c);
  e.dense_pj = dense_units(m, c.dense);
  e.memory_pj = static_cast<double>(c.weight_bytes) * m.fetch_pj_per_byte;
  return e;
}

EnergyBreakdown dense_energy(const EnergyModel& m, const OpCounts& c) {
  EnergyBreakdown e;
  // The dense network runs on a conventional datapath whatever the profile.
  const auto h = EnergyModel::preset_named("45nm", m.precision, m.memory);
  e.dense_pj = dense_units(h, c.dense);
  e.memory_pj = static_cast<double>(c.weight_bytes) * m.fetch_pj_per_byte;
  return e;
}

std::string_view precision_name(Precision p) {
  switch (p) {
    case Precision::fp32:
      return "fp32";
    case Precision::int32:
      return "int32";
    case Precision::int8:
      return "int8";
  }
  return "?";
}

std::string_view memory_level_name(MemoryLevel m) {
  switch (m) {
    case MemoryLevel::none:
      return "none";
    case MemoryLevel::sram:
      return "sram";
    case MemoryLevel::dram:
      return "dram";
  }
  return "?";
}

std::array<std::pair<std::string_view, double EnergyModel::*>, 15> energy_model_figures() {
  using M = EnergyModel;
  return {{{"ac_pj", &M::ac_pj},
           {"mac_pj", &M::mac_pj},
           {"synop_pj", &M::synop_pj},
           {"neuron_update_pj", &M::neuron_update_pj},
           {"active_update_pj", &M::active_update_pj},
           {"spike_pj", &M::spike_pj},
           {"int_ac_pj", &M::int_ac_pj},
           {"int_mac_pj", &M::int_mac_pj},
           {"add_pj", &M::add_pj},
           {"mul_pj", &M::mul_pj},
           {"div_pj", &M::div_pj},
           {"exp_pj", &M::exp_pj},
           {"sqrt_pj", &M::sqrt_pj},
           {"compare_pj", &M::compare_pj},
           {"fetch_pj_per_byte", &M::fetch_pj_per_byte}}};
}

bool energy_figure_optional_in_run_files(std::string_view name) {
  return name == "int_ac_pj" || name == "int_mac_pj";
}

std::string_view ac_convention_name(AcConvention c) {
  return c == AcConvention::shift_add ? "shift_add" : "amplitude";
}

AcConvention parse_ac_convention(std::string_view name) {
  if (name == "amplitude") return AcConvention::amplitude;
  if (name == "shift_add") return AcConvention::shift_add;
  throw Error(ExitCode::data, fmt::format("unknown AC convention '{}' (expected amplitude or shift_add)", name));
}

}  // namespace spikesim
