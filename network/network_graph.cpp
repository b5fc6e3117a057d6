#include "network/network_graph.hpp"

#include <boost/graph/graphviz.hpp>
#include <boost/graph/topological_sort.hpp>

#include <algorithm>
#include <ostream>

#include "core/error.hpp"

namespace spikesim {

std::string_view node_kind_name(NodeKind k) {
  switch (k) {
    case NodeKind::input: return "input";
    case NodeKind::encoder: return "encoder";
    case NodeKind::integrator: return "integrator";
    case NodeKind::dense_unit: return "dense_unit";
    case NodeKind::output: return "output";
  }
  return "?";
}

std::string_view edge_kind_name(EdgeKind k) {
  switch (k) {
    case EdgeKind::projection: return "projection";
    case EdgeKind::dynamic_projection: return "dynamic_projection";
    case EdgeKind::dataflow: return "dataflow";
  }
  return "?";
}

std::string_view stage_kind_name(StageKind k) {
  switch (k) {
    case StageKind::dense: return "dense";
    case StageKind::linear: return "linear";
    case StageKind::attention: return "attention";
  }
  return "?";
}

void NetworkGraph::add_stage(StageInfo stage) {
  if (stage_index_.count(stage.name))
    throw Error(ExitCode::internal, fmt::format("network: stage '{}' declared twice", stage.name));
  stage_index_.emplace(stage.name, stages_.size());
  stages_.push_back(std::move(stage));
}

std::size_t NetworkGraph::stage_index(const std::string& name) const {
  const auto it = stage_index_.find(name);
  if (it == stage_index_.end()) throw Error(ExitCode::internal, fmt::format("network: no stage named '{}'", name));
  return it->second;
}

NetworkGraph::Vertex NetworkGraph::add_node(NodeInfo info) {
  if (by_name_.count(info.name))
    throw Error(ExitCode::internal, fmt::format("network: node '{}' added twice", info.name));
  const std::string name = info.name;
  const Vertex v = boost::add_vertex(std::move(info), graph_);
  by_name_.emplace(name, v);
  return v;
}

NetworkGraph::Vertex NetworkGraph::vertex(const std::string& name) const {
  const auto it = by_name_.find(name);
  if (it == by_name_.end()) throw Error(ExitCode::internal, fmt::format("network: no node named '{}'", name));
  return it->second;
}

void NetworkGraph::connect(const std::string& from, const std::string& to, EdgeInfo info) {
  if (!contains(from) || !contains(to))
    throw Error(ExitCode::internal, fmt::format("network: edge '{}' joins '{}' -> '{}', but '{}' does not exist",
                                                info.name, from, to, contains(from) ? to : from));
  boost::add_edge(vertex(from), vertex(to), std::move(info), graph_);
}

void NetworkGraph::validate() const {
  for (auto [e, end] = boost::edges(graph_); e != end; ++e) {
    const EdgeInfo& info = graph_[*e];
    const NodeInfo& src = graph_[boost::source(*e, graph_)];
    const NodeInfo& dst = graph_[boost::target(*e, graph_)];
    if (info.kind == EdgeKind::dataflow) continue;
    if (src.kind != NodeKind::encoder || dst.kind != NodeKind::integrator)
      throw Error(ExitCode::internal,
                  fmt::format("network: {} '{}' must join an encoder to an integrator, joins {} '{}' to {} '{}'",
                              edge_kind_name(info.kind), info.name, node_kind_name(src.kind), src.name,
                              node_kind_name(dst.kind), dst.name));
    if (info.kind == EdgeKind::projection && (info.d_in != src.size || info.d_out != dst.size))
      throw Error(ExitCode::internal,
                  fmt::format("network: projection '{}' is {} -> {}, but '{}' has {} neurons and '{}' {} outputs",
                              info.name, info.d_in, info.d_out, src.name, src.size, dst.name, dst.size));
  }
  for (auto [v, end] = boost::vertices(graph_); v != end; ++v) {
    const NodeInfo& n = graph_[*v];
    const bool has_in = boost::in_degree(*v, graph_) > 0;
    const bool has_out = boost::out_degree(*v, graph_) > 0;
    if (n.kind == NodeKind::encoder && (!has_in || !has_out))
      throw Error(ExitCode::internal, fmt::format("network: encoder '{}' has no {}", n.name,
                                                  has_in ? "outgoing projection" : "input"));
    if (!stages_.empty() && n.kind != NodeKind::input && n.kind != NodeKind::output && !has_stage(n.stage))
      throw Error(ExitCode::internal, fmt::format("network: node '{}' names stage '{}', which is not declared",
                                                  n.name, n.stage));
    if (n.kind == NodeKind::integrator && (!has_in || !has_out))
      throw Error(ExitCode::internal, fmt::format("network: integrator '{}' has no {}", n.name,
                                                  has_in ? "consumer" : "incoming projection"));
  }
  (void)stage_order();  // throws on a cycle
}

std::vector<NetworkGraph::Vertex> NetworkGraph::stage_order() const {
  std::vector<Vertex> reversed;
  try {
    boost::topological_sort(graph_, std::back_inserter(reversed));
  } catch (const boost::not_a_dag&) {
    throw Error(ExitCode::internal, "network: the graph has a cycle; a token must flow forward");
  }
  return {reversed.rbegin(), reversed.rend()};
}

void NetworkGraph::write_dot(std::ostream& out) const {
  auto vertex_writer = [this](std::ostream& os, Vertex v) {
    const NodeInfo& n = graph_[v];
    const char* shape = "box";
    const char* color = "gray40";
    switch (n.kind) {
      case NodeKind::encoder: shape = "ellipse"; color = "firebrick"; break;
      case NodeKind::integrator: shape = "box"; color = "royalblue"; break;
      case NodeKind::dense_unit: shape = "box"; color = "gray40"; break;
      case NodeKind::input:
      case NodeKind::output: shape = "invhouse"; color = "black"; break;
    }
    std::string label = n.name + "\\n" + std::string(node_kind_name(n.kind));
    if (!n.op.empty()) label += " " + n.op;
    label += " [" + std::to_string(n.size) + "]";
    os << "[label=\"" << label << "\", shape=" << shape << ", color=" << color << "]";
  };
  auto edge_writer = [this](std::ostream& os, Graph::edge_descriptor e) {
    const EdgeInfo& info = graph_[e];
    if (info.kind == EdgeKind::dataflow) {
      os << "[color=gray60]";
      return;
    }
    os << "[label=\"" << info.name << "\\n" << info.d_in << "x" << info.d_out << "\", style="
       << (info.kind == EdgeKind::projection ? "bold" : "dashed") << ", color=firebrick]";
  };
  boost::write_graphviz(out, graph_, vertex_writer, edge_writer);
}

}  // namespace spikesim
