// The shared real models under mpirun (MPI build only): brown-llama-s
// (Hugging Face safetensors, tied embeddings, GQA 4/2: K/V projections of 64
// rows) and stories260K (llama2.c, interleaved RoPE) write the same run file
// on 2 and 4 ranks as in one process, dataset by dataset, in spiking mode
// with int4 weights and in spiking mode as loaded (docs/concepts/ranks.md).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tests/support/rank_runs.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
using namespace spikesim::test;

namespace {

void same_on_ranks(const std::string& config, const std::vector<std::string>& settings, const std::string& tag) {
  TempDir dir(tag);
  const fs::path one = dir.path() / "one.h5";
  run_on(0, config, settings, dir.path(), one);
  for (const int ranks : {2, 4}) {
    const fs::path many = dir.path() / ("ranks" + std::to_string(ranks) + ".h5");
    run_on(ranks, config, settings, dir.path(), many);
    require_same_files(one, many, true);
  }
}

}  // namespace

TEST_CASE("ranks: brown-llama-s gives the same file on 1, 2 and 4 ranks", "[mpi][ranks][validation]") {
  SPIKESIM_REQUIRE_SHARED(model, "models/brown-llama-s/model.safetensors");
  SPIKESIM_REQUIRE_SHARED(tokens, "models/brown-llama-s/dev_tokens.i32");
  const std::vector<std::string> common{"model.path=" + model.parent_path().string(),
                                        "input.token_file=" + tokens.string(), "run.tokens=24",
                                        "encoding.calib_windows=2"};
  SECTION("weights as loaded") { same_on_ranks(SPIKESIM_SOURCE_DIR "/examples/brown_llama.toml", common, "ranks_brown"); }
  SECTION("W4A4, GPTQ") {
    auto s = common;
    s.insert(s.end(), {"weights.bits=4", "weights.group=32", "weights.method=gptq"});
    same_on_ranks(SPIKESIM_SOURCE_DIR "/examples/brown_llama.toml", s, "ranks_brown_w4");
  }
}

TEST_CASE("ranks: stories260K gives the same file on 1, 2 and 4 ranks", "[mpi][ranks][validation]") {
  SPIKESIM_REQUIRE_SHARED(model, "models/stories260K/stories260K.bin");
  SPIKESIM_REQUIRE_SHARED(tokens, "models/stories260K/sampled_tokens.i32");
  same_on_ranks(SPIKESIM_SOURCE_DIR "/examples/stories260k.toml",
                {"model.path=" + model.string(), "input.token_file=" + tokens.string(), "run.tokens=24",
                 "encoding.calib_windows=2"},
                "ranks_stories");
}

TEST_CASE("ranks: eval on brown-llama-s gives the same perplexity and counts on 1, 2 and 4 ranks",
          "[mpi][ranks][validation]") {
  SPIKESIM_REQUIRE_SHARED(model, "models/brown-llama-s/model.safetensors");
  SPIKESIM_REQUIRE_SHARED(tokens, "models/brown-llama-s/dev_tokens.i32");
  TempDir dir("ranks_eval");
  const std::vector<std::string> eval{"eval",      "--model", model.parent_path().string(), "--tokens", tokens.string(),
                                      "--windows", "2",       "--seq",  "64",    "--calib-windows", "2",
                                      "--mode",    "spiking", "--threads", "1", "--json"};
  // The figures of the evaluation, without what depends on the rank count or the clock.
  auto figures = [](const std::string& out) {
    nlohmann::json j = nlohmann::json::parse(out);
    for (const char* k : {"wall_s", "ranks", "communication"}) j.erase(k);
    return j;
  };
  const Outcome one = run_spikesim(eval, dir.path(), 300);
  INFO(one.err);
  REQUIRE(one.code == 0);
  const nlohmann::json expected = figures(one.out);
  REQUIRE(expected.at("ppl").get<double>() > 1.0);
  for (const int ranks : {2, 4}) {
    std::vector<std::string> a = mpirun_options();
    a.insert(a.end(), {"-np", std::to_string(ranks), kSpikesim});
    a.insert(a.end(), eval.begin(), eval.end());
    const Outcome many = run_program(kMpirun, a, dir.path(), 300);
    INFO(ranks << " ranks\n" << many.err);
    REQUIRE(many.code == 0);
    const nlohmann::json j = nlohmann::json::parse(many.out);  // rank 0's line only
    CHECK(j.at("ranks") == ranks);
    CHECK(j.at("communication").at("total").at("spikes").get<std::uint64_t>() > 0);
    CHECK(figures(many.out) == expected);
  }
}
