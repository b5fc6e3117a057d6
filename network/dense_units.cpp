#include "network/dense_units.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace spikesim {

namespace {
void count(DenseOpCounts* c, DenseOp op, std::uint64_t n) {
  if (c != nullptr) c->add(op, n);
}
void require_same_size(std::size_t a, std::size_t b, const char* unit) {
  if (a != b) throw Error(ExitCode::internal, fmt::format("{}: operand sizes differ ({} vs {})", unit, a, b));
}
}  // namespace

void rms_norm(std::span<const float> x, const Eigen::VectorXf& w, float eps, std::span<float> out,
              DenseOpCounts* counts) {
  const std::size_t n = x.size();
  require_same_size(n, static_cast<std::size_t>(w.size()), "rms_norm weight");
  require_same_size(n, out.size(), "rms_norm output");
  // The sum of squares is accumulated in double: closer to torch's pairwise
  // fp32 reduction than a sequential fp32 sum would be.
  double sum_sq = 0.0;
  for (float v : x) sum_sq += static_cast<double>(v) * v;
  const float mean = static_cast<float>(sum_sq) / static_cast<float>(n);
  const float inv_rms = 1.0f / std::sqrt(mean + eps);  // torch.rsqrt in fp32
  for (std::size_t i = 0; i < n; ++i) out[i] = w[static_cast<Eigen::Index>(i)] * (x[i] * inv_rms);
  count(counts, DenseOp::mul, 3 * n);
  count(counts, DenseOp::add, n + 1);
  count(counts, DenseOp::div, 2);
  count(counts, DenseOp::sqrt, 1);
}

float rope_inv_freq(int i, int head_dim, float theta, const RopeScaling& scaling) {
  const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
  const float inv_freq = 1.0f / std::pow(theta, exponent);  // float overload: fp32 as in transformers
  switch (scaling.type) {
    case RopeScalingType::none:
      return inv_freq;
    case RopeScalingType::linear:
      return inv_freq / scaling.factor;
    case RopeScalingType::llama3: {
      // transformers mixes fp32 tensors with Python floats: the scalars are
      // rounded to fp32, and torch computes `scalar / tensor` as
      // reciprocal(tensor) * scalar.
      const auto old_context = static_cast<float>(scaling.original_max_position_embeddings);
      const float low_freq_wavelen =
          static_cast<float>(static_cast<double>(scaling.original_max_position_embeddings) / scaling.low_freq_factor);
      const float high_freq_wavelen =
          static_cast<float>(static_cast<double>(scaling.original_max_position_embeddings) / scaling.high_freq_factor);
      const float wavelen = (1.0f / inv_freq) * static_cast<float>(2.0 * 3.14159265358979323846);
      const float scaled = wavelen > low_freq_wavelen ? inv_freq / scaling.factor : inv_freq;
      const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
      if (!medium) return scaled;
      const auto span = static_cast<float>(static_cast<double>(scaling.high_freq_factor) - scaling.low_freq_factor);
      const float smooth = ((1.0f / wavelen) * old_context - scaling.low_freq_factor) / span;
      return (1.0f - smooth) * scaled / scaling.factor + smooth * scaled;
    }
  }
  return inv_freq;
}

void rotate_pairs(std::span<float> v, const float* cos, const float* sin, RopeStyle style,
                  DenseOpCounts* counts) {
  const std::size_t half = v.size() / 2;
  if (style == RopeStyle::rotate_half) {
    for (std::size_t i = 0; i < half; ++i) {
      const float a = v[i], b = v[i + half];
      v[i] = a * cos[i] - b * sin[i];
      v[i + half] = b * cos[i] + a * sin[i];
    }
  } else {
    for (std::size_t i = 0; i < half; ++i) {
      const float a = v[2 * i], b = v[2 * i + 1];
      v[2 * i] = a * cos[i] - b * sin[i];
      v[2 * i + 1] = a * sin[i] + b * cos[i];
    }
  }
  count(counts, DenseOp::mul, 4 * half);
  count(counts, DenseOp::add, 2 * half);
}

void apply_rope(std::span<float> head_vec, int pos, float theta, RopeStyle style, DenseOpCounts* counts,
                const RopeScaling& scaling) {
  const int d = static_cast<int>(head_vec.size());
  if (d % 2 != 0) throw Error(ExitCode::internal, fmt::format("apply_rope: head size {} is odd", d));
  std::vector<float> c(static_cast<std::size_t>(d / 2)), s(c.size());
  for (int i = 0; i < d / 2; ++i) {
    const float angle = static_cast<float>(pos) * rope_inv_freq(i, d, theta, scaling);
    c[static_cast<std::size_t>(i)] = std::cos(angle);
    s[static_cast<std::size_t>(i)] = std::sin(angle);
  }
  rotate_pairs(head_vec, c.data(), s.data(), style, counts);
}

RopeTable::RopeTable(int head_dim, float theta, int max_positions, const RopeScaling& scaling)
    : head_dim_(head_dim), max_positions_(max_positions) {
  if (head_dim <= 0 || head_dim % 2 != 0 || max_positions <= 0)
    throw Error(ExitCode::internal,
                fmt::format("RopeTable: head_dim {} must be even and > 0, max_positions {} > 0", head_dim,
                            max_positions));
  const int half = head_dim / 2;
  cos_.resize(static_cast<std::size_t>(max_positions) * half);
  sin_.resize(cos_.size());
  std::vector<float> inv_freq(static_cast<std::size_t>(half));
  for (int i = 0; i < half; ++i) inv_freq[static_cast<std::size_t>(i)] = rope_inv_freq(i, head_dim, theta, scaling);
  for (int pos = 0; pos < max_positions; ++pos)
    for (int i = 0; i < half; ++i) {
      const float angle = static_cast<float>(pos) * inv_freq[static_cast<std::size_t>(i)];
      cos_[static_cast<std::size_t>(pos) * half + i] = std::cos(angle);
      sin_[static_cast<std::size_t>(pos) * half + i] = std::sin(angle);
    }
}

void RopeTable::apply(std::span<float> head_vec, int pos, RopeStyle style, DenseOpCounts* counts) const {
  if (static_cast<int>(head_vec.size()) != head_dim_ || pos < 0 || pos >= max_positions_)
    throw Error(ExitCode::internal,
                fmt::format("RopeTable::apply: head of {} at position {}, table is {} x {}", head_vec.size(),
                            pos, max_positions_, head_dim_));
  const std::size_t off = static_cast<std::size_t>(pos) * (head_dim_ / 2);
  rotate_pairs(head_vec, cos_.data() + off, sin_.data() + off, style, counts);
}

void softmax_inplace(std::span<float> x, DenseOpCounts* counts) {
  const std::size_t n = x.size();
  if (n == 0) return;
  const float max = *std::max_element(x.begin(), x.end());
  float sum = 0.0f;
  for (float& v : x) {
    v = std::exp(v - max);
    sum += v;
  }
  const float inv = 1.0f / sum;
  for (float& v : x) v *= inv;
  count(counts, DenseOp::compare, n - 1);
  count(counts, DenseOp::add, n + (n - 1));
  count(counts, DenseOp::exp, n);
  count(counts, DenseOp::div, 1);
  count(counts, DenseOp::mul, n);
}

void silu_mul(std::span<const float> gate, std::span<const float> up, std::span<float> out,
              DenseOpCounts* counts) {
  require_same_size(gate.size(), up.size(), "silu_mul up");
  require_same_size(gate.size(), out.size(), "silu_mul output");
  for (std::size_t i = 0; i < gate.size(); ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
  const std::uint64_t n = gate.size();
  count(counts, DenseOp::exp, n);
  count(counts, DenseOp::add, n);
  count(counts, DenseOp::div, n);
  count(counts, DenseOp::mul, n);
}

void residual_add(std::span<float> x, std::span<const float> y, DenseOpCounts* counts) {
  require_same_size(x.size(), y.size(), "residual_add");
  for (std::size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  count(counts, DenseOp::add, x.size());
}

void embedding_lookup(const WeightTensor& table, int token, std::span<float> out, DenseOpCounts* /*counts*/) {
  if (token < 0 || static_cast<std::size_t>(token) >= table.rows())
    throw Error(ExitCode::data,
                fmt::format("token id {} outside the vocabulary [0, {})", token, table.rows()));
  require_same_size(out.size(), table.cols(), "embedding_lookup output");
  table.row_to_f32(static_cast<std::size_t>(token), out);
}

}  // namespace spikesim
