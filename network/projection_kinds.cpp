#include "network/projection_kinds.hpp"

#include <fmt/format.h>

#include <array>

#include "core/error.hpp"
#include "network/dense_projection.hpp"
#include "network/int_projection.hpp"
#include "network/ternary_projection.hpp"

namespace spikesim {
namespace {

template <class P>
std::unique_ptr<StaticProjection> make(std::string name, const WeightTensor& w) {
  return std::make_unique<P>(std::move(name), w);
}

// One row per kind.
constexpr std::array kKinds{
    ProjectionKind{"dense f32", WeightType::f32, &make<DenseProjection>},
    ProjectionKind{"dense bf16", WeightType::bf16, &make<DenseProjection>},
    ProjectionKind{"dense f16", WeightType::f16, &make<DenseProjection>},
    ProjectionKind{"dense int8", WeightType::int8, &make<IntProjection>},
    ProjectionKind{"dense int4", WeightType::int4, &make<IntProjection>},
    ProjectionKind{"ternary", WeightType::ternary, &make<TernaryProjection>},
};

}  // namespace

std::span<const ProjectionKind> projection_kinds() { return kKinds; }

std::string_view projection_kind_for(const WeightTensor& weights) {
  for (const ProjectionKind& k : kKinds)
    if (k.weights == weights.type()) return k.name;
  throw Error(ExitCode::internal, fmt::format("no projection kind holds {} weights", weights.format()));
}

std::unique_ptr<StaticProjection> make_projection(std::string_view kind, std::string name, const WeightTensor& weights) {
  std::string known;
  for (const ProjectionKind& k : kKinds) {
    if (k.name == kind) {
      if (k.weights != weights.type())
        throw Error(ExitCode::config, fmt::format("projection '{}': kind '{}' holds {} weights, got {}", name, kind,
                                                  weight_type_name(k.weights), weights.format()));
      return k.make(std::move(name), weights);
    }
    known += fmt::format("{}'{}'", known.empty() ? "" : ", ", k.name);
  }
  throw Error(ExitCode::config, fmt::format("projection '{}': no projection kind '{}' (known: {})", name, kind, known));
}

}  // namespace spikesim
