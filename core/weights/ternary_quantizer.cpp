#include "core/weights/ternary_quantizer.hpp"

#include <fmt/format.h>
#include <tbb/partitioner.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <queue>

#include "core/error.hpp"
#include "core/parallel.hpp"

namespace spikesim {
namespace {

constexpr double kNextStepGain = 0.25;  // ρ of the header comment

// The weights with dead inputs (H_ii = 0) zeroed and U of the damped H, as quantize_gptq.
struct Compensation {
  MatrixRM w0;
  Eigen::MatrixXd u;  // empty: no compensation
};

Compensation prepare(const MatrixRM& w, const Eigen::MatrixXd* hessian, double damp, const char* what) {
  if (w.rows() == 0 || w.cols() == 0)
    throw Error(ExitCode::config, fmt::format("{}: the weight is empty", what));
  if (!w.allFinite())
    throw Error(ExitCode::numeric, fmt::format("{}: the weight has NaN or Inf values", what));
  Compensation c{w, {}};
  if (!hessian) return c;
  const auto n = w.cols();
  if (hessian->rows() != n || hessian->cols() != n)
    throw Error(ExitCode::config, fmt::format("{}: the Hessian is {}x{}, expected {}x{}", what,
                                              hessian->rows(), hessian->cols(), n, n));
  if (!hessian->allFinite())
    throw Error(ExitCode::numeric, fmt::format("{}: the Hessian has NaN or Inf values", what));
  if (!std::isfinite(damp) || damp < 0)
    throw Error(ExitCode::config, fmt::format("{}: damp = {}, expected a finite value >= 0", what, damp));
  Eigen::MatrixXd h = *hessian;
  for (Eigen::Index i = 0; i < n; ++i)
    if (h(i, i) == 0) {
      h(i, i) = 1;
      c.w0.col(i).setZero();
    }
  h.diagonal().array() += damp * h.diagonal().mean();
  c.u = gptq_upper_factor(h);
  return c;
}

// GPTQ's column loop (weight_quantizer.cpp) for any per-column quantizer:
// on_group(r0, m, c0, values) sets the parameters of the group starting at
// c0 for rows [r0, r0 + m) from the weights as updated so far;
// on_column(r, c, w) quantizes one weight and returns its value.
template <class OnGroup, class OnColumn>
void sweep(const Compensation& comp, int group, int block, const OnGroup& on_group,
           const OnColumn& on_column) {
  const MatrixRM& w0 = comp.w0;
  const auto n = static_cast<int>(w0.cols());
  const bool update = comp.u.size() > 0;
  auto rows = [&](const tbb::blocked_range<int>& range) {
    const int r0 = range.begin(), m = static_cast<int>(range.size());
    Eigen::MatrixXd wk = w0.middleRows(r0, m).cast<double>();
    for (int i1 = 0; i1 < n; i1 += block) {
      const int count = std::min(block, n - i1), i2 = i1 + count;
      Eigen::MatrixXd w1 = wk.middleCols(i1, count);
      Eigen::MatrixXd err(m, count);
      for (int i = 0; i < count; ++i) {
        const int c = i1 + i;
        if (c % group == 0) {
          const int size = std::min(group, n - c);
          Eigen::MatrixXd values(m, size);
          for (int j = 0; j < size; ++j) values.col(j) = c + j < i2 ? w1.col(c + j - i1) : wk.col(c + j);
          on_group(r0, m, c, values);
        }
        for (int k = 0; k < m; ++k) {
          const double q = on_column(r0 + k, c, w1(k, i));
          err(k, i) = update ? (w1(k, i) - q) / comp.u(c, c) : 0.0;
        }
        if (update) {
          const int rest = count - i - 1;
          w1.rightCols(rest).noalias() -= err.col(i) * comp.u.row(c).segment(c + 1, rest);
        }
      }
      if (update) wk.rightCols(n - i2).noalias() -= err * comp.u.block(i1, i2, count, n - i2);
    }
  };
  // Fixed chunks of rows: the bits do not depend on the thread count.
  parallel_blocks(tbb::blocked_range<int>(0, static_cast<int>(w0.rows()), 64), rows,
                  tbb::simple_partitioner());
}

// α of one ternary step on residuals x: TWN's start, then Lloyd rounds.
float fit_alpha(std::span<const float> x) {
  if (x.empty()) return 0.0f;
  double mean = 0;
  for (float v : x) mean += std::abs(v);
  mean /= static_cast<double>(x.size());
  double threshold = 0.7 * mean, alpha = 0;
  for (int round = 0; round < 4; ++round) {
    double sum = 0;
    std::size_t count = 0;
    for (float v : x)
      if (std::abs(v) > threshold) {
        sum += std::abs(v);
        ++count;
      }
    if (count == 0) break;
    alpha = sum / static_cast<double>(count);
    threshold = alpha / 2;
  }
  return static_cast<float>(alpha);
}

int ternary_sign(float x, float alpha) {
  if (!(alpha > 0) || !(std::abs(x) > alpha / 2)) return 0;
  return x > 0 ? 1 : -1;
}

TernaryResult empty_result(const MatrixRM& w, int group, int max_steps) {
  TernaryResult t;
  t.rows = static_cast<int>(w.rows());
  t.cols = static_cast<int>(w.cols());
  t.group = group;
  t.max_steps = max_steps;
  const int groups = (t.cols + group - 1) / group;
  t.steps.assign(static_cast<std::size_t>(t.cols), 1);
  t.planes.assign(static_cast<std::size_t>(max_steps) * t.rows * t.cols, 0);
  t.alphas.assign(static_cast<std::size_t>(max_steps) * t.rows * groups, 0.0f);
  return t;
}

int checked_group(int group, const MatrixRM& w, const char* key) {
  if (group < 0)
    throw Error(ExitCode::config,
                fmt::format("key '{}' = {}: expected 0 (per output channel) or a positive number "
                            "of inputs",
                            key, group));
  return group == 0 ? static_cast<int>(w.cols()) : group;
}

std::vector<double> saliency_of(const MatrixRM& w, const Eigen::MatrixXd& hessian, const Eigen::MatrixXd& u,
                                ColumnSaliency kind) {
  const auto n = w.cols();
  std::vector<double> s(static_cast<std::size_t>(n), 0.0);
  if (kind == ColumnSaliency::hessian) {
    for (Eigen::Index c = 0; c < n; ++c) {
      const double hinv = u.col(c).head(c + 1).squaredNorm();  // [H⁻¹]_cc = Σ_i U_ic²
      s[static_cast<std::size_t>(c)] = w.col(c).cast<double>().squaredNorm() / hinv;
    }
  } else if (kind == ColumnSaliency::obs) {
    const Eigen::MatrixXd wd = w.cast<double>();
    const Eigen::MatrixXd wh = wd * hessian;
    for (Eigen::Index c = 0; c < n; ++c) s[static_cast<std::size_t>(c)] = wd.col(c).dot(wh.col(c)) / 2;
  }
  return s;
}

}  // namespace

TernaryWeights TernaryResult::view() const {
  return {rows, cols, group, max_steps, steps, planes, alphas, salient, salient_scales};
}

MatrixRM TernaryResult::dequantized() const {
  MatrixRM m(rows, cols);
  const int groups = (cols + group - 1) / group;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      float v = 0;
      for (int k = 0; k < steps[static_cast<std::size_t>(c)]; ++k)
        v += alphas[(static_cast<std::size_t>(k) * rows + r) * groups + c / group] *
             static_cast<float>(planes[(static_cast<std::size_t>(k) * rows + r) * cols + c]);
      if (!salient.empty())
        v += salient_scales[static_cast<std::size_t>(r)] *
             static_cast<float>(salient[static_cast<std::size_t>(r) * cols + c]);
      m(r, c) = v;
    }
  return m;
}

std::vector<std::uint8_t> allocate_steps(std::span<const double> saliency, double equal_steps, int max_steps,
                                         bool uniform) {
  if (max_steps < 1 || max_steps > 8)
    throw Error(ExitCode::config, fmt::format("key 'weights.max_steps' = {}: expected 1..8", max_steps));
  if (!(equal_steps >= 1.0) || equal_steps > max_steps)
    throw Error(ExitCode::config,
                fmt::format("key 'weights.steps' = {}: the mean ternary steps per weight must lie in 1..{} "
                            "(weights.max_steps)",
                            equal_steps, max_steps));
  const std::size_t n = saliency.size();
  if (uniform) {
    if (equal_steps != std::floor(equal_steps))
      throw Error(ExitCode::config,
                  fmt::format("key 'weights.steps' = {}: with weights.column_saliency = \"none\" "
                              "every column gets the same steps, so it must be a whole number",
                              equal_steps));
    return std::vector<std::uint8_t>(n, static_cast<std::uint8_t>(equal_steps));
  }
  std::vector<std::uint8_t> steps(n, 1);
  auto extra = static_cast<std::size_t>(std::llround(equal_steps * static_cast<double>(n))) - n;
  using Entry = std::pair<double, std::size_t>;
  auto lower = [](const Entry& a, const Entry& b) {
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  };
  std::priority_queue<Entry, std::vector<Entry>, decltype(lower)> next(lower);
  if (max_steps > 1)
    for (std::size_t c = 0; c < n; ++c) next.emplace(saliency[c], c);
  for (; extra > 0 && !next.empty(); --extra) {
    const auto [gain, c] = next.top();
    next.pop();
    if (++steps[c] < max_steps) next.emplace(gain * kNextStepGain, c);
  }
  return steps;
}

std::vector<double> column_saliency(const MatrixRM& w, const Eigen::MatrixXd& hessian, ColumnSaliency kind,
                                    double damp) {
  const Compensation comp = prepare(w, &hessian, damp, "column saliency");
  return saliency_of(comp.w0, hessian, comp.u, kind);
}

TernaryResult quantize_ternary(const MatrixRM& w, const Eigen::MatrixXd* hessian, const TernarySpec& spec,
                               const GptqOptions& options) {
  const int group = checked_group(spec.group, w, "weights.group");
  const bool uniform = spec.saliency == ColumnSaliency::none;
  if (!hessian && (spec.compensate || !uniform))
    throw Error(ExitCode::config, "ternary weights: saliency and compensation need the calibration Hessian");
  Compensation comp = prepare(w, hessian, options.damp, "ternary weights");
  std::vector<double> saliency(static_cast<std::size_t>(w.cols()), 0.0);
  if (!uniform) saliency = saliency_of(comp.w0, *hessian, comp.u, spec.saliency);
  TernaryResult t = empty_result(w, group, spec.max_steps);
  t.steps = allocate_steps(saliency, spec.equal_steps, spec.max_steps, uniform);
  if (!spec.compensate) comp.u.resize(0, 0);
  const int groups = (t.cols + group - 1) / group;
  auto alpha_at = [&](int k, int r, int g) -> float& {
    return t.alphas[(static_cast<std::size_t>(k) * t.rows + r) * groups + g];
  };
  auto on_group = [&](int r0, int m, int c0, const Eigen::MatrixXd& values) {
    std::vector<float> residual(static_cast<std::size_t>(values.cols())), active;
    for (int k = 0; k < m; ++k) {
      for (Eigen::Index j = 0; j < values.cols(); ++j)
        residual[static_cast<std::size_t>(j)] = static_cast<float>(values(k, j));
      for (int s = 0; s < t.max_steps; ++s) {
        active.clear();
        for (std::size_t j = 0; j < residual.size(); ++j)
          if (t.steps[c0 + j] > s) active.push_back(residual[j]);
        if (active.empty()) break;
        const float alpha = fit_alpha(active);
        alpha_at(s, r0 + k, c0 / group) = alpha;
        for (std::size_t j = 0; j < residual.size(); ++j)
          if (t.steps[c0 + j] > s)
            residual[j] -= alpha * static_cast<float>(ternary_sign(residual[j], alpha));
      }
    }
  };
  auto on_column = [&](int r, int c, double x) {
    const auto target = static_cast<float>(x);
    float value = 0;
    for (int s = 0; s < t.steps[static_cast<std::size_t>(c)]; ++s) {
      const float alpha = alpha_at(s, r, c / group);
      const int b = ternary_sign(target - value, alpha);
      t.planes[(static_cast<std::size_t>(s) * t.rows + r) * t.cols + c] = static_cast<std::int8_t>(b);
      value += alpha * static_cast<float>(b);
    }
    return static_cast<double>(value);
  };
  sweep(comp, group, std::max(1, options.block), on_group, on_column);
  return t;
}

TernaryResult quantize_pbllm(const MatrixRM& w, const Eigen::MatrixXd& hessian, const PbllmSpec& spec,
                             const GptqOptions& options) {
  const int group = checked_group(spec.group, w, "weights.group");
  if (!(spec.salient_fraction >= 0.0 && spec.salient_fraction <= 1.0))
    throw Error(ExitCode::config,
                fmt::format("key 'weights.salient_fraction' = {}: expected 0..1", spec.salient_fraction));
  Compensation comp = prepare(w, &hessian, options.damp, "PB-LLM weights");
  TernaryResult t = empty_result(w, group, 1);
  t.salient.assign(static_cast<std::size_t>(t.rows) * t.cols, 0);
  t.salient_scales.assign(static_cast<std::size_t>(t.rows), 1.0f);
  for (int r = 0; r < t.rows; ++r) {
    const float top = comp.w0.row(r).cwiseAbs().maxCoeff();
    t.salient_scales[static_cast<std::size_t>(r)] = top > 0 ? top / 127.0f : 1.0f;
  }
  std::vector<std::uint8_t> keep(t.salient.size(), 0);  // chosen as salient
  const Eigen::VectorXd u_diag = comp.u.diagonal();
  if (!spec.compensate) comp.u.resize(0, 0);
  const int groups = (t.cols + group - 1) / group;
  auto on_group = [&](int r0, int m, int c0, const Eigen::MatrixXd& values) {
    const auto size = static_cast<std::size_t>(values.cols());
    const auto n_salient =
        static_cast<std::size_t>(std::llround(spec.salient_fraction * static_cast<double>(size)));
    std::vector<std::size_t> order(size);
    for (int k = 0; k < m; ++k) {
      std::iota(order.begin(), order.end(), std::size_t{0});
      auto metric = [&](std::size_t j) {
        const double u = u_diag(c0 + static_cast<Eigen::Index>(j));
        return values(k, static_cast<Eigen::Index>(j)) * values(k, static_cast<Eigen::Index>(j)) / (u * u);
      };
      std::stable_sort(order.begin(), order.end(),
                       [&](std::size_t a, std::size_t b) { return metric(a) > metric(b); });
      double sum = 0;
      for (std::size_t q = 0; q < size; ++q) {
        const std::size_t j = order[q];
        if (q < n_salient)
          keep[static_cast<std::size_t>(r0 + k) * t.cols + c0 + j] = 1;
        else
          sum += std::abs(values(k, static_cast<Eigen::Index>(j)));
      }
      t.alphas[static_cast<std::size_t>(r0 + k) * groups + c0 / group] =
          size > n_salient ? static_cast<float>(sum / static_cast<double>(size - n_salient)) : 0.0f;
    }
  };
  auto on_column = [&](int r, int c, double x) {
    const std::size_t at = static_cast<std::size_t>(r) * t.cols + c;
    const auto target = static_cast<float>(x);
    if (keep[at]) {
      const float scale = t.salient_scales[static_cast<std::size_t>(r)];
      const float q = std::clamp(std::nearbyint(target / scale), -127.0f, 127.0f);
      t.salient[at] = static_cast<std::int8_t>(q);
      return static_cast<double>(0.0f + scale * q);
    }
    const float alpha = t.alphas[static_cast<std::size_t>(r) * groups + c / group];
    const int b = target > 0 ? 1 : (target < 0 ? -1 : 0);
    t.planes[at] = static_cast<std::int8_t>(alpha > 0 ? b : 0);
    return static_cast<double>(alpha * static_cast<float>(t.planes[at]));
  };
  sweep(comp, group, std::max(1, options.block), on_group, on_column);
  return t;
}

}  // namespace spikesim
