#pragma once
// The HDF5 run recorder (DESIGN.md §4; full layout in docs/reference/hdf5-layout.md).
//
// One recorder writes one run file:
//
//   /                      attrs magic=0x0A7A (uint32), version=[0,1] (uint32 x2),
//                                spikesim_version (str), spikesim_complete (uint32 0|1)
//   /spikes/<pop>/         attr sorting (SONATA enum {none, by_id, by_time} = by_time)
//        timestamps        float64 [events], attr units="steps"
//        node_ids          uint64  [events]
//        amplitudes        int32   [events]         (spikesim addition)
//   /report/<pop>/data     float32 [frames x traced], attr units
//   /report/<pop>/mapping/ node_ids uint64 [traced], index_pointers uint64 [traced+1],
//                          element_ids uint32 [traced], time float64 [3] (attr units="steps"),
//                          steps uint32 [frames]    (spikesim addition)
//   /report/<pop>/scale/   theta float32 [tokens x traced], zero int32 [tokens x traced],
//                          steps uint32 [tokens]    (spikesim addition: decode scale per token)
//   /spikesim/...          counters, op counts, energy, config text, summary, model identity
//
// Lifecycle. The constructor creates "<path>.partial" and marks it
// spikesim_complete = 0; finalize() writes the buffers, sets the mark to 1,
// closes the file and renames it to <path>. A recorder destroyed without
// finalize() (an exception, SIGINT unwinding) still writes what it buffered
// but leaves only "<path>.partial" with the mark at 0: an interrupted run
// never leaves a file that looks complete. A stale <path> from an earlier
// run is removed when recording starts, for the same reason.
//
// Appends are buffered per dataset and written one chunk at a time. Not
// thread-safe: the simulator records from one thread at a time.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/counters.hpp"
#include "core/energy_model.hpp"
#include "core/event.hpp"
#include "core/types.hpp"

namespace spikesim {

struct RecorderOptions {
  std::filesystem::path path;   // final file name
  int compression = 4;          // gzip level 0..9 (0 = no filter)
  std::size_t chunk = 1 << 16;  // elements per chunk for appendable datasets
};

class Hdf5Recorder {
 public:
  // Creates "<path>.partial" (truncating) and writes the root attributes.
  // Throws Error(ExitCode::output, "cannot write output '<path>': <reason>")
  // when the folder is missing or not writable, Error(ExitCode::config) for
  // a compression level outside 0..9 or a zero chunk.
  explicit Hdf5Recorder(RecorderOptions options);
  // Without finalize(): flushes, leaves spikesim_complete = 0, closes, and
  // leaves only "<path>.partial". Never throws (failures are logged).
  ~Hdf5Recorder();
  Hdf5Recorder(const Hdf5Recorder&) = delete;
  Hdf5Recorder& operator=(const Hdf5Recorder&) = delete;
  Hdf5Recorder(Hdf5Recorder&&) noexcept;
  Hdf5Recorder& operator=(Hdf5Recorder&&) = delete;

  // SONATA spikes of one population; returns its index for append_spikes.
  // Names must be unique, non-empty and free of '/'.
  std::size_t add_spike_population(const std::string& name);
  // Events in non-decreasing step order (across calls too): the file says
  // sorting = by_time. `SpikeEvent::population` is not stored (the
  // population is the group); `neuron` becomes node_ids.
  void append_spikes(std::size_t population, std::span<const SpikeEvent> events);

  // A SONATA frame report of the listed neurons of one population; `units`
  // describes the values (default: membrane in threshold units θ).
  std::size_t add_trace_population(const std::string& name, std::vector<NeuronId> node_ids,
                                   const std::string& units = "theta");
  // One frame: values[i] belongs to node_ids[i]. Steps non-decreasing.
  void append_frame(std::size_t trace, Step step, std::span<const float> values);
  // The decode scale of the traced neurons for the token injected at `step`
  // (x = θ·(q − z)): theta[i] and zero[i] belong to node_ids[i]. Steps
  // non-decreasing. The membrane in value units is θ·V.
  void append_token_scale(std::size_t trace, Step step, std::span<const float> theta,
                          std::span<const std::int32_t> zero);

  // /spikesim/populations/<population>/{membrane_updates,spikes,amplitude_sum,synaptic_events}
  void write_neuron_counters(const std::string& population, const NeuronCounters& counters);
  // uint64 attributes on /spikesim/<group>: one per OpCounts field, plus dense_<kind>.
  void write_op_counts(const std::string& group, const OpCounts& counts);
  // float64 attributes <name>_{synaptic,neuron,dense,memory,total}_pj on /spikesim/<group>.
  void write_energy(const std::string& group, const std::string& name, const EnergyBreakdown& energy);
  // A scalar UTF-8 string dataset, e.g. "/spikesim/config" (TOML), "/spikesim/summary" (JSON).
  void write_text(const std::string& dataset_path, const std::string& text);
  // An attribute on a group or dataset; a missing object is created as a group.
  void write_attribute(const std::string& object_path, const std::string& name, const std::string& value);
  void write_attribute(const std::string& object_path, const std::string& name, const char* value);
  void write_attribute(const std::string& object_path, const std::string& name, double value);
  void write_attribute(const std::string& object_path, const std::string& name, std::uint64_t value);
  // A float32 [rows x cols] dataset (row-major), e.g. logits.
  void write_matrix(const std::string& dataset_path, const float* data, std::size_t rows, std::size_t cols);
  // A small 1-D integer dataset (replaced when it exists), e.g. a GIF
  // population's grid: /spikesim/populations/<p>/bits (uint8) and /steps
  // (uint32), or /spikesim/token_steps (uint64).
  void write_vector(const std::string& dataset_path, std::span<const std::uint8_t> values);
  void write_vector(const std::string& dataset_path, std::span<const std::uint32_t> values);
  void write_vector(const std::string& dataset_path, std::span<const std::uint64_t> values);
  void write_vector(const std::string& dataset_path, std::span<const double> values);

  // Writes every buffer, sets spikesim_complete = 1, closes the file and
  // renames "<path>.partial" to <path>. Once only; later calls of any
  // writing method throw Error(ExitCode::internal).
  void finalize();

  // The final file name (the file is "<path>.partial" until finalize()).
  [[nodiscard]] const std::filesystem::path& path() const;

 private:
  struct Impl;
  // The recorder's state, or Error(ExitCode::internal) naming `method` when
  // it was moved from or already finalized.
  Impl& live(const char* method) const;

  std::unique_ptr<Impl> impl_;
};

// "<path>.partial": where a run is written until it completes.
std::filesystem::path partial_path(const std::filesystem::path& path);

}  // namespace spikesim
