// Paths in a config file: relative ones are the file's folder's, ${VAR} and
// ${VAR:-default} expand, and --set values are the user's as typed; a
// prompt given with --set replaces the file's token file.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "sim/run_driver.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;

namespace {

fs::path write_config(const test::TempDir& dir, const std::string& text) {
  fs::create_directories(dir / "configs");
  const fs::path file = dir / "configs" / "run.toml";
  std::ofstream(file) << text;
  return file;
}

std::string error_of(const fs::path& file, const std::vector<std::string>& sets = {}) {
  try {
    (void)load_config(file, sets);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::config);
    return e.what();
  }
  FAIL("no error");
  return {};
}

}  // namespace

TEST_CASE("config paths: relative input paths are the config file's folder's", "[config][paths]") {
  test::TempDir dir("config_paths");
  const fs::path file = write_config(dir, "[model]\npath = \"../models/m\"\ntokenizer = \"tok.model\"\n"
                                          "[input]\ntoken_file = \"data/t.i32\"\n"
                                          "[encoding]\ncalib_file = \"/abs/c.i32\"\n"
                                          "[record]\noutput = \"out.h5\"\n");
  const SimConfig c = load_config(file);
  const fs::path folder = fs::absolute(dir / "configs");
  CHECK(c.model.path == (folder / "../models/m").lexically_normal().string());
  CHECK(c.model.tokenizer == (folder / "tok.model").string());
  CHECK(c.input.token_file == (folder / "data/t.i32").string());
  CHECK(c.encoding.calib_file == "/abs/c.i32");  // absolute stays
  CHECK(c.record.output == "out.h5");            // outputs go where spikesim runs
  // The effective config names the resolved paths, so it works from anywhere.
  CHECK(c.source_text.find(c.input.token_file) != std::string::npos);

  SECTION("--set values are taken as typed, from the working directory") {
    const SimConfig s = load_config(file, {"input.token_file=mine.i32", "model.path=generated"});
    CHECK(s.input.token_file == "mine.i32");
    CHECK(s.model.path == "generated");
  }
  SECTION("a config parsed from text resolves nothing") {
    const SimConfig t = parse_config("[input]\ntoken_file = \"data/t.i32\"\n", "text");
    CHECK(t.input.token_file == "data/t.i32");
  }
}

TEST_CASE("config paths: ${VAR} and ${VAR:-default} expand, an unset variable names the key", "[config][paths]") {
  test::TempDir dir("config_vars");
  ::setenv("SPIKESIM_TEST_MODELS", "/data/models", 1);
  ::unsetenv("SPIKESIM_TEST_UNSET");
  const fs::path file = write_config(dir, "[model]\npath = \"${SPIKESIM_TEST_MODELS}/brown\"\n"
                                          "[input]\ntoken_file = \"${SPIKESIM_TEST_UNSET:-../shared}/t.i32\"\n");
  const SimConfig c = load_config(file);
  CHECK(c.model.path == "/data/models/brown");
  CHECK(c.input.token_file == (fs::absolute(dir / "configs") / "../shared/t.i32").lexically_normal().string());

  const fs::path unset = write_config(dir, "[model]\npath = \"${SPIKESIM_TEST_UNSET}/brown\"\n");
  const std::string message = error_of(unset);
  CHECK_THAT(message, Catch::Contains("model.path") && Catch::Contains("SPIKESIM_TEST_UNSET") &&
                          Catch::Contains("is not set") && Catch::Contains("--set model.path="));
  CHECK_THAT(message, Catch::Contains("run.toml:2"));
  CHECK_THAT(error_of(write_config(dir, "[model]\npath = \"${oops/brown\"\n")), Catch::Contains("without a closing"));
  ::unsetenv("SPIKESIM_TEST_MODELS");
}

TEST_CASE("config: --set input.prompt replaces the file's token file, and a quoted prompt is text", "[config][paths]") {
  test::TempDir dir("config_prompt");
  const fs::path file = write_config(dir, "[input]\ntoken_file = \"t.i32\"\n");
  const SimConfig c = load_config(file, {"input.prompt=Once upon a time"});
  CHECK(c.input.prompt == "Once upon a time");
  CHECK(c.input.token_file.empty());
  const SimConfig q = load_config(file, {"input.prompt=\"Hello,\" she said."});
  CHECK(q.input.prompt == "\"Hello,\" she said.");
  const SimConfig t = load_config(file, {"input.prompt=\"a TOML string\""});
  CHECK(t.input.prompt == "a TOML string");
  // Both in the file, or both with --set, is still a conflict.
  CHECK_THAT(error_of(write_config(dir, "[input]\ntoken_file = \"t.i32\"\nprompt = \"x\"\n")),
             Catch::Contains("both set"));
  CHECK_THAT(error_of(file, {"input.prompt=x", "input.token_file=u.i32"}), Catch::Contains("both set"));
}

TEST_CASE("config: a model path that does not exist names the key and how to override it", "[config][paths]") {
  test::TempDir dir("config_missing_model");
  const SimConfig c = load_config(write_config(dir, "[model]\npath = \"nowhere/model\"\n"));
  for (const auto& load : {std::function<void()>([&] { (void)model_config_for(c); }),
                           std::function<void()>([&] { (void)model_for(c); })}) {
    try {
      load();
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::model);
      CHECK_THAT(e.what(), Catch::Contains("nowhere/model") && Catch::Contains("no such file or directory") &&
                               Catch::Contains("'model.path'") && Catch::Contains("run.toml") &&
                               Catch::Contains("--set model.path="));
    }
  }
}

TEST_CASE("config paths: energy.profile is a shipped name or a file taken from the config's folder", "[config][paths]") {
  test::TempDir dir("config_profile");
  const fs::path folder = fs::absolute(dir / "configs");
  CHECK(load_config(write_config(dir, "[energy]\nprofile = \"chips/mine.toml\"\n")).energy.preset ==
        (folder / "chips/mine.toml").string());
  // The older key name resolves the same way.
  CHECK(load_config(write_config(dir, "[energy]\npreset = \"mine.toml\"\n")).energy.preset ==
        (folder / "mine.toml").string());
  // A shipped profile's name is a name, not a file next to the config.
  CHECK(load_config(write_config(dir, "[energy]\nprofile = \"loihi_sanafe\"\n")).energy.preset == "loihi_sanafe");
  CHECK(load_config(write_config(dir, ""), {"energy.profile=mine.toml"}).energy.preset == "mine.toml");
}
