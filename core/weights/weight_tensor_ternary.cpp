// The ternary element type of WeightTensor (weight spike trains; see
// weight_tensor.hpp and docs/concepts/weight-spiking.md).
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/error.hpp"
#include "core/weights/weight_tensor.hpp"

namespace spikesim {

struct WeightTensor::Ternary {
  int max_steps = 0;
  std::vector<std::uint8_t> steps;          // [cols]
  std::vector<float> alphas;                // [max_steps x groups x rows]
  std::vector<std::uint64_t> additions;     // [cols] nonzero B over the column's steps
  std::vector<std::size_t> salient_begin;   // [cols + 1] (empty: no salient part)
  std::vector<std::uint32_t> salient_rows;  // by input, then output
  std::vector<std::int8_t> salient_codes;
  std::vector<float> salient_scales;  // [rows]
  std::size_t alpha_count = 0;        // α's of steps some input of their group uses
};

WeightTensor WeightTensor::from_ternary(const TernaryWeights& w) {
  const auto rows = static_cast<std::size_t>(w.rows), cols = static_cast<std::size_t>(w.cols);
  const auto T = static_cast<std::size_t>(w.max_steps);
  if (rows == 0 || cols == 0 || w.group <= 0 || w.max_steps < 1 || w.max_steps > 16)
    throw Error(ExitCode::internal, fmt::format("weight tensor: ternary {} x {}, group {}, {} steps", rows,
                                                cols, w.group, w.max_steps));
  const std::size_t groups =
      (cols + static_cast<std::size_t>(w.group) - 1) / static_cast<std::size_t>(w.group);
  if (w.steps.size() != cols || w.planes.size() != T * rows * cols || w.alphas.size() != T * rows * groups ||
      (!w.salient.empty() && (w.salient.size() != rows * cols || w.salient_scales.size() != rows)))
    throw Error(ExitCode::internal,
                "weight tensor: ternary steps, planes, alphas or salient weights of the wrong size");
  WeightTensor t;
  t.rows_ = rows;
  t.cols_ = cols;
  t.type_ = WeightType::ternary;
  t.order_ = WeightOrder::by_input;
  t.bits_ = 2;
  t.group_ = static_cast<std::size_t>(w.group);
  const std::size_t words = t.plane_words();
  t.stride_ = (T * 2 * words * 8 + kLineAlignment - 1) / kLineAlignment * kLineAlignment;
  auto* p = static_cast<std::byte*>(::operator new (t.stride_* cols, std::align_val_t{kLineAlignment}));
  std::memset(p, 0, t.stride_ * cols);
  std::shared_ptr<std::byte> storage(
      p, [](std::byte* q) { ::operator delete (q, std::align_val_t{kLineAlignment}); });
  auto d = std::make_shared<Ternary>();
  d->max_steps = w.max_steps;
  d->steps.assign(w.steps.begin(), w.steps.end());
  d->additions.assign(cols, 0);
  for (std::size_t c = 0; c < cols; ++c) {
    if (d->steps[c] > T)
      throw Error(ExitCode::internal,
                  fmt::format("weight tensor: input {} has {} ternary steps of {}", c, d->steps[c], T));
    auto* line = reinterpret_cast<std::uint64_t*>(p + c * t.stride_);
    for (std::size_t k = 0; k < T; ++k)
      for (std::size_t r = 0; r < rows; ++r) {
        const std::int8_t b = w.planes[(k * rows + r) * cols + c];
        if (b == 0) continue;
        if (k >= d->steps[c] || b < -1 || b > 1)
          throw Error(ExitCode::internal,
                      fmt::format("weight tensor: ternary B[{}][{}, {}] = {} with {} steps", k, r, c, b,
                                  d->steps[c]));
        line[(2 * k + (b < 0 ? 1 : 0)) * words + r / 64] |= std::uint64_t{1} << (r % 64);
        ++d->additions[c];
      }
  }
  // α by input group, as the integer scales are stored by_input: [k][g][r].
  d->alphas.resize(T * groups * rows);
  for (std::size_t k = 0; k < T; ++k)
    for (std::size_t g = 0; g < groups; ++g) {
      bool used = false;
      for (std::size_t c = g * t.group_; c < std::min(cols, (g + 1) * t.group_); ++c) used |= d->steps[c] > k;
      if (used) d->alpha_count += rows;
      for (std::size_t r = 0; r < rows; ++r)
        d->alphas[(k * groups + g) * rows + r] = w.alphas[(k * rows + r) * groups + g];
    }
  if (!w.salient.empty()) {
    d->salient_begin.assign(cols + 1, 0);
    for (std::size_t c = 0; c < cols; ++c) {
      d->salient_begin[c] = d->salient_rows.size();
      for (std::size_t r = 0; r < rows; ++r) {
        const std::int8_t q = w.salient[r * cols + c];
        if (q == 0) continue;
        for (std::size_t k = 0; k < T; ++k)
          if (w.planes[(k * rows + r) * cols + c] != 0)
            throw Error(ExitCode::internal,
                        fmt::format("weight tensor: salient weight ({}, {}) has a ternary step", r, c));
        d->salient_rows.push_back(static_cast<std::uint32_t>(r));
        d->salient_codes.push_back(q);
      }
    }
    d->salient_begin[cols] = d->salient_rows.size();
    d->salient_scales.assign(w.salient_scales.begin(), w.salient_scales.end());
  }
  t.data_ = storage.get();
  t.owner_ = std::move(storage);
  t.ternary_ = std::move(d);
  return t;
}

int WeightTensor::max_steps() const {
  return ternary_ ? ternary_->max_steps : 0;
}
int WeightTensor::steps(std::size_t c) const {
  return ternary_ ? ternary_->steps[c] : 0;
}

double WeightTensor::equal_steps() const {
  if (!ternary_ || cols_ == 0) return 0.0;
  const auto sum = std::accumulate(ternary_->steps.begin(), ternary_->steps.end(), std::uint64_t{0});
  return static_cast<double>(sum) / static_cast<double>(cols_);
}

float WeightTensor::alpha(int k, std::size_t r, std::size_t g) const {
  return ternary_->alphas[(static_cast<std::size_t>(k) * groups() + g) * rows_ + r];
}

int WeightTensor::step_sign(std::size_t r, std::size_t c, int k) const {
  const std::uint64_t bit = std::uint64_t{1} << (r % 64);
  if (plus_mask(c, k)[r / 64] & bit) return 1;
  if (minus_mask(c, k)[r / 64] & bit) return -1;
  return 0;
}

bool WeightTensor::has_salient() const {
  return ternary_ && !ternary_->salient_begin.empty();
}

SalientLine WeightTensor::salient(std::size_t c) const {
  if (!has_salient()) return {};
  const std::size_t b = ternary_->salient_begin[c], e = ternary_->salient_begin[c + 1];
  return {{ternary_->salient_rows.data() + b, e - b}, {ternary_->salient_codes.data() + b, e - b}};
}

float WeightTensor::salient_scale(std::size_t r) const {
  return ternary_->salient_scales[r];
}

std::uint64_t WeightTensor::additions(std::size_t c) const {
  return ternary_ ? ternary_->additions[c] : 0;
}
std::uint64_t WeightTensor::multiplications(std::size_t c) const {
  return salient(c).rows.size();
}

float WeightTensor::ternary_value(std::size_t r, std::size_t c) const {
  float v = 0;
  const std::size_t g = c / group_;
  for (int k = 0; k < steps(c); ++k) v += alpha(k, r, g) * static_cast<float>(step_sign(r, c, k));
  const SalientLine s = salient(c);
  const auto it = std::lower_bound(s.rows.begin(), s.rows.end(), static_cast<std::uint32_t>(r));
  if (it != s.rows.end() && *it == r)
    v += salient_scale(r) * static_cast<float>(s.codes[static_cast<std::size_t>(it - s.rows.begin())]);
  return v;
}

// Two bits per weight and real step, one float α per output, step and group
// that some input of the group uses, one byte of T per input; a salient
// weight costs its code and its output index (16 bits up to 65536 outputs).
std::uint64_t WeightTensor::ternary_bytes() const {
  std::uint64_t step_bits = 0;
  for (std::size_t c = 0; c < cols_; ++c) step_bits += 2 * static_cast<std::uint64_t>(steps(c)) * rows_;
  std::uint64_t bytes = (step_bits + 7) / 8 + ternary_->alpha_count * sizeof(float) + cols_;
  if (has_salient()) {
    const std::uint64_t index = rows_ <= 65536 ? 2 : 4;
    bytes += ternary_->salient_rows.size() * (index + 1) + rows_ * sizeof(float);
  }
  return bytes;
}

std::string WeightTensor::ternary_format() const {
  std::string f = fmt::format("ternary {:.2f} steps {}", equal_steps(),
                              group_ >= cols_ ? std::string("per-channel") : fmt::format("g{}", group_));
  if (has_salient())
    f += fmt::format(" + {:.1f}% int8 salient", 100.0 * static_cast<double>(ternary_->salient_rows.size()) /
                                                    static_cast<double>(size()));
  return f;
}

}  // namespace spikesim
