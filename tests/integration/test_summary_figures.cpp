// One number, one definition: what `run` and `eval` print is defined where
// it is printed, and undefined figures say so (n/a, null) instead of 0.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <hdf5.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "io/config/config.hpp"
#include "io/formats/token_file.hpp"
#include "io/report/report.hpp"
#include "sim/run_driver.hpp"
#include "tests/support/files.hpp"
#include "tests/support/raw_hdf5.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;

namespace {

SimConfig small(const std::string& extra, const test::TempDir& dir) {
  const std::string toml = "[run]\ntokens = 5\nprogress = false\n"
                           "[generated]\ndim = 32\nhidden_dim = 48\nlayers = 1\nheads = 2\nkv_heads = 1\n"
                           "vocab = 40\nmax_seq_len = 16\n"
                           "[record]\noutput = \"" +
                           (dir / "out.h5").string() + "\"\n" + extra;
  return parse_config(toml, "test_summary.toml");
}

}  // namespace

TEST_CASE("summary: a dense run prints n/a and null for what only spikes define", "[summary]") {
  test::TempDir dir("summary_dense");
  const RunOutcome o = run_simulation(small("", dir));  // spiking, for contrast
  CHECK(o.summary["activation_sparsity"].is_number());
  CHECK(o.table.find("n/a") == std::string::npos);
  for (const char* mode : {"dense", "quantized"}) {
    INFO(mode);
    SimConfig c = small("", dir);
    c.run.mode = parse_forward_mode(mode);
    const RunOutcome d = run_simulation(c);
    CHECK(d.summary["activation_sparsity"].is_null());
    CHECK(d.summary["spikes_per_neuron_token"].is_null());
    CHECK(d.summary["neurobench"]["ActivationSparsity"].is_null());
    CHECK(d.summary["energy_ratio"].is_number());  // dense energy exists
    for (const char* line : {"spikes", "activation sparsity", "synaptic events", "Effective_ACs (NeuroBench)"}) {
      INFO(line);
      const auto at = d.table.find(std::string("  ") + line + " ");
      REQUIRE(at != std::string::npos);
      CHECK(d.table.substr(at, d.table.find('\n', at) - at).find("n/a") != std::string::npos);
    }
  }
}

TEST_CASE("summary: run --json carries the settings under eval's names, and token ids are integers", "[summary]") {
  test::TempDir dir("summary_settings");
  SimConfig c = small("", dir);
  c.encoding.bits = 3;
  c.encoding.is_signed = true;
  c.run.seed = 7;
  const RunOutcome o = run_simulation(c);
  CHECK(o.summary["abits"] == 3);
  CHECK(o.summary["signed"] == true);
  CHECK(o.summary["addbit"] == 1);
  CHECK(o.summary["low_p"] == 0.9);
  CHECK(o.summary["saliency"] == "hessian");
  CHECK(o.summary["kv_spiking"] == true);
  CHECK(o.summary["seed"] == 7);
  CHECK(o.summary["weights"] == "f32");
  CHECK(o.summary["wbits"] == 0);
  test::RawFile f(dir / "out.h5");
  const hid_t d = H5Dopen2(f.id, "/spikesim/tokens", H5P_DEFAULT);
  REQUIRE(d >= 0);
  const hid_t t = H5Dget_type(d);
  CHECK(H5Tget_class(t) == H5T_INTEGER);
  H5Tclose(t);
  H5Dclose(d);
  CHECK(test::dataset<std::uint32_t>(f, "/spikesim/tokens", H5T_NATIVE_UINT32).size() == 5);
}

TEST_CASE("summary: the linear stack's table prints its wall time", "[summary]") {
  test::TempDir dir("summary_stack");
  SimConfig c = small("", dir);
  c.run.workload = Workload::linear_stack;
  c.linear_stack.sizes = {64, 128, 64};
  c.run.tokens = 8;
  const RunOutcome o = run_simulation(c);
  const double wall = o.summary["wall_s"].get<double>();
  CHECK(wall > 0);
  CHECK(o.table.find(fmt::format("{:.3f}", wall)) != std::string::npos);
}

TEST_CASE("summary: eval's per-token figures are per predicted token", "[summary][eval]") {
  test::TempDir dir("summary_eval");
  std::vector<int> tokens(2 * 8 + 1);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int>((i * 7 + 1) % 256);
  write_token_file(dir / "tokens.i32", tokens);
  const auto o = test::run_spikesim({"eval", "--model", "generated", "--tokens", (dir / "tokens.i32").string(),
                                     "--windows", "2", "--seq", "8", "--mode", "spiking", "--json"},
                                    dir.path());
  INFO(o.err);
  REQUIRE(o.code == 0);
  const auto j = nlohmann::json::parse(o.out);
  const auto predicted = j["tokens"].get<double>();
  CHECK(predicted == 16);  // 2 windows predict 8 tokens each, from 9 simulated
  CHECK(j["spikes_per_token"].get<double>() == Approx(j["spikes"].get<double>() / predicted));
  CHECK(j["energy_pj_per_token"].get<double>() == Approx(j["energy_pj"].get<double>() / predicted));
  CHECK(o.err.find("eval: load") == std::string::npos);  // quiet without -v

  SECTION("-v after the subcommand logs the phases and what was loaded") {
    const auto v = test::run_spikesim({"eval", "-v", "--model", "generated", "--tokens",
                                       (dir / "tokens.i32").string(), "--windows", "2", "--seq", "8", "--mode",
                                       "spiking"},
                                      dir.path());
    REQUIRE(v.code == 0);
    for (const char* needle : {"eval: load: generated", "model: generated:", "parameters", "eval: calibrate:",
                               "eval: simulate: 2 windows of 9 tokens in spiking mode"}) {
      INFO(needle << "\n" << v.err);
      CHECK(v.err.find(needle) != std::string::npos);
    }
  }
}

TEST_CASE("summary: report --html writes the page and prints only where, unless --text", "[summary][report]") {
  test::TempDir dir("summary_html");
  (void)run_simulation(small("", dir));
  const std::string file = (dir / "out.h5").string(), html = (dir / "r.html").string();
  const auto only = test::run_spikesim({"report", file, "--html", html}, dir.path());
  REQUIRE(only.code == 0);
  CHECK(only.out == "html: " + html + "\n");
  CHECK(std::filesystem::file_size(html) > 1000);
  const auto both = test::run_spikesim({"report", file, "--html", html, "--text"}, dir.path());
  REQUIRE(both.code == 0);
  CHECK(both.out.find("Effective_MACs") != std::string::npos);
  CHECK(both.out.find("html: " + html) != std::string::npos);
}

TEST_CASE("summary: every population stores its per-neuron energy, which sums to the population's", "[summary][energy]") {
  for (const char* convention : {"amplitude", "shift_add"}) {
    INFO(convention);
    test::TempDir dir("summary_neuron_energy");
    SimConfig c = small("", dir);
    c.energy.ac_convention = std::string(convention) == "amplitude" ? AcConvention::amplitude : AcConvention::shift_add;
    c.energy.memory = MemoryLevel::dram;  // the weight-fetch term too
    (void)run_simulation(c);
    const RunReport r = read_run_report(dir / "out.h5");
    test::RawFile f(dir / "out.h5");
    std::size_t with_synapses = 0;
    for (const PopulationReport& p : r.populations) {
      INFO(p.name);
      const auto e = test::dataset<double>(f, "/spikesim/populations/" + p.name + "/energy_pj", H5T_NATIVE_DOUBLE);
      REQUIRE(e.size() == p.neurons);
      REQUIRE(p.energy.has_value());
      double sum = 0;
      for (double v : e) {
        CHECK(v >= 0);
        sum += v;
      }
      CHECK(sum == Approx(p.energy->total_pj()).epsilon(1e-9));
      with_synapses += p.energy->synaptic_pj > 0;
    }
    CHECK(with_synapses >= 4);  // the encoders of the linear stages
  }
}

TEST_CASE("summary: examples/read_spikes.py draws a token range", "[summary][plots]") {
  test::TempDir dir("summary_read_spikes");
  (void)run_simulation(small("", dir));
  // The spikes of tokens 1 and 2 of layer0.attn_in, counted from the file.
  test::RawFile f(dir / "out.h5");
  const auto steps = test::dataset<std::uint64_t>(f, "/spikesim/token_steps", H5T_NATIVE_UINT64);
  const auto ts = test::dataset<double>(f, "/spikes/layer0.attn_in/timestamps", H5T_NATIVE_DOUBLE);
  std::size_t expected = 0;
  for (double t : ts) expected += t >= static_cast<double>(steps[1]) && t < static_cast<double>(steps[3]);
  REQUIRE(expected > 0);
  const std::string out = (dir / "stdout.txt").string();
  const std::string command = "/usr/bin/python3 " SPIKESIM_SOURCE_DIR "/examples/read_spikes.py " +
                              (dir / "out.h5").string() + " --population layer0.attn_in --tokens 1:3 --out " +
                              (dir / "r.png").string() + " > " + out + " 2>&1";
  const int rc = std::system(command.c_str());
  const std::string printed = test::read_file(out);
  INFO(printed);
  REQUIRE(rc == 0);
  CHECK_THAT(printed, Catch::Contains(fmt::format("({} spikes, tokens 1..2)", expected)));
  CHECK(std::filesystem::file_size(dir / "r.png") > 1000);
}
