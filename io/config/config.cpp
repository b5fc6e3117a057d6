// The run configuration: TOML parsing, --set overrides, validation, the
// effective-config text and the reference page, all driven by the schema in
// io/config/config_schema.cpp.
#include "io/config/config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include "core/error.hpp"

namespace spikesim {

namespace {

// ---- Small helpers --------------------------------------------------------------

// Keys renamed since configs were first written: the older name is still
// accepted and sets the new key (the effective config names the new one).
constexpr std::pair<std::string_view, std::string_view> kRenamedKeys[] = {
    {"energy.preset", "energy.profile"},
};

std::string current_key_name(const std::string& name) {
  for (const auto& [old_name, new_name] : kRenamedKeys)
    if (name == old_name) return std::string(new_name);
  return name;
}

const ConfigKey* find_key(std::string_view name) {
  for (const auto& key : config_schema())
    if (key.name == name) return &key;
  return nullptr;
}

bool is_section(std::string_view name) {
  const auto& schema = config_schema();
  return std::any_of(schema.begin(), schema.end(), [&](const ConfigKey& k) { return k.section() == name; });
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string_view leaf_of(std::string_view name) {
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

// The closest candidate to `name`, if it is close enough to be a typo, or
// the key in another section with the same leaf name ("run.bits" ->
// "encoding.bits", "bits" -> "encoding.bits").
std::optional<std::string> closest(std::string_view name, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const auto& c : candidates) {
    // The lengths differ by at least as much as the edit distance: a long
    // garbage key (the TOML fuzzer's favourite) skips the O(n·m) table.
    const std::size_t length_gap = name.size() > c.size() ? name.size() - c.size() : c.size() - name.size();
    if (length_gap >= best_distance) continue;
    const auto d = edit_distance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  if (best) return best;
  for (const auto& c : candidates)
    if (c.find('.') != std::string::npos && leaf_of(c) == leaf_of(name)) return c;
  return std::nullopt;
}

std::string did_you_mean(std::string_view name, const std::vector<std::string>& candidates) {
  const auto guess = closest(name, candidates);
  return guess ? fmt::format(" (did you mean '{}'?)", *guess) : std::string();
}

std::string unknown_key_message(std::string_view name) {
  std::vector<std::string> candidates = config_keys();
  if (name.find('.') == std::string_view::npos) {
    const auto sections = config_sections();
    candidates.insert(candidates.begin(), sections.begin(), sections.end());
  }
  return fmt::format("unknown key '{}'{}", name, did_you_mean(name, candidates));
}

std::string_view type_noun(ConfigType type) {
  switch (type) {
    case ConfigType::boolean:
      return "a boolean";
    case ConfigType::integer:
      return "an integer";
    case ConfigType::floating:
      return "a number";
    case ConfigType::string:
      return "a string";
    case ConfigType::string_list:
      return "a list of strings";
    case ConfigType::int_list:
      return "a list of integers";
  }
  return "?";
}

std::string_view type_short_name(ConfigType type) {
  switch (type) {
    case ConfigType::boolean:
      return "bool";
    case ConfigType::integer:
      return "int";
    case ConfigType::floating:
      return "float";
    case ConfigType::string:
      return "string";
    case ConfigType::string_list:
      return "string list";
    case ConfigType::int_list:
      return "int list";
  }
  return "?";
}

std::string_view node_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
  }
  return "?";
}

std::string out_of_range(std::string_view what, std::int64_t value, std::int64_t lo, std::int64_t hi) {
  if (hi == std::numeric_limits<std::int64_t>::max())
    return fmt::format("{} = {} is out of range (must be >= {})", what, value, lo);
  return fmt::format("{} = {} is out of range [{}, {}]", what, value, lo, hi);
}

// ---- TOML text ----------------------------------------------------------------

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f)
          out += fmt::format("\\u{:04X}", u);
        else
          out += ch;
    }
  }
  return out + "\"";
}

std::string toml_float(double d) {
  std::string s = fmt::format("{}", d);  // shortest text that reads back to the same double
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string toml_value(const ConfigValue& value) {
  struct Render {
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t i) const { return fmt::format("{}", i); }
    std::string operator()(double d) const { return toml_float(d); }
    std::string operator()(const std::string& s) const { return toml_string(s); }
    std::string operator()(const std::vector<std::string>& v) const {
      std::vector<std::string> parts;
      for (const auto& s : v) parts.push_back(toml_string(s));
      return fmt::format("[{}]", fmt::join(parts, ", "));
    }
    std::string operator()(const std::vector<std::int64_t>& v) const {
      return fmt::format("[{}]", fmt::join(v, ", "));
    }
  };
  return std::visit(Render{}, value);
}

// Wraps `text` into "# " comment lines of at most `width` columns.
std::string comment_lines(std::string_view text, std::size_t width = 100) {
  std::string out, line = "#";
  std::istringstream words{std::string(text)};
  std::string word;
  while (words >> word) {
    if (line.size() > 1 && line.size() + 1 + word.size() > width) {
      out += line + "\n";
      line = "#";
    }
    line += " " + word;
  }
  return out + line + "\n";
}

// ---- Checking values ------------------------------------------------------------

// Range and choice checks of a value that already has the key's type.
// Returns "" when the value is allowed.
std::string check_value(const ConfigKey& key, const ConfigValue& value) {
  switch (key.type) {
    case ConfigType::boolean:
      return {};
    case ConfigType::integer: {
      const auto v = std::get<std::int64_t>(value);
      if (v < key.int_min || v > key.int_max)
        return out_of_range(fmt::format("key '{}'", key.name), v, key.int_min, key.int_max);
      return {};
    }
    case ConfigType::floating: {
      const auto v = std::get<double>(value);
      if (!std::isfinite(v)) return fmt::format("key '{}' must be a finite number, found {}", key.name, v);
      if (v < key.float_min || v > key.float_max)
        return fmt::format("key '{}' = {} is out of range [{}, {}]", key.name, v, key.float_min,
                           key.float_max);
      return {};
    }
    case ConfigType::string: {
      if (key.choices.empty()) return {};
      const auto& v = std::get<std::string>(value);
      if (std::find(key.choices.begin(), key.choices.end(), v) != key.choices.end()) return {};
      std::vector<std::string> choices(key.choices.begin(), key.choices.end());
      std::vector<std::string> quoted;
      for (const auto& c : choices) quoted.push_back(fmt::format("'{}'", c));
      return fmt::format("key '{}' = '{}' is not one of {}{}", key.name, v, fmt::join(quoted, ", "),
                         did_you_mean(v, choices));
    }
    case ConfigType::string_list: {
      const auto& v = std::get<std::vector<std::string>>(value);
      if (v.size() < key.min_entries)
        return fmt::format("key '{}' needs at least {} entries, found {}", key.name, key.min_entries,
                           v.size());
      return {};
    }
    case ConfigType::int_list: {
      const auto& v = std::get<std::vector<std::int64_t>>(value);
      if (v.size() < key.min_entries)
        return fmt::format("key '{}' needs at least {} entries, found {}", key.name, key.min_entries,
                           v.size());
      for (std::size_t i = 0; i < v.size(); ++i)
        if (v[i] < key.int_min || v[i] > key.int_max)
          return out_of_range(fmt::format("key '{}' entry {}", key.name, i), v[i], key.int_min, key.int_max);
      return {};
    }
  }
  return {};
}

// Converts a TOML node to the key's type, or sets `problem`.
std::optional<ConfigValue> convert(const toml::node& node, const ConfigKey& key, std::string& problem) {
  const auto wrong_type = [&](const toml::node& found) {
    problem =
        fmt::format("key '{}' must be {}, found {}", key.name, type_noun(key.type), node_type_name(found));
    return std::nullopt;
  };
  switch (key.type) {
    case ConfigType::boolean:
      if (const auto* b = node.as_boolean()) return ConfigValue(b->get());
      return wrong_type(node);
    case ConfigType::integer:
      if (const auto* i = node.as_integer()) return ConfigValue(i->get());
      return wrong_type(node);
    case ConfigType::floating:
      if (const auto* f = node.as_floating_point()) return ConfigValue(f->get());
      if (const auto* i = node.as_integer()) return ConfigValue(static_cast<double>(i->get()));
      return wrong_type(node);
    case ConfigType::string:
      if (const auto* s = node.as_string()) return ConfigValue(s->get());
      return wrong_type(node);
    case ConfigType::string_list:
    case ConfigType::int_list: {
      const auto* array = node.as_array();
      if (array == nullptr) {
        wrong_type(node);
        if (node.is_string() && key.type == ConfigType::string_list)
          problem += fmt::format(" (write [{}])", toml_string(node.as_string()->get()));
        return std::nullopt;
      }
      std::vector<std::string> strings;
      std::vector<std::int64_t> ints;
      for (std::size_t i = 0; i < array->size(); ++i) {
        const auto& element = *array->get(i);
        const bool ok = key.type == ConfigType::string_list ? element.is_string() : element.is_integer();
        if (!ok) {
          problem = fmt::format("key '{}' must be {}, found {} at index {}", key.name, type_noun(key.type),
                                node_type_name(element), i);
          return std::nullopt;
        }
        if (key.type == ConfigType::string_list)
          strings.push_back(element.as_string()->get());
        else
          ints.push_back(element.as_integer()->get());
      }
      if (key.type == ConfigType::string_list) return ConfigValue(std::move(strings));
      return ConfigValue(std::move(ints));
    }
  }
  return std::nullopt;
}

// ---- Parsing --------------------------------------------------------------------

struct Problem {
  std::size_t line;
  std::string message;
};

[[noreturn]] void throw_problems(std::vector<Problem> problems) {
  std::stable_sort(problems.begin(), problems.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(p.message);
  throw Error(ExitCode::config, fmt::format("{}", fmt::join(lines, "\n")));
}

std::size_t line_of(const toml::node& node) {
  if (node.source().begin.line > 0) return node.source().begin.line;
  if (const auto* table = node.as_table()) {
    std::size_t line = 0;
    for (auto&& [k, child] : *table) {
      const auto l = line_of(child);
      if (l > 0 && (line == 0 || l < line)) line = l;
    }
    return line;
  }
  return 0;
}

std::string location(const std::string& source_name, std::size_t line) {
  return line > 0 ? fmt::format("{}:{}", source_name, line) : source_name;
}

// Where each key was set: "file:line" or "--set" (for messages of the rules).
using KeyLocations = std::map<std::string, std::string, std::less<>>;

void apply_document(const toml::table& doc, const std::string& source_name, SimConfig& config,
                    KeyLocations& where) {
  std::vector<Problem> problems;
  const auto report = [&](std::size_t line, const std::string& message) {
    problems.push_back({line, fmt::format("{}: {}", location(source_name, line), message)});
  };
  for (auto&& [section_key, section_node] : doc) {
    const std::string section(section_key.str());
    if (!is_section(section)) {
      report(line_of(section_node), unknown_key_message(section));
      continue;
    }
    const auto* table = section_node.as_table();
    if (table == nullptr) {
      report(line_of(section_node), fmt::format("key '{}' must be a table (a [{}] section), found {}",
                                                section, section, node_type_name(section_node)));
      continue;
    }
    for (auto&& [key_name, node] : *table) {
      const std::string given = section + "." + std::string(key_name.str());
      const std::string name = current_key_name(given);
      const auto line = line_of(node);
      if (where.count(name)) {  // TOML refuses a key given twice: this is a key and its older name
        std::string_view older = given;
        for (const auto& [old_name, new_name] : kRenamedKeys)
          if (new_name == name) older = old_name;
        report(line, fmt::format("keys '{}' and '{}' are one key ('{}' is its older name), already set at {}; "
                                 "keep one",
                                 older, name, older, where[name]));
        continue;
      }
      const ConfigKey* key = find_key(name);
      if (key == nullptr) {
        report(line, unknown_key_message(name));
        continue;
      }
      std::string problem;
      const auto value = convert(node, *key, problem);
      if (value) problem = check_value(*key, *value);
      if (!problem.empty()) {
        report(line, problem);
        continue;
      }
      key->set(config, *key, *value);
      where[name] = location(source_name, line);
    }
  }
  if (!problems.empty()) throw_problems(std::move(problems));
}

// Parses one "--set key=value" override; returns "" or the problem.
// Offset of the first byte that breaks UTF-8 (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF), or nullopt.
std::optional<std::size_t> first_invalid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t continuation = 0;
    std::uint32_t code = 0, smallest = 0;
    if ((lead & 0xE0) == 0xC0) {
      continuation = 1, code = lead & 0x1Fu, smallest = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      continuation = 2, code = lead & 0x0Fu, smallest = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      continuation = 3, code = lead & 0x07u, smallest = 0x10000;
    } else {
      return i;
    }
    if (s.size() - i <= continuation) return i;
    for (std::size_t k = 1; k <= continuation; ++k) {
      const auto byte = static_cast<unsigned char>(s[i + k]);
      if ((byte & 0xC0) != 0x80) return i;
      code = (code << 6) | (byte & 0x3Fu);
    }
    if (code < smallest || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return i;
    i += continuation + 1;
  }
  return std::nullopt;
}

std::string apply_override(const std::string& text, SimConfig& config, KeyLocations& where) {
  // A bare word or list below never passes through the TOML parser, which
  // is what refuses invalid UTF-8 in a config file; the effective config
  // written to the output is TOML, so an override must be UTF-8 too.
  if (const auto bad = first_invalid_utf8(text))
    return fmt::format("'{}' is not valid UTF-8 (byte 0x{:02x} at offset {}); config text must be UTF-8",
                       text.substr(0, *bad), static_cast<unsigned char>(text[*bad]), *bad);
  const auto eq = text.find('=');
  if (eq == std::string::npos || trim(std::string_view(text).substr(0, eq)).empty())
    return fmt::format("'{}' is not key=value", text);
  const std::string name = current_key_name(std::string(trim(std::string_view(text).substr(0, eq))));
  const std::string raw(trim(std::string_view(text).substr(eq + 1)));
  const ConfigKey* key = find_key(name);
  if (key == nullptr) {
    if (is_section(name))
      return fmt::format("unknown key '{}' (a section: set one of its keys, such as '{}.{}')", name, name,
                         [&] {
                           for (const auto& k : config_schema())
                             if (k.section() == name) return std::string(k.leaf());
                           return std::string();
                         }());
    return unknown_key_message(name);
  }

  // The value as TOML, when it is one.
  std::optional<toml::table> parsed;
  std::string syntax_error;
  try {
    const std::string document = "v = " + raw;
    parsed = toml::parse(std::string_view(document), std::string_view("--set"));
  } catch (const toml::parse_error& e) {
    syntax_error = std::string(e.description());
  }
  const toml::node* node = (parsed && parsed->size() == 1) ? parsed->get("v") : nullptr;
  const bool quoted = !raw.empty() && (raw.front() == '"' || raw.front() == '\'');

  std::optional<ConfigValue> value;
  std::string problem;
  if (key->type == ConfigType::string && (node == nullptr || !node->is_string()) &&
      (!quoted || key->choices.empty())) {
    // A bare word; or free text that starts with a quote without being a
    // TOML string (--set 'input.prompt="Hello," she said.'): taken as it is.
    value = raw;
  } else if (key->type == ConfigType::string_list && node == nullptr && !raw.starts_with('[') && !quoted) {
    std::vector<std::string> items;  // a bare comma-separated list
    std::string_view rest = raw;
    while (!rest.empty()) {
      const auto comma = rest.find(',');
      const auto item = trim(rest.substr(0, comma));
      if (!item.empty()) items.emplace_back(item);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    value = std::move(items);
  } else if (node == nullptr) {
    if (quoted || raw.starts_with('['))
      return fmt::format("key '{}': value {} is not valid TOML: {}", name, raw,
                         syntax_error.empty() ? "more than one value" : syntax_error);
    return fmt::format("key '{}' must be {}, found '{}'", name, type_noun(key->type), raw);
  } else {
    value = convert(*node, *key, problem);
    if (!value) return problem;
  }
  problem = check_value(*key, *value);
  if (!problem.empty()) return problem;
  key->set(config, *key, *value);
  where[name] = "--set";
  return {};
}

// The rules between keys; `where` locates each message at the first of its
// keys that was set explicitly.
void check_rules(const SimConfig& config, const std::string& fallback, const KeyLocations& where) {
  std::vector<Problem> problems;
  for (const auto& rule : config_rules()) {
    const auto message = rule.check(config);
    if (message.empty()) continue;
    std::string loc = fallback;
    for (const auto& k : rule.keys) {
      const auto it = where.find(k);
      if (it != where.end()) {
        loc = it->second;
        break;
      }
    }
    problems.push_back({problems.size(), fmt::format("{}: {}", loc, message)});
  }
  if (!problems.empty()) throw_problems(std::move(problems));
}

std::string source_header(const std::string& source_name, const std::vector<std::string>& overrides) {
  std::string out = "# spikesim effective configuration: every key, defaults included\n";
  out += fmt::format("# source: {}\n", source_name);
  for (const auto& o : overrides) {
    std::string one_line = o;
    std::replace(one_line.begin(), one_line.end(), '\n', ' ');
    std::replace(one_line.begin(), one_line.end(), '\r', ' ');
    out += fmt::format("# --set {}\n", one_line);
  }
  return out + "\n";
}

std::string markdown_escape(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '|')
      out += "\\|";
    else if (ch == '<')
      out += "&lt;";
    else if (ch == '>')
      out += "&gt;";
    else
      out += ch;
  }
  return out;
}

std::string range_doc(std::int64_t lo, std::int64_t hi) {
  if (hi == std::numeric_limits<std::int64_t>::max()) return fmt::format("≥ {}", lo);
  return fmt::format("[{}, {}]", lo, hi);
}

std::string allowed_text(const ConfigKey& key) {
  switch (key.type) {
    case ConfigType::boolean:
      return "`true`, `false`";
    case ConfigType::integer:
      return range_doc(key.int_min, key.int_max);
    case ConfigType::floating:
      return fmt::format("[{}, {}]", key.float_min, key.float_max);
    case ConfigType::string: {
      if (key.choices.empty()) return "any";
      std::vector<std::string> quoted;
      for (const auto c : key.choices) quoted.push_back(fmt::format("`\"{}\"`", c));
      return fmt::format("{}", fmt::join(quoted, ", "));
    }
    case ConfigType::string_list:
      return key.min_entries > 0 ? fmt::format("at least {} entries", key.min_entries) : "any";
    case ConfigType::int_list: {
      auto text = fmt::format("each in {}", range_doc(key.int_min, key.int_max));
      if (key.min_entries > 0) text += fmt::format("; at least {} entries", key.min_entries);
      return text;
    }
  }
  return "?";
}

// ${NAME} and ${NAME:-default} in a path the config file gives, so that an
// example can name where models live without naming a machine's folders.
std::string expand_variables(const std::string& value, std::string_view key, const std::string& where) {
  std::string out;
  std::size_t i = 0;
  while (i < value.size()) {
    const std::size_t open = value.find("${", i);
    if (open == std::string::npos) {
      out += value.substr(i);
      break;
    }
    out += value.substr(i, open - i);
    const std::size_t close = value.find('}', open);
    if (close == std::string::npos)
      throw Error(ExitCode::config, fmt::format("{}: key '{}' = '{}': '${{' without a closing '}}'", where, key, value));
    const std::string inner = value.substr(open + 2, close - open - 2);
    const std::size_t dash = inner.find(":-");
    const std::string name = inner.substr(0, dash);
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; }))
      throw Error(ExitCode::config,
                  fmt::format("{}: key '{}' = '{}': '${{{}}}' is not a variable name", where, key, value, inner));
    const char* env = std::getenv(name.c_str());
    if (env != nullptr && *env != '\0')
      out += env;
    else if (dash != std::string::npos)
      out += inner.substr(dash + 2);
    else
      throw Error(ExitCode::config,
                  fmt::format("{}: key '{}' = '{}' uses ${{{}}}, which is not set: export {}=/path/to/it, or "
                              "override the key with --set {}=PATH",
                              where, key, value, name, name, key));
    i = close + 1;
  }
  return out;
}

// Input paths the file sets: variables expanded, then taken from the file's folder.
void resolve_input_paths(SimConfig& config, const std::filesystem::path& folder, const KeyLocations& where) {
  for (const auto& key : config_schema()) {
    if (!key.input_path) continue;
    const auto at = where.find(key.name);
    if (at == where.end()) continue;  // a default, not the file's
    std::string value = std::get<std::string>(key.get(config, key));
    if (value.empty() || (key.name == "model.path" && value == "generated")) continue;
    if (key.name == "energy.profile" && !is_energy_profile_file(value)) continue;  // a shipped profile's name
    value = expand_variables(value, key.name, at->second);
    std::filesystem::path p(value);
    if (p.is_relative()) p = (std::filesystem::absolute(folder) / p).lexically_normal();
    key.set(config, key, p.string());
  }
}

}  // namespace

// ---- Public API -------------------------------------------------------------------

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const auto& key : config_schema()) keys.emplace_back(key.name);
  return keys;
}

std::vector<std::pair<std::string, std::string>> config_renamed_keys() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [old_name, new_name] : kRenamedKeys) out.emplace_back(old_name, new_name);
  return out;
}

std::vector<std::string> config_sections() {
  std::vector<std::string> sections;
  for (const auto& key : config_schema())
    if (std::find(sections.begin(), sections.end(), key.section()) == sections.end())
      sections.emplace_back(key.section());
  return sections;
}

bool SimConfig::same_settings(const SimConfig& o) const {
  return run == o.run && model == o.model && input == o.input && eval == o.eval && generated == o.generated &&
         linear_stack == o.linear_stack && encoding == o.encoding && weights == o.weights && smoothing == o.smoothing &&
         clipping == o.clipping && energy == o.energy && record == o.record;
}

SimConfig default_config() {
  SimConfig config;
  for (const auto& key : config_schema()) key.set(config, key, key.default_value);
  config.source_name = "<defaults>";
  config.source_text = source_header(config.source_name, {}) + config_to_toml(config);
  return config;
}

SimConfig parse_config(std::string_view toml_text, const std::string& source_name,
                       const std::vector<std::string>& overrides) {
  return parse_config_in(toml_text, source_name, {}, overrides);
}

SimConfig parse_config_in(std::string_view toml_text, const std::string& source_name,
                          const std::filesystem::path& folder, const std::vector<std::string>& overrides) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text, std::string_view(source_name));
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    throw Error(ExitCode::config, fmt::format("{}:{}:{}: TOML syntax error: {}", source_name, begin.line,
                                              begin.column, e.description()));
  }

  SimConfig config = default_config();
  KeyLocations where;
  apply_document(doc, source_name, config, where);
  if (!folder.empty()) resolve_input_paths(config, folder, where);

  std::vector<Problem> problems;
  for (const auto& o : overrides) {
    auto problem = apply_override(o, config, where);
    if (!problem.empty()) problems.push_back({problems.size(), "--set: " + problem});
  }
  if (!problems.empty()) throw_problems(std::move(problems));
  // A prompt given with --set replaces the config's token file (and a token
  // file the config's prompt): the user asked for this input now.
  for (const auto& [set, other] : {std::pair{"input.prompt", "input.token_file"},
                                   std::pair{"input.token_file", "input.prompt"}}) {
    const auto s = where.find(set), o = where.find(other);
    if (s == where.end() || s->second != "--set" || (o != where.end() && o->second == "--set")) continue;
    const ConfigKey* key = find_key(set);
    if (std::get<std::string>(key->get(config, *key)).empty()) continue;
    const ConfigKey* replaced = find_key(other);
    replaced->set(config, *replaced, std::string());
    if (o != where.end()) where.erase(o);
  }

  check_rules(config, source_name, where);
  config.source_name = source_name;
  config.source_text = source_header(source_name, overrides) + config_to_toml(config);
  return config;
}

SimConfig load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw Error(ExitCode::config,
                fmt::format("{}: cannot open config file: {}", file.string(), std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(ExitCode::config, fmt::format("{}: cannot read config file", file.string()));
  return parse_config_in(text.str(), file.string(), file.parent_path(), overrides);
}

void validate_config(const SimConfig& config) {
  const std::string where = config.source_name.empty() ? "config" : config.source_name;
  std::vector<Problem> problems;
  for (const auto& key : config_schema()) {
    std::string problem;
    try {
      problem = check_value(key, key.get(config, key));
    } catch (const Error& e) {
      problem = e.what();
    }
    if (!problem.empty()) problems.push_back({problems.size(), fmt::format("{}: {}", where, problem)});
  }
  if (!problems.empty()) throw_problems(std::move(problems));
  check_rules(config, where, {});
}

std::string config_to_toml(const SimConfig& config) {
  std::string out;
  std::string_view section;
  for (const auto& key : config_schema()) {
    if (key.section() != section) {
      if (!section.empty()) out += "\n";
      section = key.section();
      out += fmt::format("[{}]\n", section);
    }
    out += comment_lines(key.meaning);
    out += fmt::format("{} = {}\n", key.leaf(), toml_value(key.get(config, key)));
  }
  return out;
}

std::string config_reference_markdown() {
  std::string out;
  std::string_view section;
  for (const auto& key : config_schema()) {
    if (key.section() != section) {
      section = key.section();
      out += fmt::format("\n### `[{}]`\n\n", section);
      out += "| Key | Type | Default | Allowed | Meaning |\n";
      out += "|-----|------|---------|---------|---------|\n";
    }
    out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", key.name, type_short_name(key.type),
                       markdown_escape(toml_value(key.default_value)), allowed_text(key),
                       markdown_escape(key.meaning));
  }
  out += "\n### Rules between keys\n\nChecked once every key is valid; the message names both keys.\n\n";
  for (const auto& rule : config_rules()) out += fmt::format("- {}\n", markdown_escape(rule.description));
  out += "\n### Older key names\n\nStill accepted, in a config file and with `--set`; the effective config writes "
         "the current name, and a file that sets a key under both names is refused.\n\n";
  out += "| Older name | Current name |\n|-----|-----|\n";
  for (const auto& [old_name, new_name] : kRenamedKeys) out += fmt::format("| `{}` | `{}` |\n", old_name, new_name);
  return out;
}

std::string config_keys_table() {
  std::size_t width = 0;
  for (const auto& key : config_schema()) width = std::max(width, key.name.size());
  std::string out = fmt::format("{:<{}}  {:<12}  {:<20}  {}\n", "key", width, "type", "default", "allowed");
  for (const auto& key : config_schema()) {
    std::string allowed = allowed_text(key);
    std::erase(allowed, '`');  // the reference page's markdown
    out += fmt::format("{:<{}}  {:<12}  {:<20}  {}\n", key.name, width, type_short_name(key.type),
                       toml_value(key.default_value), allowed);
  }
  return out;
}

}  // namespace spikesim
