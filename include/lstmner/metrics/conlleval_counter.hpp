#pragma once
/// \file metrics/conlleval_counter.hpp
/// ConllevalCounter: conlleval's counting loop (its "inCorrect" bookkeeping), one line at a time.
/// Part of metrics.hpp.

#include <lstmner/metrics/detail/conlleval_chunks.hpp>
#include <lstmner/metrics/detail/scores.hpp>
#include <lstmner/metrics/report.hpp>
#include <lstmner/metrics/scoring_options.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

namespace lstmner {

/// conlleval's counting, one line at a time: add() for a token line (gold tag, predicted tag),
/// add_boundary() for a sentence break (a blank line, or a line whose first field is -X-).
/// The per-type key of an entity is its type as conlleval reads it ("" for a tag without one).
class ConllevalCounter {
 public:
  void add(std::string_view gold_tag, std::string_view predicted_tag) {
    const detail::ConllevalTag gold = detail::conlleval_split(gold_tag);
    const detail::ConllevalTag guess = detail::conlleval_split(predicted_tag);
    step(gold.code, gold.type, guess.code, guess.type);
    ++tokens_;
    if (gold.prefix == guess.prefix && gold.type == guess.type) ++correct_tokens_;
  }

  /// A sentence break: conlleval reads it as a token "O O" that is not counted.
  void add_boundary() { step(detail::ConllevalPrefix::O, {}, detail::ConllevalPrefix::O, {}); }

  /// The counts so far, as a report (an entity still open at the end is closed, as conlleval
  /// does at the end of its input).
  EvaluationReport report() const {
    EvaluationReport report;
    report.mode = ScoringMode::Conlleval;
    report.tokens = tokens_;
    report.correct_tokens = correct_tokens_;
    for (const auto& [type, counts] : types_) {
      TypeScores t;
      t.type = type;
      t.gold = counts.gold;
      t.predicted = counts.predicted;
      t.correct = counts.correct + (in_correct_ && type == last_correct_type_ ? 1 : 0);
      report.per_type.push_back(std::move(t));
    }
    detail::finish_report(report);
    return report;
  }

 private:
  struct Counts {
    std::size_t gold = 0, predicted = 0, correct = 0;
  };

  Counts& counts(std::string_view type) {
    auto it = types_.find(type);
    if (it == types_.end()) it = types_.emplace(std::string(type), Counts{}).first;
    return it->second;
  }

  // The body of conlleval's main loop, in its order.
  void step(detail::ConllevalPrefix correct, std::string_view correct_type,
            detail::ConllevalPrefix guessed, std::string_view guessed_type) {
    using detail::conlleval_end_of_chunk;
    using detail::conlleval_start_of_chunk;
    const bool gold_end =
        conlleval_end_of_chunk(last_correct_, correct, last_correct_type_, correct_type);
    const bool guess_end =
        conlleval_end_of_chunk(last_guessed_, guessed, last_guessed_type_, guessed_type);
    const bool gold_start =
        conlleval_start_of_chunk(last_correct_, correct, last_correct_type_, correct_type);
    const bool guess_start =
        conlleval_start_of_chunk(last_guessed_, guessed, last_guessed_type_, guessed_type);
    if (in_correct_) {
      if (gold_end && guess_end && last_guessed_type_ == last_correct_type_) {
        in_correct_ = false;
        ++counts(last_correct_type_).correct;
      } else if (gold_end != guess_end || guessed_type != correct_type) {
        in_correct_ = false;
      }
    }
    if (gold_start && guess_start && guessed_type == correct_type) in_correct_ = true;
    if (gold_start) ++counts(correct_type).gold;
    if (guess_start) ++counts(guessed_type).predicted;
    last_correct_ = correct;
    last_correct_type_.assign(correct_type);
    last_guessed_ = guessed;
    last_guessed_type_.assign(guessed_type);
  }

  std::map<std::string, Counts, std::less<>> types_;
  detail::ConllevalPrefix last_correct_ = detail::ConllevalPrefix::O;
  detail::ConllevalPrefix last_guessed_ = detail::ConllevalPrefix::O;
  std::string last_correct_type_, last_guessed_type_;
  bool in_correct_ = false;
  std::size_t tokens_ = 0, correct_tokens_ = 0;
};

}  // namespace lstmner
