#pragma once
/// \file metrics/format.hpp
/// A report as text: conlleval's report (format_conlleval), seqeval's classification_report
/// (format_seqeval) and JSON (to_json). Part of metrics.hpp.

#include <lstmner/metrics/detail/json.hpp>
#include <lstmner/metrics/detail/text.hpp>
#include <lstmner/metrics/report.hpp>
#include <lstmner/metrics/scoring_options.hpp>
#include <lstmner/tag_scheme.hpp>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace lstmner {

/// conlleval's report, byte for byte (percentages computed from the counts with its formulas):
///   processed N tokens with G phrases; found: P phrases; correct: C.
///   accuracy:  xx.xx%; precision:  xx.xx%; recall:  xx.xx%; FB1:  xx.xx
///                 LOC: precision:  xx.xx%; recall:  xx.xx%; FB1:  xx.xx  P
/// (no accuracy line without tokens; a type "" is printed once for gold and once for predicted
/// entities, as conlleval's duplicate filter lets it through).
inline std::string format_conlleval(const EvaluationReport& report) {
  using detail::format_c;
  std::string out =
      format_c("processed %zu tokens with %zu phrases; ", report.tokens, report.gold_entities);
  out += format_c("found: %zu phrases; correct: %zu.\n", report.predicted_entities,
                  report.correct_entities);
  auto percent = [](std::size_t num, std::size_t den) {
    return den > 0 ? 100.0 * static_cast<double>(num) / static_cast<double>(den) : 0.0;
  };
  auto fb1 = [](double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; };
  if (report.tokens > 0) {
    const double p = percent(report.correct_entities, report.predicted_entities);
    const double r = percent(report.correct_entities, report.gold_entities);
    out += format_c("accuracy: %6.2f%%; ", percent(report.correct_tokens, report.tokens));
    out += format_c("precision: %6.2f%%; ", p);
    out += format_c("recall: %6.2f%%; ", r);
    out += format_c("FB1: %6.2f\n", fb1(p, r));
  }
  for (const TypeScores& t : report.per_type) {
    const int copies = t.type.empty() ? (t.gold > 0) + (t.predicted > 0) : 1;
    const double p = percent(t.correct, t.predicted);
    const double r = percent(t.correct, t.gold);
    for (int c = 0; c < copies; ++c) {
      out += format_c("%17s: ", t.type.c_str());
      out += format_c("precision: %6.2f%%; ", p);
      out += format_c("recall: %6.2f%%; ", r);
      out += format_c("FB1: %6.2f  %zu\n", fb1(p, r), t.predicted);
    }
  }
  return out;
}

/// seqeval's classification_report() string (what Python's print() shows, minus print's own
/// final newline): a header, one row per type, then micro / macro / weighted averages.
inline std::string format_seqeval(const EvaluationReport& report, int digits = 2) {
  if (digits < 0 || digits > 20)
    throw std::invalid_argument("lstmner: format_seqeval: digits must be in 0..20");
  std::size_t width = std::max<std::size_t>(12, static_cast<std::size_t>(digits));
  for (const TypeScores& t : report.per_type) width = std::max(width, detail::utf8_length(t.type));
  std::string out = std::string(width, ' ') + " " + " precision" + "    recall" + "  f1-score" +
                    "   support" + "\n\n";
  auto row = [&](const std::string& name, const PRF& s, std::size_t support) {
    out += detail::pad_left(name, width) + " ";
    for (double v : {s.precision, s.recall, s.f1}) out += detail::format_c(" %9.*f", digits, v);
    out += detail::format_c(" %9zu", support) + "\n";
  };
  for (const TypeScores& t : report.per_type) row(t.type, t.scores, t.gold);
  out += "\n";
  row("micro avg", report.micro, report.gold_entities);
  row("macro avg", report.macro, report.gold_entities);
  row("weighted avg", report.weighted, report.gold_entities);
  return out;
}

/// The report as a JSON object (numbers in shortest round-trip form, scores as fractions).
inline std::string to_json(const EvaluationReport& report) {
  using detail::json_number;
  using detail::json_string;
  auto prf = [](const PRF& s) {
    return "{\"precision\": " + json_number(s.precision) +
           ", \"recall\": " + json_number(s.recall) + ", \"f1\": " + json_number(s.f1) + "}";
  };
  std::string out = "{\n  \"mode\": " + json_string(to_string(report.mode)) + ",\n";
  out +=
      "  \"scheme\": " + (report.scheme ? json_string(to_string(*report.scheme)) : "null") + ",\n";
  out += "  \"tokens\": " + std::to_string(report.tokens) +
         ",\n  \"correct_tokens\": " + std::to_string(report.correct_tokens) +
         ",\n  \"accuracy\": " + json_number(report.accuracy) + ",\n";
  out += "  \"entities\": {\"gold\": " + std::to_string(report.gold_entities) +
         ", \"predicted\": " + std::to_string(report.predicted_entities) +
         ", \"correct\": " + std::to_string(report.correct_entities) + "},\n";
  out += "  \"micro\": " + prf(report.micro) + ",\n";
  out += "  \"macro\": " + prf(report.macro) + ",\n";
  out += "  \"weighted\": " + prf(report.weighted) + ",\n";
  out += "  \"per_type\": {";
  for (std::size_t i = 0; i < report.per_type.size(); ++i) {
    const TypeScores& t = report.per_type[i];
    out += (i ? ",\n    " : "\n    ") + json_string(t.type) +
           ": {\"gold\": " + std::to_string(t.gold) +
           ", \"predicted\": " + std::to_string(t.predicted) +
           ", \"correct\": " + std::to_string(t.correct) +
           ", \"precision\": " + json_number(t.scores.precision) +
           ", \"recall\": " + json_number(t.scores.recall) +
           ", \"f1\": " + json_number(t.scores.f1) + "}";
  }
  out += report.per_type.empty() ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

}  // namespace lstmner
