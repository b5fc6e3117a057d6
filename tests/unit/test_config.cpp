// The TOML run configuration (io/config): defaults, the example files, every
// kind of error with its key and line, --set overrides, the effective-config
// text and the reference page generated from the schema.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/energy_model.hpp"
#include "core/error.hpp"
#include "io/config/config.hpp"
#include "tests/support/files.hpp"

using namespace spikesim;

namespace {

std::filesystem::path source_dir() {
  return SPIKESIM_SOURCE_DIR;
}

// The message of the Error(config) that `parse_config(text)` throws.
std::string config_error(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(text, "run.toml", overrides);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::config);
    CHECK(e.exit_code() == 3);
    return e.what();
  }
  FAIL("no error for:\n" << text);
  return {};
}

}  // namespace

TEST_CASE("config: defaults come from the schema", "[config]") {
  const SimConfig c = default_config();
  CHECK(c.run.workload == Workload::transformer);
  CHECK(c.run.mode == ForwardMode::spiking);
  CHECK(c.run.seed == 1);
  CHECK(c.run.threads == 0);
  CHECK(c.run.tokens == 16);
  CHECK(c.run.progress);
  CHECK(c.model.path == "generated");
  CHECK(c.model.tokenizer.empty());
  CHECK_FALSE(c.model.allow_non_finite);
  CHECK(c.input.token_file.empty());
  CHECK(c.input.offset == 0);
  CHECK(c.input.prompt.empty());
  CHECK(c.input.generate == 0);
  CHECK(c.generated.dim == 128);
  CHECK(c.generated.hidden_dim == 384);
  CHECK(c.generated.layers == 2);
  CHECK(c.generated.heads == 4);
  CHECK(c.generated.kv_heads == 2);
  CHECK(c.generated.vocab == 256);
  CHECK(c.generated.max_seq_len == 256);
  CHECK(c.generated.outliers == 4);
  CHECK(c.generated.outlier_scale == 8.0);
  CHECK(c.generated.seed == 1234);
  CHECK(c.linear_stack.sizes == std::vector<int>{256, 512, 256});
  CHECK(c.encoding.bits == 4);
  CHECK_FALSE(c.encoding.is_signed);
  CHECK(c.encoding.saliency == SaliencyMethod::hessian);
  CHECK(c.encoding.addbit == 1);
  CHECK(c.encoding.low_p == 0.9);
  CHECK(c.encoding.kv_spiking);
  CHECK_FALSE(c.encoding.spike_lm_head);
  CHECK(c.encoding.calib_windows == 4);
  CHECK(c.encoding.calib_file.empty());
  CHECK(c.energy.preset == "45nm");
  CHECK(c.energy.precision == Precision::fp32);
  CHECK(c.energy.memory == MemoryLevel::none);
  CHECK(c.energy.ac_convention == AcConvention::amplitude);
  CHECK(c.record.enabled);
  CHECK(c.record.output == "spikesim_run.h5");
  CHECK(c.record.spikes);
  CHECK(c.record.populations.empty());
  CHECK(c.record.trace_populations.empty());
  CHECK(c.record.trace_neurons == 8);
  CHECK(c.record.compression == 4);
  CHECK(c.record.logits);

  // The struct's field initializers mirror the schema.
  for (const auto& key : config_schema()) {
    INFO(key.name);
    CHECK(key.get(SimConfig{}, key) == key.default_value);
  }
  CHECK(SimConfig{}.same_settings(c));
  CHECK_NOTHROW(validate_config(c));
  CHECK(parse_config("", "empty.toml").same_settings(c));
}

TEST_CASE("config: the schema is consistent", "[config]") {
  const auto keys = config_keys();
  CHECK(keys.size() == config_schema().size());
  CHECK(std::set<std::string>(keys.begin(), keys.end()).size() == keys.size());
  for (const auto& key : config_schema()) {
    INFO(key.name);
    CHECK(std::count(key.name.begin(), key.name.end(), '.') == 1);
    CHECK_FALSE(key.meaning.empty());
    CHECK(key.get != nullptr);
    CHECK(key.set != nullptr);
  }
  // Rules name real keys.
  for (const auto& rule : config_rules())
    for (const auto k : rule.keys) CHECK(std::find(keys.begin(), keys.end(), k) != keys.end());

  // Every choice sets the field and reads back, and enum choices match the
  // enums' own names.
  for (const auto& key : config_schema()) {
    for (const auto choice : key.choices) {
      SimConfig c = default_config();
      key.set(c, key, std::string(choice));
      CHECK(key.get(c, key) == ConfigValue(std::string(choice)));
    }
  }
  SimConfig c = default_config();
  for (auto p : {Precision::fp32, Precision::int32, Precision::int8}) {
    c.energy.precision = p;
    CHECK(config_to_toml(c).find(fmt::format("precision = \"{}\"", precision_name(p))) != std::string::npos);
  }
  for (auto m : {MemoryLevel::none, MemoryLevel::sram, MemoryLevel::dram}) {
    c.energy.memory = m;
    CHECK(config_to_toml(c).find(fmt::format("memory = \"{}\"", memory_level_name(m))) != std::string::npos);
  }
  for (auto w : {Workload::transformer, Workload::linear_stack}) {
    c.run.workload = w;
    CHECK(config_to_toml(c).find(fmt::format("workload = \"{}\"", workload_name(w))) != std::string::npos);
  }
  for (auto m : {ForwardMode::dense, ForwardMode::quantized, ForwardMode::spiking}) {
    c.run.mode = m;
    CHECK(config_to_toml(c).find(fmt::format("mode = \"{}\"", forward_mode_name(m))) != std::string::npos);
  }
  for (auto s : {SaliencyMethod::hessian, SaliencyMethod::magnitude, SaliencyMethod::uniform}) {
    c.encoding.saliency = s;
    CHECK(config_to_toml(c).find(fmt::format("saliency = \"{}\"", saliency_name(s))) !=
          std::string::npos);
  }
  // energy.profile takes every shipped profile's name; anything else must be a .toml file.
  for (const auto& name : EnergyModel::preset_names())
    CHECK(parse_config("[energy]\nprofile = \"" + name + "\"\n", "x").energy.preset == name);
  CHECK_THROWS_WITH(parse_config("[energy]\nprofile = \"lohi\"\n", "x"),
                    Catch::Contains("key 'energy.profile' = 'lohi' is neither a shipped profile"));
}

TEST_CASE("config: energy.preset is the older name of energy.profile", "[config]") {
  // Configs written before profiles were files keep working, in the file and with --set.
  CHECK(parse_config("[energy]\npreset = \"loihi\"\n", "old.toml").energy.preset == "loihi");
  CHECK(parse_config("", "x", {"energy.preset=loihi"}).energy.preset == "loihi");
  // The effective config names the key by its current name only.
  const auto c = parse_config("[energy]\npreset = \"loihi\"\n", "old.toml");
  CHECK(c.source_text.find("profile = \"loihi\"") != std::string::npos);
  CHECK(c.source_text.find("preset =") == std::string::npos);
  // Both names in one file is one key set twice: refused, naming both, in either order.
  for (const char* text : {"[energy]\npreset = \"loihi\"\nprofile = \"45nm\"\n",
                           "[energy]\nprofile = \"45nm\"\npreset = \"loihi\"\n"}) {
    INFO(text);
    try {
      (void)parse_config(text, "both.toml");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::config);
      CHECK_THAT(e.what(), Catch::Contains("both.toml:") && Catch::Contains("keys 'energy.preset' and 'energy.profile' are one key"));
    }
  }
}

TEST_CASE("config: every example file parses", "[config]") {
  // Run configs; sweep files (sweep_*.toml) are loaded by the docs test (load_sweep).
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "examples"))
    if (entry.path().extension() == ".toml" && !entry.path().filename().string().starts_with("sweep_"))
      files.push_back(entry.path());
  REQUIRE(files.size() >= 2);
  for (const auto& file : files) {
    INFO(file.string());
    CHECK_NOTHROW(load_config(file));
  }

  // default.toml spells out every key at its default.
  const auto default_file = source_dir() / "examples" / "default.toml";
  CHECK(load_config(default_file).same_settings(default_config()));
  const auto text = test::read_file_or_fail(default_file);
  for (const auto& key : config_schema()) {
    INFO(key.name);
    CHECK(text.find(fmt::format("\n{} = ", key.leaf())) != std::string::npos);
  }

  const auto stack = load_config(source_dir() / "examples" / "linear_stack.toml");
  CHECK(stack.run.workload == Workload::linear_stack);
  CHECK(stack.linear_stack.sizes.size() >= 2);
}

TEST_CASE("config: a typical file", "[config]") {
  const auto c = parse_config(R"(
[run]
mode = "quantized"
tokens = 64

[encoding]
bits = 3
signed = true
low_p = 0.95
addbit = 2

[generated]
outlier_scale = 16   # an integer is fine for a float key

[record]
populations = ["layer0.*", "lm_head"]

[linear_stack]
sizes = [64, 32]
)",
                              "typical.toml");
  CHECK(c.run.mode == ForwardMode::quantized);
  CHECK(c.run.tokens == 64);
  CHECK(c.encoding.bits == 3);
  CHECK(c.encoding.is_signed);
  CHECK(c.encoding.low_p == 0.95);
  CHECK(c.encoding.addbit == 2);
  CHECK(c.generated.outlier_scale == 16.0);
  CHECK(c.record.populations == std::vector<std::string>{"layer0.*", "lm_head"});
  CHECK(c.linear_stack.sizes == std::vector<int>{64, 32});
  CHECK(c.run.seed == 1);  // untouched keys keep their defaults
  CHECK(c.source_name == "typical.toml");

  // Dotted keys at the top level are the same keys.
  CHECK(parse_config("encoding.bits = 2\nrun.mode = \"dense\"", "dotted.toml").encoding.bits == 2);
}

TEST_CASE("config: syntax errors give file, line and column", "[config]") {
  const auto msg = config_error("[run]\nmode = \"spiking\n");
  CHECK_THAT(msg, Catch::StartsWith("run.toml:2:"));
  CHECK_THAT(msg, Catch::Contains(": TOML syntax error: "));

  const auto dup = config_error("[encoding]\nbits = 4\nbits = 5\n");
  CHECK_THAT(dup, Catch::StartsWith("run.toml:3:"));
  CHECK_THAT(dup, Catch::Contains("TOML syntax error"));
}

TEST_CASE("config: unknown keys and sections", "[config]") {
  CHECK(config_error("[encoding]\nbits = 4\n\nbitz = 4\n") ==
        "run.toml:4: unknown key 'encoding.bitz' (did you mean 'encoding.bits'?)");
  CHECK(config_error("[encodng]\nbits = 4\n") ==
        "run.toml:1: unknown key 'encodng' (did you mean 'encoding'?)");
  CHECK(config_error("\n\nbits = 4\n") == "run.toml:3: unknown key 'bits' (did you mean 'encoding.bits'?)");
  CHECK(config_error("[run]\nbits = 4\n") ==
        "run.toml:2: unknown key 'run.bits' (did you mean 'encoding.bits'?)");
  CHECK(config_error("[nothing_like_it]\nx = 1\n") == "run.toml:1: unknown key 'nothing_like_it'");
  CHECK(config_error("[run.extra]\nx = 1\n") == "run.toml:1: unknown key 'run.extra'");
  CHECK(config_error("encoding = 4\n") ==
        "run.toml:1: key 'encoding' must be a table (a [encoding] section), found integer");
}

TEST_CASE("config: wrong types", "[config]") {
  CHECK(config_error("[encoding]\nbits = \"4\"\n") ==
        "run.toml:2: key 'encoding.bits' must be an integer, found string");
  CHECK(config_error("[encoding]\nbits = 4.0\n") ==
        "run.toml:2: key 'encoding.bits' must be an integer, found float");
  CHECK(config_error("[run]\nprogress = \"yes\"\n") ==
        "run.toml:2: key 'run.progress' must be a boolean, found string");
  CHECK(config_error("[encoding]\nlow_p = \"0.9\"\n") ==
        "run.toml:2: key 'encoding.low_p' must be a number, found string");
  CHECK(config_error("[model]\npath = 3\n") ==
        "run.toml:2: key 'model.path' must be a string, found integer");
  CHECK(config_error("[linear_stack]\nsizes = [4, \"a\"]\n") ==
        "run.toml:2: key 'linear_stack.sizes' must be a list of integers, found string at index 1");
  CHECK(config_error("[record]\npopulations = \"a*\"\n") ==
        "run.toml:2: key 'record.populations' must be a list of strings, found string (write [\"a*\"])");
  CHECK(config_error("[encoding.bits]\nx = 1\n") ==
        "run.toml:1: key 'encoding.bits' must be an integer, found table");
}

TEST_CASE("config: values out of range", "[config]") {
  CHECK(config_error("[encoding]\nbits = 40\n") ==
        "run.toml:2: key 'encoding.bits' = 40 is out of range [1, 16]");
  CHECK(config_error("[encoding]\nbits = 0\n") ==
        "run.toml:2: key 'encoding.bits' = 0 is out of range [1, 16]");
  CHECK(config_error("[run]\nseed = -1\n") ==
        "run.toml:2: key 'run.seed' = -1 is out of range (must be >= 0)");
  CHECK(config_error("[encoding]\nlow_p = 1.5\n") ==
        "run.toml:2: key 'encoding.low_p' = 1.5 is out of range [0, 1]");
  CHECK(config_error("[generated]\noutlier_scale = nan\n") ==
        "run.toml:2: key 'generated.outlier_scale' must be a finite number, found nan");
  CHECK(config_error("[linear_stack]\nsizes = [4]\n") ==
        "run.toml:2: key 'linear_stack.sizes' needs at least 2 entries, found 1");
  CHECK(config_error("[linear_stack]\nsizes = [4, 0]\n") ==
        "run.toml:2: key 'linear_stack.sizes' entry 1 = 0 is out of range [1, 1048576]");
}

TEST_CASE("config: bad choices list the choices", "[config]") {
  CHECK(config_error("[run]\nmode = \"spikin\"\n") ==
        "run.toml:2: key 'run.mode' = 'spikin' is not one of 'dense', 'quantized', 'spiking' (did you mean "
        "'spiking'?)");
  CHECK(config_error("[energy]\nprecision = \"fp64\"\n") ==
        "run.toml:2: key 'energy.precision' = 'fp64' is not one of 'fp32', 'int32', 'int8' (did you mean "
        "'fp32'?)");
  CHECK(config_error("[encoding]\nsaliency = \"random\"\n") ==
        "run.toml:2: key 'encoding.saliency' = 'random' is not one of 'hessian', 'magnitude', 'uniform'");
}

TEST_CASE("config: every problem is listed, in line order", "[config]") {
  CHECK(config_error("[run]\nmode = 1\n[encoding]\nbits = 99\nlow_p = 2\n") ==
        "run.toml:2: key 'run.mode' must be a string, found integer\n"
        "run.toml:4: key 'encoding.bits' = 99 is out of range [1, 16]\n"
        "run.toml:5: key 'encoding.low_p' = 2 is out of range [0, 1]");
}

TEST_CASE("config: rules between keys name both keys", "[config]") {
  CHECK(config_error("[generated]\ndim = 128\nheads = 5\nkv_heads = 5\n") ==
        "run.toml:3: key 'generated.heads' = 5 must divide key 'generated.dim' = 128");
  CHECK(config_error("[generated]\nkv_heads = 3\n") ==
        "run.toml:2: key 'generated.kv_heads' = 3 must divide key 'generated.heads' = 4");
  CHECK_THAT(config_error("[generated]\ndim = 120\nheads = 8\nkv_heads = 4\n"),
             Catch::Contains("'generated.dim' = 120") && Catch::Contains("'generated.heads' = 8") &&
                 Catch::Contains("must be even"));
  CHECK(config_error("[input]\nprompt = \"Once\"\ntoken_file = \"t.i32\"\n") ==
        "run.toml:2: keys 'input.prompt' and 'input.token_file' are both set; give one of them");
  // Located at --set when an override broke the rule.
  CHECK(config_error("", {"generated.kv_heads=3"}) ==
        "--set: key 'generated.kv_heads' = 3 must divide key 'generated.heads' = 4");
}

TEST_CASE("config: --set overrides", "[config]") {
  const std::string file = "[encoding]\nbits = 4\n[run]\nmode = \"spiking\"\n";
  const auto c = parse_config(file, "run.toml",
                              {"encoding.bits=3", "run.mode = dense", "model.path=my models/stories.bin",
                               "model.tokenizer=\"quoted.model\"", "record.populations=layer0.*, lm_head",
                               "record.trace_populations=[\"a\", \"b\"]", "encoding.low_p=1",
                               "linear_stack.sizes=[8, 4, 2]", "run.progress=false", "input.prompt=42"});
  CHECK(c.encoding.bits == 3);  // the override wins over the file
  CHECK(c.run.mode == ForwardMode::dense);
  CHECK(c.model.path == "my models/stories.bin");
  CHECK(c.model.tokenizer == "quoted.model");
  CHECK(c.record.populations == std::vector<std::string>{"layer0.*", "lm_head"});
  CHECK(c.record.trace_populations == std::vector<std::string>{"a", "b"});
  CHECK(c.encoding.low_p == 1.0);
  CHECK(c.linear_stack.sizes == std::vector<int>{8, 4, 2});
  CHECK_FALSE(c.run.progress);
  CHECK(c.input.prompt == "42");  // a bare word for a string key
  // Later overrides win; an empty bare list is [].
  CHECK(parse_config("", "x", {"encoding.bits=2", "encoding.bits=5"}).encoding.bits == 5);
  CHECK(parse_config("[record]\npopulations = [\"a\"]\n", "x", {"record.populations="})
            .record.populations.empty());
  // The overrides are recorded in the effective config.
  CHECK_THAT(c.source_text, Catch::Contains("# --set encoding.bits=3"));

  CHECK(config_error("", {"encoding.bitz=3"}) ==
        "--set: unknown key 'encoding.bitz' (did you mean 'encoding.bits'?)");
  CHECK(config_error("", {"encoding.bits=\"3\""}) ==
        "--set: key 'encoding.bits' must be an integer, found string");
  CHECK(config_error("", {"encoding.bits=abc"}) ==
        "--set: key 'encoding.bits' must be an integer, found 'abc'");
  CHECK(config_error("", {"run.progress=1"}) == "--set: key 'run.progress' must be a boolean, found integer");
  CHECK(config_error("", {"encoding.bits=40"}) == "--set: key 'encoding.bits' = 40 is out of range [1, 16]");
  CHECK_THAT(
      config_error("", {"run.mode=spikin"}),
      Catch::StartsWith("--set: key 'run.mode' = 'spikin' is not one of 'dense', 'quantized', 'spiking'"));
  CHECK(config_error("", {"encoding"}) == "--set: 'encoding' is not key=value");
  CHECK(config_error("", {"=3"}) == "--set: '=3' is not key=value");
  CHECK(config_error("", {"encoding=3"}) ==
        "--set: unknown key 'encoding' (a section: set one of its keys, such as 'encoding.bits')");
  CHECK_THAT(config_error("", {"linear_stack.sizes=[1, 2"}),
             Catch::StartsWith("--set: key 'linear_stack.sizes': value [1, 2 is not valid TOML:"));
  // Errors in the file come before overrides are applied.
  CHECK(config_error("[encoding]\nbits = 40\n", {"encoding.bits=4"}) ==
        "run.toml:2: key 'encoding.bits' = 40 is out of range [1, 16]");
}

TEST_CASE("config: the effective config round-trips", "[config]") {
  const auto c = parse_config(R"(
[run]
workload = "linear_stack"
mode = "quantized"
seed = 9223372036854775807
threads = 3
[model]
path = "dir with \"quotes\" and \\ backslash/ünïcode.bin"
tokenizer = "tab\there"
[input]
prompt = """Once upon
a time"""
offset = 12345
[generated]
outlier_scale = 3.0000000000000004
dim = 256
heads = 8
kv_heads = 8
[encoding]
low_p = 0.1
signed = true
saliency = "uniform"
[energy]
preset = "loihi"
precision = "int8"
memory = "dram"
ac_convention = "shift_add"
[linear_stack]
sizes = [1, 1048576]
[record]
populations = ["a\"b", "*"]
trace_populations = []
)",
                              "odd.toml", {"record.compression=9"});
  CHECK(c.model.path == "dir with \"quotes\" and \\ backslash/ünïcode.bin");
  CHECK(c.input.prompt == "Once upon\na time");
  CHECK(c.run.seed == 9223372036854775807ULL);

  const auto again = parse_config(c.source_text, "effective.toml");
  CHECK(again.same_settings(c));
  CHECK(again.generated.outlier_scale == c.generated.outlier_scale);  // bit-exact float
  CHECK(parse_config(config_to_toml(again), "x").same_settings(c));

  const auto d = default_config();
  CHECK(parse_config(d.source_text, "defaults.toml").same_settings(d));
  CHECK_THAT(d.source_text, Catch::Contains("[encoding]\n") && Catch::Contains("\nbits = 4\n"));
}

TEST_CASE("config: validate_config checks configs built in code", "[config]") {
  SimConfig c = default_config();
  CHECK_NOTHROW(validate_config(c));
  c.encoding.bits = 40;
  c.source_name = "code";
  try {
    validate_config(c);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::config);
    CHECK(std::string(e.what()) == "code: key 'encoding.bits' = 40 is out of range [1, 16]");
  }
  c.encoding.bits = 4;
  c.generated.heads = 3;
  CHECK_THROWS_WITH(validate_config(c),
                    Catch::Contains("'generated.heads' = 3") && Catch::Contains("'generated.dim' = 128"));
}

TEST_CASE("config: load_config reads files and names missing ones", "[config]") {
  try {
    load_config(source_dir() / "examples" / "no_such_file.toml");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::config);
    CHECK_THAT(e.what(), Catch::Contains("no_such_file.toml") && Catch::Contains("cannot open config file"));
  }
  const auto c = load_config(source_dir() / "examples" / "linear_stack.toml", {"encoding.bits=2"});
  CHECK(c.encoding.bits == 2);
  CHECK_THAT(c.source_name, Catch::EndsWith("linear_stack.toml"));
}

TEST_CASE("config: docs/reference/config.md documents every key", "[config]") {
  const auto doc = test::read_file_or_fail(source_dir() / "docs" / "reference" / "config.md");
  for (const auto& key : config_keys()) {
    INFO(key);
    CHECK(doc.find("`" + key + "`") != std::string::npos);
  }
  // The key tables are exactly what the schema renders today.
  const auto tables = config_reference_markdown();
  if (doc.find(tables) == std::string::npos) {
    const auto fresh = std::filesystem::path(SPIKESIM_BINARY_DIR) / "config_reference.md";
    std::ofstream(fresh) << tables;
    FAIL(
        "docs/reference/config.md is out of date with io/config/config_schema.cpp: replace everything after its "
        "'## Keys' intro with "
        << fresh.string());
  }
}
