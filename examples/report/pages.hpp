#pragma once
// The three report pages, each drawn from the JSON its tool writes (so that every number on the
// page is a value of that JSON, found by its pointer):
//   train_page(metrics)  lstmner-train --report: the --metrics-json object
//   eval_page(analysis)  lstmner-eval --report: what `lstmner-eval --analysis --format json`
//                        prints (to_json of an ErrorAnalysis)
//   tune_page(summary)   lstmner-tune --report: DIR/summary.json

#include "html.hpp"
#include "svg.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace report {

namespace detail {

inline std::string card(const std::string& label, const std::string& value_html) {
  return "<div class=\"card\"><div class=\"label\">" + escape(label) +
         "</div><div class=\"value\">" + value_html + "</div></div>\n";
}

inline std::string section(const std::string& heading, const std::string& body) {
  return "<section>\n<h2>" + escape(heading) + "</h2>\n" + body + "</section>\n";
}

inline std::string note(const std::string& html) {
  return "<p class=\"note\">" + html + "</p>\n";
}

/// An error's sentence with one entity highlighted: tokens as text, the span in a box with
/// its type.
inline std::string marked_sentence(const json& data, const std::string& error_pointer,
                                   const char* side, const char* css) {
  const json& e = data.at(json::json_pointer(error_pointer));
  const json& tokens = e.at("tokens");
  const json& entity = e.at(side);
  std::size_t begin = 0, end = 0;
  if (!entity.is_null()) {
    begin = entity.at("begin").get<std::size_t>();
    end = entity.at("end").get<std::size_t>();
  }
  std::string out;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (!entity.is_null() && i == begin) out += "<span class=\"ent " + std::string(css) + "\">";
    out += text(tokens[i].get<std::string>());
    if (!entity.is_null() && i + 1 == end) {
      out += "<sub>" + str(data, error_pointer + "/" + side + "/type") + "</sub></span>";
    }
    out += " ";
  }
  return out;
}

inline const char* outcome_label(const std::string& key) {
  if (key == "correct") return "correct";
  if (key == "wrong_type") return "wrong type";
  if (key == "wrong_boundary") return "wrong boundary";
  if (key == "wrong_type_and_boundary") return "wrong type and boundary";
  if (key == "false_positive") return "false positive";
  if (key == "false_negative") return "false negative";
  return "?";
}

inline std::string breakdown_table(const json& data, const std::string& pointer,
                                   const std::string& label_heading) {
  std::vector<std::vector<std::string>> rows;
  const json& list = data.at(json::json_pointer(pointer));
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string p = pointer + "/" + std::to_string(i);
    rows.push_back({str(data, p + "/label"), num(data, p + "/gold", 0),
                    num(data, p + "/predicted", 0), num(data, p + "/correct", 0),
                    num(data, p + "/precision", 2, 100), num(data, p + "/recall", 2, 100),
                    num(data, p + "/f1", 2, 100)});
  }
  return table(
      {label_heading, "gold", "predicted", "correct", "precision (%)", "recall (%)", "F1 (%)"},
      rows);
}

inline std::string breakdown_chart(const json& data, const std::string& pointer,
                                   const std::string& title, const std::string& x_label) {
  const json& list = data.at(json::json_pointer(pointer));
  Chart c;
  c.title = title;
  c.x.label = x_label;
  c.y.label = "F1 (%)";
  c.y.min = 0;
  c.y.max = 100;
  c.width = 420;
  c.height = 260;
  c.legend = false;
  Series s;
  s.line = false;
  for (std::size_t i = 0; i < list.size(); ++i) {
    c.x.categories.push_back(list[i].at("label").get<std::string>());
    if (list[i].at("gold").get<double>() + list[i].at("predicted").get<double>() == 0) continue;
    s.x.push_back(static_cast<double>(i));
    s.y.push_back(100 * list[i].at("f1").get<double>());
    s.titles.push_back(list[i].at("label").get<std::string>() + ": F1 " +
                       fixed(100 * list[i].at("f1").get<double>(), 2) + "%");
  }
  return chart(c, {s});
}

}  // namespace detail

/// The sections of an error analysis whose JSON (to_json of an ErrorAnalysis) is at `base` in
/// `data`: scores per type, entity classes, the confusion heat map, breakdowns and the first
/// `max_errors` errors.
inline std::vector<std::string> analysis_sections(const json& data, const std::string& base,
                                                  std::size_t max_errors = 100) {
  using detail::section;
  const json& a = data.at(json::json_pointer(base.empty() ? "" : base));
  std::vector<std::string> out;

  // Scores per type.
  {
    const std::string r = base + "/report";
    std::vector<std::vector<std::string>> rows;
    for (const auto& [type, v] : a.at("report").at("per_type").items()) {
      const std::string p = r + "/per_type/" + pointer_token(type);
      rows.push_back({text(type), num(data, p + "/gold", 0), num(data, p + "/predicted", 0),
                      num(data, p + "/correct", 0), num(data, p + "/precision", 2, 100),
                      num(data, p + "/recall", 2, 100), num(data, p + "/f1", 2, 100)});
    }
    rows.push_back({"all (micro)", num(data, r + "/entities/gold", 0),
                    num(data, r + "/entities/predicted", 0), num(data, r + "/entities/correct", 0),
                    num(data, r + "/micro/precision", 2, 100),
                    num(data, r + "/micro/recall", 2, 100), num(data, r + "/micro/f1", 2, 100)});
    for (const char* avg : {"macro", "weighted"}) {
      const std::string p = r + "/" + avg;
      rows.push_back({std::string(avg) + " average", "", "", "",
                      num(data, p + "/precision", 2, 100), num(data, p + "/recall", 2, 100),
                      num(data, p + "/f1", 2, 100)});
    }
    std::string body = detail::note("Scored by " + str(data, r + "/mode") +
                                    " rules; token accuracy " + num(data, r + "/accuracy", 2, 100) +
                                    "% over " + num(data, r + "/tokens", 0) + " tokens.");
    body += table({"type", "gold", "predicted", "correct", "precision (%)", "recall (%)", "F1 (%)"},
                  rows);
    out.push_back(section("Scores per entity type", body));
  }

  // Entity classes.
  {
    std::string body = detail::note(
        "Every gold and every predicted entity in exactly one class, found against the entity "
        "of the other side it overlaps most (a tie goes to the leftmost). Wrong type: same span; "
        "wrong boundary: overlapping, same type; wrong type and boundary: overlapping, neither; a "
        "false positive or negative overlaps nothing.");
    for (const char* side : {"gold", "predicted"}) {
      const bool gold = std::string(side) == "gold";
      const std::vector<std::string> keys = {"total",
                                             "correct",
                                             "wrong_type",
                                             "wrong_boundary",
                                             "wrong_type_and_boundary",
                                             gold ? "false_negative" : "false_positive"};
      std::vector<std::string> headers = {"type"};
      for (const std::string& k : keys)
        headers.push_back(k == "total" ? std::string(side) + " entities"
                                       : detail::outcome_label(k));
      std::vector<std::vector<std::string>> rows;
      auto row = [&](const std::string& name, const std::string& p) {
        std::vector<std::string> cells = {name};
        for (const std::string& k : keys) cells.push_back(num(data, p + "/" + side + "/" + k, 0));
        rows.push_back(cells);
      };
      for (const auto& [type, v] : a.at("entity_classes").at("per_type").items())
        row(text(type), base + "/entity_classes/per_type/" + pointer_token(type));
      row("all", base + "/entity_classes/overall");
      body += "<h3>" + std::string(gold ? "Gold" : "Predicted") + " entities</h3>\n" +
              table(headers, rows);
    }
    out.push_back(section("Entity error classes", body));
  }

  // Confusion heat map.
  {
    const json& tags = a.at("confusion").at("tags");
    std::vector<std::string> labels;
    for (const json& t : tags) labels.push_back(t.get<std::string>());
    std::vector<double> counts;
    std::vector<std::string> keys;
    for (std::size_t g = 0; g < labels.size(); ++g)
      for (std::size_t p = 0; p < labels.size(); ++p) {
        counts.push_back(a.at("confusion").at("counts").at(g).at(p).get<double>());
        keys.push_back(base + "/confusion/counts/" + std::to_string(g) + "/" + std::to_string(p));
      }
    out.push_back(section(
        "Token tag confusion",
        detail::note("Rows: gold tag; columns: predicted tag; each cell the number of tokens.") +
            heat_map("Tokens by gold and predicted tag", "gold tag", "predicted tag", labels,
                     labels, counts, keys)));
  }

  // Breakdowns.
  {
    const std::string b = base + "/breakdowns";
    std::string body =
        "<div class=\"charts\">" +
        detail::breakdown_chart(data, b + "/entity_length", "F1 by entity length",
                                "entity length (tokens)") +
        detail::breakdown_chart(data, b + "/sentence_length", "F1 by sentence length",
                                "sentence length (tokens)") +
        "</div>\n";
    body += "<h3>By entity length</h3>\n" +
            detail::breakdown_table(data, b + "/entity_length", "tokens");
    body += "<h3>By sentence length</h3>\n" +
            detail::breakdown_table(data, b + "/sentence_length", "tokens");
    if (a.at("breakdowns").contains("training_words")) {
      body += "<h3>By whether every word of the entity occurs in the training text</h3>\n" +
              detail::breakdown_table(data, b + "/training_words", "words");
    }
    out.push_back(section("Breakdowns", body));
  }

  // Errors.
  {
    const json& errors = a.at("errors");
    const std::size_t shown = std::min(max_errors, errors.size());
    std::string body = detail::note(
        num(data, base + "/errors_total", 0) + " errors in all; " +
        (shown < a.at("errors_total").get<std::size_t>() ? "the first ones are listed. " : "") +
        "Gold entity in green, predicted entity in red; a mutual pair of entities is one error.");
    body += "<ol class=\"errors\">\n";
    for (std::size_t i = 0; i < shown; ++i) {
      const std::string p = base + "/errors/" + std::to_string(i);
      const json& e = errors[i];
      body += "<li><div class=\"head\">sentence " + num(data, p + "/sentence", 0) + " &middot; " +
              detail::outcome_label(e.at("outcome").get<std::string>()) + "</div>\n";
      if (e.contains("tokens")) {
        body += "<div class=\"line\"><span class=\"side\">gold</span>" +
                detail::marked_sentence(data, p, "gold", "gold") + "</div>\n";
        body += "<div class=\"line\"><span class=\"side\">predicted</span>" +
                detail::marked_sentence(data, p, "predicted", "pred") + "</div>\n";
      } else {
        for (const char* side : {"gold", "predicted"}) {
          if (e.at(side).is_null()) continue;
          body += "<div class=\"line\"><span class=\"side\">" + std::string(side) + "</span>" +
                  str(data, p + "/" + side + "/type") + " tokens " +
                  num(data, p + "/" + side + "/begin", 0) + "&ndash;" +
                  num(data, p + "/" + side + "/end", 0) + "</div>\n";
        }
      }
      body += "</li>\n";
    }
    body += "</ol>\n";
    out.push_back(section("Errors", body));
  }
  return out;
}

/// lstmner-train's report, from its metrics JSON.
inline std::string train_page(const json& m) {
  using detail::card;
  using detail::section;
  std::vector<std::string> sections;
  const json& epochs = m.at("epochs");
  const bool has_dev = !epochs.empty() && epochs[0].at("dev_f1").get<double>() >= 0;

  std::string cards = "<div class=\"cards\">";
  cards += card("epochs trained", num(m, "/epochs_run", 0));
  cards += card("best epoch", num(m, "/best_epoch", 0));
  if (has_dev) cards += card("best dev F1 (%)", num(m, "/best_dev_f1", 2));
  if (m.contains("test")) cards += card("test F1 (%)", num(m, "/test/micro/f1", 2, 100));
  cards += card("training time (s)", num(m, "/total_seconds", 1));
  cards += "</div>\n";
  std::string status;
  if (m.value("interrupted", false)) {
    status = detail::note("Training was interrupted; the epochs below are those completed.");
  } else if (m.value("stopped_early", false)) {
    status = detail::note("Stopped early: no better dev F1 for the patience's number of epochs.");
  }
  sections.push_back(section("Summary", cards + status));

  // Curves.
  Series loss{"train loss", {}, {}, {}, true, false, palette(0)};
  Series f1{"dev F1", {}, {}, {}, true, false, palette(0)};
  Series precision{"dev precision", {}, {}, {}, true, true, palette(1)};
  Series recall{"dev recall", {}, {}, {}, true, true, palette(2)};
  Series speed{"training tokens/s", {}, {}, {}, true, false, palette(3)};
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < epochs.size(); ++i) {
    const json& e = epochs[i];
    const double x = e.at("epoch").get<double>();
    loss.x.push_back(x);
    loss.y.push_back(e.at("train_loss").get<double>());
    speed.x.push_back(x);
    speed.y.push_back(e.at("tokens_per_second").get<double>());
    if (has_dev) {
      for (auto* s : {&f1, &precision, &recall}) s->x.push_back(x);
      f1.y.push_back(e.at("dev_f1").get<double>());
      precision.y.push_back(e.at("dev_precision").get<double>());
      recall.y.push_back(e.at("dev_recall").get<double>());
    }
    const std::string p = "/epochs/" + std::to_string(i);
    std::vector<std::string> row = {num(m, p + "/epoch", 0), num(m, p + "/train_loss", 4)};
    if (has_dev) {
      row.push_back(num(m, p + "/dev_precision", 2));
      row.push_back(num(m, p + "/dev_recall", 2));
      row.push_back(num(m, p + "/dev_f1", 2));
    }
    row.push_back(num(m, p + "/train_seconds", 2));
    row.push_back(num(m, p + "/tokens_per_second", 0));
    row.push_back(e.at("best").get<bool>() ? "best so far" : "");
    rows.push_back(row);
  }
  Chart c;
  c.x.label = "epoch";
  c.x.integer = true;
  c.width = 360;
  c.height = 270;
  std::string charts = "<div class=\"charts\">";
  c.title = "Training loss";
  c.y.label = "mean cross-entropy per token";
  c.y.min = 0;
  charts += chart(c, {loss});
  if (has_dev) {
    c.title = "Dev set scores";
    c.y.label = "percent";
    c.y.min.reset();
    charts += chart(c, {f1, precision, recall});
  }
  c.title = "Training speed";
  c.y.label = "tokens per second";
  c.y.min = 0;
  charts += chart(c, {speed});
  charts += "</div>\n";
  std::vector<std::string> headers = {"epoch", "train loss"};
  if (has_dev) headers.insert(headers.end(), {"dev P (%)", "dev R (%)", "dev F1 (%)"});
  headers.insert(headers.end(), {"train time (s)", "tokens/s", ""});
  sections.push_back(section("Training curves", charts + table(headers, rows)));

  if (m.contains("analysis")) {
    const std::string which = m.value("analysis_set", "test");
    sections.push_back("<h2 style=\"border:0;margin-top:36px\">Analysis of the " + escape(which) +
                       " set</h2>\n");
    for (std::string& s : analysis_sections(m, "/analysis")) sections.push_back(std::move(s));
  }

  // Configuration.
  {
    std::vector<std::vector<std::string>> config_rows;
    for (const auto& [key, v] : m.at("config").items()) {
      const std::string p = "/config/" + pointer_token(key);
      std::string cell;
      if (v.is_number_integer()) {
        cell = num(m, p, 0);
      } else if (v.is_number()) {
        cell = num_g(m, p, 6);
      } else {
        cell = str(m, p);
      }
      config_rows.push_back({text(key), cell});
    }
    std::string body;
    for (const char* f : {"train_file", "dev_file", "test_file"})
      if (m.contains(f))
        body += detail::note(std::string(f == std::string("train_file") ? "training data: "
                                         : f == std::string("dev_file") ? "development data: "
                                                                        : "test data: ") +
                             text(m.at(f).get<std::string>()));
    sections.push_back(section("Configuration", body + table({"setting", "value"}, config_rows)));
  }

  return page("lstmner-train report", "Training curves, scores and errors of one training run",
              sections);
}

/// lstmner-eval's report, from the analysis JSON; `source` names the file scored.
inline std::string eval_page(const json& a, const std::string& source) {
  using detail::card;
  std::string cards = "<div class=\"cards\">";
  cards += card("F1 (%)", num(a, "/report/micro/f1", 2, 100));
  cards += card("precision (%)", num(a, "/report/micro/precision", 2, 100));
  cards += card("recall (%)", num(a, "/report/micro/recall", 2, 100));
  cards += card("gold entities", num(a, "/report/entities/gold", 0));
  cards += card("predicted entities", num(a, "/report/entities/predicted", 0));
  cards += card("token accuracy (%)", num(a, "/report/accuracy", 2, 100));
  cards += "</div>\n";
  std::vector<std::string> sections = {detail::section("Summary", cards)};
  for (std::string& s : analysis_sections(a, "", 200)) sections.push_back(std::move(s));
  return page("lstmner-eval report", "Scores and error analysis of " + text(source), sections);
}

/// lstmner-tune's report, from DIR/summary.json.
inline std::string tune_page(const json& s) {
  using detail::card;
  using detail::section;
  std::vector<std::string> sections;
  const json& trials = s.at("trials");
  std::string cards = "<div class=\"cards\">";
  cards += card("trials finished", num(s, "/counts/finished", 0));
  cards += card("stopped early (median rule)", num(s, "/counts/stopped", 0));
  cards += card("failed", num(s, "/counts/failed", 0));
  if (s.contains("best")) {
    cards += card("best dev F1 (%)", num(s, "/best/best_dev_f1", 2));
    cards += card("best trial", num(s, "/best/trial", 0));
  }
  cards += "</div>\n";
  std::string body = cards;
  if (s.contains("best")) {
    body += "<h3>The best configuration as an lstmner-train command</h3>\n<code class=\"cmd\">" +
            str(s, "/best/command") + "</code>\n";
  }
  if (s.contains("final") && !s.at("final").at("runs").empty()) {
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i = 0; i < s.at("final").at("runs").size(); ++i) {
      const std::string p = "/final/runs/" + std::to_string(i);
      rows.push_back({num(s, p + "/seed", 0), num(s, p + "/best_dev_f1", 2),
                      num(s, p + "/test_f1", 2), num(s, p + "/best_epoch", 0),
                      num(s, p + "/seconds", 1)});
    }
    rows.push_back(
        {"mean", num(s, "/final/dev_f1_mean", 2), num(s, "/final/test_f1_mean", 2), "", ""});
    rows.push_back({"standard deviation", num(s, "/final/dev_f1_sd", 2),
                    num(s, "/final/test_f1_sd", 2), "", ""});
    body += "<h3>The best configuration retrained with other seeds, scored on test once</h3>\n" +
            table({"seed", "dev F1 (%)", "test F1 (%)", "best epoch", "time (s)"}, rows);
  }
  sections.push_back(section("Summary", body));

  // Dev F1 against each hyperparameter.
  std::string charts = "<div class=\"charts\">";
  for (const auto& [name, dim] : s.at("settings").at("space").items()) {
    Chart c;
    c.title = "dev F1 against --" + name;
    c.x.label = "--" + name;
    c.y.label = "best dev F1 (%)";
    c.width = 380;
    c.height = 270;
    c.legend = true;
    const std::string kind = dim.at("kind").get<std::string>();
    c.x.log = kind == "loguniform";
    std::vector<std::string> categories;
    if (kind == "choice") {
      for (const json& v : dim.at("values"))
        categories.push_back(v.is_string() ? v.get<std::string>() : v.dump());
      c.x.categories = categories;
    }
    Series done{"finished", {}, {}, {}, false, false, palette(0)};
    Series stopped{"stopped early", {}, {}, {}, false, false, palette(3)};
    std::map<std::string, int> seen_per_category;
    for (const json& t : trials) {
      if (!t.contains("best_dev_f1") || !t.at("best_dev_f1").is_number()) continue;
      if (!t.at("config").contains(name)) continue;
      const json& v = t.at("config").at(name);
      double x;
      if (kind == "choice") {
        const std::string label = v.is_string() ? v.get<std::string>() : v.dump();
        const auto it = std::find(categories.begin(), categories.end(), label);
        if (it == categories.end()) continue;
        // Points of one category side by side, so that equal ones do not hide each other.
        const int k = seen_per_category[label]++;
        x = static_cast<double>(it - categories.begin()) + 0.06 * ((k % 7) - 3);
      } else {
        x = v.get<double>();
      }
      Series& series = t.at("status").get<std::string>() == "stopped" ? stopped : done;
      series.x.push_back(x);
      series.y.push_back(t.at("best_dev_f1").get<double>());
      series.titles.push_back("trial " + std::to_string(t.at("trial").get<int>()) + ": dev F1 " +
                              fixed(t.at("best_dev_f1").get<double>(), 2));
    }
    charts += chart(c, {done, stopped});
  }
  // Dev F1 per epoch of every trial.
  {
    Chart c;
    c.title = "dev F1 per epoch of every trial";
    c.x.label = "epoch";
    c.x.integer = true;
    c.y.label = "dev F1 (%)";
    c.width = 380;
    c.height = 270;
    std::vector<Series> curves;
    Series legend_done{"finished", {}, {}, {}, true, false, palette(0)};
    Series legend_stopped{"stopped early", {}, {}, {}, true, true, palette(3)};
    for (const json& t : trials) {
      if (!t.contains("dev_f1")) continue;
      Series curve;
      curve.color = t.at("status").get<std::string>() == "stopped" ? palette(3) : palette(0);
      curve.dashed = t.at("status").get<std::string>() == "stopped";
      for (std::size_t e = 0; e < t.at("dev_f1").size(); ++e) {
        curve.x.push_back(static_cast<double>(e + 1));
        curve.y.push_back(t.at("dev_f1").at(e).get<double>());
      }
      curves.push_back(curve);
    }
    curves.push_back(legend_done);
    curves.push_back(legend_stopped);
    charts += chart(c, curves);
  }
  charts += "</div>\n";
  sections.push_back(section("Dev F1 against each hyperparameter", charts));

  // The trials, best first.
  {
    std::vector<std::size_t> order(trials.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto f1 = [&](std::size_t i) {
      const json& t = trials[i];
      return t.contains("best_dev_f1") && t.at("best_dev_f1").is_number()
                 ? t.at("best_dev_f1").get<double>()
                 : -1.0;
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return f1(x) > f1(y); });
    std::vector<std::string> headers = {
        "trial", "status", "best dev F1 (%)", "best epoch", "epochs run", "time (s)", "seed"};
    std::vector<std::string> names;
    for (const auto& [name, dim] : s.at("settings").at("space").items()) {
      names.push_back(name);
      headers.push_back("--" + escape(name));
    }
    std::vector<std::vector<std::string>> rows;
    for (std::size_t i : order) {
      const std::string p = "/trials/" + std::to_string(i);
      std::vector<std::string> row = {num(s, p + "/trial", 0),       str(s, p + "/status"),
                                      num(s, p + "/best_dev_f1", 2), num(s, p + "/best_epoch", 0),
                                      num(s, p + "/epochs_run", 0),  num(s, p + "/seconds", 1),
                                      num(s, p + "/seed", 0)};
      for (const std::string& name : names) {
        const std::string q = p + "/config/" + pointer_token(name);
        const json& v =
            trials[i].at("config").contains(name) ? trials[i].at("config").at(name) : json();
        row.push_back(v.is_number_integer() ? num(s, q, 0)
                      : v.is_number()       ? num_g(s, q, 4)
                                            : str(s, q));
      }
      rows.push_back(row);
    }
    sections.push_back(section("Trials, best first", table(headers, rows)));
  }
  return page("lstmner-tune report",
              "Hyperparameter search: " + num(s, "/counts/total", 0) + " trials, objective dev F1",
              sections);
}

}  // namespace report
