#pragma once
// `spikesim sweep SWEEP.toml`: evaluate many settings of the config keys and
// find the settings that give the lowest perplexity for their energy.
//
// SWEEP.toml (docs/reference/sweep.md):
//
//   [sweep]
//   base = "run.toml"                  # optional run config every setting starts from
//   set = ["model.path=...", "eval.windows=4"]   # overrides applied to every setting
//   output = "results.jsonl"           # default <sweep file without .toml>.jsonl
//   dense = true                       # also evaluate run.mode = "dense" once (the baseline)
//
//   [sweep.grid]                       # the Cartesian product of these lists ...
//   "encoding.bits" = [2, 3, 4]
//   "weights.bits" = [0, 4]
//
//   [[sweep.points]]                   # ... or explicit settings (not both)
//   "encoding.bits" = 4
//
// Keys are config keys, checked by the config machinery (an unknown key is
// refused with its "did you mean"). Input paths (model.path, token files)
// written in the sweep file are taken from its folder, as a run config's are.
//
// Each setting's result is one JSON line of the output: {"settings": {key:
// value, ...}, then evaluate()'s fields (ppl, energy_pj_per_token, ...)}.
// "settings" holds the `set` overrides and the setting's own keys as written
// in the sweep file, which is what resuming matches on.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "io/config/config.hpp"
#include "io/report/svg_plot.hpp"

namespace spikesim {

struct SweepSetting {
  nlohmann::json settings;  // {key: value}: the `set` overrides and the swept keys
  std::string label;        // the swept keys only, "encoding.bits=3 weights.bits=4"
  SimConfig config;         // what evaluate() runs
};

struct SweepPlan {
  std::filesystem::path file;    // the sweep file
  std::filesystem::path output;  // the JSONL file
  std::vector<std::string> swept_keys;
  std::vector<SweepSetting> settings;
};

// Reads SWEEP.toml and builds (and validates) the config of every setting
// before anything is evaluated. Errors: Error(ExitCode::config) naming the
// file, the line and the key.
SweepPlan load_sweep(const std::filesystem::path& file);

// The readable rows of a sweep's JSONL file. `unreadable` gets the 1-based
// numbers of lines that are not one JSON object with "settings" (a line cut
// short by a kill, or edited by hand).
std::vector<nlohmann::json> read_sweep_rows(const std::filesystem::path& jsonl,
                                            std::vector<std::size_t>* unreadable = nullptr);

// What the Pareto plot marks apart: the dense setting (mode "dense"), plain
// RTN weight settings (wbits > 0 by RTN, no smoothing, no weight clipping),
// and every other setting.
enum class SettingKind { dense, plain_rtn, other };
SettingKind setting_kind(const nlohmann::json& row);
std::string_view setting_kind_name(SettingKind kind);

// Indices of the rows on the Pareto front of ppl against energy_pj_per_token:
// a row is dominated when another has ppl <= and energy <= with one of them
// strictly less. Rows without both numbers are never on the front. Sorted
// by energy, ascending.
std::vector<std::size_t> pareto_front(const std::vector<nlohmann::json>& rows);

// Keys of "settings" whose values differ between rows: what the sweep varied.
// Those named in `order` (a sweep's keys as written) come first, in that
// order; the others follow in key order.
std::vector<std::string> varying_keys(const std::vector<nlohmann::json>& rows,
                                      const std::vector<std::string>& order = {});
// "key=value key=value" of a row's settings restricted to `keys`.
std::string settings_label(const nlohmann::json& row, const std::vector<std::string>& keys);

// The table printed at the end of a sweep: one line per row (its varying
// settings, ppl, energy per token), front rows marked with '*'.
std::string sweep_table(const std::vector<nlohmann::json>& rows, const std::vector<std::string>& key_order = {});

// ppl against energy per token on log axes: every row with both numbers a
// dot (<circle class="setting">, data-kind dense / plain-rtn / other), the
// front as a step line and its points labelled with the varying keys (every
// point when there are few); the dense and plain-RTN settings in their own
// colours, named in the legend.
svg::Figure pareto_plot(const std::vector<nlohmann::json>& rows, const std::string& source,
                        const std::vector<std::string>& key_order = {});

}  // namespace spikesim
