#pragma once
/// \file metrics/evaluate.hpp
/// extract_entities() and evaluate(): the entities of a tag sequence and the score of predicted
/// tag sequences against gold ones, under conlleval's or seqeval's rules (evaluate() runs the
/// streaming Scorer of scorer.hpp over them). Part of metrics.hpp.

#include <lstmner/metrics/conlleval_counter.hpp>
#include <lstmner/metrics/detail/conlleval_chunks.hpp>
#include <lstmner/metrics/detail/scores.hpp>
#include <lstmner/metrics/detail/seqeval_chunks.hpp>
#include <lstmner/metrics/detail/seqeval_strict.hpp>
#include <lstmner/metrics/report.hpp>
#include <lstmner/metrics/scorer.hpp>
#include <lstmner/metrics/scoring_options.hpp>
#include <lstmner/tag_scheme.hpp>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lstmner {

namespace detail {

inline void check_same_shape(const std::vector<std::vector<std::string>>& gold,
                             const std::vector<std::vector<std::string>>& predicted) {
  if (gold.size() != predicted.size())
    throw std::invalid_argument("lstmner: evaluate: " + std::to_string(gold.size()) +
                                " gold sentences but " + std::to_string(predicted.size()) +
                                " predicted");
  for (std::size_t s = 0; s < gold.size(); ++s)
    if (gold[s].size() != predicted[s].size())
      throw std::invalid_argument("lstmner: evaluate: sentence " + std::to_string(s) + " has " +
                                  std::to_string(gold[s].size()) + " gold tags but " +
                                  std::to_string(predicted[s].size()) + " predicted");
}

}  // namespace detail

/// The entities of one sentence's tags under the rules of `options.mode` (end exclusive):
/// - Conlleval: an entity starts where conlleval's startOfChunk says so and runs up to the next
///   token where endOfChunk (or a new start) says so;
/// - Seqeval: seqeval's get_entities(), end made exclusive;
/// - SeqevalStrict: seqeval's Tokens(...).entities for the scheme (options.scheme, or detected
///   from these tags). Tags whose prefix the scheme does not allow throw std::invalid_argument.
inline std::vector<Entity> extract_entities(const std::vector<std::string>& tags,
                                            const ScoringOptions& options = {}) {
  std::vector<Entity> entities;
  switch (options.mode) {
    case ScoringMode::Conlleval: {
      detail::ConllevalPrefix prev_tag = detail::ConllevalPrefix::O;
      std::string_view prev_type;
      bool open = false;
      for (std::size_t i = 0; i < tags.size(); ++i) {
        const detail::ConllevalTag t = detail::conlleval_split(tags[i]);
        if (open && detail::conlleval_end_of_chunk(prev_tag, t.code, prev_type, t.type)) {
          entities.back().end = i;
          open = false;
        }
        if (detail::conlleval_start_of_chunk(prev_tag, t.code, prev_type, t.type)) {
          if (open) entities.back().end = i;
          entities.push_back(Entity{std::string(t.type), i, tags.size()});
          open = true;
        }
        prev_tag = t.code;
        prev_type = t.type;
      }
      break;
    }
    case ScoringMode::Seqeval: {
      std::vector<detail::SeqevalChunk> chunks;
      detail::seqeval_chunks(tags, 0, chunks);
      for (const auto& c : chunks)
        entities.push_back(Entity{std::string(c.type), c.begin, c.last + 1});
      break;
    }
    case ScoringMode::SeqevalStrict: {
      const TagScheme scheme =
          options.scheme ? *options.scheme : detail::seqeval_auto_detect({tags});
      entities = detail::strict_entities(tags, scheme, 0);
      break;
    }
  }
  return entities;
}

/// Scores predicted tag sequences against gold ones (one sequence per sentence, equal lengths;
/// std::invalid_argument otherwise). Conlleval mode gives what conlleval prints for a file with
/// these sentences separated by blank lines; the seqeval modes give what seqeval's
/// classification_report / precision_score / recall_score / f1_score / accuracy_score return.
inline EvaluationReport evaluate(const std::vector<std::vector<std::string>>& gold,
                                 const std::vector<std::vector<std::string>>& predicted,
                                 const ScoringOptions& options = {}) {
  detail::check_same_shape(gold, predicted);
  Scorer scorer(options);
  for (std::size_t s = 0; s < gold.size(); ++s) scorer.add_sentence(gold[s], predicted[s]);
  return scorer.report();
}

}  // namespace lstmner
