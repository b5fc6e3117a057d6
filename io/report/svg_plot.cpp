#include "io/report/svg_plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace spikesim::svg {
namespace {

// Layout, in pixels (see the header).
constexpr double kFigureTitle = 36;  // figure title band
constexpr double kPanelTitle = 26;   // panel title band above each plot area
constexpr double kXAxisBand = 48;    // tick labels and the x axis title below each plot area
constexpr double kLeft = 86;         // y tick labels and the y axis title
constexpr double kRight = 200;       // legend and colour bar (at least; wider for long legends)
constexpr double kCharWidth = 6.4;   // estimated width of one character of 11 px text
constexpr double kLegendRow = 18;

constexpr const char* kFont = "DejaVu Sans, Helvetica, Arial, sans-serif";

Rgb interpolate(std::span<const Rgb> stops, double t) {
  t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0);
  const double pos = t * static_cast<double>(stops.size() - 1);
  const auto i = std::min(static_cast<std::size_t>(pos), stops.size() - 2);
  const double f = pos - static_cast<double>(i);
  auto mix = [&](std::uint8_t a, std::uint8_t b) {
    return static_cast<std::uint8_t>(std::lround(a + (static_cast<double>(b) - a) * f));
  };
  return {mix(stops[i].r, stops[i + 1].r), mix(stops[i].g, stops[i + 1].g), mix(stops[i].b, stops[i + 1].b)};
}

constexpr std::array<Rgb, 9> kViridis{{{68, 1, 84},
                                       {71, 45, 123},
                                       {59, 82, 139},
                                       {44, 114, 142},
                                       {33, 145, 140},
                                       {40, 174, 128},
                                       {94, 201, 98},
                                       {173, 220, 48},
                                       {253, 231, 37}}};
// ColorBrewer RdBu, from blue (-1) to red (+1).
constexpr std::array<Rgb, 11> kRdBu{{{5, 48, 97},
                                     {33, 102, 172},
                                     {67, 147, 195},
                                     {146, 197, 222},
                                     {209, 229, 240},
                                     {235, 235, 235},
                                     {253, 219, 199},
                                     {244, 165, 130},
                                     {214, 96, 77},
                                     {178, 24, 43},
                                     {103, 0, 31}}};
// Okabe & Ito, "Color Universal Design" (2008).
constexpr std::array<Rgb, 8> kOkabeIto{{{0, 114, 178},
                                        {213, 94, 0},
                                        {0, 158, 115},
                                        {230, 159, 0},
                                        {204, 121, 167},
                                        {86, 180, 233},
                                        {240, 228, 66},
                                        {0, 0, 0}}};

std::string px(double v) {
  if (!std::isfinite(v)) v = 0;
  std::string s = fmt::format("{:.2f}", v);
  // Trim trailing zeros: "12.50" -> "12.5", "3.00" -> "3".
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

std::string attrs_text(const Attrs& attrs) {
  std::string s;
  for (const auto& [k, v] : attrs) s += fmt::format(" {}=\"{}\"", k, escape(v));
  return s;
}

const char* anchor_name(Anchor a) {
  switch (a) {
    case Anchor::start:
      return "start";
    case Anchor::end:
      return "end";
    case Anchor::middle:
      break;
  }
  return "middle";
}

struct Range {
  double lo, hi;
};

Range range_of(const Axis& a) {
  double lo = a.min, hi = a.max;
  if (!std::isfinite(lo)) lo = 0;
  if (!std::isfinite(hi)) hi = lo + 1;
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  return {lo, hi};
}

// Maps data to pixels for one panel.
struct Frame {
  double left, right, top, bottom;
  Range x, y;
  bool y_reversed;
  [[nodiscard]] double sx(double v) const {
    v = std::clamp(std::isfinite(v) ? v : x.lo, x.lo, x.hi);
    return left + (v - x.lo) / (x.hi - x.lo) * (right - left);
  }
  [[nodiscard]] double sy(double v) const {
    v = std::clamp(std::isfinite(v) ? v : y.lo, y.lo, y.hi);
    const double f = (v - y.lo) / (y.hi - y.lo);
    return y_reversed ? top + f * (bottom - top) : bottom - f * (bottom - top);
  }
};

std::vector<std::pair<double, std::string>> ticks_of(const Axis& a) {
  if (!a.ticks.empty()) return a.ticks;
  const Range r = range_of(a);
  auto values = nice_ticks(r.lo, r.hi, 6);
  double step = values.size() > 1 ? values[1] - values[0] : 1.0;
  if (a.integer) {
    step = std::max(1.0, std::round(step));
    values.clear();
    for (double v = std::ceil(r.lo / step) * step; v <= r.hi + 1e-9; v += step) values.push_back(v);
  }
  const double magnitude = std::max(std::abs(r.lo), std::abs(r.hi));
  std::vector<std::pair<double, std::string>> out;
  for (double v : values) out.emplace_back(v, tick_label(v, step, a.si, magnitude));
  return out;
}

}  // namespace

std::string Rgb::hex() const {
  return fmt::format("#{:02x}{:02x}{:02x}", r, g, b);
}

Rgb sequential(double t) {
  return interpolate(kViridis, t);
}
Rgb diverging(double t) {
  return interpolate(kRdBu, (std::clamp(std::isfinite(t) ? t : 0.0, -1.0, 1.0) + 1) / 2);
}
Rgb series(std::size_t i) {
  return kOkabeIto[i % kOkabeIto.size()];
}

std::string escape(std::string_view text) {
  std::string s;
  s.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        s += "&amp;";
        break;
      case '<':
        s += "&lt;";
        break;
      case '>':
        s += "&gt;";
        break;
      case '"':
        s += "&quot;";
        break;
      case '\'':
        s += "&apos;";
        break;
      case '\t':
      case '\n':
      case '\r':
        s += c;
        break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20) s += c;  // other control characters are not XML
    }
  }
  return s;
}

std::string number(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0) return "0";  // no "-0"
  return fmt::format("{}", value);
}

std::string tick_label(double value, double step, bool si, double magnitude) {
  static constexpr std::array<const char*, 5> kSuffix{"", "k", "M", "G", "T"};
  double scale = 1;
  std::size_t k = 0;
  if (si && magnitude >= 1000) {
    k = std::min<std::size_t>(static_cast<std::size_t>(std::floor(std::log10(magnitude) / 3)),
                              kSuffix.size() - 1);
    scale = std::pow(1000.0, static_cast<double>(k));
  }
  const double s = std::abs(step) / scale;
  const int decimals =
      s >= 1 || s <= 0 ? 0 : std::min(12, static_cast<int>(std::ceil(-std::log10(s) - 1e-9)));
  if (value == 0) return "0";
  std::string text = fmt::format("{:.{}f}", value / scale, decimals);
  if (text.find_first_not_of("-0.") == std::string::npos)
    text = decimals > 0 ? fmt::format("{:.{}f}", 0.0, decimals) : "0";
  return text + kSuffix[k];
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double r = raw / mag;
  const double step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
  std::vector<double> out;
  const double first = std::ceil(lo / step - 1e-9);
  for (int i = 0; i < 1000; ++i) {
    double v = (first + i) * step;
    if (v > hi + step * 1e-9) break;
    if (std::abs(v) < step * 1e-9) v = 0;
    out.push_back(v);
  }
  return out;
}

double nice_ceiling(double value) {
  if (!(value > 0) || !std::isfinite(value)) return 1;
  const double mag = std::pow(10.0, std::floor(std::log10(value)));
  for (double m : {1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0})
    if (m * mag >= value * (1 - 1e-12)) return m * mag;
  return 10 * mag;
}

std::string Axis::title() const {
  return unit.empty() ? label : fmt::format("{} ({})", label, unit);
}

// ---- Panel ------------------------------------------------------------------

Panel& Panel::x_axis(Axis axis) {
  x_ = std::move(axis);
  return *this;
}
Panel& Panel::y_axis(Axis axis) {
  y_ = std::move(axis);
  return *this;
}

void Panel::rect(double x0, double y0, double x1, double y1, Rgb fill, std::string_view cls, Attrs attrs) {
  Mark m;
  m.kind = Mark::Kind::rect;
  m.points = {{x0, y0}, {x1, y1}};
  m.colour = fill;
  m.cls = cls;
  m.attrs = std::move(attrs);
  marks_.push_back(std::move(m));
}

void Panel::dot(Point p, double radius_px, Rgb fill, std::string_view cls, Attrs attrs) {
  Mark m;
  m.kind = Mark::Kind::dot;
  m.points = {p};
  m.size = radius_px;
  m.colour = fill;
  m.cls = cls;
  m.attrs = std::move(attrs);
  marks_.push_back(std::move(m));
}

void Panel::line(std::span<const Point> points, Rgb stroke, double width_px, bool dashed,
                 std::string_view cls, Attrs attrs) {
  Mark m;
  m.kind = Mark::Kind::polyline;
  m.points.assign(points.begin(), points.end());
  m.colour = stroke;
  m.size = width_px;
  m.dashed = dashed;
  m.cls = cls;
  m.attrs = std::move(attrs);
  marks_.push_back(std::move(m));
}

void Panel::step_line(std::span<const Point> points, Rgb stroke, double width_px, std::string_view cls,
                      Attrs attrs) {
  std::vector<Point> stepped;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (i > 0) stepped.push_back({points[i].x, points[i - 1].y});
    stepped.push_back(points[i]);
  }
  line(stepped, stroke, width_px, false, cls, std::move(attrs));
}

void Panel::stem(double x, double y0, double y1, Rgb stroke, double width_px, std::string_view cls,
                 Attrs attrs) {
  Mark m;
  m.kind = Mark::Kind::stem;
  m.points = {{x, y0}, {x, y1}};
  m.colour = stroke;
  m.size = width_px;
  m.cls = cls;
  m.attrs = std::move(attrs);
  marks_.push_back(std::move(m));
}

void Panel::hline(double y, Rgb stroke, bool dashed, std::string label) {
  Mark m;
  m.kind = Mark::Kind::hline;
  m.points = {{0, y}};
  m.colour = stroke;
  m.dashed = dashed;
  m.text = std::move(label);
  marks_.push_back(std::move(m));
}

void Panel::vline(double x, Rgb stroke, bool dashed, std::string label) {
  Mark m;
  m.kind = Mark::Kind::vline;
  m.points = {{x, 0}};
  m.colour = stroke;
  m.dashed = dashed;
  m.text = std::move(label);
  marks_.push_back(std::move(m));
}

void Panel::text(Point at, std::string text, Anchor anchor, double dy_px) {
  Mark m;
  m.kind = Mark::Kind::text;
  m.points = {at};
  m.text = std::move(text);
  m.anchor = anchor;
  m.dy = dy_px;
  marks_.push_back(std::move(m));
}

void Panel::grouped_bars(const std::vector<std::string>& categories,
                         const std::vector<BarSeries>& series_list, std::string_view cls,
                         std::string x_label) {
  Axis x;
  x.label = x_label.empty() ? x_.label : std::move(x_label);
  x.unit = x_.unit;
  x.min = -0.5;
  x.max = static_cast<double>(categories.size()) - 0.5;
  for (std::size_t c = 0; c < categories.size(); ++c)
    x.ticks.emplace_back(static_cast<double>(c), categories[c]);
  x_ = std::move(x);
  const double group = 0.8;
  const double width = series_list.empty() ? group : group / static_cast<double>(series_list.size());
  for (std::size_t s = 0; s < series_list.size(); ++s) {
    const BarSeries& bs = series_list[s];
    for (std::size_t c = 0; c < categories.size() && c < bs.values.size(); ++c) {
      const double x0 = static_cast<double>(c) - group / 2 + width * static_cast<double>(s);
      Attrs a = c < bs.attrs.size() ? bs.attrs[c] : Attrs{};
      rect(x0, 0, x0 + width * 0.92, bs.values[c], bs.colour, cls, std::move(a));
    }
    legend(bs.name, bs.colour, LegendShape::box);
  }
}

void Panel::legend(std::string name, Rgb colour, LegendShape shape) {
  legend_.push_back({std::move(name), colour, shape});
}

void Panel::colour_bar(ScaleKind kind, double min, double max, std::string label, bool integer) {
  bar_ = {true, kind, min, max, integer, std::move(label)};
}

Rgb Panel::colour_of(double value) const {
  if (bar_.kind == ScaleKind::diverging) {
    const double m = std::max(std::abs(bar_.min), std::abs(bar_.max));
    return diverging(m > 0 ? value / m : 0);
  }
  return sequential(bar_.max > bar_.min ? (value - bar_.min) / (bar_.max - bar_.min) : 1.0);
}

double Panel::height() const {
  return kPanelTitle + plot_height_ + kXAxisBand;
}

double Panel::legend_width() const {
  auto chars = [](const std::string& t) {
    double n = 0;  // UTF-8 code points
    for (const char c : t) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
  };
  double w = 0;
  for (const LegendEntry& e : legend_) w = std::max(w, 22 + chars(e.name) * kCharWidth);
  if (bar_.present) w = std::max({w, chars(bar_.label) * kCharWidth, 23 + 8 * kCharWidth});
  return w;
}

void Panel::render(std::string& out, double top, double figure_width, double right_margin) const {
  const Frame f{kLeft,
                figure_width - right_margin,
                top + kPanelTitle,
                top + kPanelTitle + plot_height_,
                range_of(x_),
                range_of(y_),
                y_.reversed};
  out += "<g class=\"panel\">\n";
  out += fmt::format(
      "<text class=\"panel-title\" x=\"{}\" y=\"{}\" font-size=\"13\" font-weight=\"bold\">{}</text>\n",
      px(f.left), px(top + 17), escape(title_));
  out += fmt::format(
      "<rect class=\"plot-area\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" "
      "stroke=\"#d0d0d0\"/>\n",
      px(f.left), px(f.top), px(f.right - f.left), px(f.bottom - f.top));
  // Grid and ticks.
  out += "<g class=\"y-axis\">\n";
  for (const auto& [v, label] : ticks_of(y_)) {
    if (v < f.y.lo - 1e-9 || v > f.y.hi + 1e-9) continue;
    const double y = f.sy(v);
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#ececec\"/>", px(f.left),
                       px(y), px(f.right), px(y));
    out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#282828\"/>", px(f.left - 5),
                       px(y), px(f.left), px(y));
    out += fmt::format("<text class=\"tick-label\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
                       px(f.left - 8), px(y + 4), escape(label));
  }
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#282828\"/>\n", px(f.left),
                     px(f.top), px(f.bottom));
  out += fmt::format(
      "<text class=\"axis-label\" transform=\"translate({},{}) rotate(-90)\" "
      "text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
      px(18), px((f.top + f.bottom) / 2), escape(y_.title()));
  out += "</g>\n<g class=\"x-axis\">\n";
  for (const auto& [v, label] : ticks_of(x_)) {
    if (v < f.x.lo - 1e-9 || v > f.x.hi + 1e-9) continue;
    const double x = f.sx(v);
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#282828\"/>", px(x),
                       px(f.bottom), px(f.bottom + 5));
    out += fmt::format("<text class=\"tick-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                       px(x), px(f.bottom + 18), escape(label));
  }
  out += fmt::format("<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\" stroke=\"#282828\"/>\n", px(f.left),
                     px(f.right), px(f.bottom));
  out += fmt::format(
      "<text class=\"axis-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\">{}</text>\n",
      px((f.left + f.right) / 2), px(f.bottom + 40), escape(x_.title()));
  out += "</g>\n<g class=\"marks\">\n";
  for (const Mark& m : marks_) {
    const std::string cls = m.cls.empty() ? std::string() : fmt::format(" class=\"{}\"", escape(m.cls));
    const std::string extra = attrs_text(m.attrs);
    switch (m.kind) {
      case Mark::Kind::rect: {
        const double x0 = f.sx(m.points[0].x), x1 = f.sx(m.points[1].x);
        const double y0 = f.sy(m.points[0].y), y1 = f.sy(m.points[1].y);
        out += fmt::format("<rect{} x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}/>\n", cls,
                           px(std::min(x0, x1)), px(std::min(y0, y1)), px(std::abs(x1 - x0)),
                           px(std::abs(y1 - y0)), m.colour.hex(), extra);
        break;
      }
      case Mark::Kind::dot:
        out +=
            fmt::format("<circle{} cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"{}/>\n", cls,
                        px(f.sx(m.points[0].x)), px(f.sy(m.points[0].y)), px(m.size), m.colour.hex(), extra);
        break;
      case Mark::Kind::polyline: {
        std::string pts;
        for (const Point& p : m.points) {
          if (!pts.empty()) pts += ' ';
          pts += px(f.sx(p.x)) + "," + px(f.sy(p.y));
        }
        out += fmt::format(
            "<polyline{} points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\"{}{}/>\n", cls, pts,
            m.colour.hex(), px(m.size), m.dashed ? " stroke-dasharray=\"5,3\"" : "", extra);
        break;
      }
      case Mark::Kind::stem: {
        const double x = f.sx(m.points[0].x);
        out += fmt::format(
            "<g{}{}><line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"/>"
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"/></g>\n",
            cls, extra, px(x), px(f.sy(m.points[0].y)), px(x), px(f.sy(m.points[1].y)), m.colour.hex(),
            px(m.size), px(x), px(f.sy(m.points[1].y)), px(m.size + 1.5), m.colour.hex());
        break;
      }
      case Mark::Kind::hline: {
        const double y = f.sy(m.points[0].y);
        out += fmt::format(
            "<line class=\"reference\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\"{}/>\n",
            px(f.left), px(y), px(f.right), px(y), m.colour.hex(),
            m.dashed ? " stroke-dasharray=\"5,3\"" : "");
        if (!m.text.empty())
          out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{}\">{}</text>\n",
                             px(f.right - 4), px(y - 4), m.colour.hex(), escape(m.text));
        break;
      }
      case Mark::Kind::vline: {
        const double x = f.sx(m.points[0].x);
        out += fmt::format(
            "<line class=\"reference\" x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{3}\"{4}/>\n",
            px(x), px(f.top), px(f.bottom), m.colour.hex(), m.dashed ? " stroke-dasharray=\"4,3\"" : "");
        if (!m.text.empty())
          out += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n", px(x + 3), px(f.top + 12),
                             m.colour.hex(), escape(m.text));
        break;
      }
      case Mark::Kind::text:
        out += fmt::format("<text class=\"annotation\" x=\"{}\" y=\"{}\" text-anchor=\"{}\">{}</text>\n",
                           px(f.sx(m.points[0].x)), px(f.sy(m.points[0].y) + m.dy), anchor_name(m.anchor),
                           escape(m.text));
        break;
    }
  }
  out += "</g>\n";
  // Legend and colour bar, right of the plot area.
  const double lx = f.right + 16;
  double ly = f.top + 4;
  if (!legend_.empty()) {
    out += "<g class=\"legend\">\n";
    for (const LegendEntry& e : legend_) {
      const std::string c = e.colour.hex();
      const double cy = ly + kLegendRow / 2;
      switch (e.shape) {
        case LegendShape::box:
          out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"10\" fill=\"{}\"/>", px(lx),
                             px(cy - 5), c);
          break;
        case LegendShape::line:
        case LegendShape::dashed_line:
          out += fmt::format(
              "<line x1=\"{0}\" y1=\"{2}\" x2=\"{1}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"2\"{4}/>",
              px(lx), px(lx + 16), px(cy), c,
              e.shape == LegendShape::dashed_line ? " stroke-dasharray=\"4,2\"" : "");
          break;
        case LegendShape::dot:
          out += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\"/>", px(lx + 7), px(cy), c);
          break;
        case LegendShape::stem:
          out += fmt::format(
              "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"2\"/>"
              "<circle cx=\"{0}\" cy=\"{2}\" r=\"3\" fill=\"{3}\"/>",
              px(lx + 7), px(cy + 6), px(cy - 4), c);
          break;
      }
      out += fmt::format("<text class=\"legend-label\" x=\"{}\" y=\"{}\">{}</text>\n", px(lx + 22),
                         px(cy + 4), escape(e.name));
      ly += kLegendRow;
    }
    out += "</g>\n";
  }
  if (bar_.present) {
    out += "<g class=\"colour-bar\">\n";
    const double title_y = ly + 14;
    out += fmt::format("<text class=\"colour-bar-label\" x=\"{}\" y=\"{}\">{}</text>\n", px(lx), px(title_y),
                       escape(bar_.label));
    const double top_y = title_y + 8;
    const double bar_h = std::clamp(f.bottom - top_y, 40.0, 180.0);
    const double lo = bar_.min, hi = bar_.max > bar_.min ? bar_.max : bar_.min + 1;
    const bool per_value = bar_.integer && hi - lo + 1 <= 40;
    const int slices = per_value ? static_cast<int>(hi - lo) + 1 : 48;
    const double slice_h = bar_h / slices;
    for (int i = 0; i < slices; ++i) {  // top slice = max
      const double v = per_value ? hi - i : hi - (hi - lo) * (i + 0.5) / slices;
      out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"16\" height=\"{}\" fill=\"{}\"/>", px(lx),
                         px(top_y + i * slice_h), px(slice_h + 0.3), colour_of(v).hex());
    }
    out +=
        fmt::format("<rect x=\"{}\" y=\"{}\" width=\"16\" height=\"{}\" fill=\"none\" stroke=\"#282828\"/>\n",
                    px(lx), px(top_y), px(bar_h));
    auto y_of = [&](double v) {
      if (per_value) return top_y + (hi - v + 0.5) * slice_h;
      return top_y + (hi - v) / (hi - lo) * bar_h;
    };
    std::vector<double> ticks;
    if (per_value) {
      const int every = static_cast<int>(std::ceil((hi - lo + 1) / std::max(1.0, bar_h / 14)));
      for (double v = lo; v <= hi; v += 1)
        if (static_cast<long long>(v - lo) % every == 0 || v == hi) ticks.push_back(v);
    } else {
      ticks = nice_ticks(lo, hi, 5);
    }
    const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1.0;
    for (double v : ticks) {
      const double y = y_of(v);
      out += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#282828\"/>", px(lx + 16),
                         px(y), px(lx + 20), px(y));
      out += fmt::format("<text class=\"tick-label\" x=\"{}\" y=\"{}\">{}</text>\n", px(lx + 23), px(y + 4),
                         escape(per_value ? tick_label(v, 1) : tick_label(v, step)));
    }
    out += "</g>\n";
  }
  out += "</g>\n";
}

// ---- Figure -----------------------------------------------------------------

Figure::Figure(std::string title, std::string description, double width)
    : title_(std::move(title)), description_(std::move(description)), width_(width) {}

Panel& Figure::add_panel(std::string title, double plot_height) {
  panels_.emplace_back(std::move(title), plot_height);
  return panels_.back();
}

std::string Figure::render(bool standalone) const {
  double height = kFigureTitle;
  double right = kRight;
  for (const Panel& p : panels_) {
    height += p.height();
    right = std::max(right, p.legend_width() + 28);
  }
  right = std::min(right, width_ * 0.45);
  height += 8;
  std::string out;
  if (standalone) out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"{2}\" font-size=\"11\" fill=\"#282828\">\n",
      px(width_), px(height), kFont);
  out += fmt::format("<title>{}</title>\n", escape(title_));
  if (!description_.empty()) out += fmt::format("<desc>{}</desc>\n", escape(description_));
  out += fmt::format(
      "<rect class=\"background\" x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n",
      px(width_), px(height));
  out += fmt::format(
      "<text class=\"figure-title\" x=\"{}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>\n",
      px(kLeft), escape(title_));
  double top = kFigureTitle;
  for (const Panel& p : panels_) {
    p.render(out, top, width_, right);
    top += p.height();
  }
  out += "</svg>\n";
  return out;
}

}  // namespace spikesim::svg
