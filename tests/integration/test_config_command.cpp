// `spikesim config`: the defaults it prints are a valid config equal to the
// schema's defaults, --set changes them, and --keys lists every key.
#include <catch2/catch.hpp>

#include <string>

#include "io/config/config.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;

TEST_CASE("spikesim config prints the defaults as a config that parses to them", "[cli][config]") {
  test::TempDir dir("config_command");
  const auto o = test::run_spikesim({"config"}, dir.path());
  INFO(o.err);
  REQUIRE(o.code == 0);
  const SimConfig printed = parse_config(o.out, "spikesim config");
  CHECK(printed.same_settings(default_config()));
  for (const auto& key : config_keys()) {
    INFO(key);
    // Built by append: gcc 12 warns (-Wrestrict, a false positive) on "\n" + std::string&&.
    std::string line = "\n";
    line.append(key.substr(key.find('.') + 1)).append(" = ");
    CHECK(o.out.find(line) != std::string::npos);
  }

  SECTION("--set changes the printed config") {
    const auto s = test::run_spikesim({"config", "--set", "encoding.bits=3", "--set", "run.mode=quantized"},
                                      dir.path());
    REQUIRE(s.code == 0);
    const SimConfig c = parse_config(s.out, "spikesim config --set");
    CHECK(c.encoding.bits == 3);
    CHECK(c.run.mode == ForwardMode::quantized);
  }
  SECTION("--keys lists every key with its type and default") {
    const auto k = test::run_spikesim({"config", "--keys"}, dir.path());
    REQUIRE(k.code == 0);
    for (const auto& key : config_keys()) {
      std::string line = "\n";
      line.append(key).append(" ");
      CHECK(k.out.find(line) != std::string::npos);
    }
    CHECK(k.out.find("encoding.bits") != std::string::npos);
    CHECK(k.out.find("[1, 16]") != std::string::npos);
  }
  SECTION("-v is accepted after the subcommand as before it") {
    CHECK(test::run_spikesim({"config", "-v", "--keys"}, dir.path()).code == 0);
    CHECK(test::run_spikesim({"-v", "config", "--keys"}, dir.path()).code == 0);
  }
  SECTION("a bad --set is refused naming the key") {
    const auto b = test::run_spikesim({"config", "--set", "encoding.bitz=3"}, dir.path());
    CHECK(b.code == 3);
    CHECK_THAT(b.err, Catch::Contains("encoding.bitz"));
  }
}
