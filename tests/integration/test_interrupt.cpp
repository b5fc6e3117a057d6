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

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "io/hdf5.hpp"

extern char** environ;

using namespace spikesim;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kSpikesim = SPIKESIM_BINARY_DIR "/sim/spikesim";

class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("spikesim_interrupt_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A spikesim process whose stdout and stderr go to files; killed (SIGKILL)
// if the test leaves it running.
class Process {
 public:
  Process(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
    std::vector<std::string> argv_s{kSpikesim};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid_, kSpikesim.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  ~Process() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] bool running() const { return pid_ > 0 && !code_; }
  void signal(int sig) const { ::kill(pid_, sig); }

  // The exit code (128 + signal when killed by one), or nothing after `timeout`.
  std::optional<int> wait(std::chrono::duration<double> timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!code_) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (Clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return code_;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> code_;
};

// Runs spikesim to completion (at most 30 s).
std::pair<int, std::string> run_to_end(const std::vector<std::string>& args, const fs::path& out,
                                       const fs::path& err) {
  Process p(args, out, err);
  REQUIRE(p.started());
  const auto code = p.wait(std::chrono::seconds(30));
  REQUIRE(code.has_value());
  return {*code, read_text(out)};
}

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
  TempDir dir;
  const fs::path out = dir / "out.h5", partial = dir / "out.h5.partial";
  const auto t0 = Clock::now();
  Process run({"run", write_long_config(dir).string()}, dir / "stdout.txt", dir / "stderr.txt");
  REQUIRE(run.started());

  // Wait for recording to start (the ".partial" file), then a little into the token loop.
  while (!fs::exists(partial) && run.running() && Clock::now() - t0 < std::chrono::seconds(20)) {
    (void)run.wait(std::chrono::milliseconds(10));
  }
  INFO("stderr:\n" << read_text(dir / "stderr.txt"));
  REQUIRE(fs::exists(partial));
  REQUIRE(run.running());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  REQUIRE(run.running());  // the run is far from done: the signal interrupts it
  const auto t_signal = Clock::now();
  run.signal(sig);
  const auto code = run.wait(std::chrono::seconds(10));
  REQUIRE(code.has_value());  // no hang
  const double stop_s = std::chrono::duration<double>(Clock::now() - t_signal).count();
  CHECK(stop_s < 5.0);

  // Exit code 130 and one clear message.
  const std::string err = read_text(dir / "stderr.txt");
  INFO("stderr:\n" << err);
  CHECK(*code == static_cast<int>(ExitCode::interrupted));
  CHECK_THAT(err, Catch::Contains(std::string("spikesim: error: interrupted by ") + sig_name + " at token "));
  CHECK_THAT(err, Catch::Contains("out.h5.partial' (spikesim_complete = 0)"));
  std::size_t error_lines = 0;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);)
    if (line.find("spikesim: error:") != std::string::npos) ++error_lines;
  CHECK(error_lines == 1);

  // No file that looks complete; the partial one is marked incomplete.
  CHECK_FALSE(fs::exists(out));
  REQUIRE(fs::exists(partial));
  {
    const h5::File f = h5::File::open_read_only(partial);
    CHECK(h5::read_attribute<std::uint32_t>(f, "/", "spikesim_complete") == 0);
  }

  // `spikesim info` reads it and says so.
  const auto [info_code, info_out] =
      run_to_end({"info", partial.string()}, dir / "info.txt", dir / "info_err.txt");
  INFO("info:\n" << info_out << read_text(dir / "info_err.txt"));
  CHECK(info_code == 0);
  CHECK_THAT(info_out, Catch::Contains("INCOMPLETE"));
}

}  // namespace

TEST_CASE("interrupt: SIGINT during a run leaves only an incomplete .partial file, exit 130", "[interrupt]") {
  check_interrupted_run(SIGINT, "SIGINT");
}

TEST_CASE("interrupt: SIGTERM during a run leaves only an incomplete .partial file, exit 130",
          "[interrupt]") {
  check_interrupted_run(SIGTERM, "SIGTERM");
}
