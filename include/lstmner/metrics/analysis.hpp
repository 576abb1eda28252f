#pragma once
/// \file metrics/analysis.hpp
/// Error analysis of predicted tags against gold tags: the token-level tag confusion matrix,
/// entity-level error classes (per type and in all), a listing of every error, and breakdowns by
/// entity length, by sentence length and by whether an entity's words occur in the training text.
/// Part of metrics.hpp; formatted as text or JSON by metrics/analysis_format.hpp.
///
/// Entities are decoded per sentence with extract_entities() under the given ScoringOptions, so
/// they are the entities evaluate() scores (strict mode without a scheme detects it once, from
/// all gold sentences, as evaluate() does).
///
/// Entity error classes. Every gold and every predicted entity gets exactly one class, found
/// against the entities of the other side in the same sentence:
///   - it overlaps none (shares no token with any): a predicted entity is a false positive, a
///     gold one a false negative;
///   - otherwise it is compared with the other side's entity it overlaps most (in tokens; a tie
///     goes to the leftmost), its *match*: same span and type: correct; same span, other type:
///     wrong type; other span, same type: wrong boundary; other span and type: wrong type and
///     boundary.
/// An exact match always wins (an entity with the same span is the only one that overlaps), so
/// "correct" counts exactly the entities evaluate() counts as correct, and the correct and
/// wrong-type classes pair gold and predicted entities one to one. Where one entity overlaps
/// several on the other side (gold "New York City" against predicted "New York" and "City"),
/// each predicted entity is a wrong boundary against the gold one, and the gold entity is one
/// wrong boundary, against the predicted entity it overlaps most ("New York").

#include <lstmner/metrics/detail/scores.hpp>
#include <lstmner/metrics/detail/seqeval_strict.hpp>
#include <lstmner/metrics/evaluate.hpp>
#include <lstmner/metrics/report.hpp>
#include <lstmner/metrics/scoring_options.hpp>
#include <lstmner/tag_scheme.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace lstmner {

/// The class of one entity (see the file comment). The order is the order of every table.
enum class EntityOutcome {
  Correct,               ///< same span, same type
  WrongType,             ///< same span, other type
  WrongBoundary,         ///< overlapping, other span, same type
  WrongTypeAndBoundary,  ///< overlapping, other span, other type
  FalsePositive,         ///< a predicted entity overlapping no gold entity
  FalseNegative,         ///< a gold entity overlapping no predicted entity
};

inline constexpr std::size_t entity_outcome_count = 6;

inline constexpr std::array<EntityOutcome, entity_outcome_count> all_entity_outcomes = {
    EntityOutcome::Correct,       EntityOutcome::WrongType,
    EntityOutcome::WrongBoundary, EntityOutcome::WrongTypeAndBoundary,
    EntityOutcome::FalsePositive, EntityOutcome::FalseNegative};

/// "correct", "wrong_type", "wrong_boundary", "wrong_type_and_boundary", "false_positive",
/// "false_negative" (the JSON keys).
inline std::string to_string(EntityOutcome outcome) {
  switch (outcome) {
    case EntityOutcome::Correct:
      return "correct";
    case EntityOutcome::WrongType:
      return "wrong_type";
    case EntityOutcome::WrongBoundary:
      return "wrong_boundary";
    case EntityOutcome::WrongTypeAndBoundary:
      return "wrong_type_and_boundary";
    case EntityOutcome::FalsePositive:
      return "false_positive";
    case EntityOutcome::FalseNegative:
      return "false_negative";
  }
  return "unknown";
}

/// One entity of one side with its class, and the index of its match among the other side's
/// entities of the same sentence (nullopt for a false positive or false negative).
struct ClassifiedEntity {
  Entity entity;
  EntityOutcome outcome = EntityOutcome::Correct;
  std::optional<std::size_t> match;
};

/// The entities of one sentence, each side in sentence order.
struct SentenceEntities {
  std::vector<ClassifiedEntity> gold, predicted;
};

/// How many entities of a type got each class: gold[k] counts gold entities of class k
/// (FalsePositive stays 0), predicted[k] predicted ones (FalseNegative stays 0). Indexed by
/// static_cast<std::size_t>(EntityOutcome).
struct EntityErrorCounts {
  std::string type;  ///< "" in ErrorAnalysis::overall
  std::array<std::size_t, entity_outcome_count> gold{}, predicted{};

  std::size_t gold_count(EntityOutcome k) const { return gold[static_cast<std::size_t>(k)]; }
  std::size_t predicted_count(EntityOutcome k) const {
    return predicted[static_cast<std::size_t>(k)];
  }
  std::size_t gold_total() const {
    std::size_t n = 0;
    for (std::size_t c : gold) n += c;
    return n;
  }
  std::size_t predicted_total() const {
    std::size_t n = 0;
    for (std::size_t c : predicted) n += c;
    return n;
  }
};

/// One error for the listing: the entity (or pair of entities) and its class. A gold and a
/// predicted entity that are each other's match (every wrong type, and a wrong boundary between
/// two entities that overlap only each other) are one error; otherwise every entity that is not
/// correct is listed once, with its match if it has one.
struct EntityError {
  std::size_t sentence = 0;  ///< index into the analysed sentences
  EntityOutcome outcome = EntityOutcome::FalsePositive;
  std::optional<Entity> gold, predicted;
};

/// One bucket of a breakdown: gold and predicted entities that fall in it, the correct ones
/// among them (a correct pair always falls in one bucket), and precision / recall / F1.
struct BreakdownRow {
  std::string label;
  std::size_t gold = 0, predicted = 0, correct = 0;
  PRF scores;
};

/// The token-level confusion matrix: counts[g * tags.size() + p] tokens have gold tag tags[g]
/// and predicted tag tags[p]. `tags` holds every tag of either side: "O" first, then by type,
/// and within a type by prefix in the order B, I, E, S (other prefixes after, bytewise).
struct TagConfusion {
  std::vector<std::string> tags;
  std::vector<std::size_t> counts;

  std::size_t at(std::size_t gold, std::size_t predicted) const {
    return counts[gold * tags.size() + predicted];
  }
};

struct AnalysisOptions {
  ScoringOptions scoring;
  /// Sentence-length buckets by their upper bounds in tokens (increasing): {10, 20} gives
  /// "1-10", "11-20" and "21+".
  std::vector<std::size_t> sentence_length_bounds{10, 20, 30, 40};
  /// Entity lengths 1 .. cap-1 get a bucket each, longer ones share "cap+".
  std::size_t entity_length_cap = 5;
  /// The words of the training text. Given (with tokens), each entity is "seen" when every one
  /// of its tokens is among them (compared exactly, case and digits kept) and "unseen" otherwise.
  const std::unordered_set<std::string>* training_words = nullptr;
};

struct ErrorAnalysis {
  /// evaluate(gold, predicted, options.scoring).
  EvaluationReport report;
  TagConfusion confusion;
  /// Entity classes per type (sorted bytewise) and over all types.
  std::vector<EntityErrorCounts> per_type;
  EntityErrorCounts overall;
  /// Every sentence's classified entities.
  std::vector<SentenceEntities> sentences;
  /// Every error, in sentence order, within a sentence by position.
  std::vector<EntityError> errors;
  std::vector<BreakdownRow> by_entity_length, by_sentence_length;
  /// "seen" and "unseen"; empty without AnalysisOptions::training_words.
  std::vector<BreakdownRow> by_training_words;
  /// The tokens analysed with (empty when none were given).
  std::vector<std::vector<std::string>> tokens;

  const EntityErrorCounts* find(std::string_view type) const {
    for (const EntityErrorCounts& t : per_type)
      if (t.type == type) return &t;
    return nullptr;
  }
};

namespace detail {

/// Classifies each entity of `side` against the entities of `other` (both in sentence order,
/// each side's entities disjoint), by the rule of analysis.hpp.
inline std::vector<ClassifiedEntity> classify_entities(const std::vector<Entity>& side,
                                                       const std::vector<Entity>& other,
                                                       EntityOutcome unmatched) {
  std::vector<ClassifiedEntity> out;
  out.reserve(side.size());
  std::size_t first = 0;  // the first entity of `other` that may overlap the current one
  for (const Entity& e : side) {
    while (first < other.size() && other[first].end <= e.begin) ++first;
    ClassifiedEntity c{e, unmatched, std::nullopt};
    std::size_t best_overlap = 0;
    for (std::size_t j = first; j < other.size() && other[j].begin < e.end; ++j) {
      const std::size_t overlap = std::min(e.end, other[j].end) - std::max(e.begin, other[j].begin);
      if (overlap > best_overlap) {  // strictly more: a tie keeps the leftmost
        best_overlap = overlap;
        c.match = j;
      }
    }
    if (c.match) {
      const Entity& m = other[*c.match];
      const bool same_span = m.begin == e.begin && m.end == e.end;
      const bool same_type = m.type == e.type;
      c.outcome = same_span ? (same_type ? EntityOutcome::Correct : EntityOutcome::WrongType)
                            : (same_type ? EntityOutcome::WrongBoundary
                                         : EntityOutcome::WrongTypeAndBoundary);
    }
    out.push_back(std::move(c));
  }
  return out;
}

/// Sort key of a tag in TagConfusion::tags: O first, then type, then prefix B, I, E, S, others.
inline std::pair<std::string, std::string> confusion_sort_key(const std::string& tag) {
  if (tag == "O") return {"", ""};
  const std::size_t dash = tag.find('-');
  if (dash == std::string::npos) return {"\x01" + tag, ""};
  const std::string prefix = tag.substr(0, dash);
  const char* order[] = {"B", "I", "E", "S"};
  std::string rank = "5" + prefix;
  for (int i = 0; i < 4; ++i)
    if (prefix == order[i]) rank = std::string(1, static_cast<char>('1' + i));
  return {"\x01" + tag.substr(dash + 1), rank};
}

inline void count_in_rows(std::vector<BreakdownRow>& rows, std::size_t row, bool gold,
                          bool correct) {
  BreakdownRow& r = rows[row];
  if (gold) {
    ++r.gold;
    if (correct) ++r.correct;
  } else {
    ++r.predicted;
  }
}

}  // namespace detail

/// Analyses predicted tag sequences against gold ones (one sequence per sentence, equal
/// lengths; std::invalid_argument otherwise). `tokens` is optional (empty, or one word per tag):
/// it gives the error listing its text and makes the training-words breakdown possible, which
/// needs it (std::invalid_argument when options.training_words is set without tokens).
inline ErrorAnalysis analyze(const std::vector<std::vector<std::string>>& gold,
                             const std::vector<std::vector<std::string>>& predicted,
                             const std::vector<std::vector<std::string>>& tokens = {},
                             const AnalysisOptions& options = {}) {
  detail::check_same_shape(gold, predicted);
  if (!tokens.empty()) {
    if (tokens.size() != gold.size())
      throw std::invalid_argument("lstmner: analyze: " + std::to_string(tokens.size()) +
                                  " token sentences but " + std::to_string(gold.size()) +
                                  " tagged ones");
    for (std::size_t s = 0; s < gold.size(); ++s)
      if (tokens[s].size() != gold[s].size())
        throw std::invalid_argument("lstmner: analyze: sentence " + std::to_string(s) + " has " +
                                    std::to_string(tokens[s].size()) + " tokens but " +
                                    std::to_string(gold[s].size()) + " tags");
  }
  if (options.training_words != nullptr && tokens.empty() && !gold.empty())
    throw std::invalid_argument("lstmner: analyze: the training-words breakdown needs tokens");
  for (std::size_t i = 1; i < options.sentence_length_bounds.size(); ++i)
    if (options.sentence_length_bounds[i] <= options.sentence_length_bounds[i - 1])
      throw std::invalid_argument("lstmner: analyze: sentence_length_bounds must increase");
  if (options.entity_length_cap < 1)
    throw std::invalid_argument("lstmner: analyze: entity_length_cap must be at least 1");

  ErrorAnalysis a;
  a.report = evaluate(gold, predicted, options.scoring);
  a.tokens = tokens;
  ScoringOptions scoring = options.scoring;
  if (scoring.mode == ScoringMode::SeqevalStrict && !scoring.scheme)
    scoring.scheme = detail::seqeval_auto_detect(gold);

  // Confusion matrix.
  std::map<std::string, std::size_t> tag_ids;
  for (const auto* side : {&gold, &predicted})
    for (const auto& sentence : *side)
      for (const std::string& tag : sentence) tag_ids.emplace(tag, 0);
  for (const auto& [tag, id] : tag_ids) a.confusion.tags.push_back(tag);
  std::sort(a.confusion.tags.begin(), a.confusion.tags.end(),
            [](const std::string& x, const std::string& y) {
              return detail::confusion_sort_key(x) < detail::confusion_sort_key(y);
            });
  for (std::size_t i = 0; i < a.confusion.tags.size(); ++i) tag_ids[a.confusion.tags[i]] = i;
  const std::size_t n_tags = a.confusion.tags.size();
  a.confusion.counts.assign(n_tags * n_tags, 0);
  for (std::size_t s = 0; s < gold.size(); ++s)
    for (std::size_t i = 0; i < gold[s].size(); ++i)
      ++a.confusion.counts[tag_ids[gold[s][i]] * n_tags + tag_ids[predicted[s][i]]];

  // Breakdown buckets.
  for (std::size_t len = 1; len < options.entity_length_cap; ++len)
    a.by_entity_length.push_back(BreakdownRow{std::to_string(len), 0, 0, 0, {}});
  a.by_entity_length.push_back(
      BreakdownRow{std::to_string(options.entity_length_cap) + "+", 0, 0, 0, {}});
  std::size_t low = 1;
  for (std::size_t bound : options.sentence_length_bounds) {
    a.by_sentence_length.push_back(
        BreakdownRow{std::to_string(low) + "-" + std::to_string(bound), 0, 0, 0, {}});
    low = bound + 1;
  }
  a.by_sentence_length.push_back(BreakdownRow{std::to_string(low) + "+", 0, 0, 0, {}});
  if (options.training_words != nullptr) {
    a.by_training_words.push_back(BreakdownRow{"seen", 0, 0, 0, {}});
    a.by_training_words.push_back(BreakdownRow{"unseen", 0, 0, 0, {}});
  }
  auto entity_length_row = [&](const Entity& e) {
    return std::min(e.end - e.begin, options.entity_length_cap) - 1;
  };
  auto sentence_length_row = [&](std::size_t length) {
    std::size_t row = 0;
    while (row < options.sentence_length_bounds.size() &&
           length > options.sentence_length_bounds[row])
      ++row;
    return row;
  };
  auto training_words_row = [&](std::size_t s, const Entity& e) -> std::size_t {
    for (std::size_t i = e.begin; i < e.end; ++i)
      if (options.training_words->count(tokens[s][i]) == 0) return 1;
    return 0;
  };

  // Entities, classes, counts, errors.
  std::map<std::string, EntityErrorCounts, std::less<>> per_type;
  a.sentences.reserve(gold.size());
  for (std::size_t s = 0; s < gold.size(); ++s) {
    const std::vector<Entity> g = extract_entities(gold[s], scoring);
    const std::vector<Entity> p = extract_entities(predicted[s], scoring);
    SentenceEntities se;
    se.gold = detail::classify_entities(g, p, EntityOutcome::FalseNegative);
    se.predicted = detail::classify_entities(p, g, EntityOutcome::FalsePositive);
    const std::size_t sentence_row = sentence_length_row(gold[s].size());
    for (int side = 0; side < 2; ++side) {
      const bool is_gold = side == 0;
      for (const ClassifiedEntity& c : is_gold ? se.gold : se.predicted) {
        const auto k = static_cast<std::size_t>(c.outcome);
        auto it = per_type.find(c.entity.type);
        if (it == per_type.end()) it = per_type.emplace(c.entity.type, EntityErrorCounts{}).first;
        ++(is_gold ? it->second.gold : it->second.predicted)[k];
        ++(is_gold ? a.overall.gold : a.overall.predicted)[k];
        const bool correct = c.outcome == EntityOutcome::Correct;
        detail::count_in_rows(a.by_entity_length, entity_length_row(c.entity), is_gold, correct);
        detail::count_in_rows(a.by_sentence_length, sentence_row, is_gold, correct);
        if (options.training_words != nullptr)
          detail::count_in_rows(a.by_training_words, training_words_row(s, c.entity), is_gold,
                                correct);
      }
    }
    // The listing: predicted-side errors, then gold-side errors whose match does not point back
    // (a mutual pair is listed once, with the predicted entity), merged by position.
    std::vector<EntityError> errors;
    for (const ClassifiedEntity& c : se.predicted) {
      if (c.outcome == EntityOutcome::Correct) continue;
      EntityError e{s, c.outcome, std::nullopt, c.entity};
      if (c.match) e.gold = se.gold[*c.match].entity;
      errors.push_back(std::move(e));
    }
    for (std::size_t i = 0; i < se.gold.size(); ++i) {
      const ClassifiedEntity& c = se.gold[i];
      if (c.outcome == EntityOutcome::Correct) continue;
      if (c.match && se.predicted[*c.match].match == i) continue;  // listed with its pair
      EntityError e{s, c.outcome, c.entity, std::nullopt};
      if (c.match) e.predicted = se.predicted[*c.match].entity;
      errors.push_back(std::move(e));
    }
    auto position = [](const EntityError& e) {
      const Entity& first =
          e.gold && (!e.predicted || e.gold->begin < e.predicted->begin) ? *e.gold : *e.predicted;
      return std::make_pair(first.begin, first.end);
    };
    std::stable_sort(errors.begin(), errors.end(), [&](const EntityError& x, const EntityError& y) {
      return position(x) < position(y);
    });
    for (EntityError& e : errors) a.errors.push_back(std::move(e));
    a.sentences.push_back(std::move(se));
  }
  for (auto& [type, counts] : per_type) {
    counts.type = type;
    a.per_type.push_back(std::move(counts));
  }
  for (auto* rows : {&a.by_entity_length, &a.by_sentence_length, &a.by_training_words})
    for (BreakdownRow& r : *rows) {
      r.scores = detail::prf_from_counts(r.correct, r.predicted, r.gold);
    }
  return a;
}

}  // namespace lstmner
