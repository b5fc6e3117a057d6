#pragma once
// The dense matrix type of weights, calibration data and logits: Eigen,
// row-major, so a row of an nn.Linear weight [out_features x in_features] is
// contiguous, as PyTorch stores it.
#include <Eigen/Core>

namespace spikesim {

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace spikesim
