#pragma once
// Perplexity of any forward (dense, quantized, spiking) over a token file.
//
// The forward is a function sequence -> logits [n x vocab] (row i predicts
// token i+1), so the same code evaluates every model. Two layouts:
//   windows  window w covers tokens [S·w, S·w + S + 1) of a long stream and
//            predicts its last S tokens from the ones before (needs N·S + 1 tokens);
//   rows     the file is rows of S tokens, each evaluated on its own from
//            position 0; tokens 1..S-1 of each row are predicted (needs N·S tokens).
// NLLs come from a log-softmax in double; ppl = exp(nll_sum / tokens).
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "network/llama/model.hpp"

namespace spikesim {

struct PerplexityResult {
  double nll_sum = 0.0;      // sum of -log p(token) in nats
  std::uint64_t tokens = 0;  // predictions made
  [[nodiscard]] double ppl() const;
  [[nodiscard]] double mean_nll() const;
  PerplexityResult& operator+=(const PerplexityResult& o);
};

using SequenceForward = std::function<MatrixRM(std::span<const int>)>;

// -log softmax(logits)[target] in double.
double token_nll(std::span<const float> logits, int target);

// NLL of tokens[i+1] under logits row i, for i in [first_row, n-1).
PerplexityResult sequence_nll(const MatrixRM& logits, std::span<const int> tokens, std::size_t first_row = 0);

// `source` names the token file in errors (Error(ExitCode::data) naming it,
// the tokens needed and found).
PerplexityResult window_perplexity(std::span<const int> tokens, int seq_len, int n_windows,
                                   const SequenceForward& forward, const std::string& source);
PerplexityResult row_perplexity(std::span<const int> tokens, int row_len, int n_rows,
                                const SequenceForward& forward, const std::string& source);

}  // namespace spikesim
