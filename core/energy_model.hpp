#pragma once
// Energy model (DESIGN.md §3): picojoules per counted operation.
//
// The figures are data: energy profiles, TOML files in core/energy_profiles/
// embedded into the binary at build time (core/CMakeLists.txt), each figure
// with its published source beside it and each file saying how its figures
// were checked. The shipped profiles:
//
//  "45nm"          Horowitz, ISSCC 2014 (45 nm CMOS): the conventional datapath
//  "loihi"         Davies et al., IEEE Micro 2018, Table 2
//  "loihi_sanafe"  SANA-FE's calibrated arch/loihi.yaml
//  "spinnaker2"    Höppner et al. 2019
//  "truenorth"     Merolla et al., Science 2014
//
// A user passes their own file with energy.profile = "my_chip.toml"; the
// format and the sources are in docs/concepts/accounting-and-energy.md.
// Dense units, the dense equivalent and the memory term always run on a
// conventional datapath: neuromorphic profiles take them from "45nm".
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
  std::string preset = "45nm";  // the profile's name (a profile file's `name`)
  Precision precision = Precision::fp32;
  MemoryLevel memory = MemoryLevel::none;

  // Synaptic side of the spiking run.
  double ac_pj = 0.9;             // one accumulate (one amplitude unit on one synapse)
  double mac_pj = 4.6;            // one multiply-accumulate (NeuroBench multi-level event; dense layers)
  double synop_pj = 0.0;          // per synaptic event, independent of amplitude (loihi)
  double neuron_update_pj = 0.0;  // per membrane update that emits no spike (loihi: inactive)
  double active_update_pj = 0.0;  // per membrane update that emits a spike (loihi: active)
  double spike_pj = 0.0;          // per spike emitted (loihi)
  // Integer synapses (DESIGN.md §7: integer weights x integer amplitudes,
  // int32 accumulators), figures every profile defines.
  double int_ac_pj = 0.1;   // one integer accumulate (45 nm: int32 add)
  double int_mac_pj = 0.3;  // one integer multiply-accumulate (45 nm: int8 mult + int32 add)
  // Dense units.
  double add_pj = 0.9, mul_pj = 3.7;
  double div_pj = 3.7, exp_pj = 3.7, sqrt_pj = 3.7, compare_pj = 0.9;
  // Memory.
  double fetch_pj_per_byte = 0.0;  // set by `memory`

  // The model an energy profile gives at a precision with a memory term:
  // `profile` is a shipped profile's name or the path of a profile file
  // (is_energy_profile_file). Error(config) naming the file, the key and
  // what was expected when the profile is unknown or malformed.
  static EnergyModel preset_named(std::string_view profile, Precision precision = Precision::fp32,
                                  MemoryLevel memory = MemoryLevel::none);
  // The shipped profiles' names, in the order of core/CMakeLists.txt.
  static std::vector<std::string> preset_names();
};

// The model a profile's TOML text gives; `source_name` names it in errors.
EnergyModel energy_model_from_profile(std::string_view toml_text, const std::string& source_name,
                                      Precision precision = Precision::fp32, MemoryLevel memory = MemoryLevel::none);
// A value of energy.profile that names a file rather than a shipped profile:
// it ends in ".toml".
bool is_energy_profile_file(std::string_view profile);
bool is_shipped_energy_profile(std::string_view name);
// The text of a shipped profile file, as embedded at build time ("" if none).
std::string_view shipped_energy_profile_text(std::string_view name);

// The figures of an EnergyModel with their names: the one list a run file
// stores them by and reads them back with (io/report/report.hpp), so a report
// prices a run as the run priced itself, whatever today's presets say.
std::array<std::pair<std::string_view, double EnergyModel::*>, 15> energy_model_figures();
// Figures added after run files were first written: a file without them
// keeps EnergyModel's defaults for them (it predates integer synapses, so
// it holds no integer operations to price).
bool energy_figure_optional_in_run_files(std::string_view name);

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
