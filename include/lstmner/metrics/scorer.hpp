#pragma once
/// \file metrics/scorer.hpp
/// Scorer: evaluate() one token at a time, in memory that does not grow with the input (only
/// with the number of entity types). Part of metrics.hpp.
///
///   Scorer scorer(options);
///   for each sentence: for each token: scorer.add(gold_tag, predicted_tag);
///                      scorer.end_sentence();
///   EvaluationReport report = scorer.report();   // == evaluate(gold, predicted, options)
///
/// Every mode is a state machine over the tokens: conlleval's counting loop (ConllevalCounter),
/// seqeval's get_entities over the sentences joined with an "O" after each (SeqevalChunker) and
/// strict mode's Tokens.entities (StrictChunker). A gold and a predicted entity that match end at
/// the same token, so each is matched when it ends and none is kept. Strict mode without a
/// scheme scores under both schemes seqeval can detect (IOB2, IOBES) and picks one at report().
/// Errors are those of evaluate(): strict mode's std::invalid_argument comes from end_sentence()
/// when the scheme is given, from report() when it is detected.

#include <lstmner/metrics/conlleval_counter.hpp>
#include <lstmner/metrics/detail/scores.hpp>
#include <lstmner/metrics/detail/seqeval_chunks.hpp>
#include <lstmner/metrics/detail/seqeval_strict.hpp>
#include <lstmner/metrics/report.hpp>
#include <lstmner/metrics/scoring_options.hpp>
#include <lstmner/tag_scheme.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lstmner {

class Scorer {
 public:
  explicit Scorer(const ScoringOptions& options = {}) : options_(options) {
    if (options_.mode != ScoringMode::SeqevalStrict) return;
    if (options_.scheme) {
      strict_.emplace_back(*options_.scheme);
    } else {
      strict_.emplace_back(TagScheme::IOB2);
      strict_.emplace_back(TagScheme::IOBES);
    }
  }

  /// The next token of the current sentence.
  void add(std::string_view gold, std::string_view predicted) {
    ++tokens_;
    if (gold == predicted) ++correct_tokens_;
    switch (options_.mode) {
      case ScoringMode::Conlleval:
        conlleval_.add(gold, predicted);
        break;
      case ScoringMode::Seqeval:
        match(seqeval_counts_, gold_chunker_.feed(gold), predicted_chunker_.feed(predicted));
        break;
      case ScoringMode::SeqevalStrict:
        if (!options_.scheme) detector_.add(gold);
        for (Strict& s : strict_) match(s.counts, s.gold.feed(gold), s.predicted.feed(predicted));
        break;
    }
  }

  /// Ends the current sentence (an empty sentence counts, as in evaluate()).
  void end_sentence() {
    switch (options_.mode) {
      case ScoringMode::Conlleval:
        conlleval_.add_boundary();
        break;
      case ScoringMode::Seqeval:
        match(seqeval_counts_, gold_chunker_.end_sentence(), predicted_chunker_.end_sentence());
        break;
      case ScoringMode::SeqevalStrict:
        for (Strict& s : strict_) {
          match(s.counts, s.gold.end_sentence(), s.predicted.end_sentence());
          if (s.error.empty())
            s.error = !s.gold.error().empty() ? s.gold.error() : s.predicted.error();
        }
        if (options_.scheme && !strict_.front().error.empty())
          throw std::invalid_argument(strict_.front().error);
        break;
    }
  }

  /// One whole sentence (gold and predicted of equal length; std::invalid_argument otherwise).
  void add_sentence(const std::vector<std::string>& gold,
                    const std::vector<std::string>& predicted) {
    if (gold.size() != predicted.size())
      throw std::invalid_argument("lstmner: Scorer: a sentence of " + std::to_string(gold.size()) +
                                  " gold tags and " + std::to_string(predicted.size()) +
                                  " predicted");
    for (std::size_t i = 0; i < gold.size(); ++i) add(gold[i], predicted[i]);
    end_sentence();
  }

  /// The scores of the sentences ended so far (call end_sentence() after the last one too).
  EvaluationReport report() const {
    if (options_.mode == ScoringMode::Conlleval) return conlleval_.report();
    const Counts* counts = &seqeval_counts_;
    std::optional<TagScheme> scheme;
    if (options_.mode == ScoringMode::SeqevalStrict) {
      scheme = options_.scheme ? *options_.scheme : detector_.scheme();
      const Strict& s = strict_.size() == 1 || *scheme == TagScheme::IOB2 ? strict_[0] : strict_[1];
      if (!s.error.empty()) throw std::invalid_argument(s.error);
      counts = &s.counts;
    }
    EvaluationReport report;
    report.mode = options_.mode;
    report.scheme = scheme;
    for (const auto& [type, c] : *counts) {
      TypeScores t;
      t.type = type;
      t.gold = c.gold;
      t.predicted = c.predicted;
      t.correct = c.correct;
      report.per_type.push_back(std::move(t));
    }
    report.tokens = tokens_;
    report.correct_tokens = correct_tokens_;
    detail::finish_report(report);
    return report;
  }

 private:
  struct TypeCounts {
    std::size_t gold = 0, predicted = 0, correct = 0;
  };
  using Counts = std::map<std::string, TypeCounts, std::less<>>;

  struct Strict {
    explicit Strict(TagScheme scheme) : gold(scheme), predicted(scheme) {}
    detail::StrictChunker gold, predicted;
    Counts counts;
    std::string error;  ///< the first sentence's failure under this scheme
  };

  static TypeCounts& entry(Counts& counts, std::string_view type) {
    auto it = counts.find(type);
    if (it == counts.end()) it = counts.emplace(std::string(type), TypeCounts{}).first;
    return it->second;
  }

  /// A gold and a predicted chunk that end at the same token match when they start together
  /// and have the same type (both kinds of chunk end at the same place by construction).
  template <class Chunk>
  static void match(Counts& counts, const Chunk* gold, const Chunk* predicted) {
    if (gold != nullptr) ++entry(counts, gold->type).gold;
    if (predicted != nullptr) ++entry(counts, predicted->type).predicted;
    if (gold != nullptr && predicted != nullptr && gold->begin == predicted->begin &&
        gold->type == predicted->type)
      ++entry(counts, gold->type).correct;
  }

  ScoringOptions options_;
  std::size_t tokens_ = 0, correct_tokens_ = 0;
  ConllevalCounter conlleval_;
  detail::SeqevalChunker gold_chunker_, predicted_chunker_;
  Counts seqeval_counts_;
  detail::SchemeDetector detector_;
  std::vector<Strict> strict_;
};

}  // namespace lstmner
