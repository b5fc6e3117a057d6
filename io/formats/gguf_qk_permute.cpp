#include "io/formats/gguf_qk_permute.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace spikesim {

namespace {

// head_dim; Error(model) when the rows do not split into n_head heads of pairs.
std::size_t head_dim_of(std::size_t rows, std::size_t n_head) {
  if (n_head == 0 || rows % (2 * n_head) != 0)
    throw Error(ExitCode::model, fmt::format("q/k row permutation: {} rows do not split into {} heads of an "
                                             "even head_dim",
                                             rows, n_head));
  return rows / n_head;
}

void check_row(std::size_t row, std::size_t rows) {
  if (row >= rows)
    throw Error(ExitCode::model,
                fmt::format("q/k row permutation: row {} is outside the {} rows", row, rows));
}

void check_matrix(std::span<const float> w, std::size_t rows, std::size_t cols) {
  if (w.size() != rows * cols)
    throw Error(ExitCode::model,
                fmt::format("q/k row permutation: {} values for a {} x {} matrix", w.size(), rows, cols));
}

}  // namespace

std::size_t gguf_qk_row_to_hf(std::size_t gguf_row, std::size_t rows, std::size_t n_head) {
  const std::size_t head_dim = head_dim_of(rows, n_head);
  check_row(gguf_row, rows);
  const std::size_t head = gguf_row / head_dim;
  const std::size_t within = gguf_row % head_dim;
  const std::size_t pair = within / 2;
  const std::size_t half = within % 2;
  return head * head_dim + half * (head_dim / 2) + pair;
}

std::size_t hf_qk_row_to_gguf(std::size_t hf_row, std::size_t rows, std::size_t n_head) {
  const std::size_t head_dim = head_dim_of(rows, n_head);
  check_row(hf_row, rows);
  const std::size_t head = hf_row / head_dim;
  const std::size_t within = hf_row % head_dim;
  const std::size_t half = within / (head_dim / 2);
  const std::size_t pair = within % (head_dim / 2);
  return head * head_dim + 2 * pair + half;
}

namespace {

// Row r of the result is row source_of(r) of w.
template <class SourceOf>
std::vector<float> gather_rows(std::span<const float> w, std::size_t rows, std::size_t cols,
                               SourceOf source_of) {
  check_matrix(w, rows, cols);
  std::vector<float> out(w.size());
  for (std::size_t r = 0; r < rows; ++r) {
    const auto from = w.subspan(source_of(r) * cols, cols);
    std::copy(from.begin(), from.end(), out.begin() + static_cast<std::ptrdiff_t>(r * cols));
  }
  return out;
}

}  // namespace

std::vector<float> gguf_permute_qk_rows(std::span<const float> w, std::size_t rows, std::size_t cols,
                                        std::size_t n_head) {
  return gather_rows(w, rows, cols,
                     [&](std::size_t gguf_row) { return gguf_qk_row_to_hf(gguf_row, rows, n_head); });
}

std::vector<float> gguf_unpermute_qk_rows(std::span<const float> w, std::size_t rows, std::size_t cols,
                                          std::size_t n_head) {
  return gather_rows(w, rows, cols,
                     [&](std::size_t hf_row) { return hf_qk_row_to_gguf(hf_row, rows, n_head); });
}

}  // namespace spikesim
