// `spikesim plot` and the HTML report: every file is well-formed XML (a
// strict parser below), carries a title and axis labels, and its marks'
// data attributes equal the run's data read back with the raw HDF5 C API.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <hdf5.h>
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "io/config/config.hpp"
#include "io/report/plots.hpp"
#include "io/report/report.hpp"
#include "io/report/svg_plot.hpp"
#include "tests/support/files.hpp"
#include "tests/support/raw_hdf5.hpp"
#include "tests/support/small_run.hpp"

using namespace spikesim;
namespace fs = std::filesystem;
using test::children;
using test::dataset;
using test::f64;
using test::RawFile;
using test::u64;

namespace {

// ---- A strict, minimal XML parser ----------------------------------------------------
//
// Accepts: an optional <?xml ...?> declaration, an optional <!DOCTYPE ...>,
// comments, one root element, nested elements with quoted attributes (no
// duplicates, no '<' in values), text, and the five predefined entities plus
// numeric character references. Anything else throws with the offset.

struct Node {
  std::string name;
  std::map<std::string, std::string> attrs;
  std::vector<std::unique_ptr<Node>> children;
  std::string text;  // concatenated character data (entities decoded)

  // Every descendant (and this node) named `element` with class `cls` ("" = any class).
  void collect(const std::string& element, const std::string& cls, std::vector<const Node*>& out) const {
    if (name == element && (cls.empty() || (attrs.count("class") && attrs.at("class") == cls)))
      out.push_back(this);
    for (const auto& c : children) c->collect(element, cls, out);
  }
  [[nodiscard]] std::vector<const Node*> all(const std::string& element, const std::string& cls = "") const {
    std::vector<const Node*> out;
    collect(element, cls, out);
    return out;
  }
  [[nodiscard]] std::string all_text() const {
    std::string s = text;
    for (const auto& c : children) {
      s += ' ';
      s += c->all_text();
    }
    return s;
  }
};

class XmlParser {
 public:
  explicit XmlParser(std::string text) : s_(std::move(text)) {}

  std::unique_ptr<Node> parse() {
    skip_space();
    if (starts("<?xml")) {
      const auto end = s_.find("?>", i_);
      if (end == std::string::npos) fail("unterminated XML declaration");
      i_ = end + 2;
    }
    skip_misc();
    if (starts("<!DOCTYPE")) {
      const auto end = s_.find('>', i_);
      if (end == std::string::npos) fail("unterminated DOCTYPE");
      i_ = end + 1;
    }
    skip_misc();
    if (!starts("<")) fail("expected the root element");
    auto root = element();
    skip_misc();
    if (i_ != s_.size()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("XML error at offset " + std::to_string(i_) + ": " + what + " near '" +
                             s_.substr(i_ > 20 ? i_ - 20 : 0, 60) + "'");
  }
  bool starts(const char* p) const { return s_.compare(i_, std::strlen(p), p) == 0; }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void skip_misc() {
    for (;;) {
      skip_space();
      if (starts("<!--")) {
        const auto end = s_.find("-->", i_);
        if (end == std::string::npos) fail("unterminated comment");
        i_ = end + 3;
      } else {
        return;
      }
    }
  }
  static bool name_start(char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
  }
  static bool name_char(char c) {
    return name_start(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.';
  }
  std::string name() {
    if (i_ >= s_.size() || !name_start(s_[i_])) fail("expected a name");
    const std::size_t b = i_;
    while (i_ < s_.size() && name_char(s_[i_])) ++i_;
    return s_.substr(b, i_ - b);
  }
  // Decodes character data up to `stop`, validating entities.
  std::string chars(char stop) {
    std::string out;
    while (i_ < s_.size() && s_[i_] != stop) {
      const char c = s_[i_];
      if (c == '<') fail("'<' in character data or attribute value");
      if (c == '&') {
        const auto semi = s_.find(';', i_);
        if (semi == std::string::npos || semi - i_ > 10) fail("unterminated entity");
        const std::string ent = s_.substr(i_ + 1, semi - i_ - 1);
        if (ent == "amp")
          out += '&';
        else if (ent == "lt")
          out += '<';
        else if (ent == "gt")
          out += '>';
        else if (ent == "quot")
          out += '"';
        else if (ent == "apos")
          out += '\'';
        else if (ent.size() > 1 && ent[0] == '#') {
          const bool hex = ent[1] == 'x';
          const std::string digits = ent.substr(hex ? 2 : 1);
          if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [&](char d) {
                return hex ? std::isxdigit(static_cast<unsigned char>(d))
                           : std::isdigit(static_cast<unsigned char>(d));
              }))
            fail("bad character reference");
          out += '?';
        } else {
          fail("unknown entity &" + ent + ";");
        }
        i_ = semi + 1;
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r' && c != '\t')
        fail("control character");
      out += c;
      ++i_;
    }
    return out;
  }
  std::unique_ptr<Node> element() {
    auto node = std::make_unique<Node>();
    ++i_;  // '<'
    node->name = name();
    for (;;) {
      const std::size_t before = i_;
      skip_space();
      if (starts("/>")) {
        i_ += 2;
        return node;
      }
      if (starts(">")) {
        ++i_;
        break;
      }
      if (i_ == before) fail("expected whitespace before an attribute");
      const std::string key = name();
      skip_space();
      if (!starts("=")) fail("expected '=' after attribute " + key);
      ++i_;
      skip_space();
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) fail("attribute value must be quoted");
      const char q = s_[i_++];
      std::string value = chars(q);
      if (i_ >= s_.size()) fail("unterminated attribute value");
      ++i_;
      if (!node->attrs.emplace(key, std::move(value)).second) fail("duplicate attribute " + key);
    }
    for (;;) {
      if (i_ >= s_.size()) fail("unclosed element <" + node->name + ">");
      if (starts("</")) {
        i_ += 2;
        const std::string close = name();
        if (close != node->name) fail("</" + close + "> closes <" + node->name + ">");
        skip_space();
        if (!starts(">")) fail("expected '>'");
        ++i_;
        return node;
      }
      if (starts("<!--")) {
        skip_misc();
        continue;
      }
      if (starts("<")) {
        node->children.push_back(element());
        continue;
      }
      node->text += chars('<');
    }
  }

  std::string s_;
  std::size_t i_ = 0;
};

std::unique_ptr<Node> parse_xml(const std::string& text) {
  return XmlParser(text).parse();
}

// Checks an SVG document: well-formed, <svg> root with a <title>, axis labels.
std::unique_ptr<Node> check_svg(const std::string& text, const std::vector<std::string>& axis_labels) {
  std::unique_ptr<Node> root;
  REQUIRE_NOTHROW(root = parse_xml(text));
  REQUIRE(root->name == "svg");
  CHECK(root->attrs.at("xmlns") == "http://www.w3.org/2000/svg");
  const auto titles = root->all("title");
  REQUIRE(!titles.empty());
  CHECK(!titles.front()->text.empty());
  std::set<std::string> labels;
  for (const Node* n : root->all("text", "axis-label")) labels.insert(n->text);
  for (const auto& l : axis_labels) {
    INFO("axis label " << l);
    CHECK(labels.count(l) == 1);
  }
  return root;
}

double number_of(const Node* n, const std::string& attr) {
  INFO("attribute " << attr);
  REQUIRE(n->attrs.count(attr) == 1);
  return std::stod(n->attrs.at(attr));
}

// ---- The run ---------------------------------------------------------------------------

// The run every test reads (tests/support/small_run.hpp), made once per
// process and removed at exit.
const test::SmallRun& the_run() {
  static const test::SmallRun run("plots");
  return run;
}

const RunReport& the_report() {
  static const RunReport report = read_run_report(the_run().file);
  return report;
}

std::size_t token_of(const std::vector<std::uint64_t>& token_steps, double step) {
  const auto it = std::upper_bound(token_steps.begin(), token_steps.end(), static_cast<std::uint64_t>(step));
  return static_cast<std::size_t>(it - token_steps.begin()) - 1;
}

int run_cli(const std::string& args) {
  const std::string cmd = SPIKESIM_BINARY_DIR "/sim/spikesim " + args + " > /dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("the XML checker of these tests rejects malformed documents", "[plots]") {
  CHECK_NOTHROW(parse_xml("<?xml version=\"1.0\"?>\n<svg a=\"1\"><g><t>x &amp; y</t></g><r/></svg>\n"));
  CHECK_THROWS(parse_xml("<svg><g></svg>"));
  CHECK_THROWS(parse_xml("<svg a=1/>"));
  CHECK_THROWS(parse_xml("<svg a=\"1\" a=\"2\"/>"));
  CHECK_THROWS(parse_xml("<svg>a & b</svg>"));
  CHECK_THROWS(parse_xml("<svg/><svg/>"));
  CHECK_THROWS(parse_xml("<svg a=\"<\"/>"));
}

TEST_CASE("svg writer: escaping, numbers, ticks and deterministic output", "[plots]") {
  CHECK(svg::escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&apos;");
  CHECK(svg::number(0.1) == "0.1");
  CHECK(std::stod(svg::number(1.0 / 3.0)) == 1.0 / 3.0);
  CHECK(svg::nice_ticks(0, 10, 5) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(svg::tick_label(2.5e6, 5e5, true, 4e6) == "2.5M");
  CHECK(svg::tick_label(0, 5e5, true, 4e6) == "0");
  CHECK(svg::nice_ceiling(27.3) == 30);
  svg::Figure fig("A & B <title>", "desc \"quoted\"");
  auto& p = fig.add_panel("panel <1>", 100);
  p.x_axis({"x & y", "unit<s>", 0, 10}).y_axis({"value", "pJ", 0, 5});
  p.rect(1, 0, 2, 3, svg::series(0), "bar", {{"data-value", "3"}, {"data-name", "a<b"}});
  p.legend("series \"one\"", svg::series(0), svg::LegendShape::box);
  p.colour_bar(svg::ScaleKind::diverging, -3, 3, "amplitude", true);
  const std::string a = fig.render(), b = fig.render();
  CHECK(a == b);
  const auto root = check_svg(a, {"x & y (unit<s>)", "value (pJ)"});
  const auto bars = root->all("rect", "bar");
  REQUIRE(bars.size() == 1);
  CHECK(bars[0]->attrs.at("data-name") == "a<b");
  CHECK(root->all("title")[0]->text == "A & B <title>");
  // Inline form: no XML declaration, still one <svg> element.
  CHECK(fig.render(false).rfind("<svg", 0) == 0);
}

// The colours (fill or stroke) of `node` and its descendants, leaving out
// the groups of class `skip`.
void colours_of(const Node& node, const std::set<std::string>& skip, std::set<std::string>& out) {
  if (node.attrs.count("class") && skip.count(node.attrs.at("class"))) return;
  for (const char* a : {"fill", "stroke"})
    if (node.attrs.count(a) && node.attrs.at(a) != "none") out.insert(node.attrs.at(a));
  for (const auto& c : node.children) colours_of(*c, skip, out);
}

// Every legend entry stands for something drawn: its swatch's colour is
// used outside the legend and the colour bar.
void check_legend_matches_marks(const Node& root) {
  std::set<std::string> drawn, swatches;
  colours_of(root, {"legend", "colour-bar"}, drawn);
  for (const Node* legend : root.all("g", "legend"))
    for (const auto& entry : legend->children)
      if (entry->name != "text") colours_of(*entry, {}, swatches);
  for (const auto& colour : swatches) {
    INFO("legend swatch " << colour);
    CHECK(drawn.count(colour) == 1);
  }
}

TEST_CASE("raster plot: one mark per spike of the population in the token range", "[plots]") {
  const test::SmallRun& run = the_run();
  const RunReport& r = the_report();
  const RawFile f(run.file);
  const auto token_steps = dataset<std::uint64_t>(f, "/spikesim/token_steps", H5T_NATIVE_UINT64);
  for (const char* pop : {"layer0.attn_in", "layer1.mlp_down", "layer0.k_enc.h1"}) {
    for (const TokenRange range : {TokenRange{1, 4}, TokenRange{0, std::nullopt}}) {
      INFO(pop << " tokens " << range.first << ":" << (range.end ? std::to_string(*range.end) : ""));
      const auto root = check_svg(raster_plot(r, {pop, range}).render(), {"neuron (index)"});
      const auto ts = dataset<double>(f, std::string("/spikes/") + pop + "/timestamps", H5T_NATIVE_DOUBLE);
      const auto ids =
          dataset<std::uint64_t>(f, std::string("/spikes/") + pop + "/node_ids", H5T_NATIVE_UINT64);
      const auto amps =
          dataset<std::int32_t>(f, std::string("/spikes/") + pop + "/amplitudes", H5T_NATIVE_INT32);
      const std::uint64_t end = range.end.value_or(run.tokens);
      std::multiset<std::tuple<double, std::uint64_t, std::int32_t>> expected, shown;
      for (std::size_t i = 0; i < ts.size(); ++i) {
        const std::size_t tok = token_of(token_steps, ts[i]);
        if (tok >= range.first && tok < end) expected.insert({ts[i], ids[i], amps[i]});
      }
      for (const Node* m : root->all("rect", "spike"))
        shown.insert({number_of(m, "data-step"), static_cast<std::uint64_t>(number_of(m, "data-neuron")),
                      static_cast<std::int32_t>(number_of(m, "data-amplitude"))});
      CHECK(!expected.empty());
      CHECK(shown.size() == expected.size());
      CHECK(shown == expected);
      // Axis label names the token axis with its local steps.
      bool token_axis = false;
      for (const Node* n : root->all("text", "axis-label")) token_axis |= n->text.rfind("token (", 0) == 0;
      CHECK(token_axis);
      CHECK(!root->all("g", "colour-bar").empty());
      CHECK(!root->all("g", "legend").empty());
      // The count of spikes shown is in the panel title, not a legend entry of its own.
      check_legend_matches_marks(*root);
      bool counted = false;
      for (const Node* n : root->all("text", "panel-title"))
        counted |= n->text.find(fmt::format(", {} spikes shown", expected.size())) != std::string::npos;
      CHECK(counted);
      CHECK(root->all_text().find("spikes shown") == root->all_text().rfind("spikes shown"));
    }
  }
  // Neuron 0 at the bottom, as NEST and Brian2 draw rasters: a higher index is higher up (smaller y).
  {
    const auto root = check_svg(raster_plot(r, {"layer0.attn_in", {}}).render(), {"neuron (index)"});
    double y_low = -1, y_high = -1;
    std::uint64_t n_low = ~std::uint64_t{0}, n_high = 0;
    for (const Node* m : root->all("rect", "spike")) {
      const auto n = static_cast<std::uint64_t>(number_of(m, "data-neuron"));
      if (n < n_low) n_low = n, y_low = number_of(m, "y");
      if (n > n_high) n_high = n, y_high = number_of(m, "y");
    }
    REQUIRE(n_high > n_low);
    CHECK(y_high < y_low);
  }
  // Errors name the population and the file.
  try {
    (void)raster_plot(r, {"no_such_population", {}});
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::data);
    CHECK_THAT(std::string(e.what()), Catch::Contains("no_such_population") && Catch::Contains("out.h5"));
  }
  CHECK_THROWS_AS(raster_plot(r, {"layer0.attn_in", {7, 9}}), Error);
}

TEST_CASE("membrane plot: value units are θ·V, with θ of each token from the run file", "[plots]") {
  const test::SmallRun& run = the_run();
  const RunReport& r = the_report();
  const RawFile f(run.file);
  const auto token_steps = dataset<std::uint64_t>(f, "/spikesim/token_steps", H5T_NATIVE_UINT64);
  const std::string g = "/report/layer0.mlp_in";
  const auto steps = dataset<std::uint32_t>(f, g + "/mapping/steps", H5T_NATIVE_UINT32);
  const auto data = dataset<float>(f, g + "/data", H5T_NATIVE_FLOAT);
  const auto scale_steps = dataset<std::uint32_t>(f, g + "/scale/steps", H5T_NATIVE_UINT32);
  const auto theta = dataset<float>(f, g + "/scale/theta", H5T_NATIVE_FLOAT);
  const auto zero = dataset<std::int32_t>(f, g + "/scale/zero", H5T_NATIVE_INT32);
  const std::size_t traced = 8;
  // One row per token, at the token's injection frame, one column per traced neuron.
  REQUIRE(scale_steps.size() == run.tokens);
  for (std::size_t k = 0; k < run.tokens; ++k) {
    CHECK(token_of(token_steps, scale_steps[k]) == k);
    // the step of the token's injection frame: its first frame of the membrane report
    CHECK(*std::find_if(steps.begin(), steps.end(),
                        [&](std::uint32_t st) { return token_of(token_steps, st) == k; }) == scale_steps[k]);
  }
  REQUIRE(theta.size() == run.tokens * traced);
  REQUIRE(zero.size() == run.tokens * traced);
  for (const float t : theta) CHECK(t > 0.0f);
  for (const std::int32_t z : zero) CHECK(z >= 0);

  MembraneOptions o;
  o.population = "layer0.mlp_in";
  o.neurons = {0, 3};
  o.tokens = {0, 4};
  o.value_units = true;
  const auto root = check_svg(membrane_plot(r, o).render(), {"θ·V, θ·s (value units)"});
  std::size_t checked = 0;
  for (const Node* d : root->all("circle", "membrane")) {
    const auto n = static_cast<std::size_t>(number_of(d, "data-neuron"));
    const auto row = static_cast<std::size_t>(number_of(d, "data-frame"));
    const std::size_t tok = token_of(token_steps, steps[row]);
    INFO("neuron " << n << " frame " << row << " token " << tok);
    CHECK(number_of(d, "data-theta") == Approx(theta[tok * traced + n]));
    CHECK(number_of(d, "data-v") == Approx(data[row * traced + n] * theta[tok * traced + n]));
    ++checked;
  }
  CHECK(checked > 0);
  // In value units there is no "A" line: θ·A changes from token to token.
  CHECK(root->all_text().find("A = 2^bits - 1") == std::string::npos);

  SECTION("a file without the scale says to plot in grid levels") {
    test::TempDir dir("plots_no_scale");
    const fs::path copy = dir / "old.h5";
    fs::copy_file(run.file, copy);
    {
      const hid_t file = H5Fopen(copy.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      REQUIRE(file >= 0);
      CHECK(H5Ldelete(file, (g + "/scale").c_str(), H5P_DEFAULT) >= 0);
      H5Fclose(file);
    }
    const RunReport old = read_run_report(copy);
    try {
      (void)membrane_plot(old, o);
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::data);
      CHECK_THAT(std::string(e.what()), Catch::Contains("no decode scale") && Catch::Contains("without --values"));
    }
    o.value_units = false;
    CHECK_NOTHROW(membrane_plot(old, o));  // grid levels need no scale
  }
  SECTION("the CLI flag") {
    const std::string file = run.file.string();
    CHECK(run_cli("plot " + file + " membrane --values -o " + (run.dir / "values.svg").string()) == 0);
    CHECK(test::read_file(run.dir / "values.svg").find("value units") != std::string::npos);
    CHECK(run_cli("plot " + file + " raster --population layer0.mlp_in --values -o " +
                  (run.dir / "x.svg").string()) == 2);
  }
}

TEST_CASE("membrane plot: frames and spikes of the traced neurons", "[plots]") {
  const test::SmallRun& run = the_run();
  const RunReport& r = the_report();
  const RawFile f(run.file);
  const auto token_steps = dataset<std::uint64_t>(f, "/spikesim/token_steps", H5T_NATIVE_UINT64);
  const std::string g = "/report/layer0.mlp_in";
  const auto steps = dataset<std::uint32_t>(f, g + "/mapping/steps", H5T_NATIVE_UINT32);
  const auto node_ids = dataset<std::uint64_t>(f, g + "/mapping/node_ids", H5T_NATIVE_UINT64);
  const auto data = dataset<float>(f, g + "/data", H5T_NATIVE_FLOAT);
  const auto ts = dataset<double>(f, "/spikes/layer0.mlp_in/timestamps", H5T_NATIVE_DOUBLE);
  const auto ids = dataset<std::uint64_t>(f, "/spikes/layer0.mlp_in/node_ids", H5T_NATIVE_UINT64);
  const auto amps = dataset<std::int32_t>(f, "/spikes/layer0.mlp_in/amplitudes", H5T_NATIVE_INT32);
  const std::size_t traced = node_ids.size();
  REQUIRE(traced == 8);

  MembraneOptions o;
  o.population = "layer0.mlp_in";
  o.neurons = {0, 3, 7};
  o.tokens = {1, 3};
  const auto root = check_svg(membrane_plot(r, o).render(), {"V, s (grid levels)"});
  const auto dots = root->all("circle", "membrane");
  std::multiset<std::tuple<std::uint64_t, std::uint64_t, double>> expected_frames, shown_frames;
  std::multiset<std::tuple<std::uint64_t, std::uint64_t, std::int32_t>> expected_spikes, shown_spikes;
  for (std::size_t row = 0; row < steps.size(); ++row) {
    const std::size_t tok = token_of(token_steps, steps[row]);
    if (tok < 1 || tok >= 3) continue;
    for (std::uint64_t n : o.neurons) expected_frames.insert({n, steps[row], data[row * traced + n]});
  }
  for (std::size_t i = 0; i < ts.size(); ++i) {
    const std::size_t tok = token_of(token_steps, ts[i]);
    if (tok >= 1 && tok < 3 && std::count(o.neurons.begin(), o.neurons.end(), ids[i]))
      expected_spikes.insert({ids[i], static_cast<std::uint64_t>(ts[i]), amps[i]});
  }
  for (const Node* d : dots)
    shown_frames.insert({static_cast<std::uint64_t>(number_of(d, "data-neuron")),
                         static_cast<std::uint64_t>(number_of(d, "data-step")), number_of(d, "data-v")});
  for (const Node* s : root->all("g", "spike"))
    shown_spikes.insert({static_cast<std::uint64_t>(number_of(s, "data-neuron")),
                         static_cast<std::uint64_t>(number_of(s, "data-step")),
                         static_cast<std::int32_t>(number_of(s, "data-amplitude"))});
  CHECK(!expected_frames.empty());
  CHECK(shown_frames == expected_frames);
  CHECK(!expected_spikes.empty());
  CHECK(shown_spikes == expected_spikes);
  // The spikes of each token sum to its injected membrane (DESIGN.md §1): the picture adds up.
  CHECK(root->all("g", "panel").size() == 3);

  // No traces: the error names the config key that records them.
  try {
    MembraneOptions bad;
    bad.population = "layer0.attn_in";
    (void)membrane_plot(r, bad);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::data);
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("record.trace_populations") && Catch::Contains("layer0.attn_in"));
  }
  MembraneOptions untraced;
  untraced.population = "layer0.mlp_in";
  untraced.neurons = {100};
  CHECK_THROWS_WITH(membrane_plot(r, untraced), Catch::Contains("record.trace_neurons"));
}

TEST_CASE("energy plot: bars equal the stage energies and op counts per layer", "[plots]") {
  const test::SmallRun& run = the_run();
  const RunReport& r = the_report();
  const RawFile f(run.file);
  std::map<std::string, double> run_pj, dense_pj, acs;
  for (const auto& stage : children(f, "/spikesim/stages")) {
    const std::string g = "/spikesim/stages/" + stage;
    const int layer = static_cast<int>(f64(f, g, "layer"));
    const std::string name = layer < 0 ? "other" : "layer" + std::to_string(layer);
    run_pj[name] += f64(f, g, "run_total_pj");
    dense_pj[name] += f64(f, g, "dense_total_pj");
    acs[name] += static_cast<double>(u64(f, g + "/run", "amplitude_acs"));
  }
  const auto root = check_svg(energy_plot(r).render(), {"layer"});
  std::map<std::string, std::map<std::string, double>> shown;
  for (const Node* b : root->all("rect", "bar"))
    shown[b->attrs.at("data-series")][b->attrs.at("data-layer")] = number_of(b, "data-value");
  REQUIRE(shown["spiking_energy_pj"].size() == run_pj.size());
  for (const auto& [layer, pj] : run_pj) {
    INFO(layer);
    CHECK(shown["spiking_energy_pj"][layer] == Approx(pj).epsilon(1e-12));
    CHECK(shown["dense_energy_pj"][layer] == Approx(dense_pj[layer]).epsilon(1e-12));
    CHECK(shown["amplitude_acs"][layer] == acs[layer]);
  }
  CHECK(shown.count("effective_macs") == 1);
  CHECK(shown.count("dense_equivalent_ops") == 1);
  // Both panels have units on their y axes.
  std::set<std::string> labels;
  for (const Node* n : root->all("text", "axis-label")) labels.insert(n->text);
  CHECK(labels.count("operations (count)") == 1);
  CHECK(std::any_of(labels.begin(), labels.end(),
                    [](const std::string& l) { return l.rfind("energy (", 0) == 0; }));
}

TEST_CASE("rates plot: spikes per token per channel, salient channels marked", "[plots]") {
  const test::SmallRun& run = the_run();
  const RunReport& r = the_report();
  const RawFile f(run.file);
  const std::string pop = "layer0.mlp_down";
  const auto spikes =
      dataset<std::uint64_t>(f, "/spikesim/populations/" + pop + "/spikes", H5T_NATIVE_UINT64);
  const auto steps = dataset<std::uint32_t>(f, "/spikesim/populations/" + pop + "/steps", H5T_NATIVE_UINT32);
  const std::uint32_t fewest = *std::min_element(steps.begin(), steps.end());
  const auto root =
      check_svg(rates_plot(r, {pop}).render(), {"channel (neuron index)", "spikes per token (events / token)",
                                                "amplitude per token (levels / token)"});
  const auto bars = root->all("rect", "rate");
  std::size_t nonzero = 0, salient = 0;
  for (std::size_t i = 0; i < spikes.size(); ++i) nonzero += spikes[i] > 0 ? 1 : 0;
  REQUIRE(bars.size() == nonzero);
  for (const Node* b : bars) {
    const auto i = static_cast<std::size_t>(number_of(b, "data-neuron"));
    REQUIRE(i < spikes.size());
    CHECK(number_of(b, "data-value") == static_cast<double>(spikes[i]) / static_cast<double>(run.tokens));
    CHECK(static_cast<std::uint64_t>(number_of(b, "data-spikes")) == spikes[i]);
    const bool is_salient = steps[i] > fewest;
    CHECK(b->attrs.at("data-salient") == (is_salient ? "1" : "0"));
    salient += is_salient ? 1 : 0;
  }
  CHECK(salient > 0);
  // Salient and other channels differ in colour and both are in the legend.
  std::set<std::string> salient_fill, other_fill;
  for (const Node* b : bars)
    (b->attrs.at("data-salient") == "1" ? salient_fill : other_fill).insert(b->attrs.at("fill"));
  CHECK(salient_fill.size() == 1);
  CHECK(other_fill.size() == 1);
  CHECK(*salient_fill.begin() != *other_fill.begin());
  CHECK_THAT(root->all_text(), Catch::Contains("salient channel"));
  CHECK_THROWS_AS(rates_plot(r, {"nope"}), Error);
}

TEST_CASE("HTML report: one well-formed page with the plots inlined", "[report][plots]") {
  const RunReport& r = the_report();
  const std::string html = report_html(r);
  std::unique_ptr<Node> root;
  REQUIRE_NOTHROW(root = parse_xml(html));
  CHECK(root->name == "html");
  const auto svgs = root->all("svg");
  CHECK(svgs.size() == 4);  // energy, raster, rates, membrane
  for (const Node* s : svgs) CHECK(!s->all("title").empty());
  const std::string text = root->all_text();
  for (const char* needle : {"Effective_MACs", "ActivationSparsity", "Footprint", "Per layer", "Per stage",
                             "Most energy-hungry populations", "encoding.bits"})
    CHECK_THAT(text, Catch::Contains(needle));
  // The settings are a two-column key/value table whose long values wrap
  // inside the page; tables of figures keep each number on one line (a value
  // and its unit never split) and scroll sideways in a box of their own.
  const auto key_value = root->all("table", "key-value");
  REQUIRE(key_value.size() == 1);
  for (const Node* row : key_value.front()->all("tr")) CHECK(row->children.size() == 2);
  CHECK_THAT(key_value.front()->all_text(), Catch::Contains("encoding.bits") && Catch::Contains("energy.profile"));
  const auto boxes = root->all("div", "scroll");
  CHECK(boxes.size() == root->all("table", "figures").size());
  for (const Node* box : boxes) CHECK(box->all("table", "figures").size() == 1);
  CHECK_THAT(html, Catch::Contains("table.figures th, table.figures td { text-align: right; white-space: nowrap; }") &&
                       Catch::Contains("table.key-value td { overflow-wrap: anywhere; }") &&
                       Catch::Contains("table.figures td.name { text-align: left; }"));
  // Self-contained: nothing is loaded from elsewhere.
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("href=") == std::string::npos);
}

TEST_CASE("spikesim plot and report on the command line", "[plots][report]") {
  const test::SmallRun& run = the_run();
  const fs::path out = run.dir / "cli_raster.svg";
  const std::string file = run.file.string();
  REQUIRE(run_cli("plot " + file + " raster --population layer0.attn_in --tokens 0:2 -o " + out.string()) ==
          0);
  std::ifstream in(out);
  const std::string svg_text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  check_svg(svg_text, {"neuron (index)"});
  CHECK(run_cli("plot " + file + " energy -o " + (run.dir / "e.svg").string()) == 0);
  CHECK(run_cli("plot " + file + " rates --population layer1.attn_out -o " + (run.dir / "r.svg").string()) ==
        0);
  CHECK(run_cli("plot " + file + " membrane --neurons 0,1 -o " + (run.dir / "m.svg").string()) == 0);
  // Missing traces: ExitCode::data; bad command lines: usage.
  CHECK(run_cli("plot " + file + " membrane --population layer0.attn_in -o " +
                (run.dir / "x.svg").string()) == 5);
  CHECK(run_cli("plot " + file + " raster -o " + (run.dir / "x.svg").string()) == 2);
  CHECK(run_cli("plot " + file + " raster --population layer0.attn_in --tokens 3:1 -o " +
                (run.dir / "x.svg").string()) == 2);
  CHECK(run_cli("plot " + file + " bogus") == 2);
  CHECK(run_cli("report " + file) == 0);
  CHECK(run_cli("report " + file + " --json --html " + (run.dir / "r.html").string()) == 0);
  CHECK(fs::file_size(run.dir / "r.html") > 1000);
  CHECK(run_cli("report " + (run.dir / "missing.h5").string()) == 5);
}
