#pragma once
// Token files and logit files of ../shared and of spikesim's own runs.
//
// A token file is a flat array of little-endian int32 ids (no header); a
// logit file a flat array of little-endian float32, row-major [tokens x vocab].
// Errors are Error(ExitCode::data) naming the file, and the index and id
// of a token outside the vocabulary.
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace spikesim {

// Reads every id; `vocab_size` > 0 checks each against [0, vocab_size).
std::vector<int> read_token_file(const std::filesystem::path& file, int vocab_size);
// Error(ExitCode::output) when it cannot be written.
void write_token_file(const std::filesystem::path& file, std::span<const int> tokens);

std::vector<float> read_f32_file(const std::filesystem::path& file);
void write_f32_file(const std::filesystem::path& file, std::span<const float> values);

}  // namespace spikesim
