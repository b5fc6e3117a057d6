#pragma once
// A scratch folder for one test, removed with its content when it goes out
// of scope.
//
// The name is spikesim_<tag>_<pid>_<n>: the tag says which test file made it
// (so a leftover folder can be traced), the pid keeps parallel ctest
// processes apart, and the counter keeps the folders of one process apart.
// A leftover of the same name (a crashed run under a reused pid) is removed
// first, so every test starts from an empty folder.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <string>
#include <system_error>

namespace spikesim::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("spikesim_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    // Never throws: a folder that cannot be removed must not turn a passing
    // test into a crash during unwinding.
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace spikesim::test
