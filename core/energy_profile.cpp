// Energy profiles: the TOML files that give an EnergyModel its figures
// (core/energy_profiles/, embedded at build time; the format is documented
// in docs/concepts/accounting-and-energy.md).
//
// A profile gives each figure either for every precision ([figures]) or
// per precision ([precision.fp32], ...), as a number of pJ or as a formula
// ("add_pj + mul_pj") that adds figures of the same precision and numbers.
// `base = "45nm"` starts from a shipped profile: a figure the file does not
// give is the base's, and formulas are evaluated after the merge, so that a
// profile that changes add_pj changes every figure defined from it.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <tuple>

#include "core/energy_model.hpp"
#include "core/energy_profiles_embedded.hpp"
#include "core/error.hpp"

namespace spikesim {
namespace {

constexpr std::array<Precision, 3> kPrecisions{Precision::fp32, Precision::int32, Precision::int8};
constexpr std::array<std::string_view, 2> kMemoryFigures{"sram_pj_per_byte", "dram_pj_per_byte"};
constexpr std::array<std::string_view, 7> kTopKeys{"name", "source", "checked", "base", "figures", "precision", "memory"};
// Bases may chain (a user's profile on "loihi" on "45nm"); a longer chain is a loop.
constexpr int kMaxBaseDepth = 8;

// A profile gives every EnergyModel figure except the weight fetch, which
// [memory] gives per memory level.
bool is_profile_figure(std::string_view name) {
  if (name == "fetch_pj_per_byte") return false;
  for (const auto& [figure, field] : energy_model_figures())
    if (figure == name) return true;
  return false;
}

std::string profile_figure_names() {
  std::vector<std::string_view> names;
  for (const auto& [figure, field] : energy_model_figures())
    if (is_profile_figure(figure)) names.push_back(figure);
  return fmt::format("{}", fmt::join(names, ", "));
}

// One figure as the file gives it: a number, or a formula's terms (each a
// figure name or a number), added left to right.
struct FigureValue {
  double number = 0;
  std::vector<std::string> formula;
  std::size_t line = 0;
};

using Figures = std::map<std::string, FigureValue, std::less<>>;

struct Profile {
  std::string source_name;  // the file, for messages
  std::string name, base;
  Figures all_precisions;
  std::array<Figures, 3> by_precision;  // kPrecisions order
  std::map<std::string, double, std::less<>> memory;
};

[[noreturn]] void refuse(const std::string& where, std::size_t line, const std::string& message) {
  throw Error(ExitCode::config,
              line > 0 ? fmt::format("{}:{}: {}", where, line, message) : fmt::format("{}: {}", where, message));
}

std::size_t line_of(const toml::node& node) { return node.source().begin.line; }

std::string_view type_of(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date or time";
  }
}

// A number of pJ: finite and not negative.
double picojoules(const toml::node& node, const std::string& where, const std::string& key) {
  const auto value = node.value<double>();
  if (!value || node.is_boolean())
    refuse(where, line_of(node), fmt::format("key '{}' must be a number of pJ, found {}", key, type_of(node)));
  if (!std::isfinite(*value) || *value < 0)
    refuse(where, line_of(node), fmt::format("key '{}' = {} must be a finite number of pJ ≥ 0", key, *value));
  return *value;
}

FigureValue figure_value(const toml::node& node, const std::string& where, const std::string& key) {
  FigureValue v;
  v.line = line_of(node);
  if (!node.is_string()) {
    if (!node.is_number())
      refuse(where, v.line,
             fmt::format("key '{}' must be a number of pJ or a formula such as \"add_pj + mul_pj\", found {}", key,
                         type_of(node)));
    v.number = picojoules(node, where, key);
    return v;
  }
  const std::string text = *node.value<std::string>();
  std::string_view rest = text;
  while (true) {
    const auto plus = rest.find('+');
    std::string_view term = rest.substr(0, plus);
    while (!term.empty() && term.front() == ' ') term.remove_prefix(1);
    while (!term.empty() && term.back() == ' ') term.remove_suffix(1);
    double number = 0;
    const auto [end, ec] = std::from_chars(term.data(), term.data() + term.size(), number);
    const bool is_number = ec == std::errc() && end == term.data() + term.size() && !term.empty();
    if (is_number && (!std::isfinite(number) || number < 0))
      refuse(where, v.line, fmt::format("key '{}' = \"{}\": '{}' must be a finite number of pJ ≥ 0", key, text, term));
    if (!is_number && !is_profile_figure(term))
      refuse(where, v.line,
             fmt::format("key '{}' = \"{}\": '{}' is neither a number nor a figure (a formula adds figures of "
                         "the same precision and numbers, such as \"add_pj + mul_pj\"; figures: {})",
                         key, text, term, profile_figure_names()));
    v.formula.emplace_back(term);
    if (plus == std::string_view::npos) break;
    rest = rest.substr(plus + 1);
  }
  return v;
}

Figures figure_table(const toml::node& node, const std::string& where, const std::string& key) {
  const auto* table = node.as_table();
  if (table == nullptr)
    refuse(where, line_of(node), fmt::format("key '{}' must be a table of figures, found {}", key, type_of(node)));
  Figures out;
  for (auto&& [k, value] : *table) {
    const std::string name(k.str());
    const std::string full = key + "." + name;
    if (!is_profile_figure(name))
      refuse(where, line_of(value),
             fmt::format("unknown key '{}' (a figure is one of: {})", full, profile_figure_names()));
    out[name] = figure_value(value, where, full);
  }
  return out;
}

std::string required_text(const toml::table& doc, std::string_view key, const std::string& where) {
  const toml::node* node = doc.get(key);
  if (node == nullptr) refuse(where, 0, fmt::format("key '{}' is missing (a string)", key));
  if (!node->is_string())
    refuse(where, line_of(*node), fmt::format("key '{}' must be a string, found {}", key, type_of(*node)));
  const std::string text = *node->value<std::string>();
  if (text.empty()) refuse(where, line_of(*node), fmt::format("key '{}' must not be empty", key));
  return text;
}

Profile parse_profile(std::string_view text, const std::string& where) {
  toml::table doc;
  try {
    doc = toml::parse(text, std::string_view(where));
  } catch (const toml::parse_error& e) {
    refuse(where, e.source().begin.line, fmt::format("TOML syntax error: {}", e.description()));
  }
  Profile p;
  p.source_name = where;
  for (auto&& [k, node] : doc)
    if (std::find(kTopKeys.begin(), kTopKeys.end(), k.str()) == kTopKeys.end())
      refuse(where, line_of(node),
             fmt::format("unknown key '{}' (a profile has: {})", k.str(), fmt::join(kTopKeys, ", ")));
  p.name = required_text(doc, "name", where);
  (void)required_text(doc, "source", where);   // every profile says where its figures come from
  (void)required_text(doc, "checked", where);  // and how they were checked against it
  if (const toml::node* base = doc.get("base")) {
    if (!base->is_string() || !is_shipped_energy_profile(*base->value<std::string>()))
      refuse(where, line_of(*base),
             fmt::format("key 'base' must name a shipped profile ({}), found {}",
                         fmt::join(EnergyModel::preset_names(), ", "),
                         base->is_string() ? fmt::format("'{}'", *base->value<std::string>())
                                           : std::string(type_of(*base))));
    p.base = *base->value<std::string>();
  }
  if (const toml::node* figures = doc.get("figures")) p.all_precisions = figure_table(*figures, where, "figures");
  if (const toml::node* precision = doc.get("precision")) {
    const auto* table = precision->as_table();
    if (table == nullptr)
      refuse(where, line_of(*precision),
             fmt::format("key 'precision' must be a table ([precision.fp32] ...), found {}", type_of(*precision)));
    for (auto&& [k, node] : *table) {
      // A named copy: clang 14 does not let a lambda capture a structured binding.
      const std::string_view key = k.str();
      const auto it = std::find_if(kPrecisions.begin(), kPrecisions.end(),
                                   [key](Precision q) { return precision_name(q) == key; });
      if (it == kPrecisions.end())
        refuse(where, line_of(node),
               fmt::format("unknown key 'precision.{}' (a precision is fp32, int32 or int8)", k.str()));
      p.by_precision[static_cast<std::size_t>(it - kPrecisions.begin())] =
          figure_table(node, where, fmt::format("precision.{}", k.str()));
    }
  }
  if (const toml::node* memory = doc.get("memory")) {
    const auto* table = memory->as_table();
    if (table == nullptr)
      refuse(where, line_of(*memory), fmt::format("key 'memory' must be a table, found {}", type_of(*memory)));
    for (auto&& [k, node] : *table) {
      const std::string full = fmt::format("memory.{}", k.str());
      if (std::find(kMemoryFigures.begin(), kMemoryFigures.end(), k.str()) == kMemoryFigures.end())
        refuse(where, line_of(node),
               fmt::format("unknown key '{}' (memory has: {})", full, fmt::join(kMemoryFigures, ", ")));
      p.memory[std::string(k.str())] = picojoules(node, where, full);
    }
  }
  return p;
}

// ---- Shipped profiles, parsed once --------------------------------------------

const std::map<std::string, Profile, std::less<>>& shipped() {
  static const auto profiles = [] {
    std::map<std::string, Profile, std::less<>> out;
    for (const auto& file : embedded_energy_profiles()) {
      Profile p = parse_profile(file.text, fmt::format("core/energy_profiles/{}.toml", file.name));
      if (p.name != file.name)
        throw Error(ExitCode::internal, fmt::format("core/energy_profiles/{}.toml: name = '{}' differs from the file's",
                                                    file.name, p.name));
      out.emplace(std::string(file.name), std::move(p));
    }
    return out;
  }();
  return profiles;
}

// ---- Resolution: a profile and its bases, at one precision ---------------------

// The profile first, then its base, then the base's base.
std::vector<const Profile*> chain_of(const Profile& top) {
  std::vector<const Profile*> chain{&top};
  while (!chain.back()->base.empty()) {
    if (static_cast<int>(chain.size()) > kMaxBaseDepth)
      refuse(top.source_name, 0, "key 'base': the profiles' bases form a loop");
    chain.push_back(&shipped().at(chain.back()->base));
  }
  return chain;
}

struct Resolver {
  const std::vector<const Profile*>& chain;
  std::size_t precision;  // index into kPrecisions

  // The first definition of `figure` along the chain: per precision before
  // every precision, the profile before its base.
  std::pair<const FigureValue*, const Profile*> find(std::string_view figure) const {
    for (const Profile* p : chain) {
      const auto& specific = p->by_precision[precision];
      if (const auto it = specific.find(figure); it != specific.end()) return {&it->second, p};
      if (const auto it = p->all_precisions.find(figure); it != p->all_precisions.end()) return {&it->second, p};
    }
    return {nullptr, nullptr};
  }

  double value(std::string_view figure, int depth = 0) const {
    const std::string_view at = precision_name(kPrecisions[precision]);
    const auto [v, owner] = find(figure);
    if (v == nullptr)
      refuse(chain.front()->source_name, 0,
             fmt::format("figure '{}' is missing at precision {}: give it in [figures] or [precision.{}], or start "
                         "from a shipped profile with base = \"45nm\"",
                         figure, at, at));
    if (v->formula.empty()) return v->number;
    if (depth > static_cast<int>(energy_model_figures().size()))
      refuse(owner->source_name, v->line, fmt::format("figure '{}': its formula refers back to itself", figure));
    double sum = 0;
    for (const auto& term : v->formula) {
      double number = 0;
      const auto [end, ec] = std::from_chars(term.data(), term.data() + term.size(), number);
      sum += (ec == std::errc() && end == term.data() + term.size()) ? number : value(term, depth + 1);
    }
    return sum;
  }
};

double memory_figure(const std::vector<const Profile*>& chain, std::string_view name) {
  for (const Profile* p : chain)
    if (const auto it = p->memory.find(name); it != p->memory.end()) return it->second;
  refuse(chain.front()->source_name, 0,
         fmt::format("key 'memory.{}' is missing: give it, or start from a shipped profile with base = \"45nm\"", name));
}

EnergyModel resolve(const Profile& top, Precision precision, MemoryLevel memory) {
  const auto chain = chain_of(top);
  EnergyModel m;
  m.preset = top.name;
  m.precision = precision;
  m.memory = memory;
  // Every precision and memory level is checked, so that a profile is
  // refused whatever energy.precision a run happens to ask for.
  for (std::size_t i = 0; i < kPrecisions.size(); ++i) {
    const Resolver r{chain, i};
    for (const auto& [name, field] : energy_model_figures()) {
      if (!is_profile_figure(name)) continue;
      const double v = r.value(name);
      if (kPrecisions[i] == precision) m.*field = v;
    }
  }
  const double sram = memory_figure(chain, "sram_pj_per_byte"), dram = memory_figure(chain, "dram_pj_per_byte");
  m.fetch_pj_per_byte = memory == MemoryLevel::sram ? sram : memory == MemoryLevel::dram ? dram : 0.0;
  return m;
}

std::string read_profile_file(std::string_view path) {
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in)
    throw Error(ExitCode::config, fmt::format("{}: cannot open energy profile (key 'energy.profile'): {}", path,
                                              std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

bool is_energy_profile_file(std::string_view profile) { return profile.ends_with(".toml"); }

bool is_shipped_energy_profile(std::string_view name) {
  const auto& files = embedded_energy_profiles();
  return std::any_of(files.begin(), files.end(), [&](const EmbeddedEnergyProfile& f) { return f.name == name; });
}

std::string_view shipped_energy_profile_text(std::string_view name) {
  for (const auto& f : embedded_energy_profiles())
    if (f.name == name) return f.text;
  return {};
}

std::vector<std::string> EnergyModel::preset_names() {
  std::vector<std::string> names;
  for (const auto& f : embedded_energy_profiles()) names.emplace_back(f.name);
  return names;
}

EnergyModel energy_model_from_profile(std::string_view toml_text, const std::string& source_name, Precision precision,
                                      MemoryLevel memory) {
  return resolve(parse_profile(toml_text, source_name), precision, memory);
}

EnergyModel EnergyModel::preset_named(std::string_view profile, Precision precision, MemoryLevel memory) {
  if (is_energy_profile_file(profile))
    return energy_model_from_profile(read_profile_file(profile), std::string(profile), precision, memory);
  // Shipped profiles are resolved once for every precision and memory level:
  // the dense equivalent asks for "45nm" each time it prices a part of a run.
  using Key = std::tuple<std::string, Precision, MemoryLevel>;
  static const auto models = [] {
    std::map<Key, EnergyModel, std::less<>> out;
    for (const auto& [name, p] : shipped())
      for (const Precision q : kPrecisions)
        for (const MemoryLevel level : {MemoryLevel::none, MemoryLevel::sram, MemoryLevel::dram})
          out.emplace(Key{name, q, level}, resolve(p, q, level));
    return out;
  }();
  const auto it = models.find(Key{std::string(profile), precision, memory});
  if (it == models.end())
    throw Error(ExitCode::config,
                fmt::format("energy.profile: unknown profile '{}' (expected one of {}, or the path of a profile "
                            "file ending in .toml)",
                            profile, fmt::join(preset_names(), ", ")));
  return it->second;
}

}  // namespace spikesim
