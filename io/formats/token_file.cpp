#include "io/formats/token_file.hpp"

#include <bit>
#include <fstream>

#include "core/error.hpp"

namespace spikesim {

namespace {

// Whole file as 32-bit little-endian words; the size must be a multiple of 4.
std::vector<std::uint32_t> read_words(const std::filesystem::path& file, const char* what) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(ExitCode::data, fmt::format("{}: cannot open {}", file.string(), what));
  const auto size = std::filesystem::file_size(file);
  if (size % 4 != 0)
    throw Error(ExitCode::data,
                fmt::format("{}: size {} bytes is not a multiple of 4 (expected a flat array of {})",
                            file.string(), size, what));
  std::vector<unsigned char> bytes(size);
  in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size));
  if (!in) throw Error(ExitCode::data, fmt::format("{}: read error", file.string()));
  std::vector<std::uint32_t> words(size / 4);
  for (std::size_t i = 0; i < words.size(); ++i)
    words[i] = static_cast<std::uint32_t>(bytes[4 * i]) | static_cast<std::uint32_t>(bytes[4 * i + 1]) << 8 |
               static_cast<std::uint32_t>(bytes[4 * i + 2]) << 16 |
               static_cast<std::uint32_t>(bytes[4 * i + 3]) << 24;
  return words;
}

void write_words(const std::filesystem::path& file, std::span<const std::uint32_t> words) {
  std::vector<unsigned char> bytes(words.size() * 4);
  for (std::size_t i = 0; i < words.size(); ++i)
    for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<unsigned char>(words[i] >> (8 * b));
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.flush();
  if (!out) throw Error(ExitCode::output, fmt::format("{}: cannot write", file.string()));
}

}  // namespace

std::vector<int> read_token_file(const std::filesystem::path& file, int vocab_size) {
  const auto words = read_words(file, "little-endian int32 token ids");
  std::vector<int> tokens(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto id = static_cast<std::int32_t>(words[i]);
    if (vocab_size > 0 && (id < 0 || id >= vocab_size))
      throw Error(ExitCode::data, fmt::format("{}: token at index {} is {}, outside the vocabulary [0, {})",
                                              file.string(), i, id, vocab_size));
    tokens[i] = id;
  }
  return tokens;
}

void write_token_file(const std::filesystem::path& file, std::span<const int> tokens) {
  std::vector<std::uint32_t> words(tokens.begin(), tokens.end());
  write_words(file, words);
}

std::vector<float> read_f32_file(const std::filesystem::path& file) {
  const auto words = read_words(file, "little-endian float32 values");
  std::vector<float> values(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) values[i] = std::bit_cast<float>(words[i]);
  return values;
}

void write_f32_file(const std::filesystem::path& file, std::span<const float> values) {
  std::vector<std::uint32_t> words(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) words[i] = std::bit_cast<std::uint32_t>(values[i]);
  write_words(file, words);
}

}  // namespace spikesim
