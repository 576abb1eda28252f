#pragma once
/// \file metrics/report.hpp
/// What scoring returns: per-type counts and scores, micro / macro / weighted averages and token
/// accuracy (EvaluationReport). Scores are fractions in [0, 1]. Part of metrics.hpp; the numbers
/// are filled in by detail/scores.hpp, printed by format.hpp.

#include <lstmner/metrics/scoring_options.hpp>
#include <lstmner/tag_scheme.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lstmner {

/// Precision, recall and F1, as fractions in [0, 1] (0 where undefined, like both tools).
struct PRF {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
};

struct TypeScores {
  std::string type;
  std::size_t gold = 0;       ///< entities of this type in the gold tags ("support")
  std::size_t predicted = 0;  ///< entities of this type predicted
  std::size_t correct = 0;    ///< predicted entities matching a gold one exactly
  PRF scores;
};

struct EvaluationReport {
  ScoringMode mode = ScoringMode::Conlleval;
  /// Strict mode: the scheme used.
  std::optional<TagScheme> scheme;
  /// One entry per entity type seen in the gold or predicted tags, sorted bytewise.
  std::vector<TypeScores> per_type;
  std::size_t gold_entities = 0, predicted_entities = 0, correct_entities = 0;
  /// Tokens scored, and those whose predicted tag equals the gold one.
  std::size_t tokens = 0, correct_tokens = 0;
  double accuracy = 0.0;
  PRF micro;     ///< from the summed counts: what conlleval calls "overall"
  PRF macro;     ///< unweighted mean over per_type
  PRF weighted;  ///< mean over per_type weighted by gold counts

  const TypeScores* find(std::string_view type) const {
    for (const TypeScores& t : per_type)
      if (t.type == type) return &t;
    return nullptr;
  }
};

}  // namespace lstmner
