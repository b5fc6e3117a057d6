#pragma once
// Whole-file reads and writes for tests, in binary mode (no newline
// translation, so bytes written are the bytes read back).
//
// Two flavours, kept apart on purpose:
//   read_file / write_file                  say nothing when the file cannot be
//       opened (an empty string, nothing written): for files whose absence
//       the caller's own assertions already catch, such as a subprocess's
//       captured stderr, or for writes the code under test must then refuse;
//   read_file_or_fail / write_file_or_fail  fail the test naming the file:
//       for inputs the test cannot do without (docs pages, configs).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace spikesim::test {

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline std::string read_file_or_fail(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) FAIL("cannot read " << file.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_file(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline void write_file_or_fail(const std::filesystem::path& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) FAIL("cannot write " << file.string());
}

}  // namespace spikesim::test
