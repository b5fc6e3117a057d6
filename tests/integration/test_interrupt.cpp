// SIGINT and SIGTERM during `spikesim run` (docs/reliability.md): the
// process stops at its next token, exits 130 (ExitCode::interrupted) with
// one "spikesim: error: interrupted by ..." line, leaves no <out>.h5, and
// leaves <out>.h5.partial with spikesim_complete = 0, which `spikesim info`
// reads (exit 0) and reports as INCOMPLETE.
//
// The run is a generated model with many tokens, far longer than the test
// waits: the signal is sent once the ".partial" file exists (recording has
// started) and the process must be gone within a few seconds.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "core/error.hpp"
#include "io/runfile/hdf5.hpp"
#include "tests/support/files.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using test::Process;
using test::read_file;
using test::TempDir;

namespace {

// A run that takes far longer than the test (a generated model with d = 256
// over 1024 tokens: about ten seconds), with uniform saliency (no
// calibration pass) so that recording starts within a second, and spikes
// recorded for layer 0 only, so that closing the partial file is quick.
fs::path write_long_config(const TempDir& dir) {
  const fs::path file = dir / "long.toml";
  std::ofstream(file) << "[run]\ntokens = 1024\nprogress = false\n\n"
                         "[generated]\ndim = 256\nhidden_dim = 768\nlayers = 2\nheads = 4\nkv_heads = 2\n"
                         "max_seq_len = 1024\n\n"
                         "[encoding]\nsaliency = \"uniform\"\n\n"
                         "[record]\npopulations = [\"layer0.*\"]\noutput = \""
                      << (dir / "out.h5").string() << "\"\n";
  return file;
}

void check_interrupted_run(int sig, const char* sig_name) {
  TempDir dir("interrupt");
  const fs::path out = dir / "out.h5", partial = dir / "out.h5.partial";
  const auto t0 = Clock::now();
  Process run({"run", write_long_config(dir).string()}, dir / "stdout.txt", dir / "stderr.txt");
  REQUIRE(run.started());

  // Wait for recording to start (the ".partial" file), then a little into the token loop.
  while (!fs::exists(partial) && run.running() && Clock::now() - t0 < std::chrono::seconds(20)) {
    (void)run.wait(std::chrono::milliseconds(10));
  }
  INFO("stderr:\n" << read_file(dir / "stderr.txt"));
  REQUIRE(fs::exists(partial));
  REQUIRE(run.running());
  // Long enough for the first tokens under the sanitizers too (the run file's
  // identity, every weight's format and footprint, is written before them).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  REQUIRE(run.running());  // the run is far from done: the signal interrupts it
  const auto t_signal = Clock::now();
  run.signal(sig);
  const auto code = run.wait(std::chrono::seconds(10));
  REQUIRE(code.has_value());  // no hang
  const double stop_s = std::chrono::duration<double>(Clock::now() - t_signal).count();
  CHECK(stop_s < 5.0);

  // Exit code 130 and one clear message.
  const std::string err = read_file(dir / "stderr.txt");
  INFO("stderr:\n" << err);
  CHECK(*code == static_cast<int>(ExitCode::interrupted));
  CHECK_THAT(err, Catch::Contains(std::string("spikesim: error: interrupted by ") + sig_name + " at token "));
  CHECK_THAT(err, Catch::Contains("out.h5.partial' (spikesim_complete = 0)"));
  CHECK(test::error_line_count(err) == 1);

  // No file that looks complete; the partial one is marked incomplete.
  CHECK_FALSE(fs::exists(out));
  REQUIRE(fs::exists(partial));
  {
    const h5::File f = h5::File::open_read_only(partial);
    CHECK(h5::read_attribute<std::uint32_t>(f, "/", "spikesim_complete") == 0);
  }

  // `spikesim info` reads it and says so (at most 30 s).
  const test::Outcome info = test::run_spikesim({"info", partial.string()}, dir.path(), 30);
  REQUIRE_FALSE(info.timed_out);
  INFO("info:\n" << info.out << info.err);
  CHECK(info.code == 0);
  CHECK_THAT(info.out, Catch::Contains("INCOMPLETE"));

  // The partial file holds what the run did up to the signal: `report` and
  // `plot` read it, and the report says how far it got.
  const test::Outcome report = test::run_spikesim({"report", partial.string(), "--json"}, dir.path(), 30);
  INFO("report:\n" << report.out << report.err);
  REQUIRE(report.code == 0);
  const auto j = nlohmann::json::parse(report.out);
  CHECK(j["complete"] == false);
  CHECK(j["tokens"].get<std::uint64_t>() > 0);
  CHECK(j["tokens"].get<std::uint64_t>() < 1024);
  CHECK_FALSE(j["stages"].empty());
  const test::Outcome plot = test::run_spikesim(
      {"plot", partial.string(), "raster", "--population", "layer0.attn_in", "-o", (dir / "r.svg").string()},
      dir.path(), 30);
  INFO("plot:\n" << plot.err);
  CHECK(plot.code == 0);

  // Asked for the final name, `info` points to the partial file.
  const test::Outcome missing = test::run_spikesim({"info", out.string()}, dir.path(), 30);
  CHECK(missing.code == static_cast<int>(ExitCode::data));
  CHECK_THAT(missing.err, Catch::Contains("out.h5.partial") && Catch::Contains("did not finish"));
}

}  // namespace

TEST_CASE("interrupt: SIGINT during a run leaves only an incomplete .partial file, exit 130", "[interrupt]") {
  check_interrupted_run(SIGINT, "SIGINT");
}

TEST_CASE("interrupt: SIGTERM during a run leaves only an incomplete .partial file, exit 130",
          "[interrupt]") {
  check_interrupted_run(SIGTERM, "SIGTERM");
}

TEST_CASE("interrupt: run --json prints the summary of the tokens done with complete = false", "[interrupt]") {
  TempDir dir("interrupt_json");
  const fs::path partial = dir / "out.h5.partial";
  const auto t0 = Clock::now();
  Process run({"run", write_long_config(dir).string(), "--json"}, dir / "stdout.txt", dir / "stderr.txt");
  REQUIRE(run.started());
  while (!fs::exists(partial) && run.running() && Clock::now() - t0 < std::chrono::seconds(20))
    (void)run.wait(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past the first tokens, sanitizers included
  REQUIRE(run.running());
  run.signal(SIGINT);
  const auto code = run.wait(std::chrono::seconds(10));
  REQUIRE(code.has_value());
  CHECK(*code == static_cast<int>(ExitCode::interrupted));
  const std::string out = read_file(dir / "stdout.txt");
  INFO("stdout:\n" << out << "\nstderr:\n" << read_file(dir / "stderr.txt"));
  const auto j = nlohmann::json::parse(out);
  CHECK(j["complete"] == false);
  const auto done = j["tokens_done"].get<std::uint64_t>();
  CHECK(done > 0);
  CHECK(done < 1024);
  CHECK(j["tokens"].get<std::uint64_t>() == done);
  CHECK(j["spikes_per_token"].size() == done);
}
