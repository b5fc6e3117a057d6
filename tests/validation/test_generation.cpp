// Issue 3, item 10: `spikesim run` with a prompt and a tokenizer generates
// greedily, token by token, and reports the spikes each token cost.
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <filesystem>

#include "io/config/config.hpp"
#include "io/formats/tokenizer.hpp"
#include "sim/run_driver.hpp"
#include "tests/support/shared_data.hpp"

using namespace spikesim;

TEST_CASE("greedy generation from a prompt streams text and counts spikes per token", "[validation][generation]") {
  SPIKESIM_REQUIRE_SHARED(model_dir, "models/brown-llama-s");
  const auto out = std::filesystem::temp_directory_path() / "spikesim_generation_test.h5";
  const SimConfig cfg = parse_config(fmt::format(R"(
[run]
mode = "spiking"
tokens = 1
progress = false
[model]
path = "{}"
[input]
prompt = "The jury said"
generate = 6
[record]
output = "{}"
)", model_dir.string(), out.string()), "generation-test");
  std::string streamed;
  const RunOutcome outcome = run_simulation(cfg, [&](const std::string& piece) { streamed += piece; });
  CHECK(!outcome.text.empty());
  CHECK(streamed == "The jury said" + outcome.text);
  CHECK(outcome.text.find(' ') != std::string::npos);  // pieces decoded in context keep their spaces
  const Tokenizer tok(model_dir / "tokenizer.model");
  const auto prompt_ids = tok.encode("The jury said", true);
  const auto& per_token = outcome.summary.at("spikes_per_token");
  CHECK(per_token.size() == prompt_ids.size() + 6);
  for (const auto& s : per_token) CHECK(s.get<std::uint64_t>() > 0);
  CHECK(std::filesystem::exists(out));
  std::filesystem::remove(out);
}
