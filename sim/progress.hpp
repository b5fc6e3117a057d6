#pragma once
// What a long command shows on a terminal while it works: the phase (load,
// calibrate, simulate, write) and, while simulating, tokens done, tokens/s
// and the time left. On stderr, only when stderr is a terminal and
// run.progress is on, so logs and pipes stay clean; -v logs the phases too.
#include <chrono>
#include <cstdint>
#include <string>

namespace spikesim {

class Progress {
 public:
  Progress(bool enabled, std::string command);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Starts a phase ("load", "calibrate", "simulate", "write"); `detail` is logged.
  void phase(const std::string& name, const std::string& detail = {});
  // While simulating: `done` of `total` tokens.
  void tokens(std::uint64_t done, std::uint64_t total);

 private:
  void finish_line();
  bool enabled_;
  std::string command_, phase_;
  bool line_open_ = false;
  std::chrono::steady_clock::time_point phase_start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace spikesim
