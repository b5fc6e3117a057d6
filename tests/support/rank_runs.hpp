#pragma once
// Runs under mpirun for the tests of the MPI build (docs/concepts/ranks.md):
// the mpirun command line, a run on R ranks (0: a plain process), and the
// comparison of two run files dataset by dataset and attribute by
// attribute, read with the raw HDF5 C API (not the code under test).
#include <catch2/catch.hpp>
#include <hdf5.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/raw_hdf5.hpp"
#include "tests/support/subprocess.hpp"

namespace spikesim::test {

namespace fs = std::filesystem;

inline const std::string kMpirun = SPIKESIM_MPIEXEC;

// mpirun's own options: root needs leave to run (CI runs as root); four
// ranks on a 2-core machine need --oversubscribe; no binding, so that the
// ranks' threads may use every core.
inline std::vector<std::string> mpirun_options() {
  std::vector<std::string> o{"--oversubscribe", "--bind-to", "none"};
  if (::geteuid() == 0) o.insert(o.begin(), "--allow-run-as-root");
  return o;
}

// `spikesim run CONFIG -o OUT --set ...`, one thread per rank, no progress bar.
inline std::vector<std::string> run_args(const std::string& config, const fs::path& out,
                                         const std::vector<std::string>& settings) {
  std::vector<std::string> a{"run", config, "-o", out.string(), "--set", "run.threads=1", "--set", "run.progress=false"};
  for (const std::string& s : settings) a.insert(a.end(), {"--set", s});
  return a;
}

// Runs the config on `ranks` ranks (0: a plain process, no mpirun); the
// file always goes to the same path (the config text records it), then is
// moved to `keep`.
inline void run_on(int ranks, const std::string& config, const std::vector<std::string>& settings,
                   const fs::path& dir, const fs::path& keep) {
  const fs::path out = dir / "run.h5";
  Outcome o;
  if (ranks == 0) {
    o = run_spikesim(run_args(config, out, settings), dir, 300);
  } else {
    std::vector<std::string> a = mpirun_options();
    a.insert(a.end(), {"-np", std::to_string(ranks), kSpikesim});
    const auto args = run_args(config, out, settings);
    a.insert(a.end(), args.begin(), args.end());
    o = run_program(kMpirun, a, dir, 300);
  }
  INFO(ranks << " ranks\n" << o.err);
  REQUIRE_FALSE(o.timed_out);
  REQUIRE(o.code == 0);
  REQUIRE(fs::exists(out));
  fs::rename(out, keep);
}

// Every dataset and attribute of a file, as bytes in native types (strings
// as text), by path: "/spikes/x/timestamps", "/spikesim@version".
struct Contents {
  std::map<std::string, std::vector<hsize_t>> shapes;
  std::map<std::string, std::string> values;
};

inline std::string read_value(hid_t object, bool is_attribute) {
  const hid_t ftype = is_attribute ? H5Aget_type(object) : H5Dget_type(object);
  const hid_t space = is_attribute ? H5Aget_space(object) : H5Dget_space(object);
  const auto n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space));
  std::string out;
  if (H5Tget_class(ftype) == H5T_STRING && H5Tis_variable_str(ftype) > 0) {
    const hid_t mtype = H5Tcopy(H5T_C_S1);
    H5Tset_size(mtype, H5T_VARIABLE);
    H5Tset_cset(mtype, H5Tget_cset(ftype));
    std::vector<char*> texts(n, nullptr);
    const herr_t rc = n == 0 ? 0
                      : is_attribute ? H5Aread(object, mtype, texts.data())
                                     : H5Dread(object, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, texts.data());
    REQUIRE(rc >= 0);
    for (char* t : texts) {
      out += t ? t : "";
      out += '\0';
    }
    if (n > 0) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, texts.data());
    H5Tclose(mtype);
  } else {
    const hid_t mtype = H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    out.resize(n * H5Tget_size(mtype));
    const herr_t rc = n == 0 ? 0
                      : is_attribute ? H5Aread(object, mtype, out.data())
                                     : H5Dread(object, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data());
    REQUIRE(rc >= 0);
    H5Tclose(mtype);
  }
  H5Sclose(space);
  H5Tclose(ftype);
  return out;
}

inline void read_attributes(hid_t object, const std::string& path, Contents& c) {
  H5O_info_t info;
  REQUIRE(H5Oget_info(object, &info) >= 0);
  for (hsize_t i = 0; i < info.num_attrs; ++i) {
    const hid_t a = H5Aopen_by_idx(object, ".", H5_INDEX_NAME, H5_ITER_INC, i, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(a >= 0);
    char name[256] = {};
    H5Aget_name(a, sizeof name, name);
    c.values[path + "@" + name] = read_value(a, true);
    H5Aclose(a);
  }
}

inline Contents read_contents(const fs::path& file) {
  RawFile f(file);
  Contents c;
  read_attributes(f.id, "/", c);
  struct Walk {
    hid_t file;
    Contents* c;
  } walk{f.id, &c};
  const herr_t rc = H5Lvisit(
      f.id, H5_INDEX_NAME, H5_ITER_INC,
      [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
        auto* w = static_cast<Walk*>(data);
        const std::string path = std::string("/") + name;
        const hid_t o = H5Oopen(w->file, name, H5P_DEFAULT);
        if (o < 0) return -1;
        H5O_info_t info;
        H5Oget_info(o, &info);
        read_attributes(o, path, *w->c);
        if (info.type == H5O_TYPE_DATASET) {
          const hid_t space = H5Dget_space(o);
          std::vector<hsize_t> dims(static_cast<std::size_t>(H5Sget_simple_extent_ndims(space)));
          H5Sget_simple_extent_dims(space, dims.data(), nullptr);
          H5Sclose(space);
          w->c->shapes[path] = dims;
          w->c->values[path] = read_value(o, false);
        }
        H5Oclose(o);
        return 0;
      },
      &walk);
  REQUIRE(rc >= 0);
  return c;
}

// The summary JSON without its wall times, which no two runs share.
inline std::string without_wall_times(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text.substr(0, text.find('\0')));
  for (auto it = j.begin(); it != j.end();)
    it = it.key().find("wall") != std::string::npos ? j.erase(it) : std::next(it);
  return j.dump();
}

inline void require_same_files(const fs::path& expected, const fs::path& actual, bool spiking) {
  const Contents a = read_contents(expected), b = read_contents(actual);
  INFO(expected.filename().string() << " vs " << actual.filename().string());
  REQUIRE(a.values.size() > 100);  // spikes, counters, logits, energies, ...
  for (const auto& [path, value] : a.values) {
    INFO(path);
    const auto it = b.values.find(path);
    REQUIRE(it != b.values.end());
    if (path == "/spikesim/summary")
      CHECK(without_wall_times(value) == without_wall_times(it->second));
    else
      CHECK(value == it->second);
  }
  CHECK(a.values.size() == b.values.size());
  CHECK(a.shapes == b.shapes);
  // A spiking run recorded spikes, so the exchanged spikes were compared.
  std::size_t spike_datasets = 0;
  for (const auto& [path, dims] : a.shapes)
    if (path.rfind("/spikes/", 0) == 0 && !dims.empty() && dims.front() > 0) ++spike_datasets;
  if (spiking) CHECK(spike_datasets > 0);
}

}  // namespace spikesim::test
