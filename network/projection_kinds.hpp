#pragma once
// The kinds of static projection a linear stage can be built with, by name.
// A new kind registers here with one row in projection_kinds.cpp; a stage
// asks for the kind its weight tensor's type calls for
// (projection_kind_for).
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/weights/weight_tensor.hpp"
#include "network/projection.hpp"

namespace spikesim {

struct ProjectionKind {
  std::string_view name;  // as Projection::kind() reports it
  WeightType weights;     // the element type it holds
  std::unique_ptr<StaticProjection> (*make)(std::string name, const WeightTensor& weights);
};

std::span<const ProjectionKind> projection_kinds();

// The kind that holds `weights` ("dense bf16", "dense int4", ...).
std::string_view projection_kind_for(const WeightTensor& weights);

// A projection of `kind` holding `weights` (by_input); Error(config) naming
// the kind and the known ones when there is no such kind, or when the
// tensor's type is not the kind's.
std::unique_ptr<StaticProjection> make_projection(std::string_view kind, std::string name, const WeightTensor& weights);

}  // namespace spikesim
