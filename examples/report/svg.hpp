#pragma once
// A small SVG writer for the tools' HTML reports: line and scatter charts (linear, logarithmic
// or categorical x axis) with ticks, axis labels, units and a legend, and a heat map. Output is
// plain inline SVG text: no script, no external reference, readable without JavaScript.
//
// Every number drawn as text on a chart is either a tick label (class "tick": the axis scale,
// not data) or carries data-key, the JSON pointer of the value it shows (report/html.hpp's
// convention), so a test can check each shown number against the JSON the report came from.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace report {

inline std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// printf("%.*f") into a string.
inline std::string fixed(double value, int digits) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, value);
  return buffer;
}

/// A coordinate: one decimal is plenty at screen resolution.
inline std::string coord(double value) {
  return fixed(value, 1);
}

/// Okabe & Ito's colour-blind-safe palette (yellow left out: unreadable on white).
inline const char* palette(std::size_t i) {
  static const char* colors[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                 "#CC79A7", "#56B4E9", "#000000"};
  return colors[i % 7];
}

struct Axis {
  std::string label;                    ///< with its unit, e.g. "dev F1 (%)"
  bool log = false;                     ///< logarithmic (values must be positive)
  bool integer = false;                 ///< ticks on whole numbers only
  std::vector<std::string> categories;  ///< non-empty: a categorical axis, value i = category i
  std::optional<double> min, max;       ///< forced bounds (else from the data, rounded out)
};

struct Series {
  std::string name;  ///< in the legend; empty: not in the legend
  std::vector<double> x, y;
  /// Tooltip of each point (SVG <title>), optional.
  std::vector<std::string> titles;
  bool line = true;
  bool dashed = false;
  std::string color;  ///< empty: from the palette by position
};

struct Chart {
  std::string title;
  Axis x, y;
  int width = 560;
  int height = 300;
  bool legend = true;
};

namespace detail {

/// 1, 2 or 5 times a power of ten, near `raw`.
inline double nice_step(double raw) {
  if (!(raw > 0) || !std::isfinite(raw)) return 1.0;
  const double p = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / p;
  return (f < 1.5 ? 1.0 : f < 3.0 ? 2.0 : f < 7.0 ? 5.0 : 10.0) * p;
}

/// A tick label: %g, with thousands as "k" and millions as "M" (700k, 1.5M).
inline std::string tick_label(double v) {
  if (std::abs(v) < 1e-12) return "0";
  char buffer[32];
  if (std::abs(v) >= 1e6 && std::abs(std::fmod(v, 1e5)) < 1e-6) {
    std::snprintf(buffer, sizeof buffer, "%gM", v / 1e6);
  } else if (std::abs(v) >= 1e4 && std::abs(std::fmod(v, 1e3)) < 1e-6) {
    std::snprintf(buffer, sizeof buffer, "%gk", v / 1e3);
  } else {
    std::snprintf(buffer, sizeof buffer, "%g", v);
  }
  return buffer;
}

/// The scale of one axis: data value -> pixel, and its ticks.
struct Scale {
  double lo = 0, hi = 1;  // in axis units (log10 of the value on a log axis)
  double p0 = 0, p1 = 1;  // pixels
  bool log = false;
  std::vector<std::pair<double, std::string>> ticks;  // value, label

  double operator()(double v) const {
    const double t = log ? std::log10(v) : v;
    return p0 + (t - lo) / (hi - lo) * (p1 - p0);
  }
};

inline Scale make_scale(const Axis& axis, std::vector<double> values, double p0, double p1) {
  Scale s;
  s.p0 = p0;
  s.p1 = p1;
  if (!axis.categories.empty()) {
    s.lo = -0.5;
    s.hi = static_cast<double>(axis.categories.size()) - 0.5;
    for (std::size_t i = 0; i < axis.categories.size(); ++i)
      s.ticks.push_back({static_cast<double>(i), axis.categories[i]});
    return s;
  }
  s.log = axis.log;
  values.erase(std::remove_if(values.begin(), values.end(),
                              [&](double v) { return !std::isfinite(v) || (axis.log && v <= 0); }),
               values.end());
  double lo =
      values.empty() ? (axis.log ? 1.0 : 0.0) : *std::min_element(values.begin(), values.end());
  double hi =
      values.empty() ? (axis.log ? 10.0 : 1.0) : *std::max_element(values.begin(), values.end());
  if (axis.min) lo = *axis.min;
  if (axis.max) hi = *axis.max;
  if (axis.log) {
    double a = std::floor(std::log10(lo) + 1e-9), b = std::ceil(std::log10(hi) - 1e-9);
    if (b <= a) b = a + 1;
    s.lo = a;
    s.hi = b;
    const bool dense = b - a <= 2;
    for (double e = a; e <= b + 1e-9; ++e)
      for (double m : {1.0, 2.0, 5.0}) {
        if (m != 1.0 && !dense) continue;
        const double v = m * std::pow(10.0, e);
        if (std::log10(v) <= b + 1e-9) s.ticks.push_back({v, tick_label(v)});
      }
    return s;
  }
  if (hi - lo < 1e-12) {
    const double pad = std::abs(lo) > 0 ? std::abs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  double step = nice_step((hi - lo) / 5.0);
  if (axis.integer) step = std::max(1.0, std::round(step));
  s.lo = axis.min ? lo : std::floor(lo / step + 1e-9) * step;
  s.hi = axis.max ? hi : std::ceil(hi / step - 1e-9) * step;
  if (s.hi <= s.lo) s.hi = s.lo + step;
  for (double v = std::ceil(s.lo / step - 1e-9) * step; v <= s.hi + step * 1e-6; v += step)
    s.ticks.push_back({v, tick_label(v)});
  return s;
}

}  // namespace detail

/// A chart of the series: lines with point markers (Series::line) or markers alone (a scatter
/// chart). Points with a non-finite coordinate are left out.
inline std::string chart(const Chart& c, const std::vector<Series>& series) {
  const double left = 66, right = 16, top = 30, bottom = 46;
  std::size_t legend_rows = 0;
  if (c.legend)
    for (const Series& s : series) legend_rows += s.name.empty() ? 0 : 1;
  const double legend_height = legend_rows > 0 ? 18.0 * static_cast<double>(legend_rows) + 6 : 0;
  const double height = c.height + legend_height;
  const double x0 = left, x1 = c.width - right;
  const double y0 = top + (c.height - top - bottom), y1 = top;
  std::vector<double> xs, ys;
  for (const Series& s : series) {
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
  }
  const detail::Scale sx = detail::make_scale(c.x, xs, x0, x1);
  const detail::Scale sy = detail::make_scale(c.y, ys, y0, y1);

  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" +
                    std::to_string(c.width) + "\" height=\"" + coord(height) + "\" viewBox=\"0 0 " +
                    std::to_string(c.width) + " " + coord(height) +
                    "\" role=\"img\" aria-label=\"" + escape(c.title) + "\">\n";
  out += "<text x=\"" + coord(x0) + "\" y=\"18\" class=\"chart-title\">" + escape(c.title) +
         "</text>\n";
  // Grid and ticks.
  for (const auto& [v, label] : sy.ticks) {
    const double y = sy(v);
    out += "<line x1=\"" + coord(x0) + "\" y1=\"" + coord(y) + "\" x2=\"" + coord(x1) + "\" y2=\"" +
           coord(y) + "\" class=\"grid\"/>\n";
    out += "<text x=\"" + coord(x0 - 6) + "\" y=\"" + coord(y + 4) +
           "\" text-anchor=\"end\" class=\"tick\">" + escape(label) + "</text>\n";
  }
  const bool rotate = !c.x.categories.empty() && sx.ticks.size() > 6;
  for (const auto& [v, label] : sx.ticks) {
    const double x = sx(v);
    out += "<line x1=\"" + coord(x) + "\" y1=\"" + coord(y0) + "\" x2=\"" + coord(x) + "\" y2=\"" +
           coord(y0 + 4) + "\" class=\"axis\"/>\n";
    if (rotate) {
      out += "<text x=\"" + coord(x) + "\" y=\"" + coord(y0 + 14) +
             "\" text-anchor=\"end\" transform=\"rotate(-30 " + coord(x) + " " + coord(y0 + 14) +
             ")\" class=\"tick\">" + escape(label) + "</text>\n";
    } else {
      out += "<text x=\"" + coord(x) + "\" y=\"" + coord(y0 + 16) +
             "\" text-anchor=\"middle\" class=\"tick\">" + escape(label) + "</text>\n";
    }
  }
  out += "<line x1=\"" + coord(x0) + "\" y1=\"" + coord(y0) + "\" x2=\"" + coord(x1) + "\" y2=\"" +
         coord(y0) + "\" class=\"axis\"/>\n";
  out += "<line x1=\"" + coord(x0) + "\" y1=\"" + coord(y0) + "\" x2=\"" + coord(x0) + "\" y2=\"" +
         coord(y1) + "\" class=\"axis\"/>\n";
  // Axis labels.
  out += "<text x=\"" + coord((x0 + x1) / 2) + "\" y=\"" + coord(c.height - 8.0) +
         "\" text-anchor=\"middle\" class=\"axis-label\">" + escape(c.x.label) + "</text>\n";
  const double ym = (y0 + y1) / 2;
  out += "<text x=\"16\" y=\"" + coord(ym) +
         "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " + coord(ym) +
         ")\" class=\"axis-label\">" + escape(c.y.label) + "</text>\n";

  // Series.
  for (std::size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string color = s.color.empty() ? palette(k) : s.color;
    std::string path;
    std::vector<std::pair<double, double>> points;
    std::vector<std::size_t> index;
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if ((c.x.log && s.x[i] <= 0) || (c.y.log && s.y[i] <= 0)) continue;
      points.push_back({sx(s.x[i]), sy(s.y[i])});
      index.push_back(i);
    }
    out += "<g class=\"series\">\n";
    if (s.line && points.size() > 1) {
      for (std::size_t i = 0; i < points.size(); ++i)
        path += (i ? " L" : "M") + coord(points[i].first) + " " + coord(points[i].second);
      out += "<path d=\"" + path + "\" fill=\"none\" stroke=\"" + color + "\" stroke-width=\"2\"" +
             (s.dashed ? " stroke-dasharray=\"5 4\"" : "") + "/>\n";
    }
    for (std::size_t i = 0; i < points.size(); ++i) {
      out += "<circle cx=\"" + coord(points[i].first) + "\" cy=\"" + coord(points[i].second) +
             "\" r=\"" + (s.line ? "3" : "4") + "\" fill=\"" + color + "\"" +
             (s.line ? "" : " fill-opacity=\"0.75\"") + ">";
      if (index[i] < s.titles.size()) out += "<title>" + escape(s.titles[index[i]]) + "</title>";
      out += "</circle>\n";
    }
    out += "</g>\n";
  }
  // Legend, under the plot.
  if (legend_rows > 0) {
    double y = c.height + 4.0;
    for (std::size_t k = 0; k < series.size(); ++k) {
      if (series[k].name.empty()) continue;
      const std::string color = series[k].color.empty() ? palette(k) : series[k].color;
      out += "<line x1=\"" + coord(x0) + "\" y1=\"" + coord(y + 6) + "\" x2=\"" + coord(x0 + 22) +
             "\" y2=\"" + coord(y + 6) + "\" stroke=\"" + color + "\" stroke-width=\"3\"" +
             (series[k].dashed ? " stroke-dasharray=\"5 4\"" : "") + "/>\n";
      out += "<text x=\"" + coord(x0 + 28) + "\" y=\"" + coord(y + 10) + "\" class=\"legend\">" +
             escape(series[k].name) + "</text>\n";
      y += 18;
    }
  }
  return out + "</svg>\n";
}

/// A heat map of counts[r * cols + c] with row and column labels: cells on the diagonal in
/// blue, the others in red, each the darker the larger its count on a logarithmic scale, with
/// the count written in the cell. `keys[r * cols + c]`: the data-key of each count.
inline std::string heat_map(const std::string& title, const std::string& row_axis,
                            const std::string& col_axis, const std::vector<std::string>& rows,
                            const std::vector<std::string>& cols, const std::vector<double>& counts,
                            const std::vector<std::string>& keys) {
  std::size_t label_chars = 4;
  for (const auto* labels : {&rows, &cols})
    for (const std::string& l : *labels) label_chars = std::max(label_chars, l.size());
  const double label_width = 7.0 * static_cast<double>(label_chars) + 10;
  double max_count = 0, max_cell_chars = 1;
  for (double v : counts) {
    max_count = std::max(max_count, v);
    max_cell_chars = std::max(max_cell_chars, static_cast<double>(fixed(v, 0).size()));
  }
  const double cell = std::max(34.0, 7.0 * max_cell_chars + 8);
  const double x0 = 30 + label_width, y0 = 40 + label_width;
  const double width = std::max(x0 + cell * static_cast<double>(cols.size()) + 16, x0 + 480);
  const double height = y0 + cell * static_cast<double>(rows.size()) + 40;
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart heat\" width=\"" +
                    coord(width) + "\" height=\"" + coord(height) + "\" viewBox=\"0 0 " +
                    coord(width) + " " + coord(height) + "\" role=\"img\" aria-label=\"" +
                    escape(title) + "\">\n";
  out += "<text x=\"8\" y=\"18\" class=\"chart-title\">" + escape(title) + "</text>\n";
  out += "<text x=\"" + coord(x0 + cell * static_cast<double>(cols.size()) / 2) + "\" y=\"34\"" +
         " text-anchor=\"middle\" class=\"axis-label\">" + escape(col_axis) + "</text>\n";
  const double ym = y0 + cell * static_cast<double>(rows.size()) / 2;
  out += "<text x=\"16\" y=\"" + coord(ym) +
         "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " + coord(ym) +
         ")\" class=\"axis-label\">" + escape(row_axis) + "</text>\n";
  for (std::size_t c = 0; c < cols.size(); ++c) {
    const double x = x0 + cell * (static_cast<double>(c) + 0.5);
    out += "<text x=\"" + coord(x) + "\" y=\"" + coord(y0 - 6) + "\" transform=\"rotate(-60 " +
           coord(x) + " " + coord(y0 - 6) + ")\" class=\"text heat-label\">" + escape(cols[c]) +
           "</text>\n";
  }
  const double scale = std::log1p(max_count);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const double y = y0 + cell * static_cast<double>(r);
    out += "<text x=\"" + coord(x0 - 6) + "\" y=\"" + coord(y + cell / 2 + 4) +
           "\" text-anchor=\"end\" class=\"text heat-label\">" + escape(rows[r]) + "</text>\n";
    for (std::size_t c = 0; c < cols.size(); ++c) {
      const double v = counts[r * cols.size() + c];
      const double t = scale > 0 ? std::log1p(v) / scale : 0;
      // White to blue (diagonal) or white to red (confusions).
      const bool diagonal = r == c;
      const int red = static_cast<int>(std::lround(255 - t * (diagonal ? 222 : 41)));
      const int green = static_cast<int>(std::lround(255 - t * (diagonal ? 153 : 216)));
      const int blue = static_cast<int>(std::lround(255 - t * (diagonal ? 75 : 212)));
      char fill[16];
      std::snprintf(fill, sizeof fill, "#%02x%02x%02x", red, green, blue);
      const double x = x0 + cell * static_cast<double>(c);
      out += "<rect x=\"" + coord(x) + "\" y=\"" + coord(y) + "\" width=\"" + coord(cell) +
             "\" height=\"" + coord(cell) + "\" fill=\"" + fill + "\" class=\"cell\"><title>" +
             escape(rows[r]) + " \xE2\x86\x92 " + escape(cols[c]) + "</title></rect>\n";
      if (v > 0) {
        out += "<text x=\"" + coord(x + cell / 2) + "\" y=\"" + coord(y + cell / 2 + 4) +
               "\" text-anchor=\"middle\" class=\"num cell-count" + (t > 0.6 ? " on-dark" : "") +
               "\" data-key=\"" + escape(keys[r * cols.size() + c]) + "\" data-digits=\"0\">" +
               fixed(v, 0) + "</text>\n";
      }
    }
  }
  const double ly = y0 + cell * static_cast<double>(rows.size()) + 22;
  out += "<rect x=\"" + coord(x0) + "\" y=\"" + coord(ly - 10) +
         "\" width=\"12\" height=\"12\" fill=\"#2166b4\"/><text x=\"" + coord(x0 + 16) + "\" y=\"" +
         coord(ly) + "\" class=\"legend\">gold tag = predicted tag</text>\n";
  out += "<rect x=\"" + coord(x0 + 170) + "\" y=\"" + coord(ly - 10) +
         "\" width=\"12\" height=\"12\" fill=\"#d62728\"/><text x=\"" + coord(x0 + 186) +
         "\" y=\"" + coord(ly) + "\" class=\"legend\">confusion (darker: more tokens, log scale)" +
         "</text>\n";
  return out + "</svg>\n";
}

}  // namespace report
