// `spikesim plan`: the rank count a LLaMA-70B-shaped run needs, from the
// shape alone (the 70B weights are never generated: the command answers in
// well under the test's timeout on a machine that could not hold them).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <string>

#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;

namespace {

const std::string kExamples = SPIKESIM_SOURCE_DIR "/examples/";
constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;

}  // namespace

TEST_CASE("spikesim plan answers how many ranks a 70B run needs", "[cli][plan]") {
  test::TempDir dir("plan_command");

  SECTION("int4 in ranks of 64G: one rank, and the load peak fits too") {
    const auto o = test::run_spikesim(
        {"plan", kExamples + "plan_llama70b_int4.toml", "--rank-memory", "64G", "--json"}, dir.path());
    INFO(o.err);
    REQUIRE(o.code == 0);
    const auto j = nlohmann::json::parse(o.out);
    CHECK(j["rank_memory"]["bytes"] == 64 * kGiB);
    CHECK(j["rank_memory"]["source"] == "--rank-memory 64G");
    CHECK(j["answer"]["ranks"] == 1);
    CHECK(j["answer"]["text"] == "needs 1 rank of 64.00 GiB");
    CHECK(j["answer"]["share"]["total"].get<std::uint64_t>() <= 64 * kGiB);
    CHECK(j["model_shape"]["layers"] == 80);
    CHECK(j["model_shape"]["hidden_dim"] == 28672);
    CHECK(j["weights"] == "[generated] dtype int4");
    // R = 1, 2, 4, ..., 256, each share smaller than the last but never
    // below what every rank holds.
    const auto& rows = j["ranks"];
    REQUIRE(rows.size() == 9);
    const auto floor = j["replicated"]["total"].get<std::uint64_t>();
    for (std::size_t i = 0; i < rows.size(); ++i) {
      INFO("row " << i);
      CHECK(rows[i]["ranks"] == 1 << i);
      CHECK(rows[i]["total"].get<std::uint64_t>() > floor);
      if (i > 0) CHECK(rows[i]["total"].get<std::uint64_t>() < rows[i - 1]["total"].get<std::uint64_t>());
      CHECK(rows[i]["kv_cache"] == rows[0]["kv_cache"]);
    }
    CHECK(j["load_peak"]["fits"] == true);
    CHECK(j["load_peak"]["total"].get<std::uint64_t>() < 64 * kGiB);
  }
  SECTION("bf16 in ranks of 64G: three ranks, while loading every rank needs the whole model") {
    const auto o = test::run_spikesim({"plan", kExamples + "plan_llama70b_bf16.toml", "--rank-memory", "64G"},
                                      dir.path());
    INFO(o.err);
    REQUIRE(o.code == 0);
    CHECK_THAT(o.out, Catch::Contains("answer: needs 3 ranks of 64.00 GiB"));
    CHECK_THAT(o.out, Catch::Contains("the load peak is the next limit"));
    CHECK_THAT(o.out, Catch::Contains("load peak, every rank: 129.50 GiB"));
  }
  SECTION("--ranks caps the rank count: no count up to 2 fits, and why") {
    const auto o = test::run_spikesim(
        {"plan", kExamples + "plan_llama70b_bf16.toml", "--rank-memory", "64G", "--ranks", "2", "--json"},
        dir.path());
    REQUIRE(o.code == 0);
    const auto j = nlohmann::json::parse(o.out);
    CHECK(j["answer"]["ranks"].is_null());
    CHECK(j["ranks"].size() == 2);
    CHECK_THAT(j["answer"]["blocked"].get<std::string>(), Catch::Contains("raise --ranks"));
  }
  SECTION("bad input is refused naming the option or key") {
    const auto size = test::run_spikesim(
        {"plan", kExamples + "plan_llama70b_int4.toml", "--rank-memory", "lots"}, dir.path());
    CHECK(size.code == 2);
    CHECK_THAT(size.err, Catch::Contains("--rank-memory") && Catch::Contains("lots"));
    const auto stack = test::run_spikesim(
        {"plan", kExamples + "plan_llama70b_int4.toml", "--set", "run.workload=linear_stack"}, dir.path());
    CHECK(stack.code == 3);
    CHECK_THAT(stack.err, Catch::Contains("run.workload"));
    CHECK(test::error_line_count(stack.err) == 1);
    const auto ranks =
        test::run_spikesim({"plan", kExamples + "plan_llama70b_int4.toml", "--ranks", "0"}, dir.path());
    CHECK(ranks.code == 2);
    CHECK_THAT(ranks.err, Catch::Contains("--ranks"));
  }
}
