// The network that is drawn is the network that runs: the mapper's stages
// are the forward's accounts, the run file records them and the energy
// figures the run used, the report reads both back from the file, and the
// graph of a LLaMA-7B shape is drawn from shapes alone.
#include <catch2/catch.hpp>

#include <hdf5.h>
#include <sys/resource.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "io/config/config.hpp"
#include "io/formats/generated_model.hpp"
#include "io/formats/token_file.hpp"
#include "io/report/report.hpp"
#include "network/llama/mapper.hpp"
#include "sim/run_driver.hpp"
#include "sim/transformer.hpp"
#include "tests/support/raw_hdf5.hpp"
#include "tests/support/small_run.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;

namespace {

LlamaConfig small_config() {
  GeneratedModelSpec s;
  s.dim = 32, s.hidden_dim = 48, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.vocab = 40, s.max_seq_len = 24;
  return generated_config(s);
}

const LlamaModel& small_model() {
  static const LlamaModel m = [] {
    GeneratedModelSpec s;
    s.dim = 32, s.hidden_dim = 48, s.layers = 2, s.heads = 4, s.kv_heads = 2, s.vocab = 40, s.max_seq_len = 24;
    return generate_model(s);
  }();
  return m;
}

std::uint64_t peak_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::uint64_t>(u.ru_maxrss);
}

// Overwrites one f64 attribute of a run file in place (the raw C API, not
// the code under test).
void set_f64_attribute(const fs::path& file, const std::string& object, const std::string& name, double value) {
  const hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  REQUIRE(f >= 0);
  // Through the object: H5Aopen_by_name's handle cannot be written in HDF5 1.10.
  const hid_t o = H5Oopen(f, object.c_str(), H5P_DEFAULT);
  REQUIRE(o >= 0);
  const hid_t a = H5Aopen(o, name.c_str(), H5P_DEFAULT);
  REQUIRE(a >= 0);
  REQUIRE(H5Awrite(a, H5T_NATIVE_DOUBLE, &value) >= 0);
  H5Aclose(a);
  H5Oclose(o);
  H5Fclose(f);
}

}  // namespace

TEST_CASE("network: the mapper declares the stages in run order and every node belongs to one", "[network]") {
  const NetworkGraph g = map_transformer(small_config(), {true, false});
  std::vector<std::string> names;
  for (const StageInfo& s : g.stages()) names.push_back(s.name);
  const std::vector<std::string> layer = {"attn_norm", "attn_in",  "rope",     "attention",
                                          "attn_out",  "attn_residual", "ffn_norm", "mlp_in",
                                          "silu_mul",  "mlp_down", "mlp_residual"};
  std::vector<std::string> expected = {"embedding"};
  for (int l = 0; l < 2; ++l)
    for (const auto& s : layer) expected.push_back("layer" + std::to_string(l) + "." + s);
  expected.push_back("final_norm");
  expected.push_back("lm_head");
  CHECK(names == expected);
  for (const StageInfo& s : g.stages()) {
    INFO(s.name);
    const std::string leaf = s.name.substr(s.name.find('.') + 1);
    const StageKind want = leaf == "attention" ? StageKind::attention
                           : (leaf == "attn_in" || leaf == "attn_out" || leaf == "mlp_in" || leaf == "mlp_down")
                               ? StageKind::linear
                               : StageKind::dense;
    CHECK(s.kind == want);
  }
  const auto& graph = g.graph();
  for (auto [v, end] = boost::vertices(graph); v != end; ++v) {
    const NodeInfo& n = graph[*v];
    INFO(n.name);
    if (n.kind == NodeKind::input || n.kind == NodeKind::output) continue;
    CHECK(g.has_stage(n.stage));
  }
  CHECK(g.node(g.vertex("layer1.k_enc")).stage == "layer1.attention");
  CHECK(g.node(g.vertex("layer1.k_enc")).populations == 2);
  CHECK(g.node(g.vertex("layer0.gate")).stage == "layer0.mlp_in");

  SECTION("a spiked lm_head is a linear stage with its encoder") {
    const NetworkGraph h = map_transformer(small_config(), {true, true});
    CHECK(h.stages().back().kind == StageKind::linear);
    CHECK(h.node(h.vertex("lm_head_in")).stage == "lm_head");
  }
  SECTION("a dense run's network encodes nothing") {
    EncodingSpec e;
    e.spike_lm_head = true;
    const auto opts = TransformerMapOptions::for_run(ForwardMode::dense, e);
    CHECK_FALSE(opts.kv_spiking);
    CHECK_FALSE(opts.spike_lm_head);
    CHECK_FALSE(map_transformer(small_config(), opts).contains("layer0.k_enc"));
  }
}

TEST_CASE("network: the forward's accounts are the network's stages, and each population has one", "[network]") {
  for (const ForwardMode mode : {ForwardMode::dense, ForwardMode::quantized, ForwardMode::spiking}) {
    EncodingSpec e;
    e.spike_lm_head = mode == ForwardMode::spiking;
    const Transformer t(small_model(), mode, e);
    INFO(forward_mode_name(mode));
    const auto accounts = t.accounts();
    const auto& stages = t.network().stages();
    REQUIRE(accounts.size() == stages.size());
    for (std::size_t i = 0; i < stages.size(); ++i) {
      CHECK(accounts[i].name == stages[i].name);
      CHECK(accounts[i].layer == stages[i].layer);
      CHECK(accounts[i].kind == stage_kind_name(stages[i].kind));
    }
    std::set<std::string> kv_stages;
    for (const Population* p : t.populations()) {
      const std::string stage = t.stage_of(*p);
      CHECK(t.network().has_stage(stage));
      if (p->name().find("k_enc.h") != std::string::npos) kv_stages.insert(stage);
    }
    if (mode != ForwardMode::dense) CHECK(kv_stages == std::set<std::string>{"layer0.attention", "layer1.attention"});
  }
}

TEST_CASE("network: a LLaMA-7B shape is drawn from shapes alone, without a weight", "[network]") {
  SimConfig cfg = default_config();
  cfg.generated.dim = 4096, cfg.generated.hidden_dim = 11008, cfg.generated.layers = 32;
  cfg.generated.heads = 32, cfg.generated.kv_heads = 32, cfg.generated.vocab = 32000;
  cfg.generated.max_seq_len = 2048;
  const std::uint64_t before = peak_rss_kib();
  const NetworkGraph g = network_for(cfg);
  // 26 GB of fp32 weights would have raised the peak far past this.
  CHECK(peak_rss_kib() - before < 256 * 1024);
  CHECK(g.stages().size() == 1 + 32 * 11 + 2);  // embedding, 11 per layer, final_norm, lm_head
  std::size_t projections = 0;
  for (auto [e, end] = boost::edges(g.graph()); e != end; ++e)
    projections += g.graph()[*e].kind == EdgeKind::projection;
  CHECK(projections == 32 * 7);

  SECTION("a linear_stack config draws the linear stack") {
    cfg.run.workload = Workload::linear_stack;
    cfg.linear_stack.sizes = {64, 32, 16};
    const NetworkGraph s = network_for(cfg);
    REQUIRE(s.stages().size() == 2);
    CHECK(s.stages()[0].name == "layer0.encoder");
    CHECK(s.contains("layer1.integrator"));
  }
}

TEST_CASE("network: the run file records the stage order, population stages and energy figures", "[network]") {
  static const test::SmallRun run("network");
  test::RawFile f(run.file);
  const RunReport r = read_run_report(run.file);
  REQUIRE(!r.stages.empty());
  for (std::size_t i = 0; i < r.stages.size(); ++i) {
    INFO(r.stages[i].name);
    CHECK(test::u64(f, "/spikesim/stages/" + r.stages[i].name, "order") == i);
  }
  CHECK(r.stages.front().name == "embedding");
  CHECK(r.stages.back().name == "lm_head");
  for (const PopulationReport& p : r.populations) {
    INFO(p.name);
    CHECK(test::string_attribute(f, "/spikesim/populations/" + p.name, "stage") == p.stage);
  }
  CHECK(test::f64(f, "/spikesim/energy_model", "ac_pj") == 0.9);
  CHECK(test::string_attribute(f, "/spikesim/energy_model", "ac_convention") == "amplitude");

  SECTION("the report prices populations with the file's figures, not today's presets") {
    test::TempDir dir("network_energy");
    const fs::path copy = dir / "out.h5";
    fs::copy_file(run.file, copy);
    set_f64_attribute(copy, "/spikesim/energy_model", "ac_pj", 1.8);
    const RunReport doubled = read_run_report(copy);
    REQUIRE(doubled.populations.size() == r.populations.size());
    bool some_synaptic = false;
    for (std::size_t i = 0; i < r.populations.size(); ++i) {
      REQUIRE(r.populations[i].energy);
      REQUIRE(doubled.populations[i].energy);
      CHECK(doubled.populations[i].energy->synaptic_pj == Approx(2 * r.populations[i].energy->synaptic_pj));
      some_synaptic = some_synaptic || r.populations[i].energy->synaptic_pj > 0;
    }
    CHECK(some_synaptic);
  }
}

TEST_CASE("network: eval flags are aliases of config keys", "[network][eval]") {
  test::TempDir dir("network_eval");
  std::vector<int> tokens(3 * 16 + 1);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int>((i * 37 + 1) % 256);
  write_token_file(dir / "tokens.i32", tokens);
  const std::vector<std::string> base = {"eval", "--model", "generated", "--tokens", (dir / "tokens.i32").string(),
                                         "--json"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = base;
    a.insert(a.end(), extra.begin(), extra.end());
    return test::run_spikesim(a, dir.path());
  };
  auto without_wall = [](const std::string& out) {
    auto j = nlohmann::json::parse(out);
    j.erase("wall_s");
    return j;
  };
  const auto flags = with({"--windows", "2", "--seq", "16", "--mode", "spiking", "--abits", "3", "--signed"});
  const auto sets = with({"--set", "eval.windows=2", "--set", "eval.seq=16", "--set", "run.mode=spiking", "--set",
                          "encoding.bits=3", "--set", "encoding.signed=true"});
  INFO(flags.err << sets.err);
  REQUIRE(flags.code == 0);
  REQUIRE(sets.code == 0);
  CHECK(without_wall(flags.out) == without_wall(sets.out));
  CHECK(without_wall(flags.out)["abits"] == 3);

  SECTION("--set reaches keys without a flag") {
    const auto loihi = with({"--windows", "2", "--seq", "16", "--mode", "spiking", "--set", "energy.preset=loihi"});
    REQUIRE(loihi.code == 0);
    CHECK(without_wall(loihi.out)["energy_pj"] != without_wall(flags.out)["energy_pj"]);
  }
  SECTION("a flag and a --set of the same key is a usage error") {
    const auto both = with({"--mode", "spiking", "--set", "run.mode=dense"});
    CHECK(both.code == 2);
    CHECK_THAT(both.err, Catch::Contains("--mode") && Catch::Contains("run.mode"));
  }
}
