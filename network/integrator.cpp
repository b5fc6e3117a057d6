#include "network/integrator.hpp"

#include <algorithm>

namespace spikesim {

void Integrator::resize(Kind kind, std::size_t rows, std::size_t outputs) {
  kind_ = kind;
  rows_ = rows;
  outputs_ = outputs;
  stride_ = (outputs + 63) / 64 * 64;
  real_.clear();
  i32_.clear();
  i64_.clear();
  const std::size_t n = rows * stride_;
  switch (kind) {
    case Kind::real:
      real_.assign(n, 0.0);
      break;
    case Kind::int32:
      i32_.assign(n, 0);
      break;
    case Kind::int64:
      i64_.assign(n, 0);
      break;
  }
  sums_.assign(kind == Kind::real ? 0 : rows, 0);
}

void Integrator::clear() {
  std::fill(real_.begin(), real_.end(), 0.0);
  std::fill(i32_.begin(), i32_.end(), 0);
  std::fill(i64_.begin(), i64_.end(), 0);
  std::fill(sums_.begin(), sums_.end(), 0);
}

bool Integrator::equals(const Integrator& o) const {
  if (kind_ != o.kind_ || rows_ != o.rows_ || outputs_ != o.outputs_ || sums_ != o.sums_) return false;
  for (std::size_t r = 0; r < rows_; ++r)
    for (std::size_t j = 0; j < outputs_; ++j) {
      const bool same = kind_ == Kind::real ? row(r)[j] == o.row(r)[j] : integer(r, j) == o.integer(r, j);
      if (!same) return false;
    }
  return true;
}

}  // namespace spikesim
