#pragma once
// Energy model (DESIGN.md §3): picojoules per counted operation.
//
// Presets, each figure with its published source (also in docs/concepts/accounting-and-energy.md):
//
//  "45nm"  M. Horowitz, "Computing's energy problem (and what we can do about
//          it)", ISSCC 2014, 45 nm CMOS, 0.9 V:
//            fp32 add 0.9 pJ, fp32 mult 3.7 pJ, int32 add 0.1 pJ,
//            int32 mult 3.1 pJ, int8 add 0.03 pJ, int8 mult 0.2 pJ;
//            SRAM read (8 KiB array, 64 bit) 10 pJ, DRAM read (64 bit) 1.3-2.6 nJ.
//          A MAC is mult + add (fp32: 4.6 pJ) and an AC is one add (fp32:
//          0.9 pJ), the figures SNN papers (e.g. SpikeLLM, Spikformer) use.
//  "loihi" M. Davies et al., "Loihi: A Neuromorphic Manycore Processor with
//          On-Chip Learning", IEEE Micro 38(1), 2018, Table 2: energy per
//          synaptic spike op (min) 23.6 pJ, per neuron update 81 pJ active /
//          52 pJ inactive, per within-tile spike 1.7 pJ. spikesim prices a
//          membrane update that emits a spike as active and every other one
//          as inactive (an assumption: the table does not define "active"
//          for a multi-level neuron). Dense units still run on a
//          conventional core and are priced with the 45nm table.
//
// Operations with no published per-op figure in these sources (div, exp,
// sqrt) are priced as one multiplication at the dense precision: an
// assumption, stated here and in the docs, not a measurement.
//
// Memory access (weight fetch) is a separate, switchable term: spiking and
// quantized runs are only comparable with it on.
#include <array>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include "core/counters.hpp"

namespace spikesim {

enum class Precision { fp32, int32, int8 };
enum class MemoryLevel { none, sram, dram };

struct EnergyModel {
  std::string preset = "45nm";
  Precision precision = Precision::fp32;
  MemoryLevel memory = MemoryLevel::none;

  // Synaptic side of the spiking run.
  double ac_pj = 0.9;             // one accumulate (one amplitude unit on one synapse)
  double mac_pj = 4.6;            // one multiply-accumulate (NeuroBench multi-level event; dense layers)
  // Integer synapses (integer weights x integer amplitudes, int32 accumulators).
  double int_ac_pj = 0.1;         // one integer accumulate (45 nm int32 add)
  double int_mac_pj = 0.3;        // one integer multiply-accumulate (45 nm int8 mult + int32 add)
  double synop_pj = 0.0;          // per synaptic event, independent of amplitude (loihi)
  double neuron_update_pj = 0.0;  // per membrane update that emits no spike (loihi: inactive)
  double active_update_pj = 0.0;  // per membrane update that emits a spike (loihi: active)
  double spike_pj = 0.0;          // per spike emitted (loihi)
  // Dense units.
  double add_pj = 0.9, mul_pj = 3.7;
  double div_pj = 3.7, exp_pj = 3.7, sqrt_pj = 3.7, compare_pj = 0.9;
  // Memory.
  double fetch_pj_per_byte = 0.0;  // set by `memory`

  // Builds a preset ("45nm" or "loihi") at a precision with a memory term.
  static EnergyModel preset_named(std::string_view name, Precision precision = Precision::fp32,
                                  MemoryLevel memory = MemoryLevel::none);
  static std::vector<std::string> preset_names();
};

// The figures of an EnergyModel with their names: the one list a run file
// stores them by and reads them back with (io/report/report.hpp), so a report
// prices a run as the run priced itself, whatever today's presets say.
std::array<std::pair<std::string_view, double EnergyModel::*>, 15> energy_model_figures();

// The two synaptic conventions of DESIGN.md §3.
enum class AcConvention { amplitude, shift_add };
std::string_view ac_convention_name(AcConvention c);
AcConvention parse_ac_convention(std::string_view name);  // Error(data) on an unknown name

// Energy of a run or part of it, by term, in pJ.
struct EnergyBreakdown {
  double synaptic_pj = 0;  // synaptic accumulates / MACs / synops
  double neuron_pj = 0;    // membrane updates and spikes
  double dense_pj = 0;     // dense units
  double memory_pj = 0;    // weight fetch
  [[nodiscard]] double total_pj() const { return synaptic_pj + neuron_pj + dense_pj + memory_pj; }
};

// spikesim's convention: amplitude units (or shift-adds) priced as ACs.
EnergyBreakdown spiking_energy(const EnergyModel& m, const OpCounts& c,
                               AcConvention conv = AcConvention::amplitude);
// Energy of each neuron of a population in the spikesim convention: its own
// counters priced as spiking_energy prices the population. Every spike of a
// population reaches the same synapses, so neuron i's fan-out is
// synaptic_events_i / spikes_i and its weight bytes synaptic_events_i times
// the population's bytes per synaptic event; the neurons' energies sum to
// the population's (docs/concepts/accounting-and-energy.md).
std::vector<double> neuron_energy_pj(const EnergyModel& m, const NeuronCounters& neurons, const OpCounts& population,
                                     AcConvention conv = AcConvention::amplitude);

// NeuroBench/syops convention: binary events are ACs, multi-level events MACs.
EnergyBreakdown neurobench_energy(const EnergyModel& m, const OpCounts& c);
// Dense-equivalent network: `c.dense` holds its MACs and dense units, and
// `c.weight_bytes` the weights it reads.
EnergyBreakdown dense_energy(const EnergyModel& m, const OpCounts& c);

std::string_view precision_name(Precision p);
std::string_view memory_level_name(MemoryLevel m);

}  // namespace spikesim
