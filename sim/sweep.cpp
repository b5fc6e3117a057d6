#include "sim/sweep.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.hpp"

namespace spikesim {
namespace {

// One key = value the sweep file gives, with where it was written.
struct SweepEntry {
  std::string key;
  nlohmann::json value;  // as written: what "settings" records and resuming matches on
  std::string override;  // "key=<TOML value>" for the config machinery
  std::size_t line = 0;
};

std::string where(const std::filesystem::path& file, std::size_t line) {
  return line > 0 ? fmt::format("{}:{}", file.string(), line) : file.string();
}

std::string toml_text(const toml::node& node) {
  std::ostringstream out;
  node.visit([&](const auto& n) { out << n; });
  return out.str();
}

nlohmann::json to_json(const toml::node& node, const std::string& what) {
  if (const auto* s = node.as_string()) return s->get();
  if (const auto* i = node.as_integer()) return i->get();
  if (const auto* d = node.as_floating_point()) return d->get();
  if (const auto* b = node.as_boolean()) return b->get();
  if (const auto* a = node.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& item : *a) out.push_back(to_json(item, what));
    return out;
  }
  throw Error(ExitCode::config, fmt::format("{}: a value must be a string, number, boolean or list", what));
}

const ConfigKey* schema_key(const std::string& name) {
  std::string current = name;
  for (const auto& [old_name, new_name] : config_renamed_keys())
    if (name == old_name) current = new_name;
  for (const auto& key : config_schema())
    if (key.name == current) return &key;
  return nullptr;
}

// The config's own "unknown key 'x' (did you mean 'y'?)" message.
std::string unknown_key_message(const std::string& key) {
  try {
    (void)parse_config("", "", {key + "=0"});
  } catch (const Error& e) {
    std::string message = e.what();
    if (const auto at = message.find("unknown key"); at != std::string::npos) return message.substr(at);
  }
  return fmt::format("unknown key '{}'", key);
}

// An input path written in the sweep file, expanded and taken from the sweep
// file's folder exactly as a run config's would be: parsed as a one-key config
// in that folder.
std::string resolve_input_path(const ConfigKey& key, const std::string& value, const std::filesystem::path& file,
                               std::size_t line) {
  toml::table doc;
  doc.insert(std::string(key.section()), toml::table{{std::string(key.leaf()), value}});
  std::ostringstream text;
  text << doc;
  try {
    const SimConfig config = parse_config_in(text.str(), where(file, line), file.parent_path());
    return std::get<std::string>(key.get(config, key));
  } catch (const Error& e) {
    // The one-key document's line numbers mean nothing to the user.
    std::string message = e.what();
    const std::string prefix = where(file, line) + ":";
    if (message.starts_with(prefix)) {
      const auto colon = message.find(':', prefix.size());
      if (colon != std::string::npos) message = message.substr(colon + 1);
      message = where(file, line) + ":" + message;
    }
    throw Error(e.code(), message);
  }
}

// Checks the key, then gives the entry its override text (input paths resolved).
SweepEntry make_entry(const std::string& key, const toml::node* node, const std::string& bare,
                      const std::filesystem::path& file, std::size_t line) {
  const ConfigKey* schema = schema_key(key);
  if (schema == nullptr) throw Error(ExitCode::config, fmt::format("{}: {}", where(file, line), unknown_key_message(key)));
  SweepEntry entry{key, {}, {}, line};
  if (node != nullptr && node->is_table())
    throw Error(ExitCode::config, fmt::format("{}: key '{}': a table is not a value", where(file, line), key));
  entry.value = node != nullptr ? to_json(*node, fmt::format("{}: key '{}'", where(file, line), key)) : nlohmann::json(bare);
  std::string value_text = node != nullptr ? toml_text(*node) : bare;
  if (schema->input_path && entry.value.is_string()) {
    const std::string resolved = resolve_input_path(*schema, entry.value.get<std::string>(), file, line);
    std::ostringstream quoted;
    quoted << toml::value<std::string>(resolved);
    value_text = quoted.str();
  }
  entry.override = key + "=" + value_text;
  return entry;
}

// The `set` list: "key=value" strings, the value as --set takes it.
std::vector<SweepEntry> set_entries(const toml::array& set, const std::filesystem::path& file) {
  std::vector<SweepEntry> out;
  for (const auto& item : set) {
    const std::size_t line = item.source().begin.line;
    const auto* text = item.as_string();
    const std::string s = text ? text->get() : std::string();
    const auto eq = s.find('=');
    if (text == nullptr || eq == std::string::npos || eq == 0)
      throw Error(ExitCode::config,
                  fmt::format("{}: [sweep] set: each entry must be a string \"key=value\"", where(file, line)));
    std::string key = s.substr(0, eq), raw = s.substr(eq + 1);
    key.erase(key.find_last_not_of(" \t") + 1);
    raw.erase(0, raw.find_first_not_of(" \t"));
    // A TOML value when it is one (4, "text", [1, 2]), else a bare word as --set takes it.
    std::optional<toml::table> parsed;
    try {
      parsed = toml::parse("v = " + raw);
    } catch (const toml::parse_error&) {
    }
    const toml::node* node = parsed && parsed->size() == 1 ? parsed->get("v") : nullptr;
    out.push_back(make_entry(key, node, raw, file, line));
  }
  return out;
}

// A table's key = value pairs with nested tables flattened to dotted keys, so
// that both `encoding.bits = ...` and `"encoding.bits" = ...` name the key.
void flatten(const toml::table& table, const std::string& prefix,
             std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (auto&& [k, node] : table) {
    const std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (const auto* inner = node.as_table(); inner != nullptr && schema_key(key) == nullptr)
      flatten(*inner, key, out);
    else
      out.emplace_back(key, &node);
  }
}

std::size_t line_of(const toml::node& node) { return node.source().begin.line; }

// toml++ iterates a table in key order; a sweep's keys go in the order they
// are written (the grid's last key varies fastest, labels read as written).
void sort_as_written(std::vector<std::pair<std::string, const toml::node*>>& pairs) {
  std::stable_sort(pairs.begin(), pairs.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second->source().begin;
    const auto& y = b.second->source().begin;
    return x.line != y.line ? x.line < y.line : x.column < y.column;
  });
}

std::string label_of(const std::vector<SweepEntry>& entries) {
  std::string label;
  for (const auto& e : entries)
    label += (label.empty() ? "" : " ") + e.key + "=" + (e.value.is_string() ? e.value.get<std::string>() : e.value.dump());
  return label;
}

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

}  // namespace

SweepPlan load_sweep(const std::filesystem::path& file) {
  toml::table doc;
  try {
    doc = toml::parse_file(file.string());
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    if (begin.line == 0)
      throw Error(ExitCode::config, fmt::format("{}: cannot read sweep file: {}", file.string(), e.description()));
    throw Error(ExitCode::config,
                fmt::format("{}:{}:{}: TOML syntax error: {}", file.string(), begin.line, begin.column, e.description()));
  }
  const auto* sweep = doc["sweep"].as_table();
  if (sweep == nullptr || doc.size() != 1)
    throw Error(ExitCode::config,
                fmt::format("{}: a sweep file holds one table, [sweep] (docs/reference/sweep.md)", file.string()));
  for (auto&& [k, node] : *sweep)
    if (k != "base" && k != "set" && k != "output" && k != "grid" && k != "points" && k != "dense")
      throw Error(ExitCode::config,
                  fmt::format("{}: unknown key 'sweep.{}' (the keys are base, set, output, grid, points, dense)",
                              where(file, line_of(node)), k.str()));

  SweepPlan plan;
  plan.file = file;
  const std::filesystem::path folder = file.parent_path();
  const auto string_key = [&](const char* name) -> std::optional<std::string> {
    const toml::node* node = sweep->get(name);
    if (node == nullptr) return std::nullopt;
    if (!node->is_string())
      throw Error(ExitCode::config, fmt::format("{}: key 'sweep.{}' must be a string", where(file, line_of(*node)), name));
    return node->as_string()->get();
  };
  const auto from_folder = [&](const std::string& path) {
    const std::filesystem::path p(path);
    return p.is_relative() ? (std::filesystem::absolute(folder) / p).lexically_normal() : p;
  };
  plan.output = string_key("output") ? from_folder(*string_key("output"))
                                     : std::filesystem::path(file).replace_extension(".jsonl");

  // The base config's text, and whether it chooses run.mode itself.
  std::optional<std::filesystem::path> base;
  std::string base_text;
  bool base_sets_mode = false;
  if (const auto b = string_key("base")) {
    base = from_folder(*b);
    std::ifstream in(*base, std::ios::binary);
    if (!in)
      throw Error(ExitCode::config, fmt::format("{}: [sweep] base: cannot open '{}'", file.string(), base->string()));
    std::ostringstream text;
    text << in.rdbuf();
    base_text = text.str();
    try {
      base_sets_mode = toml::parse(base_text)["run"]["mode"].is_value();
    } catch (const toml::parse_error&) {
      // parse_config_in below reports the syntax error with its location.
    }
  }

  std::vector<SweepEntry> common;
  if (const toml::node* set = sweep->get("set")) {
    if (!set->is_array())
      throw Error(ExitCode::config, fmt::format("{}: key 'sweep.set' must be a list of \"key=value\" strings",
                                                where(file, line_of(*set))));
    common = set_entries(*set->as_array(), file);
  }

  // The settings: the grid's Cartesian product, or the explicit points.
  const toml::node* grid = sweep->get("grid");
  const toml::node* points = sweep->get("points");
  if ((grid == nullptr) == (points == nullptr))
    throw Error(ExitCode::config,
                fmt::format("{}: give the settings as [sweep.grid] or as [[sweep.points]] (one of them)", file.string()));
  std::vector<std::vector<SweepEntry>> swept;
  if (grid != nullptr) {
    if (!grid->is_table())
      throw Error(ExitCode::config, fmt::format("{}: sweep.grid must be a table", where(file, line_of(*grid))));
    std::vector<std::pair<std::string, const toml::node*>> axes;
    flatten(*grid->as_table(), "", axes);
    sort_as_written(axes);
    swept.emplace_back();
    for (const auto& [key, node] : axes) {
      // Every value of this key, times every setting so far (the last key varies fastest).
      std::vector<SweepEntry> values;
      if (const auto* list = node->as_array()) {
        if (list->empty())
          throw Error(ExitCode::config, fmt::format("{}: sweep.grid key '{}' has no values", where(file, line_of(*node)), key));
        for (const auto& v : *list) values.push_back(make_entry(key, &v, {}, file, line_of(*node)));
      } else {
        values.push_back(make_entry(key, node, {}, file, line_of(*node)));
      }
      plan.swept_keys.push_back(key);
      std::vector<std::vector<SweepEntry>> next;
      for (const auto& setting : swept)
        for (const auto& v : values) {
          next.push_back(setting);
          next.back().push_back(v);
        }
      swept = std::move(next);
    }
  } else {
    if (!points->is_array_of_tables())
      throw Error(ExitCode::config, fmt::format("{}: sweep.points must be tables: [[sweep.points]]", where(file, line_of(*points))));
    for (const auto& point : *points->as_array()) {
      std::vector<std::pair<std::string, const toml::node*>> pairs;
      flatten(*point.as_table(), "", pairs);
      sort_as_written(pairs);
      swept.emplace_back();
      for (const auto& [key, node] : pairs) {
        swept.back().push_back(make_entry(key, node, {}, file, line_of(*node)));
        if (std::find(plan.swept_keys.begin(), plan.swept_keys.end(), key) == plan.swept_keys.end())
          plan.swept_keys.push_back(key);
      }
    }
  }

  // The dense baseline first: one setting whatever the grid, marked in the plot.
  if (const toml::node* dense = sweep->get("dense")) {
    if (!dense->is_boolean())
      throw Error(ExitCode::config, fmt::format("{}: key 'sweep.dense' must be true or false", where(file, line_of(*dense))));
    if (dense->as_boolean()->get())
      swept.insert(swept.begin(), std::vector<SweepEntry>{make_entry("run.mode", nullptr, "dense", file, line_of(*dense))});
  }

  // Eval's defaults: nothing recorded, no per-token progress bar (the sweep
  // prints its own), and the spiking mode unless chosen, because only a
  // spiking evaluation counts the spikes and energy the front is about
  // (quantized gives the same perplexity without them).
  std::vector<std::string> defaults = {"record.enabled=false", "run.progress=false"};
  if (!base_sets_mode) defaults.insert(defaults.begin(), "run.mode=spiking");
  std::vector<nlohmann::json> seen;
  for (std::size_t i = 0; i < swept.size(); ++i) {
    SweepSetting setting;
    setting.settings = nlohmann::json::object();
    std::vector<std::string> overrides = defaults;
    for (const auto* group : {&common, &swept[i]})
      for (const auto& e : *group) {
        setting.settings[e.key] = e.value;
        overrides.push_back(e.override);
      }
    setting.label = label_of(swept[i]);
    if (std::find(seen.begin(), seen.end(), setting.settings) != seen.end())
      throw Error(ExitCode::config, fmt::format("{}: setting {} ({}) is given twice", file.string(), i + 1, setting.label));
    seen.push_back(setting.settings);
    try {
      setting.config = base ? parse_config_in(base_text, base->string(), base->parent_path(), overrides)
                            : parse_config("", file.string(), overrides);
    } catch (const Error& e) {
      // An override's problem names the sweep file's setting, not --set.
      throw Error(e.code(), fmt::format("{}: setting {} of {} ({}): {}", file.string(), i + 1, swept.size(),
                                        setting.label, replace_all(e.what(), "--set: ", "")));
    }
    plan.settings.push_back(std::move(setting));
  }
  return plan;
}

std::vector<nlohmann::json> read_sweep_rows(const std::filesystem::path& jsonl, std::vector<std::size_t>* unreadable) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(jsonl, std::ios::binary);
  std::size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) continue;
    nlohmann::json row = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (row.is_object() && row.contains("settings") && row["settings"].is_object())
      rows.push_back(std::move(row));
    else if (unreadable != nullptr)
      unreadable->push_back(number);
  }
  return rows;
}

namespace {

std::optional<std::pair<double, double>> energy_and_ppl(const nlohmann::json& row) {
  const auto number = [&](const char* key) -> std::optional<double> {
    if (!row.contains(key) || !row[key].is_number()) return std::nullopt;
    const double v = row[key].get<double>();
    return std::isfinite(v) && v > 0 ? std::optional(v) : std::nullopt;
  };
  const auto e = number("energy_pj_per_token"), p = number("ppl");
  if (!e || !p) return std::nullopt;
  return std::pair{*e, *p};
}

}  // namespace

SettingKind setting_kind(const nlohmann::json& row) {
  const auto text = [&](const char* key, const char* fallback) {
    return row.contains(key) && row[key].is_string() ? row[key].get<std::string>() : std::string(fallback);
  };
  if (text("mode", "") == "dense") return SettingKind::dense;
  const bool rtn = row.contains("wbits") && row["wbits"].is_number() && row["wbits"].get<double>() > 0 &&
                   text("wmethod", "rtn") == "rtn";
  const bool weight_clip = row.contains("weight_clip") && row["weight_clip"] == true;
  if (rtn && text("smoothing", "none") == "none" && !weight_clip) return SettingKind::plain_rtn;
  return SettingKind::other;
}

std::string_view setting_kind_name(SettingKind kind) {
  switch (kind) {
    case SettingKind::dense:
      return "dense";
    case SettingKind::plain_rtn:
      return "plain-rtn";
    case SettingKind::other:
      break;
  }
  return "other";
}

std::vector<std::size_t> pareto_front(const std::vector<nlohmann::json>& rows) {
  std::vector<std::size_t> front;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto a = energy_and_ppl(rows[i]);
    if (!a) continue;
    bool dominated = false;
    for (std::size_t j = 0; j < rows.size() && !dominated; ++j) {
      const auto b = energy_and_ppl(rows[j]);
      dominated = j != i && b && b->first <= a->first && b->second <= a->second &&
                  (b->first < a->first || b->second < a->second);
    }
    if (!dominated) front.push_back(i);
  }
  std::stable_sort(front.begin(), front.end(), [&](std::size_t a, std::size_t b) {
    return energy_and_ppl(rows[a])->first < energy_and_ppl(rows[b])->first;
  });
  return front;
}

std::vector<std::string> varying_keys(const std::vector<nlohmann::json>& rows, const std::vector<std::string>& order) {
  std::vector<std::string> keys;
  for (const auto& row : rows)
    for (const auto& item : row["settings"].items()) {
      // Named copies, not a structured binding: clang 14 cannot capture one in the lambda below.
      const std::string& key = item.key();
      const nlohmann::json& value = item.value();
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
      const bool varies = std::any_of(rows.begin(), rows.end(), [&](const nlohmann::json& other) {
        return !other["settings"].contains(key) || other["settings"][key] != value;
      });
      if (varies) keys.push_back(key);
    }
  const auto rank = [&](const std::string& key) {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), key) - order.begin());
  };
  std::stable_sort(keys.begin(), keys.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
  return keys;
}

std::string settings_label(const nlohmann::json& row, const std::vector<std::string>& keys) {
  std::string label;
  for (const auto& key : keys) {
    if (!row["settings"].contains(key)) continue;
    const auto& v = row["settings"][key];
    label += (label.empty() ? "" : " ") + key + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
  }
  return label.empty() ? "(base)" : label;
}

std::string sweep_table(const std::vector<nlohmann::json>& rows, const std::vector<std::string>& key_order) {
  const auto keys = varying_keys(rows, key_order);
  const auto front = pareto_front(rows);
  std::vector<std::string> labels;
  std::size_t width = 7;
  for (const auto& row : rows) {
    labels.push_back(settings_label(row, keys));
    width = std::max(width, labels.back().size());
  }
  // Ternary / PB-LLM weights (docs/concepts/weight-spiking.md): their bits
  // per weight, equal steps and additive fraction beside ppl and energy.
  const auto figure = [](const nlohmann::json& row, const char* key) {
    return row.contains(key) && row[key].is_number() ? row[key].get<double>() : 0.0;
  };
  const bool additive = std::any_of(rows.begin(), rows.end(), [&](const nlohmann::json& row) {
    return figure(row, "weight_additive_fraction") > 0;
  });
  std::string out = fmt::format("  {:<{}} {:>12} {:>16}", "setting", width, "ppl", "pJ/token");
  out += additive ? fmt::format(" {:>8} {:>6} {:>9}\n", "bits/w", "steps", "additive") : "\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    const auto& row = rows[i];
    const std::string ppl = row.contains("ppl") && row["ppl"].is_number() ? fmt::format("{:.4f}", row["ppl"].get<double>()) : "-";
    const std::string energy = row.contains("energy_pj_per_token") && row["energy_pj_per_token"].is_number()
                                   ? fmt::format("{:.4g}", row["energy_pj_per_token"].get<double>())
                                   : "-";
    out += fmt::format("{} {:<{}} {:>12} {:>16}", on_front ? '*' : ' ', labels[i], width, ppl, energy);
    out += additive ? fmt::format(" {:>8.3f} {:>6.2f} {:>8.1f}%\n", figure(row, "weight_bits_per_weight"),
                                  figure(row, "weight_equal_steps"), 100 * figure(row, "weight_additive_fraction"))
                    : "\n";
  }
  out += fmt::format("* non-dominated: {} of {} settings (no other has lower or equal ppl and energy)\n",
                     front.size(), rows.size());
  return out;
}

namespace {

// Ticks of a log10 axis over [lo, hi] (in log10 units), labelled with the values.
std::vector<std::pair<double, std::string>> log_ticks(double lo, double hi) {
  for (const std::vector<double>& mantissas : {std::vector<double>{1}, std::vector<double>{1, 2, 5},
                                               std::vector<double>{1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9}}) {
    std::vector<std::pair<double, std::string>> ticks;
    for (int k = static_cast<int>(std::floor(lo)); k <= static_cast<int>(std::ceil(hi)); ++k)
      for (const double m : mantissas) {
        const double value = m * std::pow(10.0, k);
        const double at = std::log10(value);
        if (at >= lo && at <= hi) ticks.emplace_back(at, svg::number(value));
      }
    if (ticks.size() >= 3) return ticks;
  }
  // Too narrow for round values (perplexities within a few percent): five
  // evenly spaced ticks, labelled with their values (not their log10).
  std::vector<std::pair<double, std::string>> ticks;
  for (int k = 0; k < 5; ++k) {
    const double at = lo + (hi - lo) * (k + 0.5) / 5.0;
    ticks.emplace_back(at, fmt::format("{:.3g}", std::pow(10.0, at)));
  }
  return ticks;
}

svg::Axis log_axis(std::string label, std::string unit, double min_value, double max_value) {
  double lo = std::log10(min_value), hi = std::log10(max_value);
  const double pad = std::max(0.05, (hi - lo) * 0.08);
  lo -= pad, hi += pad;
  svg::Axis axis{std::move(label), std::move(unit), lo, hi};
  axis.ticks = log_ticks(lo, hi);
  return axis;
}

}  // namespace

svg::Figure pareto_plot(const std::vector<nlohmann::json>& rows, const std::string& source,
                        const std::vector<std::string>& key_order) {
  const auto keys = varying_keys(rows, key_order);
  const auto front = pareto_front(rows);
  std::vector<std::size_t> plotted;
  double e_min = INFINITY, e_max = 0, p_min = INFINITY, p_max = 0;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (const auto ep = energy_and_ppl(rows[i])) {
      plotted.push_back(i);
      e_min = std::min(e_min, ep->first), e_max = std::max(e_max, ep->first);
      p_min = std::min(p_min, ep->second), p_max = std::max(p_max, ep->second);
    }
  if (plotted.empty())
    throw Error(ExitCode::data,
                fmt::format("{}: no setting has both ppl and energy_pj_per_token (energy is counted in spiking mode "
                            "only: run.mode = \"spiking\")",
                            source));

  svg::Figure figure("Perplexity against energy per token",
                     fmt::format("Every setting of {} ({} of {} rows with energy); the non-dominated ones joined "
                                 "by a step line. Log axes.",
                                 source, plotted.size(), rows.size()));
  auto& panel = figure.add_panel(fmt::format("{} settings, {} on the front", plotted.size(), front.size()), 420);
  panel.x_axis(log_axis("energy per token", "pJ, log scale", e_min, e_max));
  panel.y_axis(log_axis("perplexity", "log scale", p_min, p_max));

  const svg::Rgb front_colour = svg::series(1), other_colour = svg::kGrey;
  std::vector<svg::Point> staircase;
  for (const std::size_t i : front) {
    const auto ep = *energy_and_ppl(rows[i]);
    staircase.push_back({std::log10(ep.first), std::log10(ep.second)});
  }
  if (staircase.size() > 1) panel.step_line(staircase, front_colour, 1.5, "front");
  // Beyond a few settings the labels of dominated points would cover the front's.
  const bool label_all = plotted.size() <= 6;
  const svg::Rgb dense_colour = svg::series(3), rtn_colour = svg::series(2);
  bool any_dense = false, any_rtn = false;
  for (const std::size_t i : plotted) {
    const auto ep = *energy_and_ppl(rows[i]);
    const bool on_front = std::find(front.begin(), front.end(), i) != front.end();
    const SettingKind kind = setting_kind(rows[i]);
    any_dense |= kind == SettingKind::dense, any_rtn |= kind == SettingKind::plain_rtn;
    const std::string label = kind == SettingKind::dense ? "dense" : settings_label(rows[i], keys);
    const svg::Point at{std::log10(ep.first), std::log10(ep.second)};
    const svg::Rgb colour = kind == SettingKind::dense       ? dense_colour
                            : kind == SettingKind::plain_rtn ? rtn_colour
                            : on_front                       ? front_colour
                                                             : other_colour;
    panel.dot(at, on_front || kind == SettingKind::dense ? 4.5 : 3.5, colour, "setting",
              {{"data-energy-pj-per-token", svg::number(ep.first)},
               {"data-ppl", svg::number(ep.second)},
               {"data-front", on_front ? "1" : "0"},
               {"data-kind", std::string(setting_kind_name(kind))},
               {"data-settings", label}});
    // Labels on the right half end at their point, so that they stay inside the figure.
    const bool right_half = at.x > (panel.x().min + panel.x().max) / 2;
    if (on_front || label_all || kind == SettingKind::dense)
      panel.text(at, label, right_half ? svg::Anchor::end : svg::Anchor::start, -7);
  }
  panel.legend("non-dominated setting", front_colour, svg::LegendShape::dot);
  panel.legend("dominated setting", other_colour, svg::LegendShape::dot);
  if (any_dense) panel.legend("dense (no spikes; its energy is the dense network's)", dense_colour, svg::LegendShape::dot);
  if (any_rtn) panel.legend("plain RTN weights (no GPTQ, smoothing or clipping)", rtn_colour, svg::LegendShape::dot);
  return figure;
}

}  // namespace spikesim
