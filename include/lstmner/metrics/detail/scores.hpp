#pragma once
/// \file metrics/detail/scores.hpp
/// Scores from counts: precision, recall and F1 of one count triple, and a report's per-type
/// scores, micro / macro / weighted averages and accuracy, computed as seqeval computes them.

#include <lstmner/metrics/detail/numpy_sum.hpp>
#include <lstmner/metrics/report.hpp>

#include <cstddef>
#include <vector>

namespace lstmner {

namespace detail {

/// The numbers seqeval and conlleval derive from counts (x / 0 is 0 in both).
inline PRF prf_from_counts(std::size_t correct, std::size_t predicted, std::size_t gold) {
  PRF s;
  if (predicted > 0) s.precision = static_cast<double>(correct) / static_cast<double>(predicted);
  if (gold > 0) s.recall = static_cast<double>(correct) / static_cast<double>(gold);
  if (s.precision + s.recall > 0) s.f1 = 2.0 * s.precision * s.recall / (s.precision + s.recall);
  return s;
}

/// Fills per-type scores, micro, macro and weighted averages as seqeval computes them
/// (sklearn-style zero division: 0; np.average for the macro and weighted means).
inline void finish_report(EvaluationReport& report) {
  report.gold_entities = report.predicted_entities = report.correct_entities = 0;
  const std::size_t n = report.per_type.size();
  // Columns: precision, recall, f1, and each multiplied by the type's gold count.
  std::vector<double> columns[6];
  for (auto& column : columns) column.reserve(n);
  for (TypeScores& t : report.per_type) {
    t.scores = prf_from_counts(t.correct, t.predicted, t.gold);
    report.gold_entities += t.gold;
    report.predicted_entities += t.predicted;
    report.correct_entities += t.correct;
    const double w = static_cast<double>(t.gold);
    columns[0].push_back(t.scores.precision);
    columns[1].push_back(t.scores.recall);
    columns[2].push_back(t.scores.f1);
    columns[3].push_back(t.scores.precision * w);
    columns[4].push_back(t.scores.recall * w);
    columns[5].push_back(t.scores.f1 * w);
  }
  auto sum = [&](int c) { return numpy_sum(columns[c].data(), n); };
  report.micro =
      prf_from_counts(report.correct_entities, report.predicted_entities, report.gold_entities);
  report.macro = PRF{};
  report.weighted = PRF{};
  if (n > 0) {
    const double dn = static_cast<double>(n);
    report.macro = PRF{sum(0) / dn, sum(1) / dn, sum(2) / dn};
  }
  if (report.gold_entities > 0) {
    const double total = static_cast<double>(report.gold_entities);
    report.weighted = PRF{sum(3) / total, sum(4) / total, sum(5) / total};
  }
  report.accuracy = report.tokens > 0 ? static_cast<double>(report.correct_tokens) /
                                            static_cast<double>(report.tokens)
                                      : 0.0;
}

}  // namespace detail

}  // namespace lstmner
