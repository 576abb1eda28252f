#pragma once
/// \file metrics/scoring_options.hpp
/// How to score: conlleval's rules or seqeval's (default or strict mode), and the scheme strict
/// mode checks. Part of metrics.hpp.

#include <lstmner/tag_scheme.hpp>

#include <optional>
#include <stdexcept>
#include <string>

namespace lstmner {

enum class ScoringMode {
  Conlleval,      ///< conlleval.pl (the CoNLL-2000/2003 script)
  Seqeval,        ///< seqeval's default mode (mode=None)
  SeqevalStrict,  ///< seqeval's mode='strict' with a scheme
};

inline std::string to_string(ScoringMode mode) {
  switch (mode) {
    case ScoringMode::Conlleval:
      return "conlleval";
    case ScoringMode::Seqeval:
      return "seqeval";
    case ScoringMode::SeqevalStrict:
      return "strict";
  }
  return "unknown";
}

/// "conlleval", "seqeval" (or "default") and "strict"; std::invalid_argument otherwise.
inline ScoringMode parse_scoring_mode(const std::string& name) {
  if (name == "conlleval") return ScoringMode::Conlleval;
  if (name == "seqeval" || name == "default") return ScoringMode::Seqeval;
  if (name == "strict") return ScoringMode::SeqevalStrict;
  throw std::invalid_argument("lstmner: parse_scoring_mode: unknown mode '" + name +
                              "' (expected conlleval, seqeval or strict)");
}

struct ScoringOptions {
  ScoringMode mode = ScoringMode::Conlleval;
  /// Strict mode: the scheme entities must follow. nullopt: detected from the gold tags the way
  /// seqeval's classification_report does (IOB2 or IOBES).
  std::optional<TagScheme> scheme;
};

}  // namespace lstmner
