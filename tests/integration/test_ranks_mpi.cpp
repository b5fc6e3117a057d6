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

#include "tests/support/rank_runs.hpp"
#include "tests/support/raw_hdf5.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

namespace fs = std::filesystem;
using namespace spikesim;
using namespace spikesim::test;

namespace {

const std::string kDefault = SPIKESIM_SOURCE_DIR "/examples/default.toml";

// The generated model of these tests (shapes in the header comment).
std::vector<std::string> generated(std::vector<std::string> settings) {
  settings.insert(settings.begin(), {"generated.layers=4", "generated.dim=96", "generated.hidden_dim=320",
                                     "generated.vocab=200", "run.tokens=10"});
  return settings;
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
      run_on(0, kDefault, generated(s.keys), dir.path(), one);
      for (const int ranks : s.ranks) {
        const fs::path many = dir.path() / ("ranks" + std::to_string(ranks) + ".h5");
        run_on(ranks, kDefault, generated(s.keys), dir.path(), many);
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
  const auto good = run_args(kDefault, out, generated({}));
  a.insert(a.end(), good.begin(), good.end());
  a.insert(a.end(), {":", "-np", "1", kSpikesim});
  const auto bad = run_args(kDefault, out, generated({"model.path=" + (dir.path() / "missing.safetensors").string()}));
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
  const auto args = run_args(kDefault, out, {"run.tokens=250", "generated.layers=8", "generated.dim=256",
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
  auto args = run_args(kDefault, out, generated({}));
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
