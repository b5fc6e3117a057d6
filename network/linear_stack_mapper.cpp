#include "network/linear_stack_mapper.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

namespace spikesim {

NetworkGraph map_linear_stack(std::span<const std::size_t> sizes) {
  if (sizes.size() < 2)
    throw Error(ExitCode::config, "linear_stack.sizes: needs at least 2 sizes (input and output)");
  NetworkGraph g;
  g.add_node({"input", NodeKind::input, sizes[0], "", -1});
  std::string previous = "input";
  for (std::size_t k = 0; k + 1 < sizes.size(); ++k) {
    const std::size_t d_in = sizes[k], d_out = sizes[k + 1];
    const auto layer = static_cast<int>(k);
    const std::string enc = fmt::format("layer{}.encoder", k);
    const std::string integ = fmt::format("layer{}.integrator", k);
    g.add_stage({enc, layer, StageKind::linear});
    g.add_node({enc, NodeKind::encoder, d_in, "", layer, enc});
    g.add_node({integ, NodeKind::integrator, d_out, "", layer, enc});
    g.connect(previous, enc, {"", EdgeKind::dataflow});
    g.connect(enc, integ, {fmt::format("layer{}.W", k), EdgeKind::projection, d_in, d_out});
    previous = integ;
  }
  g.add_node({"output", NodeKind::output, sizes.back(), "", -1});
  g.connect(previous, "output", {"", EdgeKind::dataflow});
  g.validate();
  return g;
}

}  // namespace spikesim
