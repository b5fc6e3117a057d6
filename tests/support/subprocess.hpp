#pragma once
// Running the built `spikesim` binary as a subprocess, as a user would.
//
// The child is started with posix_spawn (no shell: arguments reach it
// unquoted and unsplit), its stdout and stderr go to files (no pipe to fill
// up and block it), and it is never left behind: a run that outlives its
// timeout is killed with SIGKILL and reaped, so a hang fails the test
// instead of hanging the suite.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/files.hpp"

extern char** environ;

namespace spikesim::test {

// This build's binary (SPIKESIM_BINARY_DIR is set by tests/CMakeLists.txt).
inline const std::string kSpikesim = SPIKESIM_BINARY_DIR "/sim/spikesim";

// A spikesim process (or `program`'s, found on PATH when it has no '/':
// mpirun) whose stdout and stderr go to files; killed (SIGKILL) if the test
// leaves it running.
class Process {
 public:
  using Clock = std::chrono::steady_clock;

  Process(const std::vector<std::string>& args, const std::filesystem::path& out,
          const std::filesystem::path& err, const std::string& program = kSpikesim) {
    std::vector<std::string> argv_s{program};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawnp(&pid_, program.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
  }
  ~Process() {
    if (running()) kill();
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  [[nodiscard]] bool started() const { return pid_ > 0; }
  [[nodiscard]] bool running() const { return pid_ > 0 && !code_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  void signal(int sig) const { ::kill(pid_, sig); }

  // The exit code (128 + signal when killed by one), or nothing after `timeout`.
  std::optional<int> wait(std::chrono::duration<double> timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!code_) {
      int status = 0;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        code_ = decode(status);
        break;
      }
      if (Clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return code_;
  }

  // SIGKILL and reap; returns the exit code (137, or the child's own code
  // when it exited just before the signal).
  int kill() {
    int status = 0;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    code_ = decode(status);
    return *code_;
  }

 private:
  static int decode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

  pid_t pid_ = -1;
  std::optional<int> code_;
};

struct Outcome {
  int code = -1;
  bool timed_out = false;
  std::string out, err;
};

// Runs spikesim with `args` to completion, stdout and stderr to
// <dir>/stdout.txt and <dir>/stderr.txt (read back, then removed, so that
// they are not mistaken for outputs of the run); kills it after `timeout_s`
// seconds (then timed_out is set). Each caller decides what a timeout means
// for its test.
inline Outcome run_program(const std::string& program, const std::vector<std::string>& args,
                           const std::filesystem::path& dir, double timeout_s = 30) {
  const std::filesystem::path out_file = dir / "stdout.txt", err_file = dir / "stderr.txt";
  Outcome o;
  {
    Process p(args, out_file, err_file, program);
    REQUIRE(p.started());
    const auto code = p.wait(std::chrono::duration<double>(timeout_s));
    if (code) {
      o.code = *code;
    } else {
      o.code = p.kill();
      o.timed_out = true;
    }
  }
  o.out = read_file(out_file);
  o.err = read_file(err_file);
  std::filesystem::remove(out_file);
  std::filesystem::remove(err_file);
  return o;
}
inline Outcome run_spikesim(const std::vector<std::string>& args, const std::filesystem::path& dir,
                            double timeout_s = 30) {
  return run_program(kSpikesim, args, dir, timeout_s);
}

// How many lines of a spikesim stderr are error reports: a failure must
// print exactly one.
inline std::size_t error_line_count(const std::string& err) {
  std::size_t n = 0;
  std::istringstream lines(err);
  for (std::string line; std::getline(lines, line);)
    if (line.find("spikesim: error:") != std::string::npos) ++n;
  return n;
}

}  // namespace spikesim::test
