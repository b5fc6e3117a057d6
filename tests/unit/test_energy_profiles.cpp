// Energy profiles are data (core/energy_profiles/*.toml, embedded at build
// time): every shipped one is complete, 45nm and loihi price exactly as the
// presets in code did, and a malformed profile is refused naming the file,
// the key and what was expected.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/energy_model.hpp"
#include "core/error.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;

namespace {

constexpr Precision kPrecisions[] = {Precision::fp32, Precision::int32, Precision::int8};
constexpr MemoryLevel kMemories[] = {MemoryLevel::none, MemoryLevel::sram, MemoryLevel::dram};

// The presets as core/energy_model.cpp computed them before profiles were
// files (commit 8d19399), operation by operation, so that the comparison
// below is bit for bit.
EnergyModel preset_in_code(const std::string& name, Precision p, MemoryLevel memory) {
  EnergyModel m;
  m.preset = name;
  m.precision = p;
  m.memory = memory;
  const double add = p == Precision::fp32 ? 0.9 : p == Precision::int32 ? 0.1 : 0.03;
  const double mul = p == Precision::fp32 ? 3.7 : p == Precision::int32 ? 3.1 : 0.2;
  m.add_pj = add;
  m.mul_pj = mul;
  m.div_pj = m.exp_pj = m.sqrt_pj = mul;
  m.compare_pj = add;
  m.ac_pj = add;
  m.mac_pj = add + mul;
  m.fetch_pj_per_byte = memory == MemoryLevel::sram ? 10.0 / 8.0 : memory == MemoryLevel::dram ? 1300.0 / 8.0 : 0.0;
  if (name == "loihi") {
    m.ac_pj = 0.0;
    m.synop_pj = 23.6;
    m.neuron_update_pj = 52.0;
    m.active_update_pj = 81.0;
    m.spike_pj = 1.7;
  }
  return m;
}

std::string error_of(const std::string& text) {
  try {
    (void)energy_model_from_profile(text, "my_chip.toml");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::config);
    return e.what();
  }
  FAIL("no error for:\n" << text);
  return {};
}

const std::string kHeader = "name = \"mine\"\nsource = \"a paper\"\nchecked = \"by hand\"\n";

}  // namespace

TEST_CASE("energy profiles: every shipped profile parses and gives every figure", "[energy][profiles]") {
  const auto names = EnergyModel::preset_names();
  for (const char* expected : {"45nm", "loihi", "loihi_sanafe", "spinnaker2", "truenorth"})
    CHECK(std::find(names.begin(), names.end(), expected) != names.end());
  for (const auto& name : names) {
    INFO(name);
    const std::string_view text = shipped_energy_profile_text(name);
    CHECK(text.find("source = ") != std::string_view::npos);
    CHECK(text.find("checked = ") != std::string_view::npos);
    for (const Precision p : kPrecisions)
      for (const MemoryLevel memory : kMemories) {
        const EnergyModel m = EnergyModel::preset_named(name, p, memory);
        CHECK(m.preset == name);
        for (const auto& [figure, field] : energy_model_figures()) {
          INFO(figure);
          CHECK(std::isfinite(m.*field));
          CHECK(m.*field >= 0.0);
        }
      }
  }
}

TEST_CASE("energy profiles: 45nm and loihi price exactly as the presets in code did", "[energy][profiles]") {
  for (const char* name : {"45nm", "loihi"})
    for (const Precision p : kPrecisions)
      for (const MemoryLevel memory : kMemories) {
        INFO(name << " " << precision_name(p) << " " << memory_level_name(memory));
        const EnergyModel now = EnergyModel::preset_named(name, p, memory), before = preset_in_code(name, p, memory);
        for (const auto& [figure, field] : energy_model_figures()) {
          if (figure == "int_ac_pj" || figure == "int_mac_pj") continue;  // new figures
          INFO(figure);
          CHECK(now.*field == before.*field);  // bit for bit: 0.9 + 3.7 is not the literal 4.6
        }
      }
}

TEST_CASE("energy profiles: the integer synapse figures", "[energy][profiles]") {
  const auto h = EnergyModel::preset_named("45nm", Precision::fp32);
  CHECK(h.int_ac_pj == 0.1);  // Horowitz int32 add
  CHECK(h.int_mac_pj == 0.3);  // int8 mult 0.2 + int32 add 0.1
  // Neuromorphic profiles price an accumulate in the synaptic op, as ac_pj
  // (0), and keep the 45 nm MAC, as mac_pj.
  for (const char* name : {"loihi", "loihi_sanafe", "spinnaker2", "truenorth"}) {
    INFO(name);
    const auto m = EnergyModel::preset_named(name, Precision::int8);
    CHECK(m.int_ac_pj == 0.0);
    CHECK(m.ac_pj == 0.0);
    CHECK(m.int_mac_pj == 0.3);
    CHECK(m.mac_pj == EnergyModel::preset_named("45nm", Precision::int8).mac_pj);
  }
}

TEST_CASE("energy profiles: the neuromorphic figures", "[energy][profiles]") {
  const auto sanafe = EnergyModel::preset_named("loihi_sanafe");
  CHECK(sanafe.synop_pj == 35.5);
  CHECK(sanafe.neuron_update_pj == 51.2);
  CHECK(sanafe.active_update_pj == 72.8);
  CHECK(sanafe.spike_pj == 69.3 + 76.8);  // spiking soma + one packet out
  const auto spinnaker = EnergyModel::preset_named("spinnaker2");
  CHECK(spinnaker.synop_pj == 450.0);
  CHECK(spinnaker.neuron_update_pj == 2190.0);
  CHECK(EnergyModel::preset_named("truenorth").synop_pj == 26.0);
  // Dense units stay on the conventional datapath.
  CHECK(spinnaker.add_pj == 0.9);
  CHECK(EnergyModel::preset_named("truenorth", Precision::fp32, MemoryLevel::sram).fetch_pj_per_byte == 1.25);
}

TEST_CASE("energy profiles: a user profile on a base, with formulas evaluated after the merge", "[energy][profiles]") {
  const auto m = energy_model_from_profile(kHeader + "base = \"loihi\"\n[figures]\nsynop_pj = 10\n"
                                                     "[precision.fp32]\nadd_pj = 1.0\n",
                                           "my_chip.toml", Precision::fp32, MemoryLevel::dram);
  CHECK(m.preset == "mine");
  CHECK(m.synop_pj == 10.0);
  CHECK(m.neuron_update_pj == 52.0);  // loihi's
  CHECK(m.mac_pj == 1.0 + 3.7);       // 45nm's formula add_pj + mul_pj, with this profile's add_pj
  CHECK(m.compare_pj == 1.0);
  CHECK(m.fetch_pj_per_byte == 162.5);
  const auto int8 = energy_model_from_profile(kHeader + "base = \"loihi\"\n[precision.fp32]\nadd_pj = 1.0\n",
                                              "my_chip.toml", Precision::int8);
  CHECK(int8.add_pj == 0.03);  // the override was for fp32 only

  SECTION("read from a file, by path") {
    test::TempDir dir("energy_profile_file");
    std::ofstream(dir / "chip.toml") << kHeader << "base = \"45nm\"\n[figures]\nsynop_pj = 7.5\n";
    CHECK(EnergyModel::preset_named((dir / "chip.toml").string()).synop_pj == 7.5);
    try {
      (void)EnergyModel::preset_named((dir / "absent.toml").string());
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::config);
      CHECK_THAT(e.what(), Catch::Contains("absent.toml: cannot open energy profile"));
    }
  }
}

TEST_CASE("energy profiles: a bad profile is refused naming the file, the key and what was expected",
          "[energy][profiles]") {
  CHECK_THAT(error_of(kHeader + "base = \"45nm\"\nfigure = 3\n"),
             Catch::Contains("my_chip.toml:5: unknown key 'figure'") && Catch::Contains("a profile has: name"));
  CHECK_THAT(error_of(kHeader + "base = \"45nm\"\n[figures]\nsynop = 3\n"),
             Catch::Contains("my_chip.toml:6: unknown key 'figures.synop'") && Catch::Contains("synop_pj"));
  CHECK_THAT(error_of(kHeader + "base = \"45nm\"\n[figures]\nsynop_pj = -3\n"),
             Catch::Contains("my_chip.toml:6: key 'figures.synop_pj' = -3 must be a finite number of pJ ≥ 0"));
  CHECK_THAT(error_of(kHeader + "base = \"45nm\"\n[figures]\nsynop_pj = true\n"),
             Catch::Contains("my_chip.toml:6: key 'figures.synop_pj' must be a number of pJ or a formula") &&
                 Catch::Contains("found a boolean"));
  CHECK_THAT(error_of(kHeader + "base = \"45nm\"\n[figures]\nsynop_pj = \"add_pj + 2 + lunch\"\n"),
             Catch::Contains("'lunch' is neither a number nor a figure"));
  CHECK_THAT(error_of(kHeader + "base = \"45nm\"\n[precision.fp16]\nadd_pj = 1\n"),
             Catch::Contains("unknown key 'precision.fp16'"));
  CHECK_THAT(error_of(kHeader + "base = \"45nm\"\n[memory]\nsram_pj_per_byte = \"1\"\n"),
             Catch::Contains("key 'memory.sram_pj_per_byte' must be a number of pJ, found a string"));
  CHECK_THAT(error_of(kHeader + "base = \"7nm\"\n"), Catch::Contains("key 'base' must name a shipped profile"));
  CHECK_THAT(error_of("name = \"x\"\nchecked = \"no\"\nbase = \"45nm\"\n"),
             Catch::Contains("my_chip.toml: key 'source' is missing"));
  // Without a base every figure must be given, at every precision.
  CHECK_THAT(error_of(kHeader + "[figures]\nsynop_pj = 1\n"),
             Catch::Contains("my_chip.toml: figure 'ac_pj' is missing at precision fp32"));
  CHECK_THAT(error_of(std::string(shipped_energy_profile_text("45nm")).replace(
                 std::string(shipped_energy_profile_text("45nm")).find("[precision.int8]\nadd_pj = 0.03"),
                 30, "[precision.int8]\n")),
             Catch::Contains("figure 'add_pj' is missing at precision int8"));
  CHECK_THAT(error_of(kHeader + "base = \"45nm\"\n[figures]\nadd_pj = \"mul_pj\"\nmul_pj = \"add_pj\"\n"),
             Catch::Contains("refers back to itself"));
  CHECK_THAT(error_of(kHeader + "[figures\n"), Catch::Contains("my_chip.toml:4: TOML syntax error"));
  try {
    (void)EnergyModel::preset_named("7nm");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::config);
    CHECK_THAT(e.what(), Catch::Contains("unknown profile '7nm'") && Catch::Contains("loihi_sanafe"));
  }
}
