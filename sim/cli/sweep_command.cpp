// spikesim sweep SWEEP.toml: evaluate every setting of a sweep file
// (sim/sweep.hpp, docs/reference/sweep.md), one JSON line each, resuming
// from the lines already written; then the front table and the Pareto SVG.
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "core/error.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/thread_limit.hpp"
#include "sim/evaluation.hpp"
#include "sim/interrupt.hpp"
#include "sim/sweep.hpp"

namespace spikesim::cli {
namespace {

std::string duration_text(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

// Appends one line and makes it durable before the next setting starts, so a
// kill or power loss costs at most the setting in flight.
void append_line(const std::filesystem::path& file, const std::string& line) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(ExitCode::output, fmt::format("{}: cannot open for appending: {}", file.string(), std::strerror(errno)));
  const std::string text = line + "\n";
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      throw Error(ExitCode::output, fmt::format("{}: cannot write: {}", file.string(), std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!synced) throw Error(ExitCode::output, fmt::format("{}: cannot sync: {}", file.string(), std::strerror(err)));
}

// Rewrites the JSONL with only its readable rows (a line cut by a kill, or
// broken by hand, is dropped and its setting evaluated again): a temporary
// file renamed over the old one, so a crash here loses nothing.
void rewrite_rows(const std::filesystem::path& file, const std::vector<nlohmann::json>& rows) {
  const std::filesystem::path temp = file.string() + ".tmp";
  std::filesystem::remove(temp);
  for (const auto& row : rows) append_line(temp, row.dump());
  if (rows.empty()) std::ofstream(temp, std::ios::binary);
  std::error_code ec;
  std::filesystem::rename(temp, file, ec);
  if (ec) throw Error(ExitCode::output, fmt::format("{}: cannot replace: {}", file.string(), ec.message()));
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(ExitCode::output, fmt::format("cannot write output '{}'", file.string()));
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  struct Options {
    std::string file, plot;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "sweep",
      "Evaluate every setting of a sweep file (a grid or a list of config-key settings), one JSON line each; "
      "resumes from the lines already written; prints the settings with the non-dominated ones (lowest ppl "
      "for their energy) marked and draws ppl against energy (docs/reference/sweep.md)");
  cmd->add_option("file", o->file, "Sweep file (TOML, a [sweep] table)")->required();
  cmd->add_option("--plot", o->plot, "Pareto SVG to write at the end (default <output without .jsonl>.svg)");
  cmd->callback([o] {
    // SIGINT/SIGTERM only set a flag: evaluate() stops at its next token and
    // throws, the setting in flight is abandoned (nothing written for it),
    // and main exits 130. The lines already written stay.
    install_interrupt_handlers();
    const SweepPlan plan = load_sweep(o->file);
    std::filesystem::path plot = o->plot.empty() ? std::filesystem::path(plan.output).replace_extension(".svg")
                                                 : std::filesystem::path(o->plot);
    if (plot.extension() != ".svg")
      throw Error(ExitCode::usage, fmt::format("--plot '{}': the plot is written as SVG (name it *.svg)", plot.string()));

    // Resume: settings already in the output are not evaluated again.
    std::vector<std::size_t> unreadable;
    std::vector<nlohmann::json> rows = read_sweep_rows(plan.output, &unreadable);
    if (!unreadable.empty()) {
      std::string numbers;
      for (const auto n : unreadable) numbers += (numbers.empty() ? "" : ", ") + std::to_string(n);
      std::cerr << fmt::format("sweep: {}: dropping {} unreadable line(s) ({}); their settings run again\n",
                               plan.output.string(), unreadable.size(), numbers);
      rewrite_rows(plan.output, rows);
    }
    std::vector<const SweepSetting*> todo;
    for (const auto& s : plan.settings) {
      const bool done = std::any_of(rows.begin(), rows.end(), [&](const nlohmann::json& r) { return r["settings"] == s.settings; });
      if (!done) todo.push_back(&s);
    }
    const std::size_t skipped = plan.settings.size() - todo.size();
    std::cerr << fmt::format("sweep: {} settings; {} already in {}, {} to evaluate\n", plan.settings.size(), skipped,
                             plan.output.string(), todo.size());

    double spent = 0;
    for (std::size_t i = 0; i < todo.size(); ++i) {
      const SweepSetting& s = *todo[i];
      const std::size_t k = skipped + i + 1;
      std::cerr << fmt::format("[{}/{}] {} ...\n", k, plan.settings.size(), s.label);
      throw_if_interrupted(fmt::format("before setting {} of {}; {} holds the settings done", k,
                                       plan.settings.size(), plan.output.string()));
      const auto start = std::chrono::steady_clock::now();
      nlohmann::json result;
      {
        const auto guard = limit_threads(s.config.run.threads);
        result = evaluate(s.config);
      }
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      spent += wall;
      // "settings" first, so that a reader of the file sees what the numbers are for.
      nlohmann::ordered_json line;
      line["settings"] = s.settings;
      for (const auto& [key, value] : result.items()) line[key] = value;
      append_line(plan.output, line.dump());
      nlohmann::json row = {{"settings", s.settings}};
      row.update(result);
      rows.push_back(row);
      const double eta = spent / static_cast<double>(i + 1) * static_cast<double>(todo.size() - i - 1);
      const std::string energy = result.contains("energy_pj_per_token")
                                     ? fmt::format(", {:.4g} pJ/token", result["energy_pj_per_token"].get<double>())
                                     : std::string();
      std::cerr << fmt::format("[{}/{}] {}: ppl {:.4f}{} ({:.1f} s), ETA {}\n", k, plan.settings.size(), s.label,
                               result["ppl"].get<double>(), energy, wall, duration_text(eta));
    }

    // The table and the plot cover this sweep's settings, in sweep order.
    std::vector<nlohmann::json> ordered;
    for (const auto& s : plan.settings)
      for (const auto& r : rows)
        if (r["settings"] == s.settings) {
          ordered.push_back(r);
          break;
        }
    std::cout << sweep_table(ordered, plan.swept_keys);
    if (std::any_of(ordered.begin(), ordered.end(), [](const nlohmann::json& r) { return r.contains("energy_pj_per_token"); })) {
      write_text(plot, pareto_plot(ordered, plan.output.filename().string(), plan.swept_keys).render(true));
      std::cout << fmt::format("wrote {} and {}\n", plan.output.string(), plot.string());
    } else {
      std::cout << fmt::format("wrote {} (no Pareto plot: energy is counted in spiking mode only)\n", plan.output.string());
    }
  });
}

}  // namespace spikesim::cli
