// `spikesim sweep`: a 2x2 grid on a small generated model writes one JSON
// line per setting, resumes without redoing finished settings (and redoes
// the ones whose line was cut or lost), refuses an unknown key, and its
// front and Pareto SVG hold what the rows say.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sim/sweep.hpp"
#include "tests/support/files.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;

namespace {

// A small generated model (so a setting takes well under a second) and a
// token file of 64 tokens: one window of 8 predicted tokens, calibration from
// the windows after it.
void write_sweep_inputs(const test::TempDir& dir) {
  std::ofstream tokens(dir / "tokens.i32", std::ios::binary);
  for (std::int32_t t = 0; t < 64; ++t) {
    const std::int32_t token = (t * 37 + 11) % 96;
    tokens.write(reinterpret_cast<const char*>(&token), sizeof token);
  }
  tokens.close();
  test::write_file(dir / "sweep.toml",
                   "[sweep]\n"
                   "set = [\"model.path=generated\", \"input.token_file=tokens.i32\", \"eval.windows=1\",\n"
                   "       \"eval.seq=8\", \"encoding.calib_windows=2\", \"run.threads=1\",\n"
                   "       \"generated.dim=32\", \"generated.hidden_dim=64\", \"generated.layers=1\",\n"
                   "       \"generated.heads=2\", \"generated.kv_heads=1\", \"generated.vocab=96\"]\n"
                   "[sweep.grid]\n"
                   "encoding.bits = [2, 4]\n"
                   "\"encoding.low_p\" = [0.5, 0.9]\n");
}

std::vector<std::string> lines_of(const fs::path& file) {
  std::vector<std::string> lines;
  std::istringstream in(test::read_file(file));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("sweep: a 2x2 grid writes 4 settings, resumes, and draws its front", "[sweep]") {
  test::TempDir dir("sweep");
  write_sweep_inputs(dir);
  const fs::path jsonl = dir / "sweep.jsonl", svg = dir / "sweep.svg";

  auto first = test::run_spikesim({"sweep", (dir / "sweep.toml").string()}, dir.path(), 120);
  INFO(first.err);
  REQUIRE(first.code == 0);
  auto lines = lines_of(jsonl);
  REQUIRE(lines.size() == 4);
  std::set<std::string> settings;
  for (const auto& line : lines) {
    const auto row = nlohmann::json::parse(line);
    settings.insert(row["settings"].dump());
    CHECK(row["settings"]["eval.windows"] == 1);
    CHECK(row.contains("ppl"));
    CHECK(row.contains("energy_pj_per_token"));
    CHECK(row.contains("spikes_per_token"));
    // Issue 13's fields of a line: bits per neuron per token and the per-token work.
    for (const char* key : {"bits_per_neuron_token", "synaptic_events_per_token", "effective_acs_per_token",
                            "effective_macs_per_token", "weight_bytes", "wall_s"})
      CHECK(row.contains(key));
    const double bits = row["bits_per_neuron_token"];
    CHECK(bits >= row["settings"]["encoding.bits"].get<double>());
  }
  CHECK(settings.size() == 4);
  CHECK(first.err.find("[4/4]") != std::string::npos);
  CHECK(first.err.find("ETA") != std::string::npos);

  SECTION("a second run skips every setting and writes nothing") {
    const std::string before = test::read_file(jsonl);
    auto again = test::run_spikesim({"sweep", (dir / "sweep.toml").string()}, dir.path(), 120);
    REQUIRE(again.code == 0);
    CHECK(again.err.find("4 already in") != std::string::npos);
    CHECK(test::read_file(jsonl) == before);
  }

  SECTION("a lost last line and a line cut mid-way are evaluated again, and only they") {
    // Line 2 cut in the middle, line 4 gone.
    std::string text = lines[0] + "\n" + lines[1].substr(0, lines[1].size() / 2) + "\n" + lines[2] + "\n";
    test::write_file(jsonl, text);
    auto resumed = test::run_spikesim({"sweep", (dir / "sweep.toml").string()}, dir.path(), 120);
    INFO(resumed.err);
    REQUIRE(resumed.code == 0);
    CHECK(resumed.err.find("2 already in") != std::string::npos);
    CHECK(resumed.err.find("2 to evaluate") != std::string::npos);
    const auto after = lines_of(jsonl);
    REQUIRE(after.size() == 4);
    std::set<std::string> again;
    for (const auto& line : after) again.insert(nlohmann::json::parse(line)["settings"].dump());
    CHECK(again == settings);
  }

  SECTION("the front is not empty and no front point is dominated; the SVG has one marker per setting") {
    const auto rows = read_sweep_rows(jsonl);
    const auto front = pareto_front(rows);
    REQUIRE(!front.empty());
    for (const auto i : front)
      for (const auto& other : rows) {
        const double e = rows[i]["energy_pj_per_token"], p = rows[i]["ppl"];
        const double oe = other["energy_pj_per_token"], op = other["ppl"];
        CHECK_FALSE((oe <= e && op <= p && (oe < e || op < p)));
      }
    CHECK(first.out.find("non-dominated") != std::string::npos);
    REQUIRE(fs::exists(svg));
    CHECK(count_of(test::read_file(svg), "class=\"setting\"") == 4);

    const fs::path plotted = dir / "front.svg";
    auto plot = test::run_spikesim({"plot", jsonl.string(), "pareto", "-o", plotted.string()}, dir.path());
    REQUIRE(plot.code == 0);
    CHECK(count_of(test::read_file(plotted), "class=\"setting\"") == 4);
    CHECK(count_of(test::read_file(plotted), "data-front=\"1\"") == front.size());
  }
}

TEST_CASE("sweep: an unknown key is refused naming it", "[sweep]") {
  test::TempDir dir("sweep_bad");
  test::write_file(dir / "sweep.toml", "[sweep]\n[sweep.grid]\nencoding.bitz = [2, 4]\n");
  auto out = test::run_spikesim({"sweep", (dir / "sweep.toml").string()}, dir.path());
  CHECK(out.code == 3);
  CHECK(out.err.find("encoding.bitz") != std::string::npos);
  CHECK(out.err.find("did you mean 'encoding.bits'") != std::string::npos);
  CHECK(test::error_line_count(out.err) == 1);
  CHECK_FALSE(fs::exists(dir / "sweep.jsonl"));
}

TEST_CASE("sweep: SIGINT abandons the setting in flight, writes nothing for it, and exits 130", "[sweep][interrupt]") {
  test::TempDir dir("sweep_int");
  // Settings that take seconds each (d = 256 over 4 windows of 255 tokens).
  std::ofstream tokens(dir / "tokens.i32", std::ios::binary);
  for (std::int32_t t = 0; t < 1300; ++t) {
    const std::int32_t token = (t * 37 + 11) % 256;
    tokens.write(reinterpret_cast<const char*>(&token), sizeof token);
  }
  tokens.close();
  test::write_file(dir / "sweep.toml",
                   "[sweep]\n"
                   "set = [\"input.token_file=tokens.i32\", \"eval.windows=4\", \"eval.seq=255\",\n"
                   "       \"encoding.calib_windows=1\", \"encoding.saliency=uniform\", \"generated.dim=256\",\n"
                   "       \"generated.hidden_dim=768\"]\n"
                   "[sweep.grid]\nencoding.bits = [3, 4]\n");
  const fs::path err = dir / "stderr.txt";
  test::Process p({"sweep", (dir / "sweep.toml").string()}, dir / "stdout.txt", err);
  REQUIRE(p.started());
  const auto deadline = test::Process::Clock::now() + std::chrono::seconds(30);
  while (test::read_file(err).find("[1/2]") == std::string::npos && test::Process::Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  p.signal(SIGINT);
  const auto code = p.wait(std::chrono::seconds(30));
  INFO(test::read_file(err));
  REQUIRE(code);
  CHECK(*code == 130);
  CHECK(test::read_file(err).find("interrupted") != std::string::npos);
  // The setting in flight left no line, not even part of one.
  CHECK(lines_of(dir / "sweep.jsonl").empty());
}

TEST_CASE("sweep: a dense baseline comes first, and the plot marks dense and plain-RTN settings apart", "[sweep]") {
  test::TempDir dir("sweep_kinds");
  write_sweep_inputs(dir);
  test::write_file(dir / "kinds.toml",
                   "[sweep]\n"
                   "dense = true\n"
                   "set = [\"model.path=generated\", \"input.token_file=tokens.i32\"]\n"
                   "[[sweep.points]]\n"
                   "weights.bits = 4\n"
                   "[[sweep.points]]\n"
                   "weights.bits = 4\n"
                   "clipping.weights = true\n");
  const SweepPlan plan = load_sweep(dir / "kinds.toml");
  REQUIRE(plan.settings.size() == 3);
  CHECK(plan.settings[0].config.run.mode == ForwardMode::dense);
  CHECK(plan.settings[0].settings["run.mode"] == "dense");
  CHECK(plan.settings[1].config.run.mode == ForwardMode::spiking);
  test::write_file(dir / "bad.toml", "[sweep]\ndense = 1\n[sweep.grid]\nencoding.bits = [2]\n");
  CHECK_THROWS_WITH(load_sweep(dir / "bad.toml"), Catch::Contains("sweep.dense"));

  // Rows as eval writes them: the kinds come from mode, wbits, wmethod, smoothing and weight_clip.
  const auto row = [](const char* mode, int wbits, const char* method, bool clip, double e, double p) {
    return nlohmann::json{{"settings", {{"k", e}}}, {"mode", mode},   {"wbits", wbits}, {"wmethod", method},
                          {"smoothing", "none"},    {"weight_clip", clip}, {"energy_pj_per_token", e}, {"ppl", p}};
  };
  const std::vector<nlohmann::json> rows = {row("dense", 0, "rtn", false, 5.0, 10.0),
                                            row("spiking", 4, "rtn", false, 2.0, 13.0),
                                            row("spiking", 4, "rtn", true, 2.5, 11.5),
                                            row("spiking", 4, "gptq", false, 2.4, 12.0),
                                            row("spiking", 0, "rtn", false, 7.0, 11.9)};
  CHECK(setting_kind(rows[0]) == SettingKind::dense);
  CHECK(setting_kind(rows[1]) == SettingKind::plain_rtn);
  CHECK(setting_kind(rows[2]) == SettingKind::other);
  CHECK(setting_kind(rows[3]) == SettingKind::other);
  CHECK(setting_kind(rows[4]) == SettingKind::other);
  const std::string svg = pareto_plot(rows, "rows").render();
  CHECK(count_of(svg, "data-kind=\"dense\"") == 1);
  CHECK(count_of(svg, "data-kind=\"plain-rtn\"") == 1);
  CHECK(count_of(svg, "data-kind=\"other\"") == 3);
  CHECK(svg.find("plain RTN weights") != std::string::npos);
  CHECK(svg.find("dense (no spikes") != std::string::npos);
}

TEST_CASE("sweep: the table shows bits per weight, equal steps and additive fraction of ternary weights", "[sweep]") {
  const auto row = [](const char* method, double ppl, double bits, double steps, double additive) {
    return nlohmann::json{{"settings", {{"weights.method", method}}},
                          {"ppl", ppl},
                          {"energy_pj_per_token", 100.0},
                          {"weight_bits_per_weight", bits},
                          {"weight_equal_steps", steps},
                          {"weight_additive_fraction", additive}};
  };
  const std::string table = sweep_table({row("ternary", 26.3, 3.262, 1.4, 1.0), row("pbllm", 46.2, 4.885, 1.0, 0.899)});
  CHECK(table.find("additive") != std::string::npos);
  CHECK(table.find("3.262") != std::string::npos);
  CHECK(table.find("1.40") != std::string::npos);
  CHECK(table.find("100.0%") != std::string::npos);
  CHECK(table.find("89.9%") != std::string::npos);
  // Without ternary weights the table keeps its columns.
  const std::string plain = sweep_table({row("rtn", 12.0, 4.26, 0.0, 0.0)});
  CHECK(plain.find("additive") == std::string::npos);
}
