#include "neurons/saliency.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"

namespace spikesim {

SaliencyMethod parse_saliency(std::string_view name) {
  if (name == "hessian") return SaliencyMethod::hessian;
  if (name == "magnitude") return SaliencyMethod::magnitude;
  if (name == "uniform") return SaliencyMethod::uniform;
  throw Error(ExitCode::config,
              fmt::format("saliency: unknown method '{}' (expected hessian, magnitude or uniform)", name));
}

std::string_view saliency_name(SaliencyMethod m) {
  switch (m) {
    case SaliencyMethod::hessian: return "hessian";
    case SaliencyMethod::magnitude: return "magnitude";
    case SaliencyMethod::uniform: return "uniform";
  }
  return "?";
}

std::vector<double> channel_saliency(SaliencyMethod method, const MatrixRM& x,
                                     std::span<const MatrixRM* const> weights) {
  const auto d = static_cast<std::size_t>(x.cols());
  std::vector<double> s(d, 0.0);
  if (method == SaliencyMethod::uniform || x.rows() == 0) return s;
  const Eigen::MatrixXd xd = x.cast<double>();
  if (method == SaliencyMethod::magnitude) {
    const Eigen::VectorXd m = xd.cwiseAbs().colwise().mean();
    for (std::size_t i = 0; i < d; ++i) s[i] = m[static_cast<Eigen::Index>(i)];
    return s;
  }
  Eigen::MatrixXd hessian_part = Eigen::MatrixXd::Zero(xd.rows(), xd.cols());  // X Σ WᵀW
  for (const MatrixRM* w : weights) {
    if (w->cols() != x.cols())
      throw Error(ExitCode::internal, fmt::format("saliency: weight has {} inputs, calibration {}", w->cols(), d));
    const Eigen::MatrixXd wd = w->cast<double>();
    hessian_part.noalias() += (xd * wd.transpose()) * wd;
  }
  const Eigen::VectorXd m = hessian_part.cwiseProduct(xd).colwise().mean();
  for (std::size_t i = 0; i < d; ++i) s[i] = m[static_cast<Eigen::Index>(i)];
  return s;
}

std::vector<bool> select_salient(std::span<const double> saliency, double low_p) {
  const std::size_t n = saliency.size();
  std::vector<bool> salient(n, false);
  const auto k = static_cast<std::size_t>(std::ceil((1.0 - low_p) * static_cast<double>(n) - 1e-9));
  if (k == 0 || std::all_of(saliency.begin(), saliency.end(), [](double v) { return v == 0.0; })) return salient;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Stable: ties keep the lower channel index, so selection is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return saliency[a] > saliency[b]; });
  for (std::size_t r = 0; r < std::min(k, n); ++r) salient[order[r]] = true;
  return salient;
}

GifGrid salient_grid(const std::vector<bool>& salient, unsigned bits, unsigned addbit, bool is_signed) {
  std::vector<std::uint8_t> b(salient.size(), static_cast<std::uint8_t>(bits));
  std::vector<std::uint16_t> t(salient.size(), 1);
  for (std::size_t i = 0; i < salient.size(); ++i)
    if (salient[i]) t[i] = static_cast<std::uint16_t>(1u << addbit);
  return GifGrid(std::move(b), std::move(t), is_signed);
}

}  // namespace spikesim
