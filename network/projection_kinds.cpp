#include "network/projection_kinds.hpp"

#include <fmt/format.h>

#include <array>

#include "core/error.hpp"
#include "network/dense_projection.hpp"

namespace spikesim {
namespace {

std::unique_ptr<StaticProjection> make_dense_f32(std::string name, const MatrixRM& w) {
  return std::make_unique<DenseProjection>(std::move(name), static_cast<std::size_t>(w.cols()),
                                           static_cast<std::size_t>(w.rows()),
                                           std::span<const float>(w.data(), static_cast<std::size_t>(w.size())));
}

// One row per kind.
constexpr std::array kKinds{
    ProjectionKind{"dense f32", &make_dense_f32},
};

}  // namespace

std::span<const ProjectionKind> projection_kinds() { return kKinds; }

std::unique_ptr<StaticProjection> make_projection(std::string_view kind, std::string name, const MatrixRM& weights) {
  std::string known;
  for (const ProjectionKind& k : kKinds) {
    if (k.name == kind) return k.make(std::move(name), weights);
    known += fmt::format("{}'{}'", known.empty() ? "" : ", ", k.name);
  }
  throw Error(ExitCode::config, fmt::format("projection '{}': no projection kind '{}' (known: {})", name, kind, known));
}

}  // namespace spikesim
