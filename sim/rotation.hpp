#pragma once
// Rotation (smoothing.rotate): orthogonal changes of basis folded exactly
// into the weights, as QuaRot does, so that the GIF encoders see inputs
// whose outlier channels are spread over all channels. Per token the GIF
// range is set by the largest channel; after a rotation no channel stands
// out, and the same levels cover the token far more finely.
//
//   residual stream  x' = Qᵀ x, Q [dim x dim]: embedding rows E Q; every
//                    RMSNorm weight g folded into the weights it feeds
//                    (W diag(g), the norm weight then 1, since RMSNorm
//                    commutes with an orthogonal Q only without g); wq, wk,
//                    wv, w_gate, w_up, lm_head columns W diag(g) Q; wo and
//                    w_down rows (and bo) Qᵀ W
//   V and O          per KV head: wv rows (and bv) of the head Hᵀ W, wo
//                    columns of every query head of its group W H
//                    (H [head_dim x head_dim]; K is not rotated: RoPE)
//
// The down_proj input (silu(gate) · up, elementwise) has no exact rotation;
// smoothing and mixed precision serve it. Q and H are randomized Hadamard
// matrices (Sylvester, columns signed by a seeded ±1) when the size is a
// power of two, else seeded random orthogonal matrices (QR of a Gaussian).
// A tied lm_head gets its own tensor (the embedding rotates by rows, the
// lm_head by columns after g_final). Rotated tensors are stored as f32.
#include <cstdint>

#include "network/llama/model.hpp"

namespace spikesim {

// An orthogonal n x n matrix, as described above, from `seed`.
Eigen::MatrixXd random_orthogonal(int n, std::uint64_t seed);

void rotate_model(LlamaModel& model, std::uint64_t seed);

}  // namespace spikesim
