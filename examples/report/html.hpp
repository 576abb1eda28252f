#pragma once
// The HTML side of the tools' reports: one self-contained page (inline CSS and SVG, nothing
// fetched, no script), tables, and the convention that lets a test check every number shown.
//
// The convention: a number taken from the report's JSON is written by num() as
//   <span class="num" data-key="/json/pointer" data-digits="2" data-scale="100">84.57</span>
// i.e. the value at that JSON pointer, times data-scale (1 when absent), printed with
// data-digits decimals; a string taken from the JSON (a type, a label) by str() with data-key
// and no data-digits, its text the string itself. Text that is neither (words of the corpus,
// file names, tag names) has class "text"; tick labels of a chart have class "tick".
// tests/tools/check_report.py reads a page and its JSON and checks all of it.

#include "svg.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace report {

using json = nlohmann::json;

/// One reference token of a JSON pointer ("/" and "~" escaped as RFC 6901 says).
inline std::string pointer_token(const std::string& key) {
  std::string out;
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

/// The number at `pointer` in `data`, times `scale`, with `digits` decimals, marked for the
/// check; a missing or null value shows as an unmarked dash.
inline std::string num(const json& data, const std::string& pointer, int digits,
                       double scale = 1.0) {
  const json::json_pointer p(pointer);
  if (!data.contains(p) || !data.at(p).is_number()) return "<span class=\"missing\">&ndash;</span>";
  const double value = data.at(p).get<double>() * scale;
  std::string out = "<span class=\"num\" data-key=\"" + escape(pointer) + "\" data-digits=\"" +
                    std::to_string(digits) + "\"";
  if (scale != 1.0) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%g", scale);
    out += " data-scale=\"" + std::string(buffer) + "\"";
  }
  return out + ">" + fixed(value, digits) + "</span>";
}

/// The number at `pointer` with `significant` significant digits (printf's %g), marked for the
/// check with data-format="g".
inline std::string num_g(const json& data, const std::string& pointer, int significant = 4) {
  const json::json_pointer p(pointer);
  if (!data.contains(p) || !data.at(p).is_number()) return "<span class=\"missing\">&ndash;</span>";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*g", significant, data.at(p).get<double>());
  return "<span class=\"num\" data-key=\"" + escape(pointer) +
         "\" data-format=\"g\" data-digits=\"" + std::to_string(significant) + "\">" + buffer +
         "</span>";
}

/// The string (or true / false) at `pointer` in `data`, marked for the check.
inline std::string str(const json& data, const std::string& pointer) {
  const json::json_pointer p(pointer);
  if (!data.contains(p)) return "<span class=\"missing\">&ndash;</span>";
  const json& v = data.at(p);
  if (!v.is_string() && !v.is_boolean()) return "<span class=\"missing\">&ndash;</span>";
  return "<span class=\"str\" data-key=\"" + escape(pointer) + "\">" +
         escape(v.is_string() ? v.get<std::string>() : v.dump()) + "</span>";
}

/// Corpus text, names, tags: not a number from the JSON.
inline std::string text(const std::string& s) {
  return "<span class=\"text\">" + escape(s) + "</span>";
}

/// A table: header cells, then rows of cells (HTML). Cells holding a number are right-aligned.
inline std::string table(const std::vector<std::string>& headers,
                         const std::vector<std::vector<std::string>>& rows,
                         const std::string& css_class = "") {
  std::string out =
      "<table" + (css_class.empty() ? "" : " class=\"" + css_class + "\"") + ">\n<thead><tr>";
  for (const std::string& h : headers) out += "<th>" + h + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const std::string& cell : row) {
      const bool numeric = cell.rfind("<span class=\"num\"", 0) == 0 ||
                           cell.rfind("<span class=\"missing\"", 0) == 0;
      out += numeric ? "<td class=\"n\">" + cell + "</td>" : "<td>" + cell + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

inline const char* page_css() {
  return R"css(
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
       color: #1b1b1b; background: #fff; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; }
header { background: #12355b; color: #fff; padding: 14px 24px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; }
header p { margin: 4px 0 0; color: #d5e3f3; }
h2 { font-size: 18px; border-bottom: 2px solid #dfe6ee; padding-bottom: 4px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
p.note { color: #555; margin: 4px 0 10px; max-width: 900px; }
table { border-collapse: collapse; margin: 6px 0 14px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d6dde5; padding: 3px 9px; }
th { background: #eef3f8; text-align: left; font-weight: 600; }
td.n { text-align: right; }
tr.total td { font-weight: 600; background: #f7f9fb; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 8px 0 6px; }
.card { border: 1px solid #d6dde5; border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.card .label { color: #555; font-size: 12px; }
.card .value { font-size: 22px; font-weight: 600; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; }
svg.chart { background: #fff; border: 1px solid #e3e8ee; border-radius: 4px; }
svg .chart-title { font-size: 14px; font-weight: 600; fill: #1b1b1b; }
svg .tick { font-size: 11px; fill: #444; }
svg .axis-label { font-size: 12px; fill: #222; }
svg .legend { font-size: 12px; fill: #222; }
svg .grid { stroke: #e6e9ee; stroke-width: 1; }
svg .axis { stroke: #666; stroke-width: 1; }
svg .heat-label { font-size: 11px; fill: #222; }
svg .cell { stroke: #fff; stroke-width: 1; }
svg .cell-count { font-size: 11px; fill: #1b1b1b; }
svg .cell-count.on-dark { fill: #fff; }
.errors { list-style: none; padding: 0; margin: 0; }
.errors li { border: 1px solid #e3e8ee; border-radius: 4px; padding: 6px 10px; margin: 6px 0; }
.errors .head { font-size: 12px; color: #555; }
.errors .line { margin: 2px 0; }
.errors .side { display: inline-block; width: 74px; color: #555; font-size: 12px; }
.ent { padding: 1px 3px; border-radius: 3px; }
.ent.gold { background: #cdebd4; outline: 1px solid #3c9a53; }
.ent.pred { background: #f8d0cc; outline: 1px solid #c2453a; }
.ent sub { font-size: 10px; font-weight: 600; margin-left: 3px; }
code.cmd { display: block; white-space: pre-wrap; word-break: break-all; background: #f4f6f8;
           border: 1px solid #dfe6ee; padding: 8px 10px; font-size: 12px; }
.missing { color: #999; }
)css";
}

/// A whole page: title and subtitle in the header, then the sections (HTML) in order.
inline std::string page(const std::string& title, const std::string& subtitle_html,
                        const std::vector<std::string>& sections) {
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out += "<title>" + escape(title) + "</title>\n<style>" + std::string(page_css()) +
         "</style>\n</head>\n<body>\n";
  out += "<header><h1>" + escape(title) + "</h1><p>" + subtitle_html + "</p></header>\n<main>\n";
  for (const std::string& s : sections) out += s;
  return out + "</main>\n</body>\n</html>\n";
}

}  // namespace report
