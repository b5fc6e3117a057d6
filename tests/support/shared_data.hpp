#pragma once
// Access to the real models and reference figures in ../shared (DESIGN.md §6).
//
// In CI (CI=true) a missing file fails the test; elsewhere the test is
// skipped with a message naming the file.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace spikesim::test {

inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("SPIKESIM_SHARED")) return env;
  return SPIKESIM_SHARED_DIR;
}

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

// Returns the path of `relative` under the shared folder, or an empty path
// after failing (CI) or warning (elsewhere) when it does not exist.
inline std::filesystem::path shared_file(const std::string& relative) {
  auto path = shared_dir() / relative;
  if (std::filesystem::exists(path)) return path;
  if (in_ci()) FAIL("required shared file missing in CI: " << path.string());
  WARN("skipping: shared file missing: " << path.string());
  return {};
}

}  // namespace spikesim::test

// Use at the top of a test: returns from it when the file is missing outside CI.
#define SPIKESIM_REQUIRE_SHARED(var, relative)             \
  const auto var = ::spikesim::test::shared_file(relative); \
  if ((var).empty()) return
