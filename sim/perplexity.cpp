#include "sim/perplexity.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace spikesim {

double PerplexityResult::mean_nll() const {
  return tokens == 0 ? 0.0 : nll_sum / static_cast<double>(tokens);
}
double PerplexityResult::ppl() const {
  return std::exp(mean_nll());
}

PerplexityResult& PerplexityResult::operator+=(const PerplexityResult& o) {
  nll_sum += o.nll_sum;
  tokens += o.tokens;
  return *this;
}

double token_nll(std::span<const float> logits, int target) {
  if (target < 0 || static_cast<std::size_t>(target) >= logits.size())
    throw Error(ExitCode::data,
                fmt::format("target token {} outside the vocabulary [0, {})", target, logits.size()));
  double max = -INFINITY;
  for (float v : logits) max = std::max(max, static_cast<double>(v));
  double sum = 0.0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - max);
  return -(static_cast<double>(logits[static_cast<std::size_t>(target)]) - max - std::log(sum));
}

PerplexityResult sequence_nll(const MatrixRM& logits, std::span<const int> tokens, std::size_t first_row) {
  if (static_cast<std::size_t>(logits.rows()) + 1 < tokens.size())
    throw Error(ExitCode::internal,
                fmt::format("sequence_nll: {} logit rows for {} tokens", logits.rows(), tokens.size()));
  PerplexityResult r;
  const auto cols = static_cast<std::size_t>(logits.cols());
  for (std::size_t i = first_row; i + 1 < tokens.size(); ++i) {
    r.nll_sum += token_nll({logits.data() + i * cols, cols}, tokens[i + 1]);
    ++r.tokens;
  }
  return r;
}

namespace {
void require_tokens(std::size_t have, std::uint64_t need, const std::string& source,
                    const std::string& layout) {
  if (have < need)
    throw Error(ExitCode::data, fmt::format("{}: {} needs {} tokens, found {}", source, layout, need, have));
}
void require_positive(int seq, int n, const std::string& source) {
  if (seq < 2 || n < 1)
    throw Error(
        ExitCode::usage,
        fmt::format("{}: perplexity needs a length >= 2 and a count >= 1, found {} and {}", source, seq, n));
}
}  // namespace

PerplexityResult window_perplexity(std::span<const int> tokens, int seq_len, int n_windows,
                                   const SequenceForward& forward, const std::string& source) {
  require_positive(seq_len, n_windows, source);
  const std::uint64_t S = static_cast<std::uint64_t>(seq_len);
  require_tokens(tokens.size(), S * static_cast<std::uint64_t>(n_windows) + 1, source,
                 fmt::format("{} windows of {} (+1) tokens", n_windows, seq_len));
  PerplexityResult total;
  for (int w = 0; w < n_windows; ++w) {
    const auto window = tokens.subspan(S * static_cast<std::uint64_t>(w), S + 1);
    // The last token is only predicted, never fed: S positions of context.
    total += sequence_nll(forward(window.first(S)), window);
  }
  return total;
}

PerplexityResult row_perplexity(std::span<const int> tokens, int row_len, int n_rows,
                                const SequenceForward& forward, const std::string& source) {
  require_positive(row_len, n_rows, source);
  const std::uint64_t S = static_cast<std::uint64_t>(row_len);
  require_tokens(tokens.size(), S * static_cast<std::uint64_t>(n_rows), source,
                 fmt::format("{} rows of {} tokens", n_rows, row_len));
  PerplexityResult total;
  for (int r = 0; r < n_rows; ++r) {
    const auto row = tokens.subspan(S * static_cast<std::uint64_t>(r), S);
    total += sequence_nll(forward(row.first(S - 1)), row);
  }
  return total;
}

}  // namespace spikesim
