#pragma once
// The kinds of static projection a linear stage can be built with, by name.
// A new kind registers here with one row in projection_kinds.cpp; the
// stage names the kind it wants (today every weight is "dense f32"; the
// weight tensor's type will choose it).
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/matrix.hpp"
#include "network/projection.hpp"

namespace spikesim {

struct ProjectionKind {
  std::string_view name;  // as Projection::kind() reports it
  std::unique_ptr<StaticProjection> (*make)(std::string name, const MatrixRM& weights);
};

std::span<const ProjectionKind> projection_kinds();

// A projection of `kind` holding `weights` [d_out x d_in]; Error(config)
// naming the kind and the known ones when there is no such kind.
std::unique_ptr<StaticProjection> make_projection(std::string_view kind, std::string name, const MatrixRM& weights);

}  // namespace spikesim
