#include "sim/interrupt.hpp"

#include <fmt/format.h>

#include <atomic>
#include <csignal>

#include "core/error.hpp"

namespace spikesim {
namespace {

// Lock-free, so reading and writing it from a signal handler is safe.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_interrupt(int sig) {
  int expected = 0;
  if (!g_signal.compare_exchange_strong(expected, sig)) {
    // Second signal: the default action (terminate) at once.
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT:
      return "SIGINT";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "a signal";
  }
}

}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // file I/O in progress is resumed, not failed with EINTR
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int pending_interrupt() {
  return g_signal.load(std::memory_order_relaxed);
}

std::optional<Error> pending_interruption(const std::string& where) {
  const int sig = pending_interrupt();
  if (sig == 0) return std::nullopt;
  return Error(ExitCode::interrupted,
               fmt::format("interrupted by {}{}{}", signal_name(sig), where.empty() ? "" : " ", where));
}

void throw_if_interrupted(const std::string& where) {
  if (auto e = pending_interruption(where)) throw *e;
}

void clear_interrupt() {
  g_signal.store(0, std::memory_order_relaxed);
}

}  // namespace spikesim
