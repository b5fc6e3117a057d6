#include <catch2/catch.hpp>

#include <sstream>

#include "core/error.hpp"
#include "network/network_graph.hpp"

using namespace spikesim;

namespace {
NetworkGraph small_net() {
  NetworkGraph g;
  g.add_node({"in", NodeKind::input, 8});
  g.add_node({"enc", NodeKind::encoder, 8});
  g.add_node({"int", NodeKind::integrator, 4});
  g.add_node({"out", NodeKind::output, 4});
  g.connect("in", "enc", {"", EdgeKind::dataflow});
  g.connect("enc", "int", {"W", EdgeKind::projection, 8, 4});
  g.connect("int", "out", {"", EdgeKind::dataflow});
  return g;
}
}  // namespace

TEST_CASE("a valid network has a topological stage order and a DOT rendering", "[graph]") {
  const NetworkGraph g = small_net();
  REQUIRE_NOTHROW(g.validate());
  const auto order = g.stage_order();
  REQUIRE(order.size() == 4);
  CHECK(g.node(order.front()).name == "in");
  CHECK(g.node(order.back()).name == "out");
  std::ostringstream dot;
  g.write_dot(dot);
  CHECK_THAT(dot.str(), Catch::StartsWith("digraph") && Catch::Contains("8x4") && Catch::Contains("enc"));
}

TEST_CASE("validation refuses dangling, mis-shaped and cyclic networks", "[graph]") {
  NetworkGraph g = small_net();
  CHECK_THROWS_WITH(g.connect("enc", "nowhere", {"W2", EdgeKind::projection, 8, 4}), Catch::Contains("nowhere"));

  NetworkGraph shape = small_net();
  shape.add_node({"int2", NodeKind::integrator, 5});
  shape.connect("enc", "int2", {"W2", EdgeKind::projection, 8, 4});
  shape.connect("int2", "out", {"", EdgeKind::dataflow});
  CHECK_THROWS_WITH(shape.validate(), Catch::Contains("W2") && Catch::Contains("int2"));

  NetworkGraph dangling = small_net();
  dangling.add_node({"lonely", NodeKind::encoder, 8});
  dangling.connect("int", "lonely", {"", EdgeKind::dataflow});
  CHECK_THROWS_WITH(dangling.validate(), Catch::Contains("lonely"));

  NetworkGraph kinds = small_net();
  kinds.connect("in", "int", {"bad", EdgeKind::projection, 8, 4});
  CHECK_THROWS_WITH(kinds.validate(), Catch::Contains("bad"));

  NetworkGraph cyclic = small_net();
  cyclic.connect("int", "enc", {"", EdgeKind::dataflow});
  CHECK_THROWS_WITH(cyclic.validate(), Catch::Contains("cycle"));
}
