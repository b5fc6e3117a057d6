#pragma once
// Which channels of an encoder are salient (DESIGN.md §1, "Optimal Brain
// Spiking", SpikeLLM §3.3).
//
// From calibration inputs X [tokens x d_in] of an encoder and the weights W_k
// [d_out_k x d_in] it feeds:
//   hessian    s_i = mean_t ((X Σ_k W_kᵀ W_k) ⊙ X)_{t,i}   (the paper's; an
//              encoder feeding several projections, e.g. Wq, Wk, Wv, uses
//              their stacked matrix)
//   magnitude  s_i = mean_t |X_{t,i}|
//   uniform    no channel is salient
// The top ceil((1 - low_p)·d_in) channels are salient and get T = 2^addbit
// steps; the others T = 1.
#include <Eigen/Core>

#include <span>
#include <string_view>
#include <vector>

#include "core/matrix.hpp"
#include "neurons/gif_grid.hpp"

namespace spikesim {

enum class SaliencyMethod { hessian, magnitude, uniform };

SaliencyMethod parse_saliency(std::string_view name);  // Error(config) on an unknown name
std::string_view saliency_name(SaliencyMethod m);

std::vector<double> channel_saliency(SaliencyMethod method, const MatrixRM& calibration,
                                     std::span<const MatrixRM* const> weights);

// Flags the top ceil((1 - low_p)·n) channels (none for an all-zero saliency).
std::vector<bool> select_salient(std::span<const double> saliency, double low_p);

// The grid of an encoder: `bits` everywhere, 2^addbit steps on salient channels.
GifGrid salient_grid(const std::vector<bool>& salient, unsigned bits, unsigned addbit, bool is_signed);

}  // namespace spikesim
