#pragma once
// What every harness in fuzz/ shares: the rule for exceptions and a check
// that aborts.
//
// A parser of untrusted bytes may refuse them, and refusing is what
// spikesim::Error is for: a harness catches it and goes on. Anything else
// is a bug that libFuzzer reports as a crash and saves the input for:
//   - a crash, an AddressSanitizer or UndefinedBehaviorSanitizer report;
//   - an exception other than spikesim::Error (a std::out_of_range from
//     nlohmann::json, a std::filesystem_error, ...): it escapes the harness
//     and std::terminate aborts;
//   - an Error whose code says "bug" (ExitCode::internal or failure);
//   - a FUZZ_CHECK that fails: a property the parser promises (an accepted
//     input is self-consistent, a config survives its own round trip).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "core/error.hpp"

namespace spikesim::fuzz {

[[noreturn]] inline void check_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", file, line, what);
  std::abort();
}

#define FUZZ_CHECK(cond) ((cond) ? void(0) : ::spikesim::fuzz::check_failed(#cond, __FILE__, __LINE__))

// Runs `parse`; an Error refusing the input is a normal outcome.
// Returns true when `parse` returned, false when it refused.
template <class Parse>
bool accepts(Parse&& parse) {
  try {
    parse();
    return true;
  } catch (const Error& e) {
    if (e.code() == ExitCode::internal || e.code() == ExitCode::failure) {
      std::fprintf(stderr, "Error with a bug's exit code %d: %s\n", e.exit_code(), e.what());
      std::abort();
    }
    return false;
  }
}

inline std::span<const std::byte> as_bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const std::byte*>(data), size};
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace spikesim::fuzz
