#pragma once
/// \file metrics/analysis_format.hpp
/// An ErrorAnalysis as text (format_analysis) and as JSON (to_json). Part of metrics.hpp.
///
/// Both number sentences from 1 (an EntityError's `sentence` index + 1) and give entity spans
/// as token positions counted from 0, end exclusive. Scores in the JSON are fractions; the
/// text prints them as percentages with two decimals, as conlleval does.

#include <lstmner/metrics/analysis.hpp>
#include <lstmner/metrics/detail/json.hpp>
#include <lstmner/metrics/detail/text.hpp>
#include <lstmner/metrics/format.hpp>
#include <lstmner/metrics/report.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace lstmner {

namespace detail {

inline const char* outcome_heading(EntityOutcome k) {
  switch (k) {
    case EntityOutcome::Correct:
      return "correct";
    case EntityOutcome::WrongType:
      return "wrong type";
    case EntityOutcome::WrongBoundary:
      return "wrong boundary";
    case EntityOutcome::WrongTypeAndBoundary:
      return "wrong type+boundary";
    case EntityOutcome::FalsePositive:
      return "false positive";
    case EntityOutcome::FalseNegative:
      return "false negative";
  }
  return "?";
}

/// The text of tokens [begin, end) of sentence s, or "tokens BEGIN-END" without tokens.
inline std::string span_text(const ErrorAnalysis& a, std::size_t s, std::size_t begin,
                             std::size_t end) {
  if (a.tokens.empty()) return "tokens " + std::to_string(begin) + "-" + std::to_string(end);
  std::string out;
  for (std::size_t i = begin; i < end; ++i) out += (i > begin ? " " : "") + a.tokens[s][i];
  return out;
}

/// A window of sentence s around [begin, end) with `e` in brackets: "... saw [Peter]PER in ...".
inline std::string marked_window(const ErrorAnalysis& a, std::size_t s, std::size_t begin,
                                 std::size_t end, const Entity* e, std::size_t context = 6) {
  const std::size_t n = a.tokens[s].size();
  const std::size_t from = begin > context ? begin - context : 0;
  const std::size_t to = std::min(n, end + context);
  std::string out = from > 0 ? "..." : "";
  for (std::size_t i = from; i < to; ++i) {
    if (!out.empty()) out += " ";
    if (e != nullptr && i == e->begin) out += "[";
    out += a.tokens[s][i];
    if (e != nullptr && i + 1 == e->end) out += "]" + e->type;
  }
  if (to < n) out += " ...";
  return out;
}

inline std::string describe_entity(const ErrorAnalysis& a, std::size_t s, const Entity& e) {
  return (e.type.empty() ? std::string("(no type)") : e.type) + " " + std::to_string(e.begin) +
         "-" + std::to_string(e.end) + " \"" + span_text(a, s, e.begin, e.end) + "\"";
}

inline std::string json_entity(const ErrorAnalysis& a, std::size_t s, const Entity& e) {
  std::string out = "{\"type\": " + json_string(e.type) +
                    ", \"begin\": " + std::to_string(e.begin) +
                    ", \"end\": " + std::to_string(e.end);
  if (!a.tokens.empty()) out += ", \"text\": " + json_string(span_text(a, s, e.begin, e.end));
  return out + "}";
}

inline std::string json_outcomes(const std::array<std::size_t, entity_outcome_count>& counts,
                                 bool gold) {
  std::size_t total = 0;
  for (std::size_t c : counts) total += c;
  std::string out = "{\"total\": " + std::to_string(total);
  for (EntityOutcome k : all_entity_outcomes) {
    if (k == (gold ? EntityOutcome::FalsePositive : EntityOutcome::FalseNegative)) continue;
    out += ", " + json_string(to_string(k)) + ": " +
           std::to_string(counts[static_cast<std::size_t>(k)]);
  }
  return out + "}";
}

inline std::string json_error_counts(const EntityErrorCounts& c) {
  return "{\"gold\": " + json_outcomes(c.gold, true) +
         ", \"predicted\": " + json_outcomes(c.predicted, false) + "}";
}

inline std::string json_breakdown(const std::vector<BreakdownRow>& rows) {
  std::string out = "[";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const BreakdownRow& r = rows[i];
    out += (i ? ",\n      " : "\n      ") + std::string("{\"label\": ") + json_string(r.label) +
           ", \"gold\": " + std::to_string(r.gold) +
           ", \"predicted\": " + std::to_string(r.predicted) +
           ", \"correct\": " + std::to_string(r.correct) +
           ", \"precision\": " + json_number(r.scores.precision) +
           ", \"recall\": " + json_number(r.scores.recall) +
           ", \"f1\": " + json_number(r.scores.f1) + "}";
  }
  return out + (rows.empty() ? "]" : "\n    ]");
}

inline std::string breakdown_table(const std::string& title, const std::string& heading,
                                   const std::vector<BreakdownRow>& rows) {
  std::size_t width = heading.size();
  for (const BreakdownRow& r : rows) width = std::max(width, r.label.size());
  std::string out = title + "\n" + heading + std::string(width - heading.size(), ' ') +
                    "      gold  predicted   correct  precision    recall        F1\n";
  for (const BreakdownRow& r : rows) {
    out += r.label + std::string(width - r.label.size(), ' ');
    out += format_c("  %8zu  %9zu  %8zu    %6.2f%%   %6.2f%%    %6.2f\n", r.gold, r.predicted,
                    r.correct, 100 * r.scores.precision, 100 * r.scores.recall, 100 * r.scores.f1);
  }
  return out;
}

}  // namespace detail

/// The analysis as text: the entity classes of gold and of predicted entities per type, the
/// token confusion matrix, the breakdowns, and the first `max_errors` errors, each with its
/// sentence (a window of 6 tokens either side) marked once as gold and once as predicted.
inline std::string format_analysis(
    const ErrorAnalysis& a, std::size_t max_errors = std::numeric_limits<std::size_t>::max()) {
  using detail::format_c;
  std::string out = "Entity classes (" + to_string(a.report.mode) +
                    " rules): " + std::to_string(a.overall.gold_total()) + " gold and " +
                    std::to_string(a.overall.predicted_total()) + " predicted entities\n";
  std::size_t width = 9;  // "predicted"
  for (const EntityErrorCounts& t : a.per_type) width = std::max(width, t.type.size());
  auto column = [](EntityOutcome k) {
    return static_cast<int>(std::strlen(detail::outcome_heading(k)));
  };
  for (int side = 0; side < 2; ++side) {
    const bool gold = side == 0;
    const std::string title = gold ? "gold" : "predicted";
    out += "\n" + title + std::string(width > title.size() ? width - title.size() : 0, ' ') +
           "     total";
    for (EntityOutcome k : all_entity_outcomes) {
      if (k == (gold ? EntityOutcome::FalsePositive : EntityOutcome::FalseNegative)) continue;
      out += format_c("  %*s", column(k), detail::outcome_heading(k));
    }
    out += "\n";
    auto row = [&](const std::string& name, const EntityErrorCounts& c) {
      out += name + std::string(width > name.size() ? width - name.size() : 0, ' ');
      const auto& counts = gold ? c.gold : c.predicted;
      out += format_c("  %8zu", gold ? c.gold_total() : c.predicted_total());
      for (EntityOutcome k : all_entity_outcomes) {
        if (k == (gold ? EntityOutcome::FalsePositive : EntityOutcome::FalseNegative)) continue;
        out += format_c("  %*zu", column(k), counts[static_cast<std::size_t>(k)]);
      }
      out += "\n";
    };
    for (const EntityErrorCounts& t : a.per_type) row(t.type, t);
    row("all", a.overall);
  }

  out += "\nToken confusion (rows: gold tag, columns: predicted tag)\n";
  const std::vector<std::string>& tags = a.confusion.tags;
  std::size_t label_width = 4;
  std::size_t cell = 1;
  for (const std::string& t : tags) label_width = std::max(label_width, t.size());
  for (std::size_t c : a.confusion.counts) cell = std::max(cell, std::to_string(c).size());
  for (const std::string& t : tags) cell = std::max(cell, t.size());
  out += "gold" + std::string(label_width - 4, ' ');
  for (const std::string& t : tags) out += "  " + std::string(cell - t.size(), ' ') + t;
  out += "\n";
  for (std::size_t g = 0; g < tags.size(); ++g) {
    out += tags[g] + std::string(label_width - tags[g].size(), ' ');
    for (std::size_t p = 0; p < tags.size(); ++p) {
      const std::string v = std::to_string(a.confusion.at(g, p));
      out += "  " + std::string(cell - v.size(), ' ') + v;
    }
    out += "\n";
  }

  out += "\n" + detail::breakdown_table("By entity length (tokens)", "length", a.by_entity_length);
  out +=
      "\n" + detail::breakdown_table("By sentence length (tokens)", "length", a.by_sentence_length);
  if (!a.by_training_words.empty())
    out += "\n" + detail::breakdown_table(
                      "By whether every word of the entity is in the "
                      "training text",
                      "words", a.by_training_words);

  const std::size_t listed = std::min(max_errors, a.errors.size());
  out += "\nErrors: " + std::to_string(a.errors.size());
  if (listed < a.errors.size()) out += " (the first " + std::to_string(listed) + " listed)";
  out += "\n";
  for (std::size_t i = 0; i < listed; ++i) {
    const EntityError& e = a.errors[i];
    out +=
        "\nsentence " + std::to_string(e.sentence + 1) + ": " + detail::outcome_heading(e.outcome);
    if (e.gold) out += "; gold " + detail::describe_entity(a, e.sentence, *e.gold);
    if (e.predicted) out += "; predicted " + detail::describe_entity(a, e.sentence, *e.predicted);
    out += "\n";
    if (a.tokens.empty()) continue;
    std::size_t begin = std::numeric_limits<std::size_t>::max(), end = 0;
    for (const auto* x : {e.gold ? &*e.gold : nullptr, e.predicted ? &*e.predicted : nullptr})
      if (x != nullptr) {
        begin = std::min(begin, x->begin);
        end = std::max(end, x->end);
      }
    out += "  gold:      " +
           detail::marked_window(a, e.sentence, begin, end, e.gold ? &*e.gold : nullptr) + "\n";
    out += "  predicted: " +
           detail::marked_window(a, e.sentence, begin, end, e.predicted ? &*e.predicted : nullptr) +
           "\n";
  }
  return out;
}

/// The analysis as a JSON object: "report" (to_json of the EvaluationReport), "confusion"
/// ({"tags", "counts": rows of gold tags}), "entity_classes" ({"overall", "per_type"}: gold and
/// predicted counts by class), "breakdowns" ({"entity_length", "sentence_length", and with
/// training words "training_words"}), "errors_total", and "errors": the first `max_errors`
/// errors, each {"sentence" (from 1), "outcome", "gold", "predicted" (entities or null), and
/// with tokens "tokens" (the sentence's)}.
inline std::string to_json(const ErrorAnalysis& a,
                           std::size_t max_errors = std::numeric_limits<std::size_t>::max()) {
  using detail::json_string;
  std::string report = to_json(a.report);
  while (!report.empty() && report.back() == '\n') report.pop_back();
  std::string indented;
  for (char c : report) indented += c == '\n' ? std::string("\n  ") : std::string(1, c);
  std::string out = "{\n  \"report\": " + indented + ",\n";

  out += "  \"confusion\": {\n    \"tags\": [";
  for (std::size_t i = 0; i < a.confusion.tags.size(); ++i)
    out += (i ? ", " : "") + json_string(a.confusion.tags[i]);
  out += "],\n    \"counts\": [";
  const std::size_t n = a.confusion.tags.size();
  for (std::size_t g = 0; g < n; ++g) {
    out += g ? ",\n      [" : "\n      [";
    for (std::size_t p = 0; p < n; ++p)
      out += (p ? ", " : "") + std::to_string(a.confusion.at(g, p));
    out += "]";
  }
  out += n ? "\n    ]\n  },\n" : "]\n  },\n";

  out += "  \"entity_classes\": {\n    \"overall\": " + detail::json_error_counts(a.overall) +
         ",\n    \"per_type\": {";
  for (std::size_t i = 0; i < a.per_type.size(); ++i)
    out += (i ? ",\n      " : "\n      ") + json_string(a.per_type[i].type) + ": " +
           detail::json_error_counts(a.per_type[i]);
  out += a.per_type.empty() ? "}\n  },\n" : "\n    }\n  },\n";

  out +=
      "  \"breakdowns\": {\n    \"entity_length\": " + detail::json_breakdown(a.by_entity_length) +
      ",\n    \"sentence_length\": " + detail::json_breakdown(a.by_sentence_length);
  if (!a.by_training_words.empty())
    out += ",\n    \"training_words\": " + detail::json_breakdown(a.by_training_words);
  out += "\n  },\n";

  const std::size_t listed = std::min(max_errors, a.errors.size());
  out += "  \"errors_total\": " + std::to_string(a.errors.size()) + ",\n  \"errors\": [";
  for (std::size_t i = 0; i < listed; ++i) {
    const EntityError& e = a.errors[i];
    out += (i ? ",\n    " : "\n    ") + std::string("{\"sentence\": ") +
           std::to_string(e.sentence + 1) + ", \"outcome\": " + json_string(to_string(e.outcome)) +
           ", \"gold\": " + (e.gold ? detail::json_entity(a, e.sentence, *e.gold) : "null") +
           ", \"predicted\": " +
           (e.predicted ? detail::json_entity(a, e.sentence, *e.predicted) : "null");
    if (!a.tokens.empty()) {
      out += ", \"tokens\": [";
      for (std::size_t t = 0; t < a.tokens[e.sentence].size(); ++t)
        out += (t ? ", " : "") + json_string(a.tokens[e.sentence][t]);
      out += "]";
    }
    out += "}";
  }
  out += listed ? "\n  ]\n}\n" : "]\n}\n";
  return out;
}

}  // namespace lstmner
