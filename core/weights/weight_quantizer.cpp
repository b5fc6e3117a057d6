#include "core/weights/weight_quantizer.hpp"

#include "core/error.hpp"
#include "core/parallel.hpp"

#include <tbb/partitioner.h>
#include <Eigen/Cholesky>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace spikesim {
namespace {

// One group's grid. The zero point is kept as a float because the reference
// does its arithmetic (round(x / scale) + zero) on float tensors.
struct Grid {
  float scale;
  float zero;
};

// quant.py find_params, for one row of one group, in float32. std::nearbyint
// rounds ties to even in the default rounding mode, like torch.round.
Grid find_grid(std::span<const float> x, int bits, bool symmetric) {
  const float maxq = static_cast<float>((1 << bits) - 1);
  float xmin = std::min(*std::min_element(x.begin(), x.end()), 0.0f);
  float xmax = std::max(*std::max_element(x.begin(), x.end()), 0.0f);
  if (symmetric) {
    xmax = std::max(std::abs(xmin), xmax);
    if (xmin < 0) xmin = -xmax;
  }
  if (xmin == 0 && xmax == 0) {
    xmin = -1;
    xmax = 1;
  }
  const float scale = (xmax - xmin) / maxq;
  const float zero = symmetric ? (maxq + 1) / 2 : std::nearbyint(-xmin / scale);
  return {scale, zero};
}

float code_of(float x, Grid g, float maxq) {
  return std::clamp(std::nearbyint(x / g.scale) + g.zero, 0.0f, maxq);
}

// Checks shared by RTN and GPTQ; returns the columns per group.
int checked_group(const MatrixRM& w, const WeightQuantSpec& spec, const char* what) {
  if (spec.bits < 2 || spec.bits > 8)
    throw Error(ExitCode::config, fmt::format("{}: weight bits = {}, expected 2..8", what, spec.bits));
  if (w.cols() == 0) throw Error(ExitCode::config, fmt::format("{}: the weight has no columns", what));
  const auto cols = static_cast<int>(w.cols());
  if (spec.group < 0)
    throw Error(ExitCode::config,
                fmt::format("{}: weight group = {}, expected 0 (per output channel) or a positive number of "
                            "input columns",
                            what, spec.group));
  if (!w.allFinite())
    throw Error(ExitCode::numeric, fmt::format("{}: the weight has NaN or Inf values", what));
  return spec.group == 0 ? cols : spec.group;
}

QuantizedWeights empty_result(const MatrixRM& w, const WeightQuantSpec& spec, int group) {
  QuantizedWeights q;
  q.rows = static_cast<int>(w.rows());
  q.cols = static_cast<int>(w.cols());
  q.bits = spec.bits;
  q.group = group;
  q.symmetric = spec.symmetric;
  q.codes.resize(static_cast<std::size_t>(q.rows) * q.cols);
  q.scales.resize(static_cast<std::size_t>(q.rows) * q.groups());
  q.zeros.resize(q.scales.size());
  return q;
}

// Finds and stores the grid of row r, group g from the given values.
void set_grid(QuantizedWeights& q, int r, int g, std::span<const float> x) {
  const Grid grid = find_grid(x, q.bits, q.symmetric);
  const auto at = static_cast<std::size_t>(r) * q.groups() + g;
  q.scales[at] = grid.scale;
  q.zeros[at] = static_cast<std::int16_t>(grid.zero);
}

Grid grid_at(const QuantizedWeights& q, int r, int g) {
  const auto at = static_cast<std::size_t>(r) * q.groups() + g;
  return {q.scales[at], static_cast<float>(q.zeros[at])};
}

// Every group of every row from w as it is.
void set_all_grids(QuantizedWeights& q, const MatrixRM& w) {
  for (int r = 0; r < q.rows; ++r)
    for (int g = 0; g < q.groups(); ++g)
      set_grid(q, r, g, std::span<const float>(w.row(r).data() + g * q.group, q.group_size(g)));
}

// The upper triangular U with Uᵀ U = H⁻¹ (the reference's
// cholesky(cholesky_inverse(cholesky(H)), upper=True)). With J the reversal
// permutation and J H J = L Lᵀ: H⁻¹ = (J L⁻¹ J)ᵀ (J L⁻¹ J), and J L⁻¹ J is
// upper triangular with a positive diagonal, so it is U. One factorization
// and one triangular inverse instead of two factorizations and a full inverse.
}  // namespace

Eigen::MatrixXd gptq_upper_factor(const Eigen::MatrixXd& h) {
  const Eigen::Index n = h.rows();
  Eigen::MatrixXd l = h.reverse();
  Eigen::LLT<Eigen::Ref<Eigen::MatrixXd>> llt(l);  // factors in place: l's lower triangle is L
  if (llt.info() != Eigen::Success)
    throw Error(ExitCode::config,
                "GPTQ: the damped Hessian is not positive definite (Cholesky failed); increase "
                "the GPTQ damping (damp, a fraction of mean(diag H))");
  // Columns [j0, j1) of L⁻¹ are zero above row j0: each block of columns is
  // a solve with L's trailing corner only (n³/3 in all), in parallel.
  Eigen::MatrixXd u = Eigen::MatrixXd::Zero(n, n);
  parallel_blocks(
      tbb::blocked_range<Eigen::Index>(0, n, 128),
      [&](const tbb::blocked_range<Eigen::Index>& cols) {
        const Eigen::Index j0 = cols.begin(), m = n - j0;
        auto x = u.block(j0, j0, m, static_cast<Eigen::Index>(cols.size()));
        x.setIdentity();
        l.bottomRightCorner(m, m).triangularView<Eigen::Lower>().solveInPlace(x);
      },
      tbb::simple_partitioner());  // fixed blocks: bits independent of threads
  u.reverseInPlace();
  if (!u.allFinite())
    throw Error(ExitCode::config,
                "GPTQ: the damped Hessian is too close to singular (its inverse overflows); "
                "increase the GPTQ damping (damp)");
  return u;
}

int QuantizedWeights::groups() const { return group == 0 ? 0 : (cols + group - 1) / group; }
int QuantizedWeights::group_size(int g) const { return std::min(group, cols - g * group); }

MatrixRM QuantizedWeights::dequantized() const {
  MatrixRM w(rows, cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const Grid g = grid_at(*this, r, c / group);
      w(r, c) = g.scale * (static_cast<float>(codes[static_cast<std::size_t>(r) * cols + c]) - g.zero);
    }
  return w;
}

QuantizedWeights quantize_rtn(const MatrixRM& w, const WeightQuantSpec& spec) {
  QuantizedWeights q = empty_result(w, spec, checked_group(w, spec, "RTN"));
  set_all_grids(q, w);
  const auto maxq = static_cast<float>((1 << q.bits) - 1);
  for (int r = 0; r < q.rows; ++r)
    for (int c = 0; c < q.cols; ++c)
      q.codes[static_cast<std::size_t>(r) * q.cols + c] =
          static_cast<std::uint8_t>(code_of(w(r, c), grid_at(q, r, c / q.group), maxq));
  return q;
}

HessianAccumulator::HessianAccumulator(int cols) : sum_(Eigen::MatrixXd::Zero(cols, cols)) {
  if (cols < 1)
    throw Error(ExitCode::config, fmt::format("Hessian: {} input columns, expected at least 1", cols));
}

void HessianAccumulator::add(std::span<const float> x) {
  add_rows(Eigen::Map<const MatrixRM>(x.data(), 1, static_cast<Eigen::Index>(x.size())));
}

void HessianAccumulator::add_rows(const MatrixRM& x) {
  if (x.cols() != sum_.cols())
    throw Error(ExitCode::config, fmt::format("Hessian: a calibration row has {} values, expected {}",
                                              x.cols(), sum_.cols()));
  if (!x.allFinite())
    throw Error(ExitCode::numeric, "Hessian: a calibration row has NaN or Inf values");
  sum_.selfadjointView<Eigen::Lower>().rankUpdate(x.cast<double>().transpose());
  samples_ += static_cast<std::size_t>(x.rows());
  stale_ = true;
}

const Eigen::MatrixXd& HessianAccumulator::hessian() const {
  if (stale_) {
    hessian_ = sum_.selfadjointView<Eigen::Lower>();
    if (samples_ > 0) hessian_ *= 2.0 / static_cast<double>(samples_);
    stale_ = false;
  }
  return hessian_;
}

QuantizedWeights quantize_gptq(const MatrixRM& w, const Eigen::MatrixXd& hessian,
                               const WeightQuantSpec& spec, const GptqOptions& options) {
  const int group = checked_group(w, spec, "GPTQ");
  const auto n = static_cast<int>(w.cols());
  if (hessian.rows() != n || hessian.cols() != n)
    throw Error(ExitCode::config, fmt::format("GPTQ: the Hessian is {}x{}, expected {}x{} (the weight's "
                                              "input columns)",
                                              hessian.rows(), hessian.cols(), n, n));
  if (!hessian.allFinite())
    throw Error(ExitCode::numeric, "GPTQ: the Hessian has NaN or Inf values");
  if (!std::isfinite(options.damp) || options.damp < 0)
    throw Error(ExitCode::config, fmt::format("GPTQ: damp = {}, expected a finite value >= 0", options.damp));
  if (options.block < 1)
    throw Error(ExitCode::config, fmt::format("GPTQ: block = {}, expected at least 1", options.block));

  QuantizedWeights q = empty_result(w, spec, group);
  const bool per_channel = spec.group == 0;
  // Per channel the reference finds the grid before zeroing dead columns.
  if (per_channel) set_all_grids(q, w);

  Eigen::MatrixXd h = hessian;
  MatrixRM w0 = w;
  for (int i = 0; i < n; ++i)
    if (h(i, i) == 0) {
      h(i, i) = 1;
      w0.col(i).setZero();
    }
  const bool static_groups = !per_channel && options.act_order;
  if (static_groups) set_all_grids(q, w0);

  // perm[j]: the original column processed j-th. Stable, so ties keep order.
  std::vector<int> perm(static_cast<std::size_t>(n));
  std::iota(perm.begin(), perm.end(), 0);
  if (options.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](int a, int b) { return h(a, a) > h(b, b); });
    const Eigen::MatrixXd hp = h(perm, perm);
    h = hp;
  }
  h.diagonal().array() += options.damp * h.diagonal().mean();
  const Eigen::MatrixXd u = gptq_upper_factor(h);
  h.resize(0, 0);

  const auto maxq = static_cast<float>((1 << q.bits) - 1);
  // Rows are independent given U. Fixed chunks (simple_partitioner) keep
  // every product's shape, so the bits do not depend on the thread count.
  auto sweep = [&](const tbb::blocked_range<int>& rows) {
    const int r0 = rows.begin(), m = static_cast<int>(rows.size());
    Eigen::MatrixXd wk(m, n);  // the reference's W: updated block by block
    for (int j = 0; j < n; ++j) wk.col(j) = w0.block(r0, perm[j], m, 1).cast<double>();
    std::vector<float> values(static_cast<std::size_t>(group));
    for (int i1 = 0; i1 < n; i1 += options.block) {
      const int count = std::min(options.block, n - i1), i2 = i1 + count;
      Eigen::MatrixXd w1 = wk.middleCols(i1, count);  // W1: updated column by column
      Eigen::MatrixXd err(m, count);
      // The block's corner of U, row-major: its rows are read one by one.
      const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> u1 =
          u.block(i1, i1, count, count);
      for (int i = 0; i < count; ++i) {
        const int c = i1 + i, orig = perm[c];
        if (!per_channel && !static_groups && c % group == 0)
          for (int k = 0; k < m; ++k) {
            const int size = q.group_size(c / group);
            for (int j = 0; j < size; ++j) values[j] = static_cast<float>(wk(k, c + j));
            set_grid(q, r0 + k, c / group, std::span<const float>(values.data(), static_cast<std::size_t>(size)));
          }
        for (int k = 0; k < m; ++k) {
          const Grid g = grid_at(q, r0 + k, orig / group);
          const float code = code_of(static_cast<float>(w1(k, i)), g, maxq);
          q.codes[static_cast<std::size_t>(r0 + k) * n + orig] = static_cast<std::uint8_t>(code);
          err(k, i) = (w1(k, i) - static_cast<double>(g.scale * (code - g.zero))) / u1(i, i);
        }
        const int rest = count - i - 1;
        w1.rightCols(rest).noalias() -= err.col(i) * u1.row(i).tail(rest);
      }
      wk.rightCols(n - i2).noalias() -= err * u.block(i1, i2, count, n - i2);
    }
  };
  parallel_blocks(tbb::blocked_range<int>(0, q.rows, 64), sweep, tbb::simple_partitioner());
  return q;
}

}  // namespace spikesim
