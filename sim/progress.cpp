#include "sim/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "core/logging.hpp"

namespace spikesim {

Progress::Progress(bool enabled, std::string command)
    : enabled_(enabled && isatty(STDERR_FILENO) != 0), command_(std::move(command)) {}

Progress::~Progress() { finish_line(); }

void Progress::finish_line() {
  if (line_open_) fmt::print(stderr, "\n");
  line_open_ = false;
}

void Progress::phase(const std::string& name, const std::string& detail) {
  phase_ = name;
  phase_start_ = last_draw_ = std::chrono::steady_clock::now();
  spdlog::info("{}: {}{}{}", command_, name, detail.empty() ? "" : ": ", detail);
  if (!enabled_) return;
  finish_line();
  fmt::print(stderr, "\r[spikesim {}] {}...", command_, name);
  std::fflush(stderr);
  line_open_ = true;
}

void Progress::tokens(std::uint64_t done, std::uint64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // A terminal redraw per token would slow a fast model down: 10 a second.
  if (done != total && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - phase_start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double left = rate > 0 ? static_cast<double>(total - done) / rate : 0.0;
  fmt::print(stderr, "\r[spikesim {}] {}: token {}/{}, {:.1f} tokens/s, {:.0f} s left   ", command_, phase_, done,
             total, rate, left);
  std::fflush(stderr);
  line_open_ = true;
}

}  // namespace spikesim
