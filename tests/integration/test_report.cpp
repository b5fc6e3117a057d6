// `spikesim report`: every figure equals what the HDF5 file holds, read back
// here with the raw HDF5 C API (not the reader under test).
#include <catch2/catch.hpp>

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/report/report.hpp"
#include "tests/support/raw_hdf5.hpp"
#include "tests/support/small_run.hpp"

using namespace spikesim;
namespace fs = std::filesystem;
using test::children;
using test::dataset;
using test::f64;
using test::RawFile;
using test::string_attribute;
using test::u64;

namespace {

// The run every test reads (tests/support/small_run.hpp), made once per
// process and removed at exit.
const test::SmallRun& the_run() {
  static const test::SmallRun run("report");
  return run;
}

}  // namespace

TEST_CASE("report totals and NeuroBench figures equal the file", "[report]") {
  const test::SmallRun& run = the_run();
  const RunReport r = read_run_report(run.file);
  const RawFile f(run.file);
  CHECK(r.complete);
  REQUIRE(r.has_totals);
  const std::string tr = "/spikesim/totals/run", td = "/spikesim/totals/dense_equivalent";
  CHECK(r.run.spikes == u64(f, tr, "spikes"));
  CHECK(r.run.synaptic_events == u64(f, tr, "synaptic_events"));
  CHECK(r.run.amplitude_acs == u64(f, tr, "amplitude_acs"));
  CHECK(r.run.shift_add_acs == u64(f, tr, "shift_add_acs"));
  CHECK(r.run.neurons == u64(f, tr, "neurons"));
  CHECK(r.dense_equivalent.dense[DenseOp::mac] == u64(f, td, "dense_mac"));
  CHECK(r.energy.total_pj() == f64(f, "/spikesim/totals", "run_total_pj"));
  CHECK(r.energy_neurobench.total_pj() == f64(f, "/spikesim/totals", "neurobench_total_pj"));
  CHECK(r.dense_energy.total_pj() == f64(f, "/spikesim/totals", "dense_total_pj"));
  CHECK(r.energy_ratio() ==
        f64(f, "/spikesim/totals", "run_total_pj") / f64(f, "/spikesim/totals", "dense_total_pj"));

  // NeuroBench names, by their definitions in docs/reference/neurobench.md.
  const NeuroBenchFigures& nb = r.neurobench;
  CHECK(nb.dense == u64(f, td, "dense_mac"));
  CHECK(nb.effective_acs == u64(f, tr, "effective_acs"));
  CHECK(nb.effective_macs == u64(f, tr, "effective_macs") + u64(f, tr, "dense_mac"));
  CHECK(nb.membrane_updates == u64(f, tr, "membrane_updates"));
  const double clocked =
      static_cast<double>(u64(f, tr, "membrane_updates")) - static_cast<double>(u64(f, tr, "neuron_tokens"));
  CHECK(nb.activation_sparsity ==
        Approx(1.0 - static_cast<double>(u64(f, tr, "spikes")) / clocked).epsilon(1e-12));
  // Footprint: fp32 weights of the seven projections per layer and the lm_head.
  const std::uint64_t d = 64, h = 160, hd = 64 / 4, kv = 2, vocab = 96, layers = 2;
  const std::uint64_t weights = layers * (d * d + 2 * kv * hd * d + d * d + 3 * d * h) + vocab * d;
  REQUIRE(nb.footprint_bytes.has_value());
  CHECK(*nb.footprint_bytes == weights * 4);
  CHECK(*nb.footprint_bytes == u64(f, "/spikesim", "footprint_bytes"));
  REQUIRE(nb.connection_sparsity.has_value());
  CHECK(*nb.connection_sparsity == f64(f, "/spikesim", "connection_sparsity"));
  CHECK(*nb.connection_sparsity >= 0.0);
  CHECK(*nb.connection_sparsity < 0.01);  // generated weights are dense

  // The same figures in the JSON.
  const auto j = report_json(r);
  CHECK(j["neurobench"]["Dense"].get<std::uint64_t>() == nb.dense);
  CHECK(j["neurobench"]["Effective_MACs"].get<std::uint64_t>() == nb.effective_macs);
  CHECK(j["neurobench"]["Effective_ACs"].get<std::uint64_t>() == nb.effective_acs);
  CHECK(j["neurobench"]["MembraneUpdates"].get<std::uint64_t>() == nb.membrane_updates);
  CHECK(j["neurobench"]["ActivationSparsity"].get<double>() == nb.activation_sparsity);
  CHECK(j["neurobench"]["Footprint"].get<std::uint64_t>() == *nb.footprint_bytes);
  CHECK(j["neurobench"]["ConnectionSparsity"].get<double>() == *nb.connection_sparsity);
  CHECK(j["spikesim_figures"]["amplitude_acs"].get<std::uint64_t>() == u64(f, tr, "amplitude_acs"));
  // `run --json` says the same under the same names (one definition per number).
  const auto& run_nb = the_run().summary["neurobench"];
  CHECK(run_nb["Effective_MACs"].get<std::uint64_t>() == nb.effective_macs);
  CHECK(run_nb["Effective_MACs_synaptic"].get<std::uint64_t>() == nb.effective_macs_synaptic);
  CHECK(run_nb["Effective_ACs"].get<std::uint64_t>() == nb.effective_acs);
  CHECK(run_nb["Dense"].get<std::uint64_t>() == nb.dense);
  CHECK(run_nb["MembraneUpdates"].get<std::uint64_t>() == nb.membrane_updates);
  CHECK(run_nb["ActivationSparsity"].get<double>() == nb.activation_sparsity);
  CHECK(j["totals"]["energy"]["total_pj"].get<double>() == f64(f, "/spikesim/totals", "run_total_pj"));
  CHECK(j["tokens"].get<std::uint64_t>() == run.tokens);
  CHECK(j["model"]["format"].get<std::string>() == string_attribute(f, "/spikesim", "model_format"));
  CHECK(j["mode"].get<std::string>() == "spiking");
  REQUIRE(j["accuracy"].is_object());
  CHECK(j["accuracy"]["positions"].get<std::uint64_t>() == run.tokens);
}

TEST_CASE("report --json and run --json spell the totals the same way", "[report]") {
  // Both sides go through io/counts_json; a field added to one and not the
  // other, or a count that the file loses on the way, shows up here.
  const test::SmallRun& run = the_run();
  const auto report = report_json(read_run_report(run.file))["totals"];
  const auto& summary = run.summary;
  for (const char* key : {"run", "dense_equivalent", "energy", "energy_neurobench", "dense_energy"}) {
    INFO("totals." << key);
    REQUIRE(report.contains(key));
    REQUIRE(summary.contains(key));
    CHECK(report[key] == summary[key]);
  }
  CHECK(report["run"]["dense_ops"].size() == kDenseOpKinds);
}

TEST_CASE("report stage and layer tables equal the stage groups", "[report]") {
  const test::SmallRun& run = the_run();
  const RunReport r = read_run_report(run.file);
  const RawFile f(run.file);
  const auto names = children(f, "/spikesim/stages");
  REQUIRE(r.stages.size() == names.size());
  std::map<int, std::uint64_t> layer_spikes, layer_events, layer_acs;
  std::map<int, double> layer_pj, layer_dense_pj;
  for (const auto& name : names) {
    const std::string g = "/spikesim/stages/" + name;
    const auto it =
        std::find_if(r.stages.begin(), r.stages.end(), [&](const CountsRow& s) { return s.name == name; });
    REQUIRE(it != r.stages.end());
    INFO("stage " << name);
    const int layer = static_cast<int>(f64(f, g, "layer"));
    CHECK(it->layer == layer);
    CHECK(it->kind == string_attribute(f, g, "kind"));
    CHECK(it->run.spikes == u64(f, g + "/run", "spikes"));
    CHECK(it->run.synaptic_events == u64(f, g + "/run", "synaptic_events"));
    CHECK(it->run.effective_macs == u64(f, g + "/run", "effective_macs"));
    CHECK(it->dense_equivalent.dense[DenseOp::mac] == u64(f, g + "/dense_equivalent", "dense_mac"));
    CHECK(it->energy.total_pj() == f64(f, g, "run_total_pj"));
    CHECK(it->dense_energy.total_pj() == f64(f, g, "dense_total_pj"));
    layer_spikes[layer] += u64(f, g + "/run", "spikes");
    layer_events[layer] += u64(f, g + "/run", "synaptic_events");
    layer_acs[layer] += u64(f, g + "/run", "amplitude_acs");
    layer_pj[layer] += f64(f, g, "run_total_pj");
    layer_dense_pj[layer] += f64(f, g, "dense_total_pj");
  }
  // Run order: embedding first, lm_head last.
  CHECK(r.stages.front().name == "embedding");
  CHECK(r.stages.back().name == "lm_head");
  REQUIRE(r.layers.size() == layer_spikes.size());
  for (const CountsRow& l : r.layers) {
    INFO("layer " << l.name);
    CHECK(l.name == (l.layer < 0 ? std::string("other") : "layer" + std::to_string(l.layer)));
    CHECK(l.run.spikes == layer_spikes[l.layer]);
    CHECK(l.run.synaptic_events == layer_events[l.layer]);
    CHECK(l.run.amplitude_acs == layer_acs[l.layer]);
    CHECK(l.energy.total_pj() == Approx(layer_pj[l.layer]).epsilon(1e-12));
    CHECK(l.dense_energy.total_pj() == Approx(layer_dense_pj[l.layer]).epsilon(1e-12));
  }
  CHECK(r.layers.back().name == "other");
  // Layer spikes add up to the run's.
  std::uint64_t spikes = 0;
  for (const auto& l : r.layers) spikes += l.run.spikes;
  CHECK(spikes == u64(f, "/spikesim/totals/run", "spikes"));
}

TEST_CASE("report populations: counters, grid and bits per neuron per token from the file", "[report]") {
  const test::SmallRun& run = the_run();
  const RunReport r = read_run_report(run.file);
  const RawFile f(run.file);
  const auto names = children(f, "/spikesim/populations");
  REQUIRE(r.populations.size() == names.size());
  std::size_t salient_populations = 0;
  for (const auto& name : names) {
    INFO("population " << name);
    const PopulationReport* p = r.population(name);
    REQUIRE(p != nullptr);
    const std::string g = "/spikesim/populations/" + name;
    const auto spikes = dataset<std::uint64_t>(f, g + "/spikes", H5T_NATIVE_UINT64);
    std::uint64_t sum = 0;
    for (auto s : spikes) sum += s;
    CHECK(p->totals.spikes == sum);
    CHECK(p->totals.spikes == u64(f, g + "/totals", "spikes"));
    CHECK(p->neurons == spikes.size());
    // Every spike was recorded: the SONATA dataset has as many events.
    CHECK(dataset<std::uint64_t>(f, "/spikes/" + name + "/node_ids", H5T_NATIVE_UINT64).size() == sum);
    // Grid: bits per neuron per token = mean log2(L + 1), L = (2^bits - 1) * steps (unsigned run).
    const auto bits = dataset<std::uint8_t>(f, g + "/bits", H5T_NATIVE_UINT8);
    const auto steps = dataset<std::uint32_t>(f, g + "/steps", H5T_NATIVE_UINT32);
    REQUIRE(bits.size() == spikes.size());
    REQUIRE(steps.size() == spikes.size());
    REQUIRE(p->grid.known);
    CHECK_FALSE(p->grid.is_signed);
    double mean = 0;
    std::uint64_t salient = 0;
    const std::uint32_t fewest = *std::min_element(steps.begin(), steps.end());
    for (std::size_t i = 0; i < bits.size(); ++i) {
      CHECK(bits[i] == 4);  // encoding.bits default
      mean += std::log2(static_cast<double>(((1u << bits[i]) - 1) * steps[i]) + 1);
      salient += steps[i] > fewest ? 1 : 0;
    }
    mean /= static_cast<double>(bits.size());
    CHECK(p->grid.bits_per_neuron_token == Approx(mean).epsilon(1e-12));
    CHECK(p->grid.salient == salient);
    salient_populations += salient > 0 ? 1 : 0;
    CHECK(p->spikes_per_neuron_token() ==
          static_cast<double>(sum) / static_cast<double>(u64(f, g + "/totals", "neuron_tokens")));
    // Stage membership: K/V encoders belong to their layer's attention stage.
    if (name.find("k_enc") != std::string::npos || name.find("v_enc") != std::string::npos)
      CHECK(p->stage == name.substr(0, name.find('.')) + ".attention");
    else
      CHECK(p->stage == name);
    REQUIRE(p->energy.has_value());
    if (p->stage == name)
      CHECK(p->energy->total_pj() > 0);
    else  // K/V encoders: their replays are counted on the attention stage, not on the population
      CHECK(p->energy->total_pj() >= 0);
  }
  CHECK(salient_populations > 0);  // hessian saliency, addbit = 1: some channels get T = 2

  // Tokens and the first step of each token.
  CHECK(u64(f, "/spikesim", "tokens") == run.tokens);
  const auto token_steps = dataset<std::uint64_t>(f, "/spikesim/token_steps", H5T_NATIVE_UINT64);
  REQUIRE(token_steps.size() == run.tokens + 1);
  CHECK(std::is_sorted(token_steps.begin(), token_steps.end()));
  for (const auto& name : children(f, "/spikes"))
    for (double t : dataset<double>(f, "/spikes/" + name + "/timestamps", H5T_NATIVE_DOUBLE)) {
      CHECK(t >= static_cast<double>(token_steps.front()));
      CHECK(t < static_cast<double>(token_steps.back()));
    }

  // Top lists: ordered and drawn from the populations.
  const auto active = top_active(r, 3);
  REQUIRE(active.size() == 3);
  CHECK(active[0]->totals.spikes >= active[1]->totals.spikes);
  CHECK(active[1]->totals.spikes >= active[2]->totals.spikes);
  const auto hungry = top_energy(r, 3);
  REQUIRE(hungry.size() == 3);
  CHECK(hungry[0]->energy->total_pj() >= hungry[1]->energy->total_pj());
}

TEST_CASE("report text names every figure and the NeuroBench metrics", "[report]") {
  const RunReport r = read_run_report(the_run().file);
  const std::string text = format_report_text(r, 4);
  for (const char* needle :
       {"Dense", "Effective_MACs", "Effective_ACs", "ActivationSparsity", "MembraneUpdates", "Footprint",
        "ConnectionSparsity", "ACs (1 per amplitude unit)", "Per layer", "Per stage", "layer0.mlp_in",
        "bits/neuron/tok", "spk/neuron/tok", "Most active populations", "Most energy-hungry populations",
        "top-1 agreement", "encoding.bits", "complete"})
    CHECK_THAT(text, Catch::Contains(needle));
  CHECK_THAT(text, Catch::Contains(std::to_string(r.run.spikes)));
  CHECK_THAT(text, Catch::Contains(std::to_string(r.neurobench.dense)));
  const auto j = report_json(r, 4);
  CHECK(j["top_active"].size() == 4);
  CHECK(j["layers"].size() == r.layers.size());
  CHECK(j["stages"].size() == r.stages.size());
  CHECK(j["populations"].size() == r.populations.size());
  CHECK(j["settings"]["encoding.bits"] == "4");
}

TEST_CASE("report refuses files that are not spikesim runs", "[report]") {
  const fs::path dir = the_run().dir;
  const fs::path text = dir / "not_hdf5.h5";
  std::ofstream(text) << "not an HDF5 file\n";
  try {
    (void)read_run_report(text);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::data);
    CHECK_THAT(std::string(e.what()), Catch::Contains("not_hdf5.h5"));
  }
  const fs::path foreign = dir / "foreign.h5";
  const hid_t id = H5Fcreate(foreign.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  REQUIRE(id >= 0);
  H5Fclose(id);
  try {
    (void)read_run_report(foreign);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::data);
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("foreign.h5") && Catch::Contains("not a spikesim run file"));
  }
  CHECK_THROWS_AS(read_run_report(dir / "missing.h5"), Error);
}
