#pragma once
// A small SVG chart writer for `spikesim plot` and the HTML report
// (io/report/plots.hpp builds the four plots of a run with it).
//
// A Figure is a column of Panels under one title. A Panel is one plot area
// with a linear x and y axis (ticks, tick labels, an axis label with its
// unit), marks in data coordinates (rectangles, dots, lines, step lines,
// stems, grouped bars, reference lines, text) and, on its right, a legend
// and optionally a colour bar for a sequential or a diverging scale.
//
// Output is deterministic: the same calls give the same bytes (pixel
// coordinates with two decimals, data attributes in shortest round-trip
// form, no ids, no clocks). The SVG uses no ids, styles or gradients, so
// several figures can be inlined into one HTML page. Every mark can carry
// extra attributes (data-*) naming the value it shows, so that tests and
// scripts can read the data back from the picture. Text is XML-escaped.
//
// Layout, in pixels: the figure title on top; for each panel a title line,
// the plot area (left margin for the y axis, right margin for the legend
// and colour bar), then the x axis with its label.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spikesim::svg {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  [[nodiscard]] std::string hex() const;  // "#rrggbb"
  bool operator==(const Rgb&) const = default;
};

// Colour scales. `sequential`: t in [0, 1], dark purple -> teal -> yellow
// (the viridis stops: ordered in lightness, readable in greyscale and by
// colour-blind readers). `diverging`: t in [-1, 1], blue -> light grey -> red
// (ColorBrewer RdBu). Values outside are clamped. `series`: a categorical
// palette (Okabe-Ito, colour-blind safe), cycled.
Rgb sequential(double t);
Rgb diverging(double t);
Rgb series(std::size_t i);
inline constexpr Rgb kGrey{150, 150, 150};
inline constexpr Rgb kDark{40, 40, 40};

// XML text: & < > " ' become entities, other control characters are dropped.
std::string escape(std::string_view text);
// Shortest text that reads back as the same double ("0.1", "12", "1e+20").
std::string number(double value);
// A tick label: `value` with the decimals that `step` needs; with `si`, a
// k/M/G/T suffix chosen from `magnitude` (the largest |value| on the axis).
std::string tick_label(double value, double step, bool si = false, double magnitude = 0);
// About `target` ticks at 1, 2, 5 x 10^k steps covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 6);
// The smallest "nice" number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k) >= value; 1 for value <= 0.
double nice_ceiling(double value);

struct Axis {
  std::string label;  // what is measured, e.g. "neuron"
  std::string unit;   // its unit, e.g. "index", "pJ"; shown as "label (unit)"
  double min = 0, max = 1;
  bool integer = false;   // computed ticks on integers only
  bool reversed = false;  // y only: min at the top (a raster's neuron 0)
  bool si = false;        // tick labels with k/M/G suffixes
  // When not empty, these ticks (position, label) replace the computed ones.
  std::vector<std::pair<double, std::string>> ticks;
  [[nodiscard]] std::string title() const;
};

// Extra attributes of a mark, written in order (values escaped), e.g.
// {{"data-step", "12"}, {"data-amplitude", "3"}}.
using Attrs = std::vector<std::pair<std::string, std::string>>;

enum class LegendShape { box, line, dashed_line, dot, stem };
enum class ScaleKind { sequential, diverging };
enum class Anchor { start, middle, end };

struct BarSeries {
  std::string name;
  Rgb colour;
  std::vector<double> values;  // one per category
  std::vector<Attrs> attrs;    // one per category (or empty)
};

struct Point {
  double x = 0, y = 0;
};

class Panel {
 public:
  Panel(std::string title, double plot_height) : title_(std::move(title)), plot_height_(plot_height) {}

  Panel& x_axis(Axis axis);
  Panel& y_axis(Axis axis);
  [[nodiscard]] const Axis& x() const { return x_; }
  [[nodiscard]] const Axis& y() const { return y_; }

  // Marks, in data coordinates, clamped into the axes' ranges. `cls` is the
  // mark's class attribute (e.g. "spike"), used by readers to find them.
  void rect(double x0, double y0, double x1, double y1, Rgb fill, std::string_view cls, Attrs attrs = {});
  void dot(Point p, double radius_px, Rgb fill, std::string_view cls, Attrs attrs = {});
  void line(std::span<const Point> points, Rgb stroke, double width_px, bool dashed, std::string_view cls,
            Attrs attrs = {});
  // A step line: each value holds from its x to the next point's x.
  void step_line(std::span<const Point> points, Rgb stroke, double width_px, std::string_view cls,
                 Attrs attrs = {});
  // A vertical segment from (x, y0) to (x, y1) with a dot at y1.
  void stem(double x, double y0, double y1, Rgb stroke, double width_px, std::string_view cls,
            Attrs attrs = {});
  // Reference lines across the plot area, with an optional label at their end.
  void hline(double y, Rgb stroke, bool dashed, std::string label = {});
  void vline(double x, Rgb stroke, bool dashed, std::string label = {});
  void text(Point at, std::string text, Anchor anchor = Anchor::middle, double dy_px = 0);
  // Bars of each series side by side in each category. Sets the x axis to
  // the categories (centres at 0, 1, ...) and adds one legend entry per
  // series; the y axis is the caller's.
  void grouped_bars(const std::vector<std::string>& categories, const std::vector<BarSeries>& series,
                    std::string_view cls, std::string x_label = {});

  void legend(std::string name, Rgb colour, LegendShape shape);
  // A colour bar of `kind` from min to max (integer: one swatch per value
  // when there are few), titled `label`.
  void colour_bar(ScaleKind kind, double min, double max, std::string label, bool integer = false);

  // Colour of `value` on this panel's colour bar.
  [[nodiscard]] Rgb colour_of(double value) const;

 private:
  friend class Figure;
  struct Mark {
    enum class Kind { rect, dot, polyline, stem, hline, vline, text } kind = Kind::rect;
    std::vector<Point> points;
    Rgb colour;
    double size = 1;  // stroke width or radius
    bool dashed = false;
    Anchor anchor = Anchor::middle;
    double dy = 0;
    std::string cls, text;
    Attrs attrs;
  };
  struct LegendEntry {
    std::string name;
    Rgb colour;
    LegendShape shape;
  };
  struct ColourBar {
    bool present = false;
    ScaleKind kind = ScaleKind::sequential;
    double min = 0, max = 1;
    bool integer = false;
    std::string label;
  };

  // Renders at (left, top) of the figure with the plot area `width` wide.
  // Renders below `top`; the plot area spans from the left margin to
  // `figure_width - right_margin`.
  void render(std::string& out, double top, double figure_width, double right_margin) const;
  [[nodiscard]] double height() const;
  [[nodiscard]] double legend_width() const;  // estimated, in pixels

  std::string title_;
  double plot_height_;
  Axis x_, y_;
  std::vector<Mark> marks_;
  std::vector<LegendEntry> legend_;
  ColourBar bar_;
};

class Figure {
 public:
  // `description` becomes the SVG <desc> (what the figure shows, its source).
  explicit Figure(std::string title, std::string description = {}, double width = 960);

  Panel& add_panel(std::string title, double plot_height);
  [[nodiscard]] std::vector<Panel>& panels() { return panels_; }

  // The SVG document; `standalone` adds the XML declaration (a file) and is
  // left out for inlining into HTML.
  [[nodiscard]] std::string render(bool standalone = true) const;

 private:
  std::string title_, description_;
  double width_;
  std::vector<Panel> panels_;
};

}  // namespace spikesim::svg
