// Energy profiles through the CLI, as a user gives them: a profile file
// named in a config (taken from the config's folder) or with --set changes
// the energy of `run` and of `eval`, the run file stores the profile's
// figures, and a bad profile stops the command with one error that names
// the file and the key.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <hdf5.h>

#include "core/error.hpp"
#include "io/report/report.hpp"
#include "io/formats/token_file.hpp"
#include "tests/support/files.hpp"
#include "tests/support/raw_hdf5.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;

namespace {

// A small spiking run's config; `energy` is the body of its [energy] section.
std::string small_config(const std::string& energy) {
  return "[run]\ntokens = 4\nprogress = false\n"
         "[generated]\ndim = 32\nhidden_dim = 48\nlayers = 1\nheads = 2\nkv_heads = 1\nvocab = 40\nmax_seq_len = 16\n"
         "[encoding]\ncalib_windows = 1\n"
         "[energy]\n" +
         energy;
}

// A chip whose synaptic events cost 1000 pJ each, on loihi's other figures.
const std::string kChip =
    "name = \"test_chip\"\n"
    "source = \"a test: no publication\"\n"
    "checked = \"not applicable\"\n"
    "base = \"loihi\"\n"
    "[figures]\n"
    "synop_pj = 1000.0  # a made-up figure, so that the run's energy moves\n"
    "int_ac_pj = 0.5\n";

}  // namespace

TEST_CASE("energy profile: a profile file changes the energy of a run and is stored in the run file",
          "[energy][profiles][cli]") {
  test::TempDir dir("energy_profile_run");
  fs::create_directories(dir / "configs" / "chips");
  test::write_file_or_fail(dir / "configs" / "chips" / "chip.toml", kChip);
  test::write_file_or_fail(dir / "configs" / "loihi.toml", small_config("profile = \"loihi\"\n"));
  // A relative path in a config file is the config's folder's.
  test::write_file_or_fail(dir / "configs" / "chip.toml", small_config("profile = \"chips/chip.toml\"\n"));

  const auto loihi = test::run_spikesim(
      {"run", (dir / "configs" / "loihi.toml").string(), "-o", (dir / "loihi.h5").string(), "--json"}, dir.path(), 60);
  const auto chip = test::run_spikesim(
      {"run", (dir / "configs" / "chip.toml").string(), "-o", (dir / "chip.h5").string(), "--json"}, dir.path(), 60);
  INFO(loihi.err << chip.err);
  REQUIRE(loihi.code == 0);
  REQUIRE(chip.code == 0);
  const auto a = nlohmann::json::parse(loihi.out), b = nlohmann::json::parse(chip.out);
  REQUIRE(a["synaptic_events"].get<double>() > 0);
  // Only synop_pj differs: the spiking energy moves by (1000 - 23.6) pJ per synaptic event.
  CHECK(b["energy_pj"].get<double>() - a["energy_pj"].get<double>() ==
        Approx((1000.0 - 23.6) * a["synaptic_events"].get<double>()).epsilon(1e-9));
  CHECK(b["dense_energy_pj"] == a["dense_energy_pj"]);  // the dense equivalent stays on 45 nm

  test::RawFile f(dir / "chip.h5");
  CHECK(test::string_attribute(f, "/spikesim/energy_model", "preset") == "test_chip");
  CHECK(test::f64(f, "/spikesim/energy_model", "synop_pj") == 1000.0);
  CHECK(test::f64(f, "/spikesim/energy_model", "neuron_update_pj") == 52.0);
  CHECK(test::f64(f, "/spikesim/energy_model", "int_ac_pj") == 0.5);
  CHECK(test::f64(f, "/spikesim/energy_model", "int_mac_pj") == 0.3);

  SECTION("a run file written before the integer figures existed still reads") {
    const fs::path old = dir / "old.h5";
    fs::copy_file(dir / "chip.h5", old);
    {
      const hid_t file = H5Fopen(old.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      REQUIRE(file >= 0);
      CHECK(H5Adelete_by_name(file, "/spikesim/energy_model", "int_ac_pj", H5P_DEFAULT) >= 0);
      CHECK(H5Adelete_by_name(file, "/spikesim/energy_model", "int_mac_pj", H5P_DEFAULT) >= 0);
      H5Fclose(file);
    }
    const RunReport before = read_run_report(dir / "chip.h5"), after = read_run_report(old);
    REQUIRE(after.populations.size() == before.populations.size());
    for (std::size_t i = 0; i < after.populations.size(); ++i) {
      REQUIRE(after.populations[i].energy);
      CHECK(after.populations[i].energy->total_pj() == before.populations[i].energy->total_pj());
    }
  }
  SECTION("the same file with --set, from the working directory") {
    const auto set = test::run_spikesim({"run", (dir / "configs" / "loihi.toml").string(), "-o",
                                         (dir / "set.h5").string(), "--json", "--set",
                                         "energy.profile=" + (dir / "configs" / "chips" / "chip.toml").string()},
                                        dir.path(), 60);
    REQUIRE(set.code == 0);
    CHECK(nlohmann::json::parse(set.out)["energy_pj"] == b["energy_pj"]);
  }
}

TEST_CASE("energy profile: eval takes energy.profile like run", "[energy][profiles][cli][eval]") {
  test::TempDir dir("energy_profile_eval");
  std::vector<int> tokens(2 * 16 + 1);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int>((i * 37 + 1) % 256);
  write_token_file(dir / "tokens.i32", tokens);
  test::write_file_or_fail(dir / "chip.toml", kChip);
  auto eval = [&](const std::string& profile) {
    return test::run_spikesim({"eval", "--model", "generated", "--tokens", (dir / "tokens.i32").string(), "--windows",
                               "2", "--seq", "16", "--mode", "spiking", "--json", "--set", "energy.profile=" + profile},
                              dir.path(), 120);
  };
  const auto loihi = eval("loihi"), chip = eval((dir / "chip.toml").string());
  INFO(loihi.err << chip.err);
  REQUIRE(loihi.code == 0);
  REQUIRE(chip.code == 0);
  const auto a = nlohmann::json::parse(loihi.out), b = nlohmann::json::parse(chip.out);
  CHECK(b["energy_pj"].get<double>() > a["energy_pj"].get<double>());
  CHECK(b["ppl"] == a["ppl"]);  // the profile prices the run; it does not change it

  SECTION("a bad profile stops eval before it evaluates, naming the file and the key") {
    test::write_file_or_fail(dir / "bad.toml", "name = \"bad\"\nsource = \"x\"\nchecked = \"x\"\nbase = \"45nm\"\n"
                                               "[figures]\nsynop_pj = -1.0\n");
    const auto bad = eval((dir / "bad.toml").string());
    CHECK(bad.code == static_cast<int>(ExitCode::config));
    CHECK(test::error_line_count(bad.err) == 1);
    CHECK_THAT(bad.err, Catch::Contains("bad.toml:6") && Catch::Contains("'figures.synop_pj'") &&
                            Catch::Contains("must be a finite number of pJ ≥ 0"));
  }
}

TEST_CASE("energy profile: run refuses a bad or unknown profile with the config exit code", "[energy][profiles][cli]") {
  test::TempDir dir("energy_profile_bad");
  test::write_file_or_fail(dir / "typo.toml", kChip + "spike_pj = 1.0\n[figures.extra]\n");
  test::write_file_or_fail(dir / "run.toml", small_config("profile = \"typo.toml\"\n"));
  const auto typo = test::run_spikesim({"run", (dir / "run.toml").string(), "-o", (dir / "o.h5").string()}, dir.path());
  CHECK(typo.code == static_cast<int>(ExitCode::config));
  CHECK(test::error_line_count(typo.err) == 1);
  CHECK_THAT(typo.err, Catch::Contains("typo.toml:9") && Catch::Contains("unknown key 'figures.extra'"));

  test::write_file_or_fail(dir / "name.toml", small_config("profile = \"lohi\"\n"));
  const auto name = test::run_spikesim({"run", (dir / "name.toml").string(), "-o", (dir / "o.h5").string()}, dir.path());
  CHECK(name.code == static_cast<int>(ExitCode::config));
  CHECK_THAT(name.err, Catch::Contains("'energy.profile' = 'lohi'") && Catch::Contains("loihi_sanafe"));

  test::write_file_or_fail(dir / "missing.toml", small_config("profile = \"nowhere.toml\"\n"));
  const auto missing =
      test::run_spikesim({"run", (dir / "missing.toml").string(), "-o", (dir / "o.h5").string()}, dir.path());
  CHECK(missing.code == static_cast<int>(ExitCode::config));
  CHECK_THAT(missing.err, Catch::Contains("nowhere.toml: cannot open energy profile"));
}
