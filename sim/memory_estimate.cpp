#include "sim/memory_estimate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <string_view>
#include <tuple>

#include "core/error.hpp"
#include "core/event.hpp"
#include "core/partition.hpp"
#include "core/saturating.hpp"
#include "io/formats/model_loader.hpp"
#include "io/formats/safetensors.hpp"
#include "network/dense_projection.hpp"
#include "network/linear_stack_mapper.hpp"
#include "network/llama/mapper.hpp"
#include "sim/run_driver.hpp"

namespace spikesim {
namespace {

using u64 = std::uint64_t;

constexpr u64 kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024;
constexpr u64 kChunkElements = 1 << 16;     // RecorderOptions::chunk
constexpr u64 kCachedVectorOverhead = 160;  // Attention::CachedVector bookkeeping + allocator headers
constexpr u64 kPerNeuronState = 64;         // counters (4 x u64), injected/membrane, grid entries
constexpr u64 kPerNeuronEvents = 16;        // one SpikeEvent per neuron per step in flight
constexpr u64 kBaseline = 40 * kMiB;        // program, libraries, TBB, allocator slack
// One recorded spike population: three appendable datasets (timestamps f64,
// node_ids u64, amplitudes i32) each buffering up to one chunk, the buffer
// growing with the events, and HDF5's chunk cache holding at most as much again.
constexpr u64 kBytesPerBufferedEvent = 2 * (8 + 8 + 4);
// One traced population: the float frames of one chunk, twice, and the
// per-token scale beside them (θ f32, z i32, steps u32: one chunk each, twice).
constexpr u64 kPerTracePopulation = 2 * kChunkElements * 4 + 2 * kChunkElements * (4 + 4 + 4);
// The recorder's transient: one full chunk being compressed.
constexpr u64 kRecorderTransient = 2 * kChunkElements * 8;

// Saturating (core/saturating.hpp): an absurd shape must give "needs more
// than the limit", not a wrapped-around small number.
u64 add(u64 a, u64 b) {
  return saturating_add(a, b);
}
u64 mul(u64 a, u64 b) {
  return saturating_mul(a, b);
}
u64 mul(u64 a, u64 b, u64 c) {
  return mul(mul(a, b), c);
}
u64 mul(u64 a, u64 b, u64 c, u64 d) {
  return mul(mul(a, b, c), d);
}

u64 u(long long v) {
  return v > 0 ? static_cast<u64>(v) : 0;
}

struct Shape {
  u64 L, d, h, q, k, V, head_dim, kv_heads;
};

// Weight groups along `in` inputs (0 or >= in: one per output channel).
u64 weight_groups(u64 in, u64 group) {
  return group == 0 || group >= in ? 1 : (in + group - 1) / group;
}

Shape shape_of(const LlamaConfig& c) {
  const u64 head_dim = u(c.head_dim > 0 ? c.head_dim : (c.n_heads > 0 ? c.dim / c.n_heads : 0));
  return {
      u(c.n_layers),   u(c.dim), u(c.hidden_dim), mul(u(c.n_heads), head_dim), mul(u(c.n_kv_heads), head_dim),
      u(c.vocab_size), head_dim, u(c.n_kv_heads)};
}

// Bytes of one [out x in] tensor as WeightTensor::stored_bytes counts them:
// the elements as stored, and for integer types a 4-byte scale per group per
// output plus a 1-byte zero point when asymmetric.
u64 tensor_bytes(u64 out, u64 in, const HeldFormat& f) {
  u64 bytes = (mul(out, in, storage_bits(f.type)) + 7) / 8;
  if (is_integer(f.type)) bytes = add(bytes, mul(out, weight_groups(in, f.group), f.zero_points ? 5 : 4));
  return bytes;
}

// Rows of a tensor of d_out outputs that one rank holds: its slice of
// core/partition.hpp, all of them for RankShape{}, none for the floor
// (replicated_share: what a rank holds whatever R).
struct Slice {
  RankShape shape;
  bool empty = false;
  u64 operator()(u64 d_out) const {
    return empty ? 0 : static_cast<u64>(rank_rows(d_out, shape.ranks, shape.rank).size());
  }
};

// The weights as held (HeldWeights) by one rank: its rows of every linear
// layer and of the lm_head, each slice counted as its own tensor (its own
// scales and its own rounding to whole bytes, as a rank would store it),
// and the whole embedding table and norms.
u64 held_weight_bytes(const Shape& s, const HeldWeights& w, const Slice& rows) {
  const u64 per_layer =
      add(add(mul(2 * 4, s.d),
              add(tensor_bytes(rows(s.q), s.d, w.linear), tensor_bytes(rows(s.d), s.q, w.linear))),
          add(mul(2, tensor_bytes(rows(s.k), s.d, w.linear)),
              add(mul(2, tensor_bytes(rows(s.h), s.d, w.linear)), tensor_bytes(rows(s.d), s.h, w.linear))));
  // The embedding (replicated), the lm_head (its own matrix even when tied; sliced), the final norm.
  return add(
      add(add(tensor_bytes(s.V, s.d, w.tables), tensor_bytes(rows(s.V), s.d, w.tables)), mul(s.L, per_layer)),
      mul(4, s.d));
}

// The loader's largest transient copy (the same on every rank: a loader
// reading only its rows would still convert a whole tensor or table).
u64 transient_bytes(const Shape& s, const HeldWeights& w) {
  switch (w.transient) {
    case Transient::llama2c_stack:  // one stacked fp32 array of all layers (w1/w2/w3), or one table
      return mul(4, std::max(mul(s.L, s.h, s.d), mul(s.V, s.d)));
    case Transient::one_tensor_f32:  // the largest tensor read or drawn as fp32, then converted
      return mul(4, std::max(mul(s.h, s.d), mul(s.V, s.d)));
    case Transient::generated_codes:  // a bf16 table drawn as fp32, or one linear layer's 1-byte codes
      return std::max(mul(4, s.V, s.d), mul(s.h, s.d));
  }
  return 0;
}

// The weights as held, plus the loader's largest transient copy.
u64 weight_bytes(const Shape& s, const HeldWeights& w) {
  return add(held_weight_bytes(s, w, Slice{}), transient_bytes(s, w));
}

// Projections hold no weights of their own (they read the model's tensor):
// a float projection keeps a double integrator and column sums per source
// threshold group (2 groups); an integer one keeps, besides those doubles,
// int32 accumulator rows per (threshold group, weight group) pair
// (network/int_projection.hpp).
u64 projection_bytes(u64 d_in, u64 d_out, const HeldFormat& weights) {
  constexpr u64 kThresholdGroups = 2;
  u64 bytes = mul(kThresholdGroups * 2 * 8, d_out);
  if (is_integer(weights.type))
    bytes = add(bytes, mul(kThresholdGroups * 4, weight_groups(d_in, weights.group), d_out));
  return bytes;
}

// Calls f(edge) for every static projection of the network.
template <typename F>
void for_each_projection(const NetworkGraph& net, F f) {
  const auto& g = net.graph();
  for (auto [e, end] = boost::edges(g); e != end; ++e)
    if (g[*e].kind == EdgeKind::projection) f(g[*e]);
}

// The spiking projections of the network counted by shape (the layers
// repeat): (d_in, d_out, reads the table format) -> how many. A dense run
// keeps none. The lm_head's projection (spiked lm_head) reads the table
// format.
using ProjectionShapes = std::map<std::tuple<u64, u64, bool>, u64>;
ProjectionShapes projection_shapes(const NetworkGraph& net, ForwardMode mode) {
  ProjectionShapes shapes;
  if (mode == ForwardMode::dense) return shapes;
  for_each_projection(net, [&](const EdgeInfo& p) {
    const bool lm_head = p.name.find("lm_head") != std::string::npos;
    ++shapes[{static_cast<u64>(p.d_in), static_cast<u64>(p.d_out), lm_head}];
  });
  return shapes;
}

// The projections' state of the rows one rank holds.
u64 projections_bytes(const ProjectionShapes& shapes, const HeldWeights& w, const Slice& rows) {
  u64 total = 0;
  for (const auto& [shape, count] : shapes) {
    const auto& [d_in, d_out, lm_head] = shape;
    total = add(total, mul(count, projection_bytes(d_in, rows(d_out), lm_head ? w.tables : w.run_linear)));
  }
  return total;
}

u64 projections_bytes(const NetworkGraph& net, ForwardMode mode, const HeldWeights& w) {
  return projections_bytes(projection_shapes(net, mode), w, Slice{});
}

// One network's KV cache for `positions` positions.
u64 kv_cache_bytes(const Shape& s, u64 positions, ForwardMode mode, bool kv_spiking) {
  u64 per_vector = kCachedVectorOverhead;
  if (mode == ForwardMode::dense || !kv_spiking)
    per_vector += 4 * s.head_dim;
  else
    per_vector += sizeof(SpikeEvent) * s.head_dim;  // quantized: one code per channel; spiking: <= head_dim spikes (T = 1)
  return mul(mul(2, s.L, s.kv_heads, positions), per_vector);
}

// Calls f(node) for every encoder of the network.
template <typename F>
void for_each_encoder(const NetworkGraph& net, F f) {
  const auto& g = net.graph();
  for (auto [v, end] = boost::vertices(g); v != end; ++v)
    if (g[*v].kind == NodeKind::encoder) f(g[*v]);
}

// GIF neurons of the network: every encoder's.
u64 neurons(const NetworkGraph& net) {
  u64 n = 0;
  for_each_encoder(net, [&](const NodeInfo& e) { n = add(n, static_cast<u64>(e.size)); });
  return n;
}

// Spike populations recorded: one per encoder, or one per KV head of a K/V encoder.
u64 spike_populations(const NetworkGraph& net) {
  u64 pops = 0;
  for_each_encoder(net, [&](const NodeInfo& e) { pops = add(pops, static_cast<u64>(e.populations)); });
  return pops;
}

// Buffered bytes of one spike population of `neurons` neurons: at most
// neurons x steps x positions events, at most one chunk.
u64 spike_buffer_bytes(u64 neurons, u64 steps, u64 positions) {
  return mul(kBytesPerBufferedEvent, std::min<u64>(kChunkElements, mul(neurons, steps, positions)));
}

// Every recorded spike population of a transformer run: encoders of linear
// stages may run T = 2^addbit steps on salient channels, attention's K/V
// encoders one step.
u64 spike_recording_bytes(const NetworkGraph& net, const EncodingConfig& e, u64 positions) {
  const u64 steps = u64{1} << std::min(e.addbit, 16u);  // salient channels' T
  u64 total = 0;
  for_each_encoder(net, [&](const NodeInfo& n) {
    const u64 per_population = static_cast<u64>(n.size / std::max<std::size_t>(1, n.populations));
    const bool kv = net.stages().at(net.stage_index(n.stage)).kind == StageKind::attention;
    total = add(total, mul(static_cast<u64>(n.populations), spike_buffer_bytes(per_population, kv ? 1 : steps, positions)));
  });
  return add(total, kRecorderTransient);
}

// Activations saliency keeps: every encoder input of every calibration token.
u64 calibration_bytes(const Shape& s, u64 calib_tokens) {
  const u64 per_token = add(mul(s.L, add(add(mul(2, s.d), s.q), s.h)), s.d);
  const u64 stored = mul(calib_tokens, add(mul(4, per_token), mul(s.L * 4 + 1, 40)));  // + vector headers
  const u64 stage_copy = mul(3 * 4, calib_tokens, std::max(s.h, s.d));  // X and X Wᵀ W of one stage
  return add(stored, stage_copy);
}

u64 file_size_or_zero(const std::string& path) {
  if (path.empty()) return 0;
  std::error_code ec;
  const auto n = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<u64>(n);
}

bool uses_saliency(ForwardMode mode, const EncodingConfig& e) {
  return mode != ForwardMode::dense && e.saliency != SaliencyMethod::uniform && e.addbit != 0 &&
         e.calib_windows > 0;
}

// cgroup v2 limit minus usage, when a limit is set.
std::optional<u64> cgroup_headroom() {
  std::ifstream max_file("/sys/fs/cgroup/memory.max"), cur_file("/sys/fs/cgroup/memory.current");
  std::string max_text;
  u64 current = 0;
  if (!(max_file >> max_text) || max_text == "max" || !(cur_file >> current)) return std::nullopt;
  try {
    const u64 limit = std::stoull(max_text);
    return limit > current ? limit - current : 0;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Everything of a run's estimate that a rank's slice does not change, and
// the projections that it does, counted by shape (the layers repeat).
struct RunTerms {
  Shape s;
  HeldWeights held;
  ProjectionShapes projections;
  u64 kv_cache = 0;
  u64 logits_kept = 0;      // the run and dense logits, on every rank
  u64 rank0_recording = 0;  // the HDF5 file's buffers and the logits being written: rank 0 only
  u64 buffers = 0;
  u64 positions = 0;
};

RunTerms run_terms(const SimConfig& cfg, const LlamaConfig& model) {
  RunTerms t;
  t.s = shape_of(model);
  const Shape& s = t.s;
  const ForwardMode mode = cfg.run.mode;
  const EncodingConfig& e = cfg.encoding;
  // Positions of the sequence: the prompt is at most one token per byte plus BOS.
  u64 tokens = u(cfg.run.tokens);
  if (!cfg.input.prompt.empty()) tokens = cfg.input.prompt.size() + 1;
  u64 positions = add(tokens, u(cfg.input.generate));
  if (model.max_seq_len > 0) positions = std::min(positions, u(model.max_seq_len) + 1);
  t.positions = positions;

  const NetworkGraph net = map_transformer(model, TransformerMapOptions::for_run(mode, e));
  t.held = held_weights(cfg);
  t.projections = projection_shapes(net, mode);
  // The run's network and the dense reference it is compared with.
  t.kv_cache = add(kv_cache_bytes(s, positions, mode, e.kv_spiking),
                   mode == ForwardMode::dense ? kv_cache_bytes(s, positions, mode, e.kv_spiking)
                                              : kv_cache_bytes(s, positions, ForwardMode::dense, false));

  const u64 logits = mul(4, positions, s.V);
  t.logits_kept = mul(2, logits);  // run and dense logits, always kept
  if (cfg.record.enabled) {
    if (cfg.record.logits) t.rank0_recording = add(t.rank0_recording, logits);
    if (cfg.record.spikes && mode == ForwardMode::spiking)
      t.rank0_recording = add(t.rank0_recording, spike_recording_bytes(net, e, positions));
    if (cfg.record.trace_neurons > 0 && !cfg.record.trace_populations.empty() && mode == ForwardMode::spiking)
      t.rank0_recording = add(t.rank0_recording, mul(spike_populations(net), kPerTracePopulation));
  }

  const u64 n = neurons(net);
  t.buffers = add(mul(n, kPerNeuronState + kPerNeuronEvents), kBaseline);
  if (uses_saliency(mode, e)) {
    u64 calib_tokens = mul(u(e.calib_windows), std::max<u64>(tokens, 16));
    if (!e.calib_file.empty())
      calib_tokens = mul(std::max<u64>(1, u(e.calib_windows)), u(std::max(model.max_seq_len, 1)));
    t.buffers = add(t.buffers, calibration_bytes(s, calib_tokens));
  }
  t.buffers =
      add(t.buffers, mul(3, add(file_size_or_zero(cfg.input.token_file), file_size_or_zero(e.calib_file))));
  return t;
}

// One rank's share: its rows of the sliced tensors and projections, the
// rest in full; rank 0 records.
MemoryEstimate rank_share(const RunTerms& t, const Slice& rows) {
  MemoryEstimate m;
  m.weights = add(held_weight_bytes(t.s, t.held, rows), transient_bytes(t.s, t.held));
  m.projections = projections_bytes(t.projections, t.held, rows);
  m.kv_cache = t.kv_cache;
  m.recording = rows.shape.rank == 0 ? add(t.logits_kept, t.rank0_recording) : t.logits_kept;
  m.buffers = t.buffers;
  return m;
}

void check_rank_shape(const RankShape& r) {
  if (r.ranks >= 1 && r.rank >= 0 && r.rank < r.ranks) return;
  throw Error(ExitCode::usage,
              fmt::format("rank {} of {}: expected at least 1 rank and 0 <= rank < ranks", r.rank, r.ranks));
}

constexpr int kMaxRanks = 4096;

void check_max_ranks(int max_ranks) {
  if (max_ranks >= 1 && max_ranks <= kMaxRanks) return;
  throw Error(ExitCode::usage, fmt::format("--ranks: expected 1 to {} ranks, got {}", kMaxRanks, max_ranks));
}

RankShare largest_share(const RunTerms& t, int ranks) {
  RankShare best{ranks, 0, rank_share(t, Slice{{ranks, 0}})};
  for (int r = 1; r < ranks; ++r) {
    MemoryEstimate m = rank_share(t, Slice{{ranks, r}});
    if (m.total() > best.share.total()) best = {ranks, r, m};
  }
  return best;
}

// Whether every rank of R fits; rank 0 first, which records and mostly
// has the largest share, so most R that do not fit cost one share.
bool every_rank_fits(const RunTerms& t, int ranks, u64 limit) {
  for (int r = 0; r < ranks; ++r)
    if (rank_share(t, Slice{{ranks, r}}).total() > limit) return false;
  return true;
}

// The terms every rank holds whatever R, named for the message: the
// largest of them is what keeps every rank count above the limit.
std::string blocking_term(const MemoryEstimate& floor) {
  const std::pair<u64, const char*> terms[] = {
      {floor.weights, "weights (the embedding table, norms and the loader's transient copy)"},
      {floor.kv_cache, "KV cache (attention and the dense reference's, on every rank)"},
      {floor.recording, "recording (the logits kept for the comparison, and rank 0's recording buffers)"},
      {floor.buffers,
       "buffers (per-neuron counters of full-size encoders, calibration activations, program)"},
  };
  const auto* largest = std::max_element(std::begin(terms), std::end(terms),
                                         [](const auto& a, const auto& b) { return a.first < b.first; });
  return fmt::format("{} {}", largest->second, format_bytes(largest->first));
}

RanksNeeded ranks_needed(const RunTerms& t, u64 limit, int max_ranks) {
  for (int r = 1; r <= max_ranks; ++r)
    if (every_rank_fits(t, r, limit)) return {r, largest_share(t, r), {}};
  RanksNeeded none{std::nullopt, largest_share(t, max_ranks), {}};
  const MemoryEstimate floor = rank_share(t, Slice{{}, true});
  if (floor.total() > limit)
    none.blocked = fmt::format(
        "what every rank holds whatever the rank count, {} on rank 0 ({}), is already more than {}; "
        "the largest term that never shrinks is {}",
        format_bytes(floor.total()), floor.breakdown(), format_bytes(limit), blocking_term(floor));
  else
    none.blocked = fmt::format(
        "at {} ranks rank {} still needs {} ({}); every rank holds {} whatever the rank count, so more ranks "
        "may fit (raise --ranks)",
        max_ranks, none.largest.rank, format_bytes(none.largest.share.total()),
        none.largest.share.breakdown(), format_bytes(floor.total()));
  return none;
}

}  // namespace

std::string format_bytes(u64 bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes >= kGiB) return fmt::format("{:.2f} GiB", b / static_cast<double>(kGiB));
  if (bytes >= kMiB) return fmt::format("{:.1f} MiB", b / static_cast<double>(kMiB));
  if (bytes >= kKiB) return fmt::format("{:.0f} KiB", b / static_cast<double>(kKiB));
  return fmt::format("{} bytes", bytes);
}

std::string MemoryEstimate::breakdown() const {
  return fmt::format("weights {}, projections {}, KV cache {}, recording {}, buffers {}",
                     format_bytes(weights), format_bytes(projections), format_bytes(kv_cache),
                     format_bytes(recording), format_bytes(buffers));
}

HeldWeights held_weights(const SimConfig& cfg) {
  HeldWeights w;
  const WeightsConfig& q = cfg.weights;
  auto quantized_by_run = [&](HeldWeights held) {
    held.run_linear = held.linear;
    // weights.bits quantizes the loaded linear layers (after loading: the loaded model is the peak).
    if (q.bits != 0)
      held.run_linear = {q.bits <= 4 ? WeightType::int4 : WeightType::int8, static_cast<u64>(q.group), !q.symmetric};
    return held;
  };
  if (cfg.model.path == "generated") {
    const GeneratedModelConfig& g = cfg.generated;
    if (g.dtype == WeightType::f32) {
      w.transient = Transient::one_tensor_f32;
    } else if (is_integer(g.dtype)) {
      w.linear = {g.dtype, static_cast<u64>(g.group), true};
      w.tables = {WeightType::bf16, 0, false};
      w.transient = Transient::generated_codes;
    } else {
      w.linear = w.tables = {g.dtype, 0, false};
      w.transient = Transient::one_tensor_f32;
    }
    w.source = fmt::format("[generated] dtype {}", weight_type_name(g.dtype));
    return quantized_by_run(w);
  }
  const std::filesystem::path path(cfg.model.path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    // Hugging Face: the element type of the safetensors header (mapping reads no weights).
    w.transient = Transient::one_tensor_f32;
    const auto single = path / "model.safetensors", index = path / "model.safetensors.index.json";
    const auto file = std::filesystem::exists(single, ec) ? single : index;
    try {
      const SafetensorsArchive archive(file);
      auto held_type = [&](const std::string& name) {
        if (!archive.contains(name)) return WeightType::f32;
        const SafetensorsDtype t = archive.info(name).dtype;
        return t == SafetensorsDtype::bf16 ? WeightType::bf16 : t == SafetensorsDtype::f16 ? WeightType::f16 : WeightType::f32;
      };
      w.linear = {held_type("model.layers.0.mlp.up_proj.weight"), 0, false};
      w.tables = {held_type("model.embed_tokens.weight"), 0, false};
      w.source = fmt::format("safetensors {}", weight_type_name(w.linear.type));
    } catch (const Error&) {
      w.source = "fp32 (safetensors header unreadable)";
    }
    return quantized_by_run(w);
  }
  // llama2.c is fp32; GGUF is charged as fp32 too (its block types are not read here).
  w.transient = Transient::llama2c_stack;
  w.source = "fp32";
  return quantized_by_run(w);
}

MemoryEstimate estimate_run_memory(const SimConfig& cfg, const LlamaConfig& model) {
  return estimate_run_memory(cfg, model, RankShape{});
}

MemoryEstimate estimate_run_memory(const SimConfig& cfg, const LlamaConfig& model, const RankShape& ranks) {
  check_rank_shape(ranks);
  return rank_share(run_terms(cfg, model), Slice{ranks});
}

LoadPeak estimate_load_peak(const SimConfig& cfg, const LlamaConfig& model) {
  const Shape s = shape_of(model);
  const HeldWeights held = held_weights(cfg);
  return {held_weight_bytes(s, held, Slice{}), transient_bytes(s, held), kBaseline};
}

RankShare largest_rank_share(const SimConfig& cfg, const LlamaConfig& model, int ranks) {
  check_rank_shape({ranks, 0});
  return largest_share(run_terms(cfg, model), ranks);
}

MemoryEstimate replicated_share(const SimConfig& cfg, const LlamaConfig& model) {
  return rank_share(run_terms(cfg, model), Slice{{}, true});
}

RanksNeeded ranks_needed(const SimConfig& cfg, const LlamaConfig& model, u64 rank_memory_bytes,
                         int max_ranks) {
  check_max_ranks(max_ranks);
  return ranks_needed(run_terms(cfg, model), rank_memory_bytes, max_ranks);
}

RankPlan plan_ranks(const SimConfig& cfg, const LlamaConfig& model, u64 rank_memory_bytes, int max_ranks) {
  check_max_ranks(max_ranks);
  const RunTerms t = run_terms(cfg, model);
  RankPlan plan;
  for (int r = 1; r < max_ranks; r *= 2) plan.rows.push_back(largest_share(t, r));
  plan.rows.push_back(largest_share(t, max_ranks));
  plan.replicated = rank_share(t, Slice{{}, true});
  plan.load_peak = estimate_load_peak(cfg, model);
  plan.needed = ranks_needed(t, rank_memory_bytes, max_ranks);
  plan.positions = t.positions;
  plan.weights_source = t.held.source;
  return plan;
}

MemoryEstimate estimate_linear_stack_memory(const SimConfig& cfg) {
  const std::vector<std::size_t> sizes(cfg.linear_stack.sizes.begin(), cfg.linear_stack.sizes.end());
  const NetworkGraph net = map_linear_stack(sizes);
  MemoryEstimate m;
  // The stack's generated fp32 weights, held as the model holds them.
  for_each_projection(net, [&](const EdgeInfo& p) {
    m.weights = add(m.weights, mul(sizeof(float), p.d_in, p.d_out));
  });
  m.projections = projections_bytes(net, ForwardMode::spiking, HeldWeights{});
  if (cfg.record.enabled && cfg.record.spikes)
    for_each_encoder(net, [&](const NodeInfo& n) {
      m.recording = add(m.recording, spike_buffer_bytes(n.size, u64{1} << std::min(cfg.encoding.addbit, 16u),
                                                        u(cfg.run.tokens)));
    });
  m.buffers = add(mul(neurons(net), kPerNeuronState + kPerNeuronEvents), kBaseline);
  return m;
}

MemoryEstimate estimate_eval_memory(const SimConfig& cfg, const LlamaConfig& model, u64 token_file_bytes) {
  const Shape s = shape_of(model);
  const EncodingConfig& e = cfg.encoding;
  const u64 positions = u(cfg.eval.seq) + (cfg.eval.rows ? 0 : 1);
  const NetworkGraph net = map_transformer(model, TransformerMapOptions::for_run(cfg.run.mode, e));
  MemoryEstimate m;
  const HeldWeights held = held_weights(cfg);
  m.weights = weight_bytes(s, held);
  m.projections = projections_bytes(net, cfg.run.mode, held);
  m.kv_cache = kv_cache_bytes(s, positions, cfg.run.mode, e.kv_spiking);
  m.recording = mul(2 * 4, positions, s.V);  // one window's logits and the copy scoring reads
  m.buffers = add(mul(neurons(net), kPerNeuronState + kPerNeuronEvents), kBaseline);
  if (uses_saliency(cfg.run.mode, e)) m.buffers = add(m.buffers, calibration_bytes(s, mul(u(e.calib_windows), positions)));
  m.buffers = add(m.buffers, mul(3, add(token_file_bytes, file_size_or_zero(e.calib_file))));
  return m;
}

namespace {
std::uint64_t status_bytes(const std::string& wanted) {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == wanted) {
      std::uint64_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}
}  // namespace

std::uint64_t peak_rss() { return status_bytes("VmHWM:"); }
std::uint64_t current_rss() { return status_bytes("VmRSS:"); }

std::optional<u64> available_memory() {
  std::optional<u64> avail;
  std::ifstream meminfo("/proc/meminfo");
  std::string key, unit;
  u64 value = 0;
  while (meminfo >> key >> value) {
    std::getline(meminfo, unit);
    if (key == "MemAvailable:") {
      avail = mul(value, kKiB);  // the kernel reports kB (KiB)
      break;
    }
  }
  if (const auto cg = cgroup_headroom()) avail = avail ? std::min(*avail, *cg) : *cg;
  return avail;
}

MemoryLimit memory_limit(std::optional<u64> max_memory, const std::string& max_memory_text) {
  MemoryLimit limit{std::numeric_limits<u64>::max(), "no limit known"};
  if (const auto avail = available_memory()) {
    limit.bytes = *avail;
    limit.source = "available memory: MemAvailable of /proc/meminfo and the cgroup limit";
  }
  if (max_memory && *max_memory <= limit.bytes) {
    limit.bytes = *max_memory;
    limit.source = "--max-memory " + (max_memory_text.empty() ? format_bytes(*max_memory) : max_memory_text);
  }
  return limit;
}

void check_memory(const MemoryEstimate& estimate, const MemoryLimit& limit, const std::string& what,
                  const std::string& hint) {
  if (estimate.total() <= limit.bytes) return;
  throw Error(ExitCode::resource,
              fmt::format("{} needs about {} ({}); limit is {} ({}){}{}", what,
                          format_bytes(estimate.total()), estimate.breakdown(), format_bytes(limit.bytes),
                          limit.source, hint.empty() ? "" : ". ", hint));
}

NodeRanks node_local_ranks() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE"}) {
    const char* value = std::getenv(var);
    if (value == nullptr || *value == '\0') continue;
    const std::string_view text(value);
    int count = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), count);
    if (ec != std::errc{} || end != text.data() + text.size() || count < 1)
      throw Error(ExitCode::usage,
                  fmt::format("environment variable {} = '{}': expected the number of ranks on this node, a "
                              "positive integer",
                              var, text));
    return {count, fmt::format("{}={}", var, count)};
  }
  return {1, "neither OMPI_COMM_WORLD_LOCAL_SIZE nor SLURM_NTASKS_PER_NODE is set"};
}

MemoryLimit rank_memory_limit(std::optional<u64> rank_memory, const std::string& rank_memory_text,
                              std::optional<u64> available, const NodeRanks& node) {
  if (rank_memory)
    return {*rank_memory,
            "--rank-memory " + (rank_memory_text.empty() ? format_bytes(*rank_memory) : rank_memory_text)};
  const std::string ranks_here =
      fmt::format("{} rank{} on this node ({})", node.count, node.count == 1 ? "" : "s", node.source);
  if (!available)
    return {std::numeric_limits<u64>::max(),
            "no limit known: the available memory cannot be read; " + ranks_here};
  return {*available / static_cast<u64>(std::max(node.count, 1)),
          fmt::format("available memory {} (MemAvailable of /proc/meminfo and the cgroup limit) / {}",
                      format_bytes(*available), ranks_here)};
}

MemoryLimit rank_memory_limit(std::optional<u64> rank_memory, const std::string& rank_memory_text) {
  // The node's rank count is read even with --rank-memory, so that a bad
  // variable is reported whichever limit applies.
  const NodeRanks node = node_local_ranks();
  return rank_memory_limit(rank_memory, rank_memory_text, rank_memory ? std::nullopt : available_memory(),
                           node);
}

void check_rank_memory(const MemoryEstimate& estimate, const MemoryLimit& limit, int rank, int ranks) {
  check_memory(
      estimate, limit, fmt::format("rank {} of {}", rank, ranks),
      "Use more ranks (`spikesim plan CONFIG.toml --rank-memory SIZE` says how many), fewer tokens, or "
      "raise --rank-memory");
}

MemoryEstimate check_run_memory(const SimConfig& cfg, std::optional<u64> max_memory,
                                const std::string& max_memory_text) {
  MemoryEstimate m;
  std::string what;
  if (cfg.run.workload == Workload::linear_stack) {
    m = estimate_linear_stack_memory(cfg);
    what = fmt::format("the linear stack of '{}'", cfg.source_name);
  } else {
    const LlamaConfig model = model_config_for(cfg);
    m = estimate_run_memory(cfg, model);
    what = fmt::format("the run of '{}' (model '{}', {} mode)", cfg.source_name, cfg.model.path,
                       forward_mode_name(cfg.run.mode));
  }
  check_memory(m, memory_limit(max_memory, max_memory_text), what,
               "Use fewer tokens, a smaller model, record.spikes = false, or raise --max-memory");
  return m;
}

MemoryEstimate check_eval_memory(const SimConfig& cfg, std::optional<u64> max_memory,
                                 const std::string& max_memory_text) {
  const LlamaConfig model = model_config_for(cfg);
  const MemoryEstimate m = estimate_eval_memory(cfg, model, file_size_or_zero(cfg.input.token_file));
  check_memory(m, memory_limit(max_memory, max_memory_text),
               fmt::format("eval of '{}' ({} mode, --seq {})", cfg.model.path, forward_mode_name(cfg.run.mode),
                           cfg.eval.seq),
               "Use a shorter --seq, a smaller model, or raise --max-memory");
  return m;
}

u64 parse_memory_size(const std::string& text, const std::string& option) {
  auto bad = [&]() -> u64 {
    throw Error(ExitCode::usage,
                fmt::format("{}: expected a size such as 512M, 8G or 1.5GiB (K, M, G, T are powers of 1024), "
                            "got '{}'",
                            option, text));
  };
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) != 0 || text[i] == '.')) ++i;
  if (i == 0) return bad();
  double number = 0;
  try {
    std::size_t used = 0;
    number = std::stod(text.substr(0, i), &used);
    if (used != i) return bad();
  } catch (const std::exception&) {
    return bad();
  }
  std::string unit;
  for (char c : text.substr(i))
    if (c != ' ') unit += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();  // "MB" -> "M"
  if (unit.size() > 1 && unit.back() == 'I') unit.pop_back();  // "MIB" -> "MI" -> "M"
  double scale = 0;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "K")
    scale = static_cast<double>(kKiB);
  else if (unit == "M")
    scale = static_cast<double>(kMiB);
  else if (unit == "G")
    scale = static_cast<double>(kGiB);
  else if (unit == "T")
    scale = static_cast<double>(kGiB) * 1024.0;
  else
    return bad();
  const double bytes = number * scale;
  if (!(bytes >= 1.0) || bytes > 1.8e19) return bad();
  return static_cast<u64>(bytes);
}

}  // namespace spikesim
