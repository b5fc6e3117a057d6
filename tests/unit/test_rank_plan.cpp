// The per-rank memory estimate (sim/memory_estimate.hpp, "Per rank"): with
// one rank it is the estimate as it was before ranks existed, term for term;
// the rows of every static projection are split by core/partition.hpp and
// counted exactly, uneven slices included; the replicated terms stay; the
// rank count a run needs; the per-rank limit and refusal.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/partition.hpp"
#include "io/config/config.hpp"
#include "io/formats/generated_model.hpp"
#include "sim/memory_estimate.hpp"

using namespace spikesim;
using u64 = std::uint64_t;

namespace {

constexpr u64 kGiB = u64{1} << 30;

// The configurations whose R = 1 estimate is pinned (kGolden).
struct EstimateCase {
  const char* name;
  SimConfig cfg;
  LlamaConfig model;
};

std::vector<EstimateCase> estimate_cases() {
  std::vector<EstimateCase> cases;
  auto generated = [&](const char* name, auto edit) {
    SimConfig cfg = default_config();
    edit(cfg);
    cases.push_back({name, cfg, generated_config(cfg.generated)});
  };
  generated("default", [](SimConfig&) {});
  generated("dense", [](SimConfig& c) { c.run.mode = ForwardMode::dense; });
  generated("quantized, dense KV, no recording", [](SimConfig& c) {
    c.run.mode = ForwardMode::quantized;
    c.encoding.kv_spiking = false;
    c.record.enabled = false;
  });
  generated("int4 g128, spiked lm_head, traces", [](SimConfig& c) {
    c.generated.dim = 256;
    c.generated.hidden_dim = 704;
    c.generated.dtype = WeightType::int4;
    c.generated.group = 128;
    c.encoding.spike_lm_head = true;
    c.record.trace_populations = {"layer0.*"};
  });
  generated("bf16, weights.bits 4 g64, prompt and generation", [](SimConfig& c) {
    c.generated.dtype = WeightType::bf16;
    c.weights.bits = 4;
    c.weights.group = 64;
    c.input.prompt = "Once upon a time";
    c.input.generate = 8;
  });
  generated("int8 per channel, addbit 2, uniform saliency", [](SimConfig& c) {
    c.generated.dtype = WeightType::int8;
    c.generated.group = 0;
    c.encoding.addbit = 2;
    c.encoding.saliency = SaliencyMethod::uniform;
  });
  for (const char* file : {"plan_llama70b_bf16.toml", "plan_llama70b_int4.toml"}) {
    SimConfig cfg = load_config(std::string(SPIKESIM_SOURCE_DIR "/examples/") + file, {});
    cases.push_back({file, cfg, generated_config(cfg.generated)});
  }
  return cases;
}

// estimate_run_memory of estimate_cases() as the code computed it before
// the per-rank estimate (commit 3e9b750): weights, projections, KV cache,
// recording, buffers. With one rank the estimate must not move.
struct Terms {
  u64 weights, projections, kv_cache, recording, buffers;
};
const Terms kGolden[] = {
    {2034176, 81920, 122880, 3227648, 42830336},    // default
    {2034176, 0, 73728, 49152, 42065920},           // dense
    {2034176, 81920, 73728, 32768, 42809856},       // quantized, dense KV, no recording
    {1325568, 258048, 204800, 41172992, 43622912},  // int4 g128, spiked lm_head, traces
    {1116672, 131072, 192000, 4453376, 42876832},   // bf16, weights.bits 4 g64, prompt and generation
    {670720, 102400, 122880, 5193728, 42086400},    // int8 per channel, addbit 2, uniform saliency
    {139004510208, 214958080, 471859200, 1727922176, 9319501824},  // plan_llama70b_bf16.toml
    {39001817088, 4493148160, 471859200, 1727922176, 9319501824},  // plan_llama70b_int4.toml
};
// (A deliberate change of the estimate's formulas updates these figures.)

SimConfig example(const char* file) {
  return load_config(std::string(SPIKESIM_SOURCE_DIR "/examples/") + file, {});
}

// Bytes of a [rows x in] slice stored as `type`, worked out here from
// weight_tensor.hpp rather than taken from the estimate: the elements, and
// for integer types a 4-byte scale and a 1-byte zero point (asymmetric, as
// the generated model is) per output and group of `group` inputs.
u64 slice_bytes(u64 rows, u64 in, WeightType type, u64 group) {
  u64 bytes = (rows * in * storage_bits(type) + 7) / 8;
  if (is_integer(type)) bytes += rows * (group == 0 ? 1 : (in + group - 1) / group) * 5;
  return bytes;
}

u64 rows(u64 n, int ranks, int rank) {
  return rank_rows(n, ranks, rank).size();
}

// Bytes of rank `rank`'s rows of every static projection's tensor of a
// generated model (linear layers in [generated] dtype; lm_head f32 for an
// f32 model, else bf16 for int8/int4 and the dtype for floats).
u64 sliced_weight_bytes(const LlamaConfig& m, const GeneratedModelConfig& g, int ranks, int rank) {
  const u64 d = m.dim, h = m.hidden_dim, q = u64(m.n_heads * m.head_dim), k = u64(m.n_kv_heads * m.head_dim);
  const u64 group = is_integer(g.dtype) ? u64(g.group) : 0;
  auto t = [&](u64 out, u64 in) { return slice_bytes(rows(out, ranks, rank), in, g.dtype, group); };
  const u64 per_layer = t(q, d) + t(k, d) + t(k, d) + t(d, q) + t(h, d) + t(h, d) + t(d, h);
  const WeightType table = is_integer(g.dtype) ? WeightType::bf16 : g.dtype;
  return u64(m.n_layers) * per_layer + slice_bytes(rows(m.vocab_size, ranks, rank), d, table, 0);
}

// What rank r holds of the sliced tensors, as the estimate counts it: its
// weights term less the floor's (the floor holds no rows).
u64 estimated_slice(const SimConfig& cfg, const LlamaConfig& m, int ranks, int rank) {
  return estimate_run_memory(cfg, m, {ranks, rank}).weights - replicated_share(cfg, m).weights;
}

// Restores an environment variable when the test leaves.
class EnvGuard {
 public:
  explicit EnvGuard(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
  }
  ~EnvGuard() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("rank plan: one rank is the estimate as it was, term for term", "[memory][ranks]") {
  const auto cases = estimate_cases();
  REQUIRE(cases.size() == std::size(kGolden));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].name);
    const MemoryEstimate one = estimate_run_memory(cases[i].cfg, cases[i].model, RankShape{1, 0});
    CHECK(one.weights == kGolden[i].weights);
    CHECK(one.projections == kGolden[i].projections);
    CHECK(one.kv_cache == kGolden[i].kv_cache);
    CHECK(one.recording == kGolden[i].recording);
    CHECK(one.buffers == kGolden[i].buffers);
    CHECK(estimate_run_memory(cases[i].cfg, cases[i].model).total() == one.total());
    const RankShare largest = largest_rank_share(cases[i].cfg, cases[i].model, 1);
    CHECK(largest.share.total() == one.total());
    // The load peak is the whole model as loaded plus the transient: the
    // weights term of one rank, and the program beside it.
    const LoadPeak peak = estimate_load_peak(cases[i].cfg, cases[i].model);
    CHECK(peak.weights + peak.transient == one.weights);
    CHECK(peak.program > 0);
  }
}

TEST_CASE("rank plan: the slices of every rank add up to the whole tensors", "[memory][ranks]") {
  for (const char* file : {"plan_llama70b_bf16.toml", "plan_llama70b_int4.toml"}) {
    INFO(file);
    const SimConfig cfg = example(file);
    const LlamaConfig m = generated_config(cfg.generated);
    const MemoryEstimate whole = estimate_run_memory(cfg, m);
    const MemoryEstimate floor = replicated_share(cfg, m);
    // The linear layers and lm_head at full size, counted here.
    CHECK(whole.weights - floor.weights == sliced_weight_bytes(m, cfg.generated, 1, 0));
    CHECK(floor.projections == 0);
    for (const int ranks : {2, 3, 17}) {  // 17: the KV rows (16 blocks) cut row by row
      INFO(ranks << " ranks");
      u64 weights = 0, projections = 0;
      for (int r = 0; r < ranks; ++r) {
        const MemoryEstimate share = estimate_run_memory(cfg, m, {ranks, r});
        weights += share.weights - floor.weights;
        projections += share.projections;
      }
      CHECK(weights == whole.weights - floor.weights);
      CHECK(projections == whole.projections);
    }
  }
}

TEST_CASE("rank plan: shares shrink with the rank count, replicated terms stay", "[memory][ranks]") {
  const SimConfig cfg = example("plan_llama70b_int4.toml");
  const LlamaConfig m = generated_config(cfg.generated);
  const MemoryEstimate one = estimate_run_memory(cfg, m);
  const MemoryEstimate floor = replicated_share(cfg, m);
  MemoryEstimate previous = one;
  for (int ranks = 2; ranks <= 256; ranks *= 2) {
    INFO(ranks << " ranks");
    const RankShare largest = largest_rank_share(cfg, m, ranks);
    const MemoryEstimate& s = largest.share;
    CHECK(s.weights < previous.weights);
    CHECK(s.projections < previous.projections);
    CHECK(s.weights > floor.weights);
    // Attention, the KV caches, the per-neuron buffers and rank 0's
    // recording are the same whatever the rank count.
    CHECK(s.kv_cache == one.kv_cache);
    CHECK(s.buffers == one.buffers);
    CHECK(largest.rank == 0);  // it records
    CHECK(s.recording == one.recording);
    // Other ranks keep only the logits for the comparison.
    const MemoryEstimate other = estimate_run_memory(cfg, m, {ranks, ranks - 1});
    CHECK(other.recording < one.recording);
    CHECK(other.recording == u64{2} * 4 * 128 * 32000);  // run and dense logits, 128 positions
    CHECK(other.kv_cache == one.kv_cache);
    previous = s;
  }
  // Halving: each doubling takes about half of the sliced weights away.
  const u64 sliced = one.weights - floor.weights;
  const u64 at8 = largest_rank_share(cfg, m, 8).share.weights - floor.weights;
  CHECK(static_cast<double>(at8) == Approx(static_cast<double>(sliced) / 8).epsilon(0.01));
}

TEST_CASE("rank plan: uneven slices are counted row by row", "[memory][ranks]") {
  // No width divides into whole blocks of 64 per rank: dim 200 (blocks of
  // 64, 64, 72), hidden 333 (128, 128, 77), KV width 100 (fewer than 3
  // blocks of 64, cut row by row: 33, 33, 34), vocab 1000 (320, 320, 360).
  REQUIRE(rows(200, 3, 2) == 72);
  REQUIRE(rows(333, 3, 2) == 77);
  REQUIRE(rows(100, 3, 0) == 33);
  REQUIRE(rows(100, 3, 2) == 34);
  REQUIRE(rows(1000, 3, 2) == 360);
  for (const WeightType dtype : {WeightType::f32, WeightType::bf16, WeightType::int4}) {
    INFO(weight_type_name(dtype));
    SimConfig cfg = default_config();
    cfg.generated.dim = 200;
    cfg.generated.hidden_dim = 333;
    cfg.generated.heads = 4;  // head_dim 50
    cfg.generated.kv_heads = 2;
    cfg.generated.vocab = 1000;
    cfg.generated.layers = 2;
    cfg.generated.dtype = dtype;
    cfg.generated.group = 64;
    const LlamaConfig m = generated_config(cfg.generated);
    for (const int ranks : {3, 5, 7}) {
      for (int r = 0; r < ranks; ++r) {
        INFO(ranks << " ranks, rank " << r);
        CHECK(estimated_slice(cfg, m, ranks, r) == sliced_weight_bytes(m, cfg.generated, ranks, r));
      }
    }
    // The projections' rows: rank 2 of 3 has 72 of dim's 200 rows; spiking
    // f32/bf16 projections keep 2 threshold groups x (integrator, column
    // sum) doubles per row.
    if (!is_integer(dtype)) {
      cfg.run.mode = ForwardMode::spiking;
      const u64 per_row = 2 * 2 * 8;
      const u64 rows_rank2 = 2 * (rows(200, 3, 2) + rows(100, 3, 2) * 2 + rows(200, 3, 2) +
                                  rows(333, 3, 2) * 2 + rows(200, 3, 2));
      CHECK(estimate_run_memory(cfg, m, {3, 2}).projections == per_row * rows_rank2);
    }
  }
}

TEST_CASE("rank plan: ranks needed for the 70B configs", "[memory][ranks]") {
  // bf16: 128.5 GiB of weights as held (129.5 GiB with the transient
  // copy), 12.2 GiB on every rank; two halves fit 80 GiB, three thirds
  // 64 GiB. int4: 51.2 GiB in all fits one rank of either size.
  struct Expect {
    const char* file;
    u64 memory;
    int ranks;
  };
  for (const Expect& e :
       {Expect{"plan_llama70b_bf16.toml", 80 * kGiB, 2}, Expect{"plan_llama70b_bf16.toml", 64 * kGiB, 3},
        Expect{"plan_llama70b_int4.toml", 80 * kGiB, 1}, Expect{"plan_llama70b_int4.toml", 64 * kGiB, 1},
        Expect{"plan_llama70b_int4.toml", 32 * kGiB, 2}}) {
    INFO(e.file << " in ranks of " << format_bytes(e.memory));
    const SimConfig cfg = example(e.file);
    const LlamaConfig m = generated_config(cfg.generated);
    const RanksNeeded needed = ranks_needed(cfg, m, e.memory);
    REQUIRE(needed.ranks);
    CHECK(*needed.ranks == e.ranks);
    CHECK(needed.largest.ranks == e.ranks);
    CHECK(needed.largest.share.total() <= e.memory);
    CHECK(needed.blocked.empty());
    // The smallest: one rank fewer does not fit.
    if (e.ranks > 1) CHECK(largest_rank_share(cfg, m, e.ranks - 1).share.total() > e.memory);
  }
}

TEST_CASE("rank plan: more memory per rank never needs more ranks", "[memory][ranks]") {
  for (const char* file : {"plan_llama70b_bf16.toml", "plan_llama70b_int4.toml"}) {
    INFO(file);
    const SimConfig cfg = example(file);
    const LlamaConfig m = generated_config(cfg.generated);
    const u64 floor = replicated_share(cfg, m).total();
    int previous = 256;
    for (u64 memory = 13 * kGiB; memory <= 160 * kGiB; memory += 3 * kGiB) {
      INFO(format_bytes(memory));
      const RanksNeeded needed = ranks_needed(cfg, m, memory);
      REQUIRE(needed.ranks);  // above the floor, 256 ranks are enough for 70B
      CHECK(*needed.ranks <= previous);
      previous = *needed.ranks;
    }
    CHECK(previous == 1);
    // Below what every rank holds whatever R, no rank count fits, and the
    // reason names the term that never shrinks (the calibration
    // activations of saliency, replicated on every rank).
    const RanksNeeded none = ranks_needed(cfg, m, floor - 1);
    CHECK_FALSE(none.ranks);
    CHECK(none.largest.ranks == 256);
    CHECK_THAT(none.blocked, Catch::Contains("never shrinks") && Catch::Contains("buffers"));
    // Above the floor but with too few ranks allowed: more ranks may fit.
    const RanksNeeded few = ranks_needed(cfg, m, floor + kGiB, 4);
    CHECK_FALSE(few.ranks);
    CHECK_THAT(few.blocked, Catch::Contains("at 4 ranks") && Catch::Contains("raise --ranks"));
  }
}

TEST_CASE("rank plan: the plan lists 1, 2, 4, ... ranks and the answer", "[memory][ranks]") {
  const SimConfig cfg = example("plan_llama70b_bf16.toml");
  const LlamaConfig m = generated_config(cfg.generated);
  const RankPlan plan = plan_ranks(cfg, m, 64 * kGiB, 12);
  std::vector<int> listed;
  for (const RankShare& row : plan.rows) listed.push_back(row.ranks);
  CHECK(listed == std::vector<int>{1, 2, 4, 8, 12});
  REQUIRE(plan.needed.ranks);
  CHECK(*plan.needed.ranks == 3);
  CHECK(plan.positions == 128);  // run.tokens
  CHECK(plan.replicated.total() == replicated_share(cfg, m).total());
  // The load peak does not shrink: every rank reads the whole model.
  CHECK(plan.load_peak.total() > 64 * kGiB);
  CHECK(plan.load_peak.weights > 128 * kGiB);
}

TEST_CASE("rank plan: a rank that does not fit is refused by name", "[memory][ranks]") {
  MemoryEstimate m;
  m.weights = 30 * kGiB;
  m.kv_cache = 11 * kGiB;
  m.buffers = kGiB / 5;
  const MemoryLimit limit = rank_memory_limit(32 * kGiB, "32G", std::nullopt, NodeRanks{});
  try {
    check_rank_memory(m, limit, 3, 4);
    FAIL("no refusal");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::resource);
    CHECK_THAT(e.what(), Catch::StartsWith("rank 3 of 4 needs about 41.20 GiB (weights 30.00 GiB") &&
                             Catch::Contains("limit is 32.00 GiB (--rank-memory 32G)"));
  }
  CHECK_NOTHROW(check_rank_memory(m, rank_memory_limit(42 * kGiB, "42G", std::nullopt, NodeRanks{}), 3, 4));
  CHECK_THROWS_AS(estimate_run_memory(default_config(), generated_config(default_config().generated), {4, 4}),
                  Error);
  CHECK_THROWS_AS(ranks_needed(default_config(), generated_config(default_config().generated), kGiB, 0),
                  Error);
}

TEST_CASE("rank plan: the per-rank limit shares the node's memory among its ranks", "[memory][ranks]") {
  const EnvGuard ompi("OMPI_COMM_WORLD_LOCAL_SIZE"), slurm("SLURM_NTASKS_PER_NODE");
  ::unsetenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  ::unsetenv("SLURM_NTASKS_PER_NODE");
  CHECK(node_local_ranks().count == 1);
  ::setenv("SLURM_NTASKS_PER_NODE", "2", 1);
  CHECK(node_local_ranks().count == 2);
  ::setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "4", 1);  // OpenMPI's count comes first
  const NodeRanks node = node_local_ranks();
  CHECK(node.count == 4);
  CHECK(node.source == "OMPI_COMM_WORLD_LOCAL_SIZE=4");

  const MemoryLimit shared = rank_memory_limit(std::nullopt, "", 64 * kGiB, node);
  CHECK(shared.bytes == 16 * kGiB);
  CHECK_THAT(shared.source, Catch::Contains("64.00 GiB") && Catch::Contains("4 ranks on this node") &&
                                Catch::Contains("OMPI_COMM_WORLD_LOCAL_SIZE=4"));
  // --rank-memory overrides, whatever the node holds.
  const MemoryLimit given = rank_memory_limit(80 * kGiB, "80G", 64 * kGiB, node);
  CHECK(given.bytes == 80 * kGiB);
  CHECK(given.source == "--rank-memory 80G");
  // Unknown available memory: no limit, said so.
  CHECK(rank_memory_limit(std::nullopt, "", std::nullopt, node).source.find("no limit known") == 0);

  for (const char* bad : {"four", "0", "4x", "-2"}) {
    INFO(bad);
    ::setenv("OMPI_COMM_WORLD_LOCAL_SIZE", bad, 1);
    try {
      node_local_ranks();
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::usage);
      CHECK_THAT(e.what(), Catch::Contains("OMPI_COMM_WORLD_LOCAL_SIZE") && Catch::Contains(bad));
    }
  }
}
