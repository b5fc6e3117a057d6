#include "io/runfile/run_file.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <unordered_set>

#include "core/error.hpp"
#include "io/runfile/hdf5.hpp"

namespace spikesim {
namespace {

constexpr std::uint32_t kSonataMagic = 0x0A7A;
// Spike datasets are read this many events at a time, so that `info` on a
// long run needs a few tens of MiB whatever the file size.
constexpr std::uint64_t kReadBlock = std::uint64_t{1} << 20;

// Counts distinct node ids: a bitmap for the ids populations have (below
// 2^26), a hash set for anything larger a foreign file may hold.
class DistinctCounter {
 public:
  void add(std::uint64_t id) {
    if (id < kBitmapLimit) {
      if (id >= seen_.size()) seen_.resize(std::max<std::size_t>(id + 1, seen_.size() * 2));
      if (!seen_[id]) {
        seen_[id] = true;
        ++count_;
      }
    } else if (large_.insert(id).second) {
      ++count_;
    }
  }
  [[nodiscard]] std::uint64_t count() const { return count_; }

 private:
  static constexpr std::uint64_t kBitmapLimit = std::uint64_t{1} << 26;
  std::vector<bool> seen_;
  std::unordered_set<std::uint64_t> large_;
  std::uint64_t count_ = 0;
};

std::uint64_t spike_count(const h5::File& file, const std::string& group, bool has_amplitudes) {
  const auto events_of = [&](const std::string& dataset) {
    const auto shape = h5::dataset_shape(file, group + "/" + dataset);
    if (shape.size() != 1)
      throw Error(ExitCode::data, fmt::format("'{}' at '{}/{}': expected a 1-D dataset, found {} dimensions",
                                              file.path().string(), group, dataset, shape.size()));
    return shape[0];
  };
  const std::uint64_t n = events_of("timestamps");
  const auto check = [&](const std::string& dataset) {
    if (const auto m = events_of(dataset); m != n)
      throw Error(ExitCode::data, fmt::format("'{}' at '{}': timestamps has {} entries but {} has {}",
                                              file.path().string(), group, n, dataset, m));
  };
  check("node_ids");
  if (has_amplitudes) check("amplitudes");
  return n;
}

SpikePopulationInfo population_info(const h5::File& file, const std::string& name) {
  const std::string group = "/spikes/" + name;
  const bool has_amplitudes = h5::exists(file, group + "/amplitudes");
  SpikePopulationInfo info;
  info.name = name;
  info.events = spike_count(file, group, has_amplitudes);
  if (info.events == 0) return info;
  double first = std::numeric_limits<double>::infinity();
  double last = -std::numeric_limits<double>::infinity();
  DistinctCounter distinct;
  for (std::uint64_t offset = 0; offset < info.events; offset += kReadBlock) {
    const std::uint64_t count = std::min(kReadBlock, info.events - offset);
    // min/max rather than front/back: foreign files may be sorted by id.
    for (double t : h5::read_dataset_slab<double>(file, group + "/timestamps", offset, count)) {
      first = std::min(first, t);
      last = std::max(last, t);
    }
    for (std::uint64_t id : h5::read_dataset_slab<std::uint64_t>(file, group + "/node_ids", offset, count))
      distinct.add(id);
    if (has_amplitudes) {
      for (std::int32_t a : h5::read_dataset_slab<std::int32_t>(file, group + "/amplitudes", offset, count))
        info.amplitude_sum += static_cast<std::uint64_t>(std::llabs(static_cast<long long>(a)));
    }
  }
  // A plain SONATA file has binary spikes: amplitude 1 each.
  if (!has_amplitudes) info.amplitude_sum = info.events;
  info.first_step = first;
  info.last_step = last;
  info.distinct_neurons = distinct.count();
  return info;
}

bool sonata_magic_ok(const h5::File& file) {
  // A foreign file may store these with other types; anything unreadable
  // just means "not SONATA", which the summary reports.
  try {
    if (!h5::has_attribute(file, "/", "magic") || !h5::has_attribute(file, "/", "version")) return false;
    const auto version = h5::read_attribute_array<std::uint32_t>(file, "/", "version");
    return h5::read_attribute<std::uint32_t>(file, "/", "magic") == kSonataMagic && version.size() == 2 &&
           version[0] == 0 && version[1] == 1;
  } catch (const Error&) {
    return false;
  }
}

std::string optional_text(const h5::File& file, const std::string& path) {
  return h5::exists(file, path) ? h5::read_string_dataset(file, path) : std::string();
}

std::vector<std::string> subgroups(const h5::File& file, const std::string& path) {
  std::vector<std::string> names;
  if (!h5::is_group(file, path)) return names;
  for (auto& name : h5::list_children(file, path)) {
    std::string child = path;
    child.append("/").append(name);
    if (h5::is_group(file, child)) names.push_back(std::move(name));
  }
  return names;
}

h5::File open_run_file(const std::filesystem::path& path) {
  h5::File file = h5::File::open_read_only(path);
  if (!h5::has_attribute(file, "/", "spikesim_complete"))
    throw Error(ExitCode::data, fmt::format("'{}' is not a spikesim run file: the root attribute "
                                            "'spikesim_complete' is missing",
                                            path.string()));
  return file;
}

}  // namespace

RunFileSummary read_run_file(const std::filesystem::path& path) {
  h5::File file = open_run_file(path);
  RunFileSummary summary;
  summary.path = path;
  const auto mark = h5::read_attribute<std::uint32_t>(file, "/", "spikesim_complete");
  // A ".partial" name means finalize() did not reach its rename, whatever
  // the mark says.
  summary.complete = mark == 1 && path.extension() != ".partial";
  summary.sonata_magic_ok = sonata_magic_ok(file);
  if (h5::has_attribute(file, "/", "spikesim_version"))
    summary.spikesim_version = h5::read_string_attribute(file, "/", "spikesim_version");
  for (const auto& name : subgroups(file, "/spikes")) summary.spikes.push_back(population_info(file, name));
  summary.traces = subgroups(file, "/report");
  summary.config_text = optional_text(file, "/spikesim/config");
  summary.summary_json = optional_text(file, "/spikesim/summary");
  return summary;
}

std::string format_run_file_summary(const RunFileSummary& s) {
  std::string out;
  auto line = [&out](const std::string& text) {
    out += text;
    out += '\n';
  };
  line(fmt::format("Run file   {}", s.path.string()));
  if (s.complete) {
    line("Status     complete");
  } else {
    line("Status     INCOMPLETE: the run did not finish (spikesim_complete = 0 or a \".partial\" file).");
    line("           INCOMPLETE: the figures below cover only what was written before it stopped.");
  }
  line(fmt::format("spikesim   {}",
                   s.spikesim_version.empty() ? "(version not recorded)" : s.spikesim_version));
  line(fmt::format("SONATA     {}", s.sonata_magic_ok ? "magic 0x0A7A, version 0.1"
                                                      : "NOT a SONATA file: magic/version missing or wrong"));

  std::uint64_t total = 0;
  for (const auto& p : s.spikes) total += p.events;
  line(fmt::format("Spikes     {} population{}, {} events", s.spikes.size(), s.spikes.size() == 1 ? "" : "s",
                   total));
  if (!s.spikes.empty()) {
    std::size_t width = std::string_view("population").size();
    for (const auto& p : s.spikes) width = std::max(width, p.name.size());
    line(fmt::format("  {:<{}}  {:>12}  {:>14}  {:>10}  {:>14}", "population", width, "events", "steps",
                     "neurons", "amplitude sum"));
    for (const auto& p : s.spikes) {
      const std::string steps =
          p.events == 0 ? std::string("-") : fmt::format("{:g} .. {:g}", p.first_step, p.last_step);
      line(fmt::format("  {:<{}}  {:>12}  {:>14}  {:>10}  {:>14}", p.name, width, p.events, steps,
                       p.distinct_neurons, p.amplitude_sum));
    }
  }
  line(fmt::format("Traces     {} population{}{}", s.traces.size(), s.traces.size() == 1 ? "" : "s",
                   s.traces.empty() ? "" : fmt::format(" ({})", fmt::join(s.traces, ", "))));
  line(fmt::format("Config     {}",
                   s.config_text.empty()
                       ? std::string("(none)")
                       : fmt::format("{} bytes of TOML in /spikesim/config", s.config_text.size())));
  line(fmt::format("Summary    {}",
                   s.summary_json.empty()
                       ? std::string("(none)")
                       : fmt::format("{} bytes of JSON in /spikesim/summary", s.summary_json.size())));
  return out;
}

SpikeData read_spikes(const std::filesystem::path& path, const std::string& population) {
  h5::File file = open_run_file(path);
  const std::string group = "/spikes/" + population;
  if (population.empty() || population.find('/') != std::string::npos || !h5::is_group(file, group)) {
    const auto names = subgroups(file, "/spikes");
    throw Error(ExitCode::data,
                fmt::format("'{}' has no spike population '{}' (it has: {})", path.string(), population,
                            names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "))));
  }
  const bool has_amplitudes = h5::exists(file, group + "/amplitudes");
  const std::uint64_t n = spike_count(file, group, has_amplitudes);
  SpikeData data;
  data.timestamps = h5::read_dataset<double>(file, group + "/timestamps");
  data.node_ids = h5::read_dataset<std::uint64_t>(file, group + "/node_ids");
  data.amplitudes = has_amplitudes ? h5::read_dataset<std::int32_t>(file, group + "/amplitudes")
                                   : std::vector<std::int32_t>(static_cast<std::size_t>(n), 1);
  return data;
}

}  // namespace spikesim
