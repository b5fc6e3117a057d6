// The HTML report: the text report's tables as HTML with the plots of
// io/report/plots.hpp inline. Apart from report.cpp so that the plots, which
// read a RunReport, and the report reader do not include each other.
#include <fmt/format.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/report/plots.hpp"
#include "io/report/report.hpp"
#include "io/report/report_detail.hpp"
#include "io/report/svg_plot.hpp"

namespace spikesim {

using namespace report_detail;

namespace {

// A table of figures: a name, then numbers (right-aligned, each kept on one
// line so that "27.21 µJ" never splits from its unit), inside a box that
// scrolls sideways when the table is wider than the page.
std::string html_table(const std::vector<std::string>& header,
                       const std::vector<std::vector<std::string>>& rows) {
  std::string s = "<div class=\"scroll\"><table class=\"figures\">\n<thead><tr>";
  for (const auto& h : header) s += "<th>" + svg::escape(h) + "</th>";
  s += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    s += "<tr>";
    for (std::size_t c = 0; c < row.size(); ++c)
      s += (c == 0 ? "<td class=\"name\">" : "<td>") + svg::escape(row[c]) + "</td>";
    s += "</tr>\n";
  }
  return s + "</tbody>\n</table></div>\n";
}

// A key/value table: text on the left, and a long value (a model identity,
// a path) wraps inside the page instead of pushing the table past its edge.
std::string key_value_table(const std::vector<std::pair<std::string, std::string>>& rows) {
  std::string s = "<table class=\"key-value\">\n<thead><tr><th>key</th><th>value</th></tr></thead>\n<tbody>\n";
  for (const auto& [key, value] : rows)
    s += "<tr><td class=\"name\">" + svg::escape(key) + "</td><td>" + svg::escape(value) + "</td></tr>\n";
  return s + "</tbody>\n</table>\n";
}

// A section of the plain report ("Run totals", ...): its title line and body.
std::pair<std::string, std::string> section_of(const std::string& text, const std::string& heading) {
  const auto start = text.find("\n" + heading);
  if (start == std::string::npos) return {};
  const auto body = text.find('\n', start + 1);
  if (body == std::string::npos) return {};
  auto end = text.find("\n\n", body);
  if (end == std::string::npos) end = text.size();
  return {text.substr(start + 1, body - start - 1), text.substr(body + 1, end - body - 1)};
}

}  // namespace

std::string report_html(const RunReport& r, std::size_t top_k) {
  const std::string text = format_report_text(r, top_k);
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n";
  h += fmt::format("<title>spikesim report: {}</title>\n", svg::escape(r.path.filename().string()));
  h += "<style>\n"
       "body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; margin: 2em auto; max-width: "
       "1200px; color: #282828; }\n"
       "h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }\n"
       "table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }\n"
       "th, td { padding: 3px 8px; border-bottom: 1px solid #eee; }\n"
       "th { background: #f4f4f4; } td.name { text-align: left; font-family: monospace; }\n"
       ".scroll { overflow-x: auto; }\n"
       "table.figures th, table.figures td { text-align: right; white-space: nowrap; }\n"
       "table.figures th:first-child, table.figures td.name { text-align: left; }\n"
       "table.key-value { width: 100%; table-layout: fixed; }\n"
       "table.key-value th, table.key-value td { text-align: left; }\n"
       "table.key-value th:first-child, table.key-value td.name { width: 14em; }\n"
       "table.key-value td { overflow-wrap: anywhere; }\n"
       "pre { background: #f8f8f8; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }\n"
       ".warn { color: #b2182b; font-weight: bold; } figure { margin: 1em 0; } svg { max-width: 100%; "
       "height: auto; }\n"
       "</style>\n</head>\n<body>\n";
  h += fmt::format("<h1>spikesim report: {}</h1>\n", svg::escape(r.path.filename().string()));
  if (!r.complete)
    h += "<p class=\"warn\">INCOMPLETE: the run did not finish; the figures cover only what was "
         "written.</p>\n";
  {
    std::vector<std::pair<std::string, std::string>> rows{
        {"file", r.path.string()},
        {"written by", r.spikesim_version.empty() ? "(not recorded)" : "spikesim " + r.spikesim_version},
        {"model", r.model.empty() ? "(not recorded)" : fmt::format("{} ({})", r.model, r.model_format)},
        {"mode / workload", fmt::format("{} / {}", r.mode, r.workload)},
        {"tokens", r.tokens ? fmt::format("{}", *r.tokens) : "(not recorded)"}};
    for (const auto& [k, v] : r.settings) rows.emplace_back(k, v);
    h += "<h2>Model and config</h2>\n" + key_value_table(rows);
  }
  for (const char* heading : {"Run totals", "NeuroBench metrics", "Accuracy against"}) {
    const auto [title, block] = section_of(text, heading);
    if (!block.empty())
      h += fmt::format("<h2>{}</h2>\n<pre>{}</pre>\n", svg::escape(title), svg::escape(block));
  }
  auto rows_of = [](const std::vector<CountsRow>& v) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& x : v) rows.push_back(row_cells(x));
    return rows;
  };
  auto header = row_header();
  header[0] = "layer";
  if (!r.layers.empty()) h += "<h2>Per layer</h2>\n" + html_table(header, rows_of(r.layers));

  auto figure = [&](const std::string& caption, const std::function<svg::Figure()>& make) {
    try {
      h += "<figure>\n" + make().render(false) +
           fmt::format("<figcaption>{}</figcaption>\n</figure>\n", svg::escape(caption));
    } catch (const Error& e) {
      h += fmt::format("<p class=\"warn\">{} not drawn: {}</p>\n", svg::escape(caption),
                       svg::escape(e.what()));
    }
  };
  h += "<h2>Plots</h2>\n";
  if (!r.stages.empty())
    figure("Energy and operations per layer, spiking vs dense", [&] { return energy_plot(r); });
  // The most active population that has recorded spikes.
  const PopulationReport* busiest = nullptr;
  for (const auto* p : top_active(r, r.populations.size()))
    if (std::find(r.spike_populations.begin(), r.spike_populations.end(), p->name) !=
        r.spike_populations.end()) {
      busiest = p;
      break;
    }
  if (busiest) {
    RasterOptions ro;
    ro.population = busiest->name;
    ro.tokens = {0, std::min<std::uint64_t>(r.tokens.value_or(8), 8)};
    figure(fmt::format("Spike raster of {} (most active recorded population), first tokens", busiest->name),
           [&] { return raster_plot(r, ro); });
    figure(fmt::format("Firing rate per channel of {}", busiest->name),
           [&] { return rates_plot(r, RatesOptions{busiest->name}); });
  }
  if (!r.traced.empty()) {
    MembraneOptions mo;
    mo.population = r.traced.front();
    mo.tokens = {0, std::min<std::uint64_t>(r.tokens.value_or(4), 4)};
    figure(fmt::format("Membrane and spikes of neurons of {}", mo.population),
           [&] { return membrane_plot(r, mo); });
  }
  if (!r.stages.empty()) {
    header[0] = "stage";
    h += "<h2>Per stage</h2>\n" + html_table(header, rows_of(r.stages));
  }
  if (!r.populations.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const auto* p : top_active(r, top_k))
      rows.push_back({p->name, fmt::format("{}", p->neurons), fmt::format("{}", p->totals.spikes),
                      fmt::format("{:.3f}", p->spikes_per_neuron_token()),
                      fmt::format("{:.3f}", p->activation_sparsity()),
                      p->grid.known ? fmt::format("{:.3f}", p->grid.bits_per_neuron_token) : "-"});
    h += fmt::format("<h2>Most active populations (top {})</h2>\n", top_k) +
         html_table({"population", "neurons", "spikes", "spk/neuron/tok", "act. sparsity", "bits/neuron/tok"},
                    rows);
    rows.clear();
    for (const auto* p : top_energy(r, top_k))
      rows.push_back({p->name, p->energy ? energy_text(p->energy->total_pj()) : "-",
                      fmt::format("{}", p->totals.synaptic_events),
                      p->has_totals ? fmt::format("{}", p->totals.amplitude_acs) : "-",
                      p->has_totals ? fmt::format("{}", p->totals.effective_macs) : "-"});
    h += fmt::format("<h2>Most energy-hungry populations (top {})</h2>\n", top_k) +
         html_table({"population", "energy", "syn. events", "ACs (amp.)", "Eff. MACs"}, rows);
    if (!r.energy_note.empty()) h += fmt::format("<p>Note: {}</p>\n", svg::escape(r.energy_note));
    h += fmt::format("<p>Note: {}</p>\n", svg::escape(kKvNote));
  }
  if (!r.config_text.empty())
    h += "<h2>Config (/spikesim/config)</h2>\n<pre>" + svg::escape(r.config_text) + "</pre>\n";
  h += "</body>\n</html>\n";
  return h;
}

}  // namespace spikesim
