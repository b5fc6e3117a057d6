// The documentation's examples work as written.
//
// 1. Every ```sh block of docs/tutorial.md and docs/concepts/*.md is run,
//    line by line with /bin/sh, with this build's spikesim in place of
//    ./build/sim/spikesim, in a scratch folder that stands in for the
//    repository root: it holds a copy of examples/, and beside it a link
//    `shared` to the shared data folder, so that "../shared/models/..." in
//    commands and example configs resolves as it does from a checkout.
//    Every command must exit 0. The blocks of a page run in order in one
//    folder, so a command may use the files an earlier block wrote.
//    A block that needs a file under ../shared (named in the command or in
//    an examples/*.toml it runs) follows the CI rule of
//    tests/support/shared_data.hpp: a missing file fails in CI (CI=true) and
//    skips the block elsewhere. A command whose subcommand this spikesim
//    does not have fails, naming it.
//    Shell blocks are marked ```sh; output and commands that must not run
//    in a test (installing, long evaluations) are ```text.
// 2. Every config key the docs name (`section.key` anywhere in docs/**/*.md,
//    and `[section]` / `key = ...` in ```toml blocks) exists in the schema
//    (config_keys(), io/config/config.hpp).
// 3. Every examples/*.toml parses as a valid configuration (a sweep file,
//    one [sweep] table, as a valid sweep: sim/sweep.hpp).
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "sim/sweep.hpp"
#include "tests/support/files.hpp"
#include "tests/support/shared_data.hpp"
#include "tests/support/subprocess.hpp"
#include "tests/support/temp_dir.hpp"

using namespace spikesim;
namespace fs = std::filesystem;

namespace {

const fs::path kSource = SPIKESIM_SOURCE_DIR;
using test::kSpikesim;
// How the docs spell the binary: the README's build folder, from the repository root.
const std::string kDocsBinary = "./build/sim/spikesim";

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string tail(const std::string& text, std::size_t n = 3000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

// One shell command of a ```sh block (continuation lines joined).
struct Command {
  int line = 0;  // line of the page where it starts
  std::string text;
};

struct ShellBlock {
  int line = 0;  // line of the opening fence
  std::vector<Command> commands;
};

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Fenced blocks of a Markdown page: info string ("sh", "text", "" ...), first line, lines.
struct Fence {
  std::string info;
  int line = 0;
  std::vector<std::string> lines;
};

void split_markdown(const std::string& text, std::vector<Fence>& fences, std::vector<std::string>& prose) {
  std::istringstream in(text);
  std::string line;
  int n = 0;
  Fence* open = nullptr;
  while (std::getline(in, line)) {
    ++n;
    const std::string t = trim(line);
    if (t.rfind("```", 0) == 0) {
      if (open) {
        open = nullptr;
      } else {
        fences.push_back({trim(t.substr(3)), n, {}});
        open = &fences.back();
      }
      continue;
    }
    if (open)
      open->lines.push_back(line);
    else
      prose.push_back(line);
  }
  if (open) FAIL("unclosed ``` fence opened at line " << open->line);
}

std::vector<ShellBlock> shell_blocks(const std::string& markdown) {
  std::vector<Fence> fences;
  std::vector<std::string> prose;
  split_markdown(markdown, fences, prose);
  std::vector<ShellBlock> blocks;
  for (const Fence& f : fences) {
    if (f.info != "sh") continue;
    ShellBlock b{f.line, {}};
    std::string pending;
    int start = 0;
    for (std::size_t i = 0; i < f.lines.size(); ++i) {
      const std::string t = trim(f.lines[i]);
      if (pending.empty() && (t.empty() || t[0] == '#')) continue;
      if (pending.empty()) start = f.line + 1 + static_cast<int>(i);
      if (!t.empty() && t.back() == '\\') {
        pending += t.substr(0, t.size() - 1) + " ";
        continue;
      }
      b.commands.push_back({start, pending + t});
      pending.clear();
    }
    if (!pending.empty()) b.commands.push_back({start, pending});
    blocks.push_back(std::move(b));
  }
  return blocks;
}

// The subcommands this spikesim has, from `spikesim --help`.
std::set<std::string> binary_subcommands(const fs::path& scratch) {
  const fs::path out = scratch / "help.txt";
  const std::string cmd = shell_quote(kSpikesim) + " --help > " + shell_quote(out.string()) + " 2>&1";
  const int status = std::system(cmd.c_str());
  REQUIRE(status != -1);
  REQUIRE(WIFEXITED(status));
  INFO("spikesim --help:\n" << test::read_file_or_fail(out));
  REQUIRE(WEXITSTATUS(status) == 0);
  std::set<std::string> names;
  std::istringstream in(test::read_file_or_fail(out));
  std::string line;
  bool in_list = false;
  const std::regex entry(R"(^  ([a-z][a-z0-9_-]*)\s)");
  while (std::getline(in, line)) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_list = true;
      continue;
    }
    std::smatch m;
    if (in_list && std::regex_search(line, m, entry)) names.insert(m[1]);
  }
  REQUIRE(!names.empty());
  return names;
}

// Subcommands a command line invokes: the first word after each
// ./build/sim/spikesim that is not an option.
std::vector<std::string> invoked_subcommands(const std::string& command) {
  std::vector<std::string> out;
  for (auto pos = command.find(kDocsBinary); pos != std::string::npos;
       pos = command.find(kDocsBinary, pos + kDocsBinary.size())) {
    std::istringstream words(command.substr(pos + kDocsBinary.size()));
    std::string w;
    while (words >> w) {
      if (w[0] == '-') continue;
      if (std::isalpha(static_cast<unsigned char>(w[0])) != 0) out.push_back(w);
      break;
    }
  }
  return out;
}

// Paths under ../shared that a block needs: named in its commands or in the
// examples/*.toml configs they run. Relative to the shared folder.
std::set<std::string> shared_paths(const ShellBlock& block) {
  const std::regex shared(R"(\.\./shared/([^\s"'`;|&)]+))");
  const std::regex config(R"(examples/[A-Za-z0-9_.-]+\.toml)");
  std::set<std::string> paths;
  // The example configs name the models as ${SPIKESIM_MODELS:-../../shared/models}/...
  // (config.md, "Paths"): the same shared folder.
  const std::regex models_var(R"(\$\{SPIKESIM_MODELS:-(\.\./)+shared/models\})");
  auto collect = [&](const std::string& raw) {
    const std::string text = std::regex_replace(raw, models_var, "../shared/models");
    for (std::sregex_iterator it(text.begin(), text.end(), shared), end; it != end; ++it)
      paths.insert((*it)[1]);
  };
  for (const Command& c : block.commands) {
    collect(c.text);
    for (std::sregex_iterator it(c.text.begin(), c.text.end(), config), end; it != end; ++it) {
      const fs::path toml = kSource / it->str();
      if (fs::exists(toml)) collect(test::read_file_or_fail(toml));
    }
  }
  return paths;
}

struct Result {
  int status = -1;
  std::string out, err;
};

// Runs one command with /bin/sh in `cwd`; the docs' binary path becomes this build's.
Result run_command(const std::string& command, const fs::path& cwd, const fs::path& scratch) {
  std::string text = command;
  for (auto pos = text.find(kDocsBinary); pos != std::string::npos; pos = text.find(kDocsBinary, pos)) {
    const std::string quoted = shell_quote(kSpikesim);
    text.replace(pos, kDocsBinary.size(), quoted);
    pos += quoted.size();
  }
  const fs::path script = scratch / "command.sh", out = scratch / "stdout.txt", err = scratch / "stderr.txt";
  test::write_file_or_fail(script, text + "\n");
  const std::string line = "cd " + shell_quote(cwd.string()) + " && timeout 600 /bin/sh " +
                           shell_quote(script.string()) + " > " + shell_quote(out.string()) + " 2> " +
                           shell_quote(err.string());
  Result r;
  const int status = std::system(line.c_str());
  r.status = status == -1 || !WIFEXITED(status) ? -1 : WEXITSTATUS(status);
  r.out = test::read_file_or_fail(out);
  r.err = test::read_file_or_fail(err);
  return r;
}

// Runs every ```sh block of one page (see the top of this file).
void run_page(const fs::path& page) {
  const std::string rel = fs::relative(page, kSource).string();
  const auto blocks = shell_blocks(test::read_file_or_fail(page));
  if (blocks.empty()) return;

  test::TempDir scratch("docs_" + page.stem().string());
  const fs::path repo = scratch.path() / "repo";
  fs::create_directories(repo);
  fs::copy(kSource / "examples", repo / "examples", fs::copy_options::recursive);
  if (fs::exists(test::shared_dir()))
    fs::create_directory_symlink(fs::absolute(test::shared_dir()), scratch.path() / "shared");
  const auto subcommands = binary_subcommands(scratch.path());

  for (const ShellBlock& block : blocks) {
    bool available = true;
    for (const std::string& p : shared_paths(block)) {
      INFO(rel << ":" << block.line << ": the ```sh block needs ../shared/" << p);
      if (test::shared_file(p).empty()) available = false;  // FAILs in CI, warns elsewhere
    }
    if (!available) {
      WARN("skipping the ```sh block at " << rel << ":" << block.line << " (shared data missing)");
      continue;
    }
    for (const Command& c : block.commands) {
      bool runnable = true;
      for (const std::string& sub : invoked_subcommands(c.text)) {
        if (subcommands.count(sub) != 0) continue;
        FAIL_CHECK(rel << ":" << c.line << " runs `spikesim " << sub << "`, which this spikesim ("
                       << kSpikesim << ") does not have: it should come from sim/cli/" << sub
                       << "_command.cpp\n  command: " << c.text);
        runnable = false;
      }
      if (!runnable) continue;
      const Result r = run_command(c.text, repo, scratch.path());
      INFO(rel << ":" << c.line << ": " << c.text << "\n  run in " << repo.string()
               << "\n--- stdout (tail) ---\n"
               << tail(r.out) << "\n--- stderr (tail) ---\n"
               << tail(r.err));
      CHECK(r.status == 0);
    }
  }
}

// "[name]" (built by appending: GCC 12 warns, wrongly, on "[" + std::string).
std::string bracketed_name(const std::string& name) {
  std::string s(1, '[');
  s.append(name);
  s.push_back(']');
  return s;
}

// Config keys named in a Markdown page; `where` says file:line for messages.
struct KeyMention {
  std::string key, where;
};

std::vector<KeyMention> key_mentions(const fs::path& page, const std::vector<std::string>& sections) {
  const std::string rel = fs::relative(page, kSource).string();
  std::string alternatives;
  for (const auto& s : sections) alternatives += (alternatives.empty() ? "" : "|") + s;
  // section.key, not part of a longer dotted or path-like name (a tensor
  // such as model.layers.0.mlp.up_proj.weight) and not a file name such as
  // run.toml or model.safetensors.
  const std::regex dotted("(^|[^A-Za-z0-9_./:-])(" + alternatives +
                          R"()\.([A-Za-z_][A-Za-z0-9_]*)(?![A-Za-z0-9_]|\.[A-Za-z0-9_]))");
  static const std::set<std::string> file_extensions = {
      "toml", "h5",  "md",  "json", "bin", "safetensors", "model", "py",  "cpp", "hpp",
      "txt",  "svg", "png", "html", "dot", "partial",     "i32",   "f32", "sh",  "dat"};
  const std::regex toml_section(R"(^\s*\[([A-Za-z_][A-Za-z0-9_]*)\]\s*(#.*)?$)");
  const std::regex toml_key(R"(^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=)");

  std::vector<KeyMention> out;
  std::istringstream in(test::read_file_or_fail(page));
  std::string line, toml_current;
  std::string fence;  // info string of the open fence ("" outside a fence or when it has none)
  bool in_fence = false;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string where = rel + ":" + std::to_string(n);
    const std::string t = trim(line);
    if (t.rfind("```", 0) == 0) {
      in_fence = !in_fence;
      fence = in_fence ? trim(t.substr(3)) : "";
      toml_current.clear();
      continue;
    }
    for (std::sregex_iterator it(line.begin(), line.end(), dotted), end; it != end; ++it) {
      const std::string leaf = (*it)[3];
      if (file_extensions.count(leaf) != 0) continue;
      out.push_back({std::string((*it)[2]) + "." + leaf, where});
    }
    // A fence tagged `toml` is a run config; other TOML (an energy profile,
    // docs/concepts/accounting-and-energy.md) is tagged `toml energy-profile`.
    if (in_fence && fence == "toml") {
      std::smatch m;
      if (std::regex_search(line, m, toml_section)) {
        toml_current = m[1];
        out.push_back({bracketed_name(toml_current), where});
      } else if (!toml_current.empty() && std::regex_search(line, m, toml_key)) {
        out.push_back({toml_current + "." + std::string(m[1]), where});
      }
    }
  }
  return out;
}

std::vector<fs::path> markdown_pages() {
  std::vector<fs::path> pages;
  for (const auto& e : fs::recursive_directory_iterator(kSource / "docs"))
    if (e.is_regular_file() && e.path().extension() == ".md") pages.push_back(e.path());
  std::sort(pages.begin(), pages.end());
  return pages;
}

}  // namespace

TEST_CASE("the shell commands of the tutorial run as written", "[docs]") {
  const fs::path page = kSource / "docs" / "tutorial.md";
  REQUIRE(fs::exists(page));
  const auto blocks = shell_blocks(test::read_file_or_fail(page));
  // The tutorial walks through run, info, report, plot, read_spikes.py and eval.
  REQUIRE(blocks.size() >= 5);
  std::string all;
  for (const auto& b : blocks)
    for (const auto& c : b.commands) all += c.text + "\n";
  for (const char* step :
       {"spikesim run examples/default.toml", "spikesim info", "spikesim report", "spikesim plot",
        "examples/read_spikes.py", "spikesim eval", "examples/brown_llama.toml", "examples/stories260k.toml"})
    CHECK(all.find(step) != std::string::npos);
  run_page(page);
}

TEST_CASE("the shell commands of the concept pages run as written", "[docs]") {
  const fs::path dir = kSource / "docs" / "concepts";
  REQUIRE(fs::is_directory(dir));
  std::vector<fs::path> pages;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".md") pages.push_back(e.path());
  std::sort(pages.begin(), pages.end());
  REQUIRE(!pages.empty());
  for (const fs::path& page : pages) {
    INFO("page " << page.string());
    run_page(page);
  }
}

TEST_CASE("every config key the docs name exists", "[docs]") {
  const auto keys = config_keys();
  std::set<std::string> known(keys.begin(), keys.end());
  for (const auto& [old_name, new_name] : config_renamed_keys()) known.insert(old_name);  // still accepted
  const auto sections = config_sections();
  const std::set<std::string> known_sections(sections.begin(), sections.end());
  // docs/reference/config.md shows this misspelling on purpose, in the error it causes.
  const std::set<std::string> deliberate = {"encoding.bitz"};
  std::size_t checked = 0;
  std::set<std::string> deliberate_seen;
  for (const fs::path& page : markdown_pages()) {
    for (const KeyMention& m : key_mentions(page, sections)) {
      ++checked;
      if (m.key.front() == '[') {
        INFO(m.where << ": section " << m.key << " is not in the schema (io/config/config_schema.cpp)");
        CHECK(known_sections.count(m.key.substr(1, m.key.size() - 2)) == 1);
      } else if (deliberate.count(m.key) != 0) {
        deliberate_seen.insert(m.key);
      } else {
        INFO(m.where << ": key '" << m.key << "' is not in the schema (io/config/config_schema.cpp)");
        CHECK(known.count(m.key) == 1);
      }
    }
  }
  // The scan works: the reference alone names every key, and it finds the
  // deliberate misspelling (remove it from `deliberate` if the page drops it).
  CHECK(checked >= keys.size());
  CHECK(deliberate_seen == deliberate);
}

TEST_CASE("every example config is a valid configuration", "[docs]") {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(kSource / "examples")) {
    if (e.path().extension() != ".toml") continue;
    ++n;
    INFO(e.path().string());
    try {
      const std::string text = test::read_file_or_fail(e.path());
      if (text.find("\n[sweep]") != std::string::npos || text.starts_with("[sweep]"))
        (void)load_sweep(e.path());
      else
        (void)parse_config(text, e.path().filename().string());
    } catch (const Error& err) {
      FAIL_CHECK(err.what());
    }
  }
  CHECK(n >= 3);
}
