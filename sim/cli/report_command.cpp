// spikesim report OUT.h5 [--json] [--html FILE] [--top K]
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "core/error.hpp"
#include "io/report/report.hpp"
#include "sim/cli/commands.hpp"

namespace spikesim::cli {

void add_report_command(CLI::App& app) {
  struct Options {
    std::string file, html;
    bool json = false, text = false;
    std::size_t top = 5;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "report",
      "Report a run: model and config, per-layer and per-stage tables, NeuroBench metrics, accuracy, "
      "most active and most energy-hungry populations");
  cmd->add_option("file", o->file, "HDF5 file written by spikesim run")->required();
  cmd->add_flag("--json", o->json, "Print the report as JSON instead of text");
  cmd->add_option("--html", o->html, "Write a self-contained HTML page with the plots inlined (instead of the text, "
                                     "unless --text)");
  cmd->add_flag("--text", o->text, "Print the text report too (with --html)");
  cmd->add_option("--top", o->top, "How many populations the top lists show")->check(CLI::Range(1, 1000));
  cmd->callback([o] {
    const RunReport report = read_run_report(o->file);
    if (!o->html.empty()) {
      std::ofstream out(o->html, std::ios::binary);
      if (!out) throw Error(ExitCode::output, fmt::format("cannot write output '{}'", o->html));
      out << report_html(report, o->top);
      out.close();
      if (!out) throw Error(ExitCode::output, fmt::format("cannot write output '{}'", o->html));
    }
    if (o->json) {
      std::cout << report_json(report, o->top).dump(2) << "\n";
    } else if (o->html.empty() || o->text) {
      std::cout << format_report_text(report, o->top);
      if (!o->html.empty()) std::cout << "\n  html: " << o->html << "\n";
    } else {
      std::cout << "html: " << o->html << "\n";
    }
  });
}

}  // namespace spikesim::cli
