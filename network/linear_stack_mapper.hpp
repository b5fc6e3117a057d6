#pragma once
// The network of the linear-stack workload (sim/linear_stack.hpp), from its
// layer widths alone: per layer k, encoder "layer<k>.encoder" (sizes[k] GIF
// neurons) -W_k-> integrator "layer<k>.integrator" (sizes[k+1]), whose
// read-out feeds the next encoder. One stage per layer, named after its
// encoder.
#include <span>

#include "network/network_graph.hpp"

namespace spikesim {

NetworkGraph map_linear_stack(std::span<const std::size_t> sizes);

}  // namespace spikesim
