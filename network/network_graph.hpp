#pragma once
// The graph of a spiking network: populations are vertices, projections and
// dense data flow are edges (a Boost.Graph adjacency_list).
//
// Vertices: inputs, GIF encoders, integrators, dense units (norms, RoPE,
// softmax, SiLU, residual adds, embedding, lm_head) and outputs.
// Edges: `projection` (static synapses, encoder -> integrator, d_in = encoder
// size, d_out = integrator size), `dynamic_projection` (attention: the query
// or the probabilities act as weights on cached K/V spikes) and `dataflow`
// (a dense value handed from one unit to the next).
//
// Stages group vertices into the units a run accounts for ("layer0.attn_in":
// the encoder and the q, k, v integrators; "layer0.attention": the K/V
// encoders, the dynamic projections and the softmax). They are declared in
// the order a token runs through them; the forward accounts in that order,
// the run file stores it, and the report reads it back from there.
//
// validate() checks that every edge joins existing vertices of the right
// kinds with agreeing shapes, that no encoder or integrator dangles, that
// every vertex names a declared stage (when stages are declared), and that
// the graph is acyclic; stage_order() is a topological order of the
// vertices, the order in which a token flows through them.
#include <boost/graph/adjacency_list.hpp>

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace spikesim {

enum class NodeKind { input, encoder, integrator, dense_unit, output };
enum class EdgeKind { projection, dynamic_projection, dataflow };

std::string_view node_kind_name(NodeKind k);
std::string_view edge_kind_name(EdgeKind k);

struct NodeInfo {
  std::string name;
  NodeKind kind = NodeKind::dense_unit;
  std::size_t size = 0;  // neurons (encoders), outputs (integrators), width (dense units)
  std::string op;        // dense units: "rms_norm", "rope", "softmax", ...
  int layer = -1;        // transformer layer, -1 outside layers
  std::string stage;     // the stage it is accounted in; "" for inputs and outputs
  std::size_t populations = 1;  // encoders: populations it runs as (K/V: one per KV head)
};

// What a stage is, for accounting: a dense unit, an encoder with its static
// projections, or an attention layer.
enum class StageKind { dense, linear, attention };
std::string_view stage_kind_name(StageKind k);

struct StageInfo {
  std::string name;
  int layer = -1;
  StageKind kind = StageKind::dense;
};

struct EdgeInfo {
  std::string name;
  EdgeKind kind = EdgeKind::dataflow;
  std::size_t d_in = 0;
  std::size_t d_out = 0;
};

class NetworkGraph {
 public:
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS, NodeInfo, EdgeInfo>;
  using Vertex = Graph::vertex_descriptor;

  Vertex add_node(NodeInfo info);
  // Declares the next stage in run order; a second stage of the same name is an error.
  void add_stage(StageInfo stage);
  [[nodiscard]] const std::vector<StageInfo>& stages() const { return stages_; }
  [[nodiscard]] bool has_stage(const std::string& name) const { return stage_index_.count(name) != 0; }
  [[nodiscard]] std::size_t stage_index(const std::string& name) const;
  // Connects two named nodes; an unknown name is an error naming it.
  void connect(const std::string& from, const std::string& to, EdgeInfo info);

  [[nodiscard]] bool contains(const std::string& name) const { return by_name_.count(name) != 0; }
  [[nodiscard]] Vertex vertex(const std::string& name) const;
  [[nodiscard]] const NodeInfo& node(Vertex v) const { return graph_[v]; }
  [[nodiscard]] std::size_t node_count() const { return boost::num_vertices(graph_); }
  [[nodiscard]] std::size_t edge_count() const { return boost::num_edges(graph_); }
  [[nodiscard]] const Graph& graph() const { return graph_; }

  // Throws Error(internal) describing the first defect found.
  void validate() const;
  // Vertices in topological (stage) order.
  [[nodiscard]] std::vector<Vertex> stage_order() const;
  // GraphViz DOT: encoders, integrators and dense units drawn differently,
  // projections labelled with their shape.
  void write_dot(std::ostream& out) const;

 private:
  Graph graph_;
  std::map<std::string, Vertex> by_name_;
  std::vector<StageInfo> stages_;
  std::map<std::string, std::size_t> stage_index_;
};

}  // namespace spikesim
