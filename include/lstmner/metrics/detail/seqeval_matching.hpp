#pragma once
/// \file metrics/detail/seqeval_matching.hpp
/// seqeval's set-based matching: the entities of each type as a set of (sentence, begin, end)
/// keys, and the per-type counts of gold, predicted and common keys.

#include <lstmner/metrics/report.hpp>

#include <algorithm>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lstmner {

namespace detail {

/// Sorted, de-duplicated (sentence, begin, end) keys per type: seqeval's sets of entities.
using SpanKey = std::pair<std::size_t, std::pair<std::size_t, std::size_t>>;
using SpansByType = std::map<std::string, std::vector<SpanKey>, std::less<>>;

inline void add_span(SpansByType& by_type, std::string_view type, SpanKey key) {
  auto it = by_type.find(type);
  if (it == by_type.end()) it = by_type.emplace(std::string(type), std::vector<SpanKey>{}).first;
  it->second.push_back(key);
}

inline EvaluationReport report_from_spans(SpansByType& gold, SpansByType& predicted) {
  EvaluationReport report;
  std::vector<std::string> types;
  for (const auto& entry : gold) types.push_back(entry.first);
  for (const auto& entry : predicted) types.push_back(entry.first);
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  for (const std::string& type : types) {
    std::vector<SpanKey>& g = gold[type];
    std::vector<SpanKey>& p = predicted[type];
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
    std::size_t common = 0;
    for (std::size_t a = 0, b = 0; a < g.size() && b < p.size();) {
      if (g[a] < p[b]) {
        ++a;
      } else if (p[b] < g[a]) {
        ++b;
      } else {
        ++common, ++a, ++b;
      }
    }
    TypeScores t;
    t.type = type;
    t.gold = g.size();
    t.predicted = p.size();
    t.correct = common;
    report.per_type.push_back(std::move(t));
  }
  return report;
}

}  // namespace detail

}  // namespace lstmner
