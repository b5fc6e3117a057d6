// Runs under mpirun (built with -DSPIKESIM_WITH_MPI=ON only): the same run
// on 1, 2 and 4 ranks writes the same file as one plain process, dataset by
// dataset and attribute by attribute, as NEST's MPI tests demand; and a
// rank that fails (bad input on one rank, a signal) ends the whole run with
// its rank named, no hang and no file that looks complete.
//
// The model is generated with shapes that make the slices uneven: d_ff 320
// is 5 blocks of 64 (2 + 3 rows-blocks on 2 ranks, 1 + 1 + 1 + 2 on 4), the
// K/V projections have 48 rows (fewer than a block per rank: cut row by row)
// and the vocabulary 200 rows (a short last block).
#include <catch2/catch.hpp>
#include <hdf5.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/raw_hdf5.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace spikesim;
using namespace spikesim::test;

namespace {

const std::string kMpirun = SPIKESIM_MPIEXEC;

// mpirun's own options: root needs leave to run (CI runs as root); four
// ranks on a 2-core machine need --oversubscribe; no binding, so that the
// ranks' threads may use every core.
std::vector<std::string> mpirun_options() {
  std::vector<std::string> o{"--oversubscribe", "--bind-to", "none"};
  if (::geteuid() == 0) o.insert(o.begin(), "--allow-run-as-root");
  return o;
}

std::vector<std::string> run_args(const fs::path& out, const std::vector<std::string>& settings) {
  std::vector<std::string> a{"run", SPIKESIM_SOURCE_DIR "/examples/default.toml", "-o", out.string(),
                             "--set", "generated.layers=4", "--set", "generated.dim=96",
                             "--set", "generated.hidden_dim=320", "--set", "generated.vocab=200",
                             "--set", "run.tokens=10", "--set", "run.threads=1", "--set", "run.progress=false"};
  for (const std::string& s : settings) a.insert(a.end(), {"--set", s});
  return a;
}

// Runs the config on `ranks` ranks (0: a plain process, no mpirun); the
// file always goes to the same path (the config text records it), then is
// moved to `keep`.
void run_on(int ranks, const std::vector<std::string>& settings, const fs::path& dir, const fs::path& keep) {
  const fs::path out = dir / "run.h5";
  Outcome o;
  if (ranks == 0) {
    o = run_spikesim(run_args(out, settings), dir, 120);
  } else {
    std::vector<std::string> a = mpirun_options();
    a.insert(a.end(), {"-np", std::to_string(ranks), kSpikesim});
    const auto args = run_args(out, settings);
    a.insert(a.end(), args.begin(), args.end());
    o = run_program(kMpirun, a, dir, 120);
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

std::string read_value(hid_t object, bool is_attribute) {
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

void read_attributes(hid_t object, const std::string& path, Contents& c) {
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

Contents read_contents(const fs::path& file) {
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
std::string without_wall_times(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text.substr(0, text.find('\0')));
  for (auto it = j.begin(); it != j.end();)
    it = it.key().find("wall") != std::string::npos ? j.erase(it) : std::next(it);
  return j.dump();
}

void require_same_files(const fs::path& expected, const fs::path& actual, bool spiking) {
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

}  // namespace

TEST_CASE("ranks: 1, 2 and 4 ranks write the file one process writes, dataset by dataset", "[mpi][ranks]") {
  TempDir dir("ranks_mpi");
  struct Setting {
    std::string name;
    std::vector<std::string> keys;
    std::vector<int> ranks;
  };
  const std::vector<Setting> settings{
      // Spikes, traced membranes (the split encoders' followed neurons) and
      // a spiked lm_head (a by-input copy of the lm_head's rows).
      {"spiking f32", {"record.trace_populations=[\"*attn_in*\", \"*mlp_down*\"]", "encoding.spike_lm_head=true"},
       {1, 2, 4}},
      // Integer synapses (int4 rows with groups of 32 inputs).
      {"spiking int4", {"weights.bits=4", "weights.group=32"}, {2, 4}},
      {"quantized bf16", {"generated.dtype=bf16", "run.mode=quantized"}, {2, 4}},
      {"dense", {"run.mode=dense"}, {4}},
  };
  for (const Setting& s : settings) {
    SECTION(s.name) {
      const fs::path one = dir.path() / "one.h5";
      run_on(0, s.keys, dir.path(), one);
      for (const int ranks : s.ranks) {
        const fs::path many = dir.path() / ("ranks" + std::to_string(ranks) + ".h5");
        run_on(ranks, s.keys, dir.path(), many);
        require_same_files(one, many, s.name.rfind("spiking", 0) == 0);
      }
    }
  }
}

TEST_CASE("ranks: bad input on one rank ends every rank, names the rank and leaves no complete file",
          "[mpi][ranks][bad_input]") {
  TempDir dir("ranks_mpi_bad");
  const fs::path out = dir.path() / "run.h5";
  // MPMD: rank 1 alone is given a model that does not exist.
  std::vector<std::string> a = mpirun_options();
  a.insert(a.end(), {"-np", "1", kSpikesim});
  const auto good = run_args(out, {});
  a.insert(a.end(), good.begin(), good.end());
  a.insert(a.end(), {":", "-np", "1", kSpikesim});
  const auto bad = run_args(out, {"model.path=" + (dir.path() / "missing.safetensors").string()});
  a.insert(a.end(), bad.begin(), bad.end());
  const Outcome o = run_program(kMpirun, a, dir.path(), 120);
  INFO(o.err);
  REQUIRE_FALSE(o.timed_out);
  CHECK(o.code == 4);  // ExitCode::model, the failing rank's code
  CHECK_THAT(o.err, Catch::Contains("spikesim: error: rank 1 of 2: ") && Catch::Contains("missing.safetensors"));
  CHECK_FALSE(fs::exists(out));
  // Rank 0 may have started its file when it was ended: then it is the
  // ".partial", cut off (HDF5 cannot open it) or marked incomplete.
  const fs::path partial = dir.path() / "run.h5.partial";
  if (fs::exists(partial)) {
    H5E_BEGIN_TRY {
      const hid_t f = H5Fopen(partial.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
      if (f >= 0) {
        std::uint64_t complete = 1;
        const hid_t attr = H5Aopen(f, "spikesim_complete", H5P_DEFAULT);
        if (attr >= 0) {
          H5Aread(attr, H5T_NATIVE_UINT64, &complete);
          H5Aclose(attr);
        }
        CHECK(complete == 0);
        H5Fclose(f);
      }
    }
    H5E_END_TRY;
  }
}

TEST_CASE("ranks: a signal to one rank stops every rank at the same token", "[mpi][ranks][interrupt]") {
  TempDir dir("ranks_mpi_signal");
  const fs::path out = dir.path() / "run.h5";
  std::vector<std::string> a = mpirun_options();
  a.insert(a.end(), {"-np", "2", kSpikesim});
  // Long enough to be running when the signal comes: the file appears once
  // calibration is done.
  const auto args = run_args(out, {"run.tokens=250", "generated.layers=8", "generated.dim=256",
                                   "generated.hidden_dim=768"});
  a.insert(a.end(), args.begin(), args.end());
  Process mpirun(a, dir.path() / "stdout.txt", dir.path() / "stderr.txt", kMpirun);
  REQUIRE(mpirun.started());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(dir.path() / "run.h5.partial") && std::chrono::steady_clock::now() < deadline && mpirun.running())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(fs::exists(dir.path() / "run.h5.partial"));
  // Rank 1 is the child of mpirun whose environment says so.
  pid_t rank1 = -1;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string pid = entry.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string comm, state;
    long self = 0, parent = 0;
    if (!(stat >> self >> comm >> state >> parent) || parent != mpirun.pid()) continue;
    std::ifstream env(entry.path() / "environ");
    const std::string text((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    if (text.find(std::string("OMPI_COMM_WORLD_RANK=1") + '\0') != std::string::npos) rank1 = static_cast<pid_t>(self);
  }
  REQUIRE(rank1 > 0);
  ::kill(rank1, SIGTERM);
  const auto code = mpirun.wait(std::chrono::seconds(60));
  const std::string err = read_file(dir.path() / "stderr.txt");
  INFO(err);
  REQUIRE(code.has_value());
  CHECK(*code == 130);
  CHECK_THAT(err, Catch::Contains("rank 0 of 2: interrupted: another rank received a signal"));
  CHECK_FALSE(fs::exists(out));
  RawFile f(dir.path() / "run.h5.partial");
  CHECK(u64(f, "/", "spikesim_complete") == 0);
}

TEST_CASE("ranks: a rank that would not fit its memory is refused before it loads anything", "[mpi][ranks][memory]") {
  TempDir dir("ranks_mpi_memory");
  const fs::path out = dir.path() / "run.h5";
  std::vector<std::string> a = mpirun_options();
  a.insert(a.end(), {"-np", "2", kSpikesim});
  auto args = run_args(out, {});
  args.insert(args.end(), {"--rank-memory", "1M"});
  a.insert(a.end(), args.begin(), args.end());
  const Outcome o = run_program(kMpirun, a, dir.path(), 120);
  INFO(o.err);
  REQUIRE_FALSE(o.timed_out);
  CHECK(o.code == 7);  // ExitCode::resource
  CHECK_THAT(o.err, Catch::Contains("spikesim: error: rank ") &&
                        Catch::Contains(" of 2: this rank's share of the model needs about") &&
                        Catch::Contains("--rank-memory 1M"));
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(dir.path() / "run.h5.partial"));
}
