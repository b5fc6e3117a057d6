#pragma once
// How much memory a run needs, estimated before anything large is allocated,
// and the refusal when that exceeds what the machine (or --max-memory) allows.
//
// The estimate reads only the model's shape: the [generated] section, a
// Hugging Face config.json (plus the safetensors header, checked against it)
// or the 28-byte llama2.c header (peek_model_config, io/formats/model_loader.hpp).
// With P positions per sequence (run.tokens + input.generate for `run`,
// --seq (+1 for windows) for `eval`), L layers, d = dim, h = hidden_dim,
// q = n_heads·head_dim, k = n_kv_heads·head_dim, V = vocab, all in bytes:
//
//   weights      as held (held_weights): the linear layers wq, wk, wv, wo
//                (q·d, k·d, k·d, d·q), w_gate, w_up, w_down (h·d, h·d, d·h)
//                per layer, the embedding and lm_head (V·d each; lm_head
//                is its own matrix even when tied), norms fp32 (4·(2L + 1)·d).
//                A tensor of n = out·in weights costs n·b/8 bytes for b-bit
//                storage (f32 32, bf16/f16 16, int8 8, int4 4), and integer
//                tensors add per output and weight group a 4-byte scale and
//                a 1-byte zero point (asymmetric).
//                The format: the generated model's [generated] dtype/group
//                (int8/int4: tables bf16); a Hugging Face folder's
//                safetensors dtype read from the header; fp32 for llama2.c
//                and, not read here, GGUF (an over-estimate for Q8_0/Q4_0).
//                weights.bits quantizes after loading, so the loaded
//                format is the peak.
//                Plus the loader's largest transient copy: llama2.c reads
//                one stacked fp32 array of all layers (4·L·h·d); Hugging
//                Face and the float generated model one tensor as fp32
//                (4·max(h·d, V·d)); the int8/int4 generated model one
//                layer's 1-byte codes or a bf16 table drawn as fp32.
//   projections  quantized/spiking only: every projection of the network
//                the run executes (network_for, the shape-only Network)
//                reads the model's tensor and keeps, per output, a double
//                integrator and column sum per source threshold group
//                (2 groups · 2 · 8 · d_out); integer projections also keep
//                int32 accumulator rows per (threshold group, weight group)
//                (2 · ceil(d_in / group) · 4 · d_out); the lm_head too
//                when spiked
//   KV cache     per layer, per K and V, per position, per KV head: a cached
//                vector of ~160 bytes of bookkeeping plus
//                  dense (or kv_spiking off): 4 · head_dim
//                  quantized: one code per channel, 24 · head_dim
//                  spiking: at most head_dim · T spikes (the K/V encoders
//                           run T = 1 step), one 24-byte SpikeEvent each
//                `run` adds the dense reference's cache (4 · k · P · 2 · L)
//   recording    the logits kept for the comparison (`run`: run + dense,
//                2 · 4 · P · V, plus one copy while they are written), and
//                per recorded spike population of n neurons three appendable
//                datasets (timestamps f64, node_ids u64, amplitudes i32) each
//                buffering up to one chunk of 65536 events, and HDF5's chunk
//                cache as much again: 2 · 20 · min(65536, n · T · P) with T =
//                2^addbit (at most 2.5 MiB per population), plus 1 MiB while
//                a chunk is compressed; per traced population 2 · 65536 · 4
//   buffers      per-neuron counters and state (64 bytes per GIF neuron of
//                the network's encoders),
//                the spike event buffer (16 bytes per neuron), the
//                calibration activations saliency keeps (4 bytes per encoder
//                input per calibration token, plus one stage's matrix
//                copies), the token file (3 × its size while it is read)
//                and 40 MiB for the program, libraries and allocator slack
//
// The limit is min(--max-memory, available memory), where available memory
// is MemAvailable of /proc/meminfo, lowered to what the cgroup v2 limit
// (memory.max - memory.current) leaves when one is set.
//
// Per rank (tensor parallel, core/partition.hpp): rank r of R holds rows
// rank_rows(d_out, R, r) of each static projection's tensor (wq, wk, wv, wo,
// w_gate, w_up, w_down, lm_head), counted per slice as that slice would be
// stored (its own scales and zero points, its own rounding to whole bytes),
// and the projections' integrator and accumulator rows of those rows only.
// Everything else is charged in full to every rank: the embedding table and
// norms, the loader's transient copy, both KV caches (attention is
// replicated, and so is the dense reference run), the logits kept for the
// comparison, the per-neuron counters and buffers (encoders keep full-size
// arrays on every rank), calibration activations and the token file. The
// rest of the recording term (the HDF5 file's buffers, the logits copy
// being written) is rank 0's alone. With R = 1 this is the estimate above,
// term for term.
//
// That is the steady state a rank runs in. The loader still reads the whole
// model on every rank before keeping its rows, so while loading every rank
// holds the whole model as loaded plus the transient copy (load_peak): a
// separate figure, the next limit, which the per-rank refusal does not use
// (it would make more ranks useless until the loader reads only its rows).
//
// The per-rank limit is --rank-memory when given, else the available memory
// divided by the ranks sharing this node (OMPI_COMM_WORLD_LOCAL_SIZE under
// OpenMPI, else SLURM_NTASKS_PER_NODE, else 1).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/config/config.hpp"
#include "network/llama/model.hpp"

namespace spikesim {

struct MemoryEstimate {
  std::uint64_t weights = 0;
  std::uint64_t projections = 0;
  std::uint64_t kv_cache = 0;
  std::uint64_t recording = 0;
  std::uint64_t buffers = 0;
  [[nodiscard]] std::uint64_t total() const { return weights + projections + kv_cache + recording + buffers; }
  // "weights 1.2 GiB, projections ..., KV cache ..., recording ..., buffers ..."
  [[nodiscard]] std::string breakdown() const;
};

// One tensor's storage format: element type, inputs per scale group (0 =
// per output channel) and whether zero points are stored (integer types).
struct HeldFormat {
  WeightType type = WeightType::f32;
  std::uint64_t group = 0;
  bool zero_points = false;
};
// The loader's largest transient copy (see weights above).
enum class Transient : std::uint8_t { llama2c_stack, one_tensor_f32, generated_codes };
// How a run holds its model's weights.
struct HeldWeights {
  HeldFormat linear;      // as loaded or generated
  HeldFormat tables;      // embedding and lm_head
  HeldFormat run_linear;  // after weights.bits quantization (= linear without it)
  Transient transient = Transient::one_tensor_f32;
  std::string source;     // where the format came from, for messages
};
// The format of the model `config` names (see weights above).
HeldWeights held_weights(const SimConfig& config);

struct MemoryLimit {
  std::uint64_t bytes = 0;
  std::string source;  // e.g. "--max-memory 512M" or "available memory (MemAvailable in /proc/meminfo)"
};

// The estimate of `spikesim run` for a transformer workload with this model shape.
MemoryEstimate estimate_run_memory(const SimConfig& config, const LlamaConfig& model);
// The estimate of `spikesim run` with workload = "linear_stack".
MemoryEstimate estimate_linear_stack_memory(const SimConfig& config);
// The estimate of `spikesim eval`; `token_file_bytes` is the size of --tokens.
MemoryEstimate estimate_eval_memory(const SimConfig& config, const LlamaConfig& model,
                                    std::uint64_t token_file_bytes);

// The share of rank `ranks.rank` of `ranks.ranks` (see "Per rank" above);
// RankShape{} is the estimate above. Error(ExitCode::usage) unless
// 1 <= ranks and 0 <= rank < ranks.
// (RankShape: core/partition.hpp.)
MemoryEstimate estimate_run_memory(const SimConfig& config, const LlamaConfig& model, const RankShape& ranks);

// What every rank needs while the loader reads the whole model, before it
// keeps its rows: the same on every rank, whatever R.
struct LoadPeak {
  std::uint64_t weights = 0;    // the whole model as loaded (every tensor, every row)
  std::uint64_t transient = 0;  // the loader's largest transient copy
  std::uint64_t program = 0;    // program, libraries and allocator slack
  [[nodiscard]] std::uint64_t total() const { return weights + transient + program; }
};
LoadPeak estimate_load_peak(const SimConfig& config, const LlamaConfig& model);

// The largest steady-state share among the R ranks (the lowest rank on ties).
struct RankShare {
  int ranks = 1;
  int rank = 0;
  MemoryEstimate share;
};
RankShare largest_rank_share(const SimConfig& config, const LlamaConfig& model, int ranks);
// What a rank holds with no rows of any tensor: the floor no rank count
// goes below (rank 0's, which records too).
MemoryEstimate replicated_share(const SimConfig& config, const LlamaConfig& model);

// The smallest R in 1..max_ranks whose largest share fits rank_memory_bytes.
struct RanksNeeded {
  std::optional<int> ranks;  // none: no R up to max_ranks fits
  RankShare largest;         // the largest share at `ranks`, or at max_ranks when none fits
  std::string blocked;       // when none fits: what keeps every share above the limit
};
RanksNeeded ranks_needed(const SimConfig& config, const LlamaConfig& model, std::uint64_t rank_memory_bytes,
                         int max_ranks = 256);

// Everything `spikesim plan` prints: R = 1, 2, 4, ... up to max_ranks (and
// max_ranks itself), the floor, the load peak and the answer.
struct RankPlan {
  std::vector<RankShare> rows;
  MemoryEstimate replicated;
  LoadPeak load_peak;
  RanksNeeded needed;
  std::uint64_t positions = 0;  // positions per sequence the estimate assumes
  std::string weights_source;   // held_weights(config).source
};
RankPlan plan_ranks(const SimConfig& config, const LlamaConfig& model, std::uint64_t rank_memory_bytes,
                    int max_ranks = 256);

// Bytes the system can still give this process, when it can be read.
std::optional<std::uint64_t> available_memory();
// The most this process has held resident so far (VmHWM of /proc/self/status),
// and what it holds now (VmRSS); 0 when unknown.
std::uint64_t peak_rss();
std::uint64_t current_rss();
// min(max_memory, available_memory()); with neither known, no limit (UINT64_MAX).
MemoryLimit memory_limit(std::optional<std::uint64_t> max_memory, const std::string& max_memory_text = {});

// Throws Error(ExitCode::resource, "<what> needs about X (weights A, ...); limit is Y (<source>). <hint>").
void check_memory(const MemoryEstimate& estimate, const MemoryLimit& limit, const std::string& what,
                  const std::string& hint = {});

// Ranks of this job sharing this node: OMPI_COMM_WORLD_LOCAL_SIZE (OpenMPI),
// else SLURM_NTASKS_PER_NODE, else 1. Error(ExitCode::usage) naming the
// variable when it is set but not a positive integer.
struct NodeRanks {
  int count = 1;
  std::string source;  // e.g. "OMPI_COMM_WORLD_LOCAL_SIZE=4"
};
NodeRanks node_local_ranks();
// One rank's limit: rank_memory (--rank-memory) when given, else
// `available` / node.count (no limit when the available memory is unknown).
MemoryLimit rank_memory_limit(std::optional<std::uint64_t> rank_memory, const std::string& rank_memory_text,
                              std::optional<std::uint64_t> available, const NodeRanks& node);
// The same with available_memory() and node_local_ranks().
MemoryLimit rank_memory_limit(std::optional<std::uint64_t> rank_memory,
                              const std::string& rank_memory_text = {});
// Throws Error(ExitCode::resource, "rank R of N needs about X (weights A, ...); limit is Y (<source>).
// <hint>").
void check_rank_memory(const MemoryEstimate& estimate, const MemoryLimit& limit, int rank, int ranks);

// The whole check of `spikesim run`: reads the model's shape (model errors
// come first, as the loader would report them), estimates and checks.
MemoryEstimate check_run_memory(const SimConfig& config, std::optional<std::uint64_t> max_memory,
                                const std::string& max_memory_text = {});
// The same for `spikesim eval`.
MemoryEstimate check_eval_memory(const SimConfig& config, std::optional<std::uint64_t> max_memory,
                                 const std::string& max_memory_text = {});

// "512M", "8G", "1.5GiB", "1048576" (bytes); K, M, G, T are powers of 1024,
// with or without a trailing "B" or "iB", in any case. Error(ExitCode::usage)
// naming `option` for anything else or for zero.
std::uint64_t parse_memory_size(const std::string& text, const std::string& option = "--max-memory");

// "812 KiB", "3.4 MiB", "1.25 GiB".
std::string format_bytes(std::uint64_t bytes);

}  // namespace spikesim
