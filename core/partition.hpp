#pragma once
// How the work of one model is split across R ranks (docs/concepts/ranks.md):
// tensor parallel over output rows.
//
// Every static projection W [d_out x d_in] (wq, wk, wv, wo, w_gate, w_up,
// w_down, lm_head) is cut into R contiguous slices of its output rows; rank
// r holds rows rank_rows(d_out, R, r) and nothing else of W. Each linear
// stage's encoder is cut the same way over its d_in neurons: rank r clocks
// neurons rank_rows(d_in, R, r). Everything else (the embedding, norms,
// attention and its KV cache, the dense units) is replicated, so every
// rank holds the whole residual stream.
//
// Slices are whole blocks of 64 rows (an int4 line packs 64 rows per
// block) when there are at least R blocks, and as even as blocks allow:
// rank r gets blocks [⌊B·r/R⌋, ⌊B·(r+1)/R⌋) of B = ⌈n/64⌉, the last
// block possibly short. Fewer rows than that are cut row by row the same
// way. A slice may be empty (more ranks than rows).
#include <cstddef>

namespace spikesim {

// Which of how many ranks this process is.
struct RankShape {
  int ranks = 1;
  int rank = 0;
};

struct RowSlice {
  std::size_t begin = 0, end = 0;
  [[nodiscard]] std::size_t size() const { return end - begin; }
  [[nodiscard]] bool contains(std::size_t i) const { return i >= begin && i < end; }
  friend bool operator==(const RowSlice&, const RowSlice&) = default;
};

inline constexpr std::size_t kRowBlock = 64;

[[nodiscard]] constexpr RowSlice rank_rows(std::size_t n, int ranks, int rank) {
  const auto R = static_cast<std::size_t>(ranks), r = static_cast<std::size_t>(rank);
  const std::size_t unit = (n + kRowBlock - 1) / kRowBlock >= R ? kRowBlock : 1;
  const std::size_t units = (n + unit - 1) / unit;
  auto edge = [&](std::size_t k) {
    const std::size_t at = units * k / R * unit;
    return at < n ? at : n;
  };
  return {edge(r), edge(r + 1)};
}

}  // namespace spikesim
