#include "io/runfile/recorder.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <numeric>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "core/error.hpp"
#include "io/runfile/hdf5.hpp"

#ifndef SPIKESIM_VERSION
#define SPIKESIM_VERSION "unknown"
#endif

namespace spikesim {
namespace {

constexpr std::uint32_t kSonataMagic = 0x0A7A;
constexpr std::array<std::uint32_t, 2> kSonataVersion = {0, 1};
// The SONATA spike-file `sorting` enum, in the order libsonata defines it.
constexpr std::array<std::string_view, 3> kSortingLabels = {"none", "by_id", "by_time"};
constexpr std::uint8_t kSortingByTime = 2;

// Keep write_op_counts, run_file and docs/reference/hdf5-layout.md in step
// with the struct: this fires when a field is added.
static_assert(sizeof(OpCounts) == 16 * sizeof(std::uint64_t) + sizeof(DenseOpCounts),
              "OpCounts changed: update write_op_counts() and docs/reference/hdf5-layout.md");

void check_population_name(std::string_view kind, const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    throw Error(ExitCode::internal,
                fmt::format("{} population name '{}' cannot be an HDF5 group name: it must be non-empty, "
                            "contain no '/' and not be '.' or '..'",
                            kind, name));
}

// "/spikesim/<group>" for a group given with or without a leading '/'.
std::string spikesim_group(const std::string& group) {
  std::string_view g = group;
  while (!g.empty() && g.front() == '/') g.remove_prefix(1);
  return g.empty() ? "/spikesim" : "/spikesim/" + std::string(g);
}

}  // namespace

std::filesystem::path partial_path(const std::filesystem::path& path) {
  std::filesystem::path partial = path;
  partial += ".partial";
  return partial;
}

struct Hdf5Recorder::Impl {
  struct SpikeStream {
    std::string name;
    h5::AppendableDataset<double> timestamps;
    h5::AppendableDataset<std::uint64_t> node_ids;
    h5::AppendableDataset<std::int32_t> amplitudes;
    Step last_step = 0;
  };
  struct TraceStream {
    std::string name;
    std::size_t width;
    h5::AppendableDataset<float> data;
    h5::AppendableDataset<std::uint32_t> steps;
    // The decode scale of the traced neurons, one row per token (scale/).
    h5::AppendableDataset<float> theta;
    h5::AppendableDataset<std::int32_t> zero;
    h5::AppendableDataset<std::uint32_t> scale_steps;
    bool any = false;
    bool any_scale = false;
    Step last_scale_step = 0;
    Step first_step = 0;
    Step last_step = 0;
  };
  // recording -> finalized on success; -> abandoned when finalize() fails
  // part-way (the file handles still close, the name stays ".partial").
  enum class State { recording, finalized, abandoned };

  Impl(RecorderOptions opts, h5::File f)
      : options(std::move(opts)),
        partial(partial_path(options.path)),
        compression{options.compression, options.chunk},
        file(std::move(f)) {}

  // Writes every buffer and the per-trace time mapping, then closes the
  // datasets. Shared by finalize() and the destructor.
  void close_streams() {
    for (auto& s : spikes) {
      s.timestamps.close();
      s.node_ids.close();
      s.amplitudes.close();
    }
    for (auto& t : traces) {
      t.data.close();
      t.steps.close();
      t.theta.close();
      t.zero.close();
      t.scale_steps.close();
      // SONATA time = (start, stop, step), open on the right. Frames are not
      // contiguous (a population is active only in its stage): the real step
      // of each frame is in mapping/steps.
      const std::array<double, 3> time = {t.any ? double(t.first_step) : 0.0,
                                          t.any ? double(t.last_step) + 1.0 : 0.0, 1.0};
      const std::string mapping = "/report/" + t.name + "/mapping";
      h5::write_dataset<double>(file, mapping + "/time", time, compression);
      h5::write_attribute(file, mapping + "/time", "units", "steps");
    }
  }

  template <class T>
  void attribute_on(const std::string& object, const std::string& name, T value) {
    // Attributes name their object; one that does not exist yet becomes a
    // group (e.g. "/spikesim/model" for the model's identity).
    if (!h5::exists(file, object)) h5::require_group(file, object);
    if constexpr (std::is_same_v<T, std::string_view>) {
      h5::write_attribute(file, object, name, value);
    } else {
      h5::write_attribute<T>(file, object, name, value);
    }
  }

  RecorderOptions options;
  std::filesystem::path partial;
  h5::Compression compression;
  // Declared before the streams so that they are destroyed (closed) first.
  h5::File file;
  std::vector<SpikeStream> spikes;
  std::vector<TraceStream> traces;
  State state = State::recording;
};

Hdf5Recorder::Hdf5Recorder(RecorderOptions options) {
  if (options.compression < 0 || options.compression > 9)
    throw Error(ExitCode::config, fmt::format("output compression for '{}' must be a gzip level 0..9, got {}",
                                              options.path.string(), options.compression));
  if (options.chunk == 0)
    throw Error(ExitCode::config,
                fmt::format("output chunk size for '{}' must be at least 1 element", options.path.string()));
  const std::filesystem::path& path = options.path;
  if (path.empty() || !path.has_filename())
    throw Error(ExitCode::output,
                fmt::format("cannot write output '{}': expected a file name", path.string()));
  const std::filesystem::path folder = path.has_parent_path() ? path.parent_path() : ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec))
    throw Error(ExitCode::output, fmt::format("cannot write output '{}': folder '{}' does not exist",
                                              path.string(), folder.string()));
  if (std::filesystem::is_directory(path, ec))
    throw Error(ExitCode::output, fmt::format("cannot write output '{}': it is a folder", path.string()));

  h5::File file = [&] {
    try {
      return h5::File::create(partial_path(path));
    } catch (const Error& e) {
      throw Error(ExitCode::output, fmt::format("cannot write output '{}': {}", path.string(), e.what()));
    }
  }();
  // A complete file left by an earlier run must not outlive this run if it
  // is interrupted: remove it now that the new one could be created.
  if (std::filesystem::exists(path, ec)) {
    spdlog::info("replacing earlier run output '{}'", path.string());
    std::filesystem::remove(path, ec);
    if (ec)
      throw Error(ExitCode::output,
                  fmt::format("cannot write output '{}': cannot remove the earlier file: {}", path.string(),
                              ec.message()));
  }

  h5::write_attribute<std::uint32_t>(file, "/", "magic", kSonataMagic);
  h5::write_attribute_array<std::uint32_t>(file, "/", "version", kSonataVersion);
  h5::write_attribute(file, "/", "spikesim_version", SPIKESIM_VERSION);
  h5::write_attribute<std::uint32_t>(file, "/", "spikesim_complete", 0);
  // SONATA readers look for /spikes even when no population spiked.
  h5::require_group(file, "/spikes");
  h5::require_group(file, "/spikesim");
  impl_ = std::make_unique<Impl>(std::move(options), std::move(file));
}

Hdf5Recorder::Hdf5Recorder(Hdf5Recorder&&) noexcept = default;

Hdf5Recorder::~Hdf5Recorder() {
  if (!impl_ || impl_->state != Impl::State::recording) return;
  try {
    impl_->close_streams();
    h5::write_attribute<std::uint32_t>(impl_->file, "/", "spikesim_complete", 0);
    impl_->file.close();
    spdlog::warn("run output left incomplete in '{}' (spikesim_complete = 0); '{}' was not written",
                 impl_->partial.string(), impl_->options.path.string());
  } catch (const std::exception& e) {
    spdlog::error("while closing incomplete run output '{}': {}", impl_->partial.string(), e.what());
  }
}

std::size_t Hdf5Recorder::add_spike_population(const std::string& name) {
  Impl& s = live("add_spike_population");
  check_population_name("spike", name);
  if (std::any_of(s.spikes.begin(), s.spikes.end(), [&](const auto& p) { return p.name == name; }))
    throw Error(ExitCode::internal,
                fmt::format("spike population '{}' added twice to '{}'", name, s.partial.string()));
  const std::string group = "/spikes/" + name;
  h5::require_group(s.file, group);
  const std::array<std::string_view, 3> labels = kSortingLabels;
  h5::write_enum_attribute(s.file, group, "sorting", labels, kSortingByTime);
  auto timestamps = h5::AppendableDataset<double>::vector(s.file, group + "/timestamps", s.compression);
  timestamps.set_attribute("units", "steps");
  auto node_ids = h5::AppendableDataset<std::uint64_t>::vector(s.file, group + "/node_ids", s.compression);
  auto amplitudes = h5::AppendableDataset<std::int32_t>::vector(s.file, group + "/amplitudes", s.compression);
  s.spikes.push_back({name, std::move(timestamps), std::move(node_ids), std::move(amplitudes), 0});
  return s.spikes.size() - 1;
}

void Hdf5Recorder::append_spikes(std::size_t population, std::span<const SpikeEvent> events) {
  Impl& s = live("append_spikes");
  if (population >= s.spikes.size())
    throw Error(ExitCode::internal, fmt::format("append_spikes: no spike population #{} ({} added)",
                                                population, s.spikes.size()));
  Impl::SpikeStream& stream = s.spikes[population];
  for (const SpikeEvent& e : events) {
    if (e.step < stream.last_step)
      throw Error(ExitCode::internal,
                  fmt::format("spike population '{}': event at step {} after step {}; events must arrive in "
                              "step order (the file declares sorting = by_time)",
                              stream.name, e.step, stream.last_step));
    stream.last_step = e.step;
    stream.timestamps.push(static_cast<double>(e.step));
    stream.node_ids.push(e.neuron);
    stream.amplitudes.push(e.amplitude);
  }
}

std::size_t Hdf5Recorder::add_trace_population(const std::string& name, std::vector<NeuronId> node_ids,
                                               const std::string& units) {
  Impl& s = live("add_trace_population");
  check_population_name("trace", name);
  if (std::any_of(s.traces.begin(), s.traces.end(), [&](const auto& t) { return t.name == name; }))
    throw Error(ExitCode::internal,
                fmt::format("trace population '{}' added twice to '{}'", name, s.partial.string()));
  if (node_ids.empty())
    throw Error(ExitCode::internal, fmt::format("trace population '{}': no neurons to trace", name));
  const std::string group = "/report/" + name;
  const std::string mapping = group + "/mapping";
  const std::size_t n = node_ids.size();

  auto data = h5::AppendableDataset<float>::matrix(s.file, group + "/data", n, s.compression);
  data.set_attribute("units", units);

  const std::vector<std::uint64_t> ids(node_ids.begin(), node_ids.end());
  h5::write_dataset<std::uint64_t>(s.file, mapping + "/node_ids", ids, s.compression);
  h5::write_attribute<std::int8_t>(s.file, mapping + "/node_ids", "sorted",
                                   std::is_sorted(ids.begin(), ids.end()) ? 1 : 0);
  // One element (the neuron itself, element id 0) per node: node i owns
  // column i, so index_pointers = 0..n (n + 1 entries, CSR style).
  std::vector<std::uint64_t> index_pointers(n + 1);
  std::iota(index_pointers.begin(), index_pointers.end(), std::uint64_t{0});
  h5::write_dataset<std::uint64_t>(s.file, mapping + "/index_pointers", index_pointers, s.compression);
  const std::vector<std::uint32_t> element_ids(n, 0);
  h5::write_dataset<std::uint32_t>(s.file, mapping + "/element_ids", element_ids, s.compression);
  auto steps = h5::AppendableDataset<std::uint32_t>::vector(s.file, mapping + "/steps", s.compression);

  // The decode scale x = θ·(q − z) of the same neurons, one frame per token:
  // a second frame report beside the membrane's, with the same columns.
  const std::string scale = group + "/scale";
  auto theta = h5::AppendableDataset<float>::matrix(s.file, scale + "/theta", n, s.compression);
  theta.set_attribute("units", "value per grid level");
  auto zero = h5::AppendableDataset<std::int32_t>::matrix(s.file, scale + "/zero", n, s.compression);
  zero.set_attribute("units", "grid levels");
  auto scale_steps = h5::AppendableDataset<std::uint32_t>::vector(s.file, scale + "/steps", s.compression);

  s.traces.push_back({name, n, std::move(data), std::move(steps), std::move(theta), std::move(zero),
                      std::move(scale_steps)});
  return s.traces.size() - 1;
}

void Hdf5Recorder::append_token_scale(std::size_t trace, Step step, std::span<const float> theta,
                                      std::span<const std::int32_t> zero) {
  Impl& s = live("append_token_scale");
  if (trace >= s.traces.size())
    throw Error(ExitCode::internal,
                fmt::format("append_token_scale: no trace population #{} ({} added)", trace, s.traces.size()));
  Impl::TraceStream& t = s.traces[trace];
  if (theta.size() != t.width || zero.size() != t.width)
    throw Error(ExitCode::internal,
                fmt::format("trace population '{}': scale at step {} has {} θ and {} z, expected {} (one per "
                            "traced neuron)",
                            t.name, step, theta.size(), zero.size(), t.width));
  if (t.any_scale && step < t.last_scale_step)
    throw Error(ExitCode::internal,
                fmt::format("trace population '{}': scale at step {} after step {}; tokens must arrive in step order",
                            t.name, step, t.last_scale_step));
  t.theta.append(theta);
  t.zero.append(zero);
  t.scale_steps.push(static_cast<std::uint32_t>(step));
  t.any_scale = true;
  t.last_scale_step = step;
}

void Hdf5Recorder::append_frame(std::size_t trace, Step step, std::span<const float> values) {
  Impl& s = live("append_frame");
  if (trace >= s.traces.size())
    throw Error(ExitCode::internal,
                fmt::format("append_frame: no trace population #{} ({} added)", trace, s.traces.size()));
  Impl::TraceStream& t = s.traces[trace];
  if (values.size() != t.width)
    throw Error(
        ExitCode::internal,
        fmt::format("trace population '{}': frame at step {} has {} values, expected {} (one per traced "
                    "neuron)",
                    t.name, step, values.size(), t.width));
  if (t.any && step < t.last_step)
    throw Error(
        ExitCode::internal,
        fmt::format("trace population '{}': frame at step {} after step {}; frames must arrive in step order",
                    t.name, step, t.last_step));
  t.data.append(values);
  t.steps.push(step);
  if (!t.any) t.first_step = step;
  t.any = true;
  t.last_step = step;
}

void Hdf5Recorder::write_neuron_counters(const std::string& population, const NeuronCounters& counters) {
  Impl& s = live("write_neuron_counters");
  check_population_name("counter", population);
  const std::size_t n = counters.size();
  if (counters.membrane_updates.size() != n || counters.amplitude_sum.size() != n ||
      counters.synaptic_events.size() != n)
    throw Error(ExitCode::internal,
                fmt::format("neuron counters of '{}' have different lengths (membrane_updates {}, spikes {}, "
                            "amplitude_sum {}, synaptic_events {})",
                            population, counters.membrane_updates.size(), n, counters.amplitude_sum.size(),
                            counters.synaptic_events.size()));
  const std::string group = "/spikesim/populations/" + population;
  h5::write_dataset<std::uint64_t>(s.file, group + "/membrane_updates", counters.membrane_updates,
                                   s.compression);
  h5::write_dataset<std::uint64_t>(s.file, group + "/spikes", counters.spikes, s.compression);
  h5::write_dataset<std::uint64_t>(s.file, group + "/amplitude_sum", counters.amplitude_sum, s.compression);
  h5::write_dataset<std::uint64_t>(s.file, group + "/synaptic_events", counters.synaptic_events,
                                   s.compression);
  if (counters.shift_adds.size() == n)
    h5::write_dataset<std::uint64_t>(s.file, group + "/shift_adds", counters.shift_adds, s.compression);
}

void Hdf5Recorder::write_op_counts(const std::string& group, const OpCounts& c) {
  Impl& s = live("write_op_counts");
  const std::string object = spikesim_group(group);
  h5::require_group(s.file, object);
  for (const auto& [name, value] : op_count_fields(c))
    h5::write_attribute<std::uint64_t>(s.file, object, std::string(name), value);
  for (std::size_t k = 0; k < kDenseOpKinds; ++k) {
    const auto op = static_cast<DenseOp>(k);
    h5::write_attribute<std::uint64_t>(s.file, object, fmt::format("dense_{}", dense_op_name(op)),
                                       c.dense[op]);
  }
}

void Hdf5Recorder::write_energy(const std::string& group, const std::string& name, const EnergyBreakdown& e) {
  Impl& s = live("write_energy");
  const std::string object = spikesim_group(group);
  h5::require_group(s.file, object);
  h5::write_attribute<double>(s.file, object, name + "_synaptic_pj", e.synaptic_pj);
  h5::write_attribute<double>(s.file, object, name + "_neuron_pj", e.neuron_pj);
  h5::write_attribute<double>(s.file, object, name + "_dense_pj", e.dense_pj);
  h5::write_attribute<double>(s.file, object, name + "_memory_pj", e.memory_pj);
  h5::write_attribute<double>(s.file, object, name + "_total_pj", e.total_pj());
}

void Hdf5Recorder::write_text(const std::string& dataset_path, const std::string& text) {
  Impl& s = live("write_text");
  h5::write_string_dataset(s.file, dataset_path, text);
}

void Hdf5Recorder::write_attribute(const std::string& object_path, const std::string& name,
                                   const std::string& value) {
  live("write_attribute").attribute_on(object_path, name, std::string_view(value));
}
void Hdf5Recorder::write_attribute(const std::string& object_path, const std::string& name,
                                   const char* value) {
  live("write_attribute").attribute_on(object_path, name, std::string_view(value));
}
void Hdf5Recorder::write_attribute(const std::string& object_path, const std::string& name, double value) {
  live("write_attribute").attribute_on(object_path, name, value);
}
void Hdf5Recorder::write_attribute(const std::string& object_path, const std::string& name,
                                   std::uint64_t value) {
  live("write_attribute").attribute_on(object_path, name, value);
}

void Hdf5Recorder::write_matrix(const std::string& dataset_path, const float* data, std::size_t rows,
                                std::size_t cols) {
  Impl& s = live("write_matrix");
  h5::write_dataset_2d<float>(s.file, dataset_path, data, rows, cols, s.compression);
}

void Hdf5Recorder::write_vector(const std::string& dataset_path, std::span<const std::uint8_t> values) {
  Impl& s = live("write_vector");
  h5::write_dataset<std::uint8_t>(s.file, dataset_path, values, s.compression);
}
void Hdf5Recorder::write_vector(const std::string& dataset_path, std::span<const std::uint32_t> values) {
  Impl& s = live("write_vector");
  h5::write_dataset<std::uint32_t>(s.file, dataset_path, values, s.compression);
}
void Hdf5Recorder::write_vector(const std::string& dataset_path, std::span<const std::uint64_t> values) {
  Impl& s = live("write_vector");
  h5::write_dataset<std::uint64_t>(s.file, dataset_path, values, s.compression);
}

void Hdf5Recorder::write_vector(const std::string& dataset_path, std::span<const double> values) {
  Impl& s = live("write_vector");
  h5::write_dataset<double>(s.file, dataset_path, values, s.compression);
}

void Hdf5Recorder::finalize() {
  Impl& s = live("finalize");
  // Until the rename succeeds the run is not complete; if anything below
  // throws, the destructor must not try again and the name stays ".partial".
  s.state = Impl::State::abandoned;
  s.close_streams();
  h5::write_attribute<std::uint32_t>(s.file, "/", "spikesim_complete", 1);
  s.file.close();
  std::error_code ec;
  std::filesystem::rename(s.partial, s.options.path, ec);
  if (ec)
    throw Error(ExitCode::output, fmt::format("cannot write output '{}': cannot rename '{}' to it: {}",
                                              s.options.path.string(), s.partial.string(), ec.message()));
  s.state = Impl::State::finalized;
}

const std::filesystem::path& Hdf5Recorder::path() const {
  if (!impl_) throw Error(ExitCode::internal, "Hdf5Recorder::path() called on a moved-from recorder");
  return impl_->options.path;
}

Hdf5Recorder::Impl& Hdf5Recorder::live(const char* method) const {
  if (!impl_)
    throw Error(ExitCode::internal, fmt::format("Hdf5Recorder::{} called on a moved-from recorder", method));
  if (impl_->state != Impl::State::recording)
    throw Error(ExitCode::internal, fmt::format("Hdf5Recorder::{} called after finalize() of '{}'", method,
                                                impl_->options.path.string()));
  return *impl_;
}

}  // namespace spikesim
