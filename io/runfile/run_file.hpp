#pragma once
// Reading a run file back (the layout io/runfile/recorder.hpp writes, documented in
// docs/reference/hdf5-layout.md): for `spikesim info`, reports and tests.
//
// A file is a spikesim run when its root has the `spikesim_complete`
// attribute; anything else (not HDF5, truncated, someone else's HDF5 file)
// is refused with Error(ExitCode::data) naming the file. "<x>.partial" files
// of interrupted runs are read too and reported as incomplete.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace spikesim {

struct SpikePopulationInfo {
  std::string name;
  std::uint64_t events = 0;
  double first_step = 0;  // first and last timestamp (0 when events == 0)
  double last_step = 0;
  std::uint64_t amplitude_sum = 0;     // sum of |amplitude|; events when the file has no amplitudes
  std::uint64_t distinct_neurons = 0;  // neurons that spiked at least once
};

struct RunFileSummary {
  std::filesystem::path path;
  bool complete = false;         // spikesim_complete == 1 and not a ".partial" file
  bool sonata_magic_ok = false;  // magic == 0x0A7A and version == [0, 1]
  std::string spikesim_version;
  std::vector<SpikePopulationInfo> spikes;  // in name order
  std::vector<std::string> traces;          // /report populations, in name order
  std::string config_text;                  // /spikesim/config, "" when absent
  std::string summary_json;                 // /spikesim/summary, "" when absent
};

// Reads the summary of a run file, streaming the spike datasets in blocks.
RunFileSummary read_run_file(const std::filesystem::path& path);

// Human-readable summary; says INCOMPLETE loudly when the run did not finish.
std::string format_run_file_summary(const RunFileSummary& summary);

struct SpikeData {
  std::vector<double> timestamps;  // steps
  std::vector<std::uint64_t> node_ids;
  std::vector<std::int32_t> amplitudes;  // all 1 when the file has no amplitudes (plain SONATA)
};

// All spikes of one population; an unknown population is Error(ExitCode::data)
// listing the ones the file has.
SpikeData read_spikes(const std::filesystem::path& path, const std::string& population);

}  // namespace spikesim
