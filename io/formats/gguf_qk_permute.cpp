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
    throw Error(ExitCode::model, fmt::format("q/k row permutation: row {} is outside the {} rows", row, rows));
}

void check_matrix(std::span<const float> w, std::size_t rows, std::size_t cols) {
  if (w.size() != rows * cols)
    throw Error(ExitCode::model, fmt::format("q/k row permutation: {} values for a {} x {} matrix", w.size(),
                                             rows, cols));
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

std::vector<float> gguf_permute_qk_rows(std::span<const float> w, std::size_t rows, std::size_t cols,
                                        std::size_t n_head) {
  check_matrix(w, rows, cols);
  std::vector<float> out(w.size());
  for (std::size_t gguf_row = 0; gguf_row < rows; ++gguf_row) {
    const auto from = w.subspan(gguf_qk_row_to_hf(gguf_row, rows, n_head) * cols, cols);
    std::copy(from.begin(), from.end(), out.begin() + static_cast<std::ptrdiff_t>(gguf_row * cols));
  }
  return out;
}

std::vector<float> gguf_unpermute_qk_rows(std::span<const float> w, std::size_t rows, std::size_t cols,
                                          std::size_t n_head) {
  check_matrix(w, rows, cols);
  std::vector<float> out(w.size());
  for (std::size_t hf_row = 0; hf_row < rows; ++hf_row) {
    const auto from = w.subspan(hf_qk_row_to_gguf(hf_row, rows, n_head) * cols, cols);
    std::copy(from.begin(), from.end(), out.begin() + static_cast<std::ptrdiff_t>(hf_row * cols));
  }
  return out;
}

}  // namespace spikesim
