// Error analysis (metrics/analysis.hpp, metrics/analysis_format.hpp): hand-computed cases of
// every entity class and of the overlap rule, the confusion matrix, the breakdowns, and a
// brute-force check of the class of every entity in random tag sequences.

#include <lstmner/metrics.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

using namespace lstmner;
using Tags = std::vector<std::string>;
using Sentences = std::vector<Tags>;

namespace {

Tags tags(const std::string& text) {
  std::istringstream in(text);
  Tags out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

ErrorAnalysis analyze_one(const std::string& gold, const std::string& predicted,
                          const ScoringOptions& scoring = {}) {
  AnalysisOptions options;
  options.scoring = scoring;
  return analyze({tags(gold)}, {tags(predicted)}, {}, options);
}

using K = EntityOutcome;

/// The classes of one side of sentence 0, in order.
std::vector<K> outcomes(const std::vector<ClassifiedEntity>& side) {
  std::vector<K> out;
  for (const auto& c : side) out.push_back(c.outcome);
  return out;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<EntityOutcome> {
  static std::string convert(EntityOutcome k) { return to_string(k); }
};
}  // namespace Catch

TEST_CASE("analyze: each entity class on a hand case") {
  SECTION("correct") {
    const auto a = analyze_one("B-PER I-PER O B-LOC", "B-PER I-PER O B-LOC");
    CHECK(outcomes(a.sentences[0].gold) == std::vector<K>{K::Correct, K::Correct});
    CHECK(outcomes(a.sentences[0].predicted) == std::vector<K>{K::Correct, K::Correct});
    CHECK(a.errors.empty());
  }
  SECTION("wrong type: same span, other type; one error for the pair") {
    const auto a = analyze_one("B-PER I-PER O", "B-ORG I-ORG O");
    CHECK(outcomes(a.sentences[0].gold) == std::vector<K>{K::WrongType});
    CHECK(outcomes(a.sentences[0].predicted) == std::vector<K>{K::WrongType});
    REQUIRE(a.errors.size() == 1);
    CHECK(a.errors[0].outcome == K::WrongType);
    CHECK(a.errors[0].gold == Entity{"PER", 0, 2});
    CHECK(a.errors[0].predicted == Entity{"ORG", 0, 2});
    CHECK(a.find("PER")->gold_count(K::WrongType) == 1);
    CHECK(a.find("PER")->predicted_total() == 0);
    CHECK(a.find("ORG")->predicted_count(K::WrongType) == 1);
    CHECK(a.find("ORG")->gold_total() == 0);
  }
  SECTION("wrong boundary: overlapping, same type") {
    const auto a = analyze_one("B-PER I-PER O", "B-PER O O");
    CHECK(outcomes(a.sentences[0].gold) == std::vector<K>{K::WrongBoundary});
    CHECK(outcomes(a.sentences[0].predicted) == std::vector<K>{K::WrongBoundary});
    REQUIRE(a.errors.size() == 1);
    CHECK(a.errors[0].gold == Entity{"PER", 0, 2});
    CHECK(a.errors[0].predicted == Entity{"PER", 0, 1});
  }
  SECTION("wrong type and boundary: overlapping, other type and span") {
    const auto a = analyze_one("B-LOC I-LOC", "O B-ORG");
    CHECK(outcomes(a.sentences[0].gold) == std::vector<K>{K::WrongTypeAndBoundary});
    CHECK(outcomes(a.sentences[0].predicted) == std::vector<K>{K::WrongTypeAndBoundary});
    REQUIRE(a.errors.size() == 1);
    CHECK(a.errors[0].outcome == K::WrongTypeAndBoundary);
  }
  SECTION("false positive and false negative: overlapping nothing") {
    const auto a = analyze_one("O O B-PER", "B-MISC O O");
    CHECK(outcomes(a.sentences[0].gold) == std::vector<K>{K::FalseNegative});
    CHECK(outcomes(a.sentences[0].predicted) == std::vector<K>{K::FalsePositive});
    REQUIRE(a.errors.size() == 2);  // by position: the false positive first
    CHECK(a.errors[0].outcome == K::FalsePositive);
    CHECK(a.errors[0].predicted == Entity{"MISC", 0, 1});
    CHECK_FALSE(a.errors[0].gold);
    CHECK(a.errors[1].outcome == K::FalseNegative);
    CHECK(a.errors[1].gold == Entity{"PER", 2, 3});
    CHECK_FALSE(a.errors[1].predicted);
    CHECK(a.overall.predicted_count(K::FalsePositive) == 1);
    CHECK(a.overall.gold_count(K::FalseNegative) == 1);
    CHECK(a.overall.gold_count(K::FalsePositive) == 0);
    CHECK(a.overall.predicted_count(K::FalseNegative) == 0);
  }
}

TEST_CASE("analyze: an entity overlapping several is classified against the largest overlap") {
  SECTION("one gold entity split in two predictions: the gold counts once, each prediction once") {
    // gold: New York City (LOC 0-3); predicted: New York (LOC 0-2), City (LOC 2-3).
    const auto a = analyze_one("B-LOC I-LOC I-LOC", "B-LOC I-LOC B-LOC");
    const auto& s = a.sentences[0];
    CHECK(outcomes(s.gold) == std::vector<K>{K::WrongBoundary});
    CHECK(s.gold[0].match == 0u);  // overlaps 2 tokens with "New York", 1 with "City"
    CHECK(outcomes(s.predicted) == std::vector<K>{K::WrongBoundary, K::WrongBoundary});
    CHECK(a.overall.gold_total() == 1);
    CHECK(a.overall.predicted_total() == 2);
    // The mutual pair (gold, New York) is one error; City is another, against the gold entity.
    REQUIRE(a.errors.size() == 2);
    CHECK(a.errors[0].predicted == Entity{"LOC", 0, 2});
    CHECK(a.errors[0].gold == Entity{"LOC", 0, 3});
    CHECK(a.errors[1].predicted == Entity{"LOC", 2, 3});
    CHECK(a.errors[1].gold == Entity{"LOC", 0, 3});
  }
  SECTION("a tie goes to the leftmost entity") {
    // gold PER 0-4; predicted PER 0-2 and ORG 2-4, both overlapping 2 tokens: the gold entity is
    // compared with PER 0-2 (wrong boundary), not with ORG 2-4 (wrong type and boundary).
    const auto a = analyze_one("B-PER I-PER I-PER I-PER", "B-PER I-PER B-ORG I-ORG");
    CHECK(outcomes(a.sentences[0].gold) == std::vector<K>{K::WrongBoundary});
    CHECK(a.sentences[0].gold[0].match == 0u);
    CHECK(outcomes(a.sentences[0].predicted) ==
          std::vector<K>{K::WrongBoundary, K::WrongTypeAndBoundary});
  }
  SECTION("a tie on the predicted side too") {
    // gold PER 0-1 and LOC 1-2; predicted LOC 0-2 overlaps each by one token: compared with the
    // leftmost, PER, so it is a wrong type and boundary (not a wrong boundary against LOC).
    const auto a = analyze_one("B-PER B-LOC", "B-LOC I-LOC");
    const auto& s = a.sentences[0];
    CHECK(outcomes(s.predicted) == std::vector<K>{K::WrongTypeAndBoundary});
    CHECK(s.predicted[0].match == 0u);
    CHECK(outcomes(s.gold) == std::vector<K>{K::WrongTypeAndBoundary, K::WrongBoundary});
    REQUIRE(a.errors.size() == 2);
    CHECK(a.errors[0].outcome == K::WrongTypeAndBoundary);  // the mutual pair (PER, LOC 0-2)
    CHECK(a.errors[0].gold == Entity{"PER", 0, 1});
    CHECK(a.errors[1].outcome == K::WrongBoundary);  // gold LOC against predicted LOC 0-2
    CHECK(a.errors[1].gold == Entity{"LOC", 1, 2});
    CHECK(a.errors[1].predicted == Entity{"LOC", 0, 2});
    CHECK(a.find("PER")->gold_count(K::WrongTypeAndBoundary) == 1);
    CHECK(a.find("LOC")->gold_count(K::WrongBoundary) == 1);
    CHECK(a.find("LOC")->predicted_count(K::WrongTypeAndBoundary) == 1);
  }
}

TEST_CASE("analyze: the token confusion matrix") {
  const auto a =
      analyze({tags("B-PER I-PER O O"), tags("B-LOC")}, {tags("B-PER O O B-MISC"), tags("B-PER")});
  // O first, then by type (LOC, MISC, PER), within a type B before I.
  REQUIRE(a.confusion.tags == Tags{"O", "B-LOC", "B-MISC", "B-PER", "I-PER"});
  auto at = [&](const std::string& g, const std::string& p) {
    const auto& t = a.confusion.tags;
    return a.confusion.at(static_cast<std::size_t>(std::find(t.begin(), t.end(), g) - t.begin()),
                          static_cast<std::size_t>(std::find(t.begin(), t.end(), p) - t.begin()));
  };
  CHECK(at("B-PER", "B-PER") == 1);
  CHECK(at("I-PER", "O") == 1);
  CHECK(at("O", "O") == 1);
  CHECK(at("O", "B-MISC") == 1);
  CHECK(at("B-LOC", "B-PER") == 1);
  std::size_t total = 0;
  for (std::size_t c : a.confusion.counts) total += c;
  CHECK(total == 5);

  const auto b = analyze({tags("S-LOC E-LOC I-LOC B-LOC O")}, {tags("O O O O O")});
  CHECK(b.confusion.tags == Tags{"O", "B-LOC", "I-LOC", "E-LOC", "S-LOC"});
}

TEST_CASE("analyze: breakdowns by entity length, sentence length and training words") {
  // Sentence 1 (3 tokens): gold PER "Ann Lee" (2) correct, gold LOC "Rome" (1) missed.
  // Sentence 2 (12 tokens): gold ORG of 6 tokens predicted as 5 (wrong boundary),
  // a false positive MISC of 1 token.
  const Sentences gold = {tags("B-PER I-PER B-LOC"),
                          tags("B-ORG I-ORG I-ORG I-ORG I-ORG I-ORG O O O O O O")};
  const Sentences predicted = {tags("B-PER I-PER O"),
                               tags("B-ORG I-ORG I-ORG I-ORG I-ORG O O O O O O B-MISC")};
  const Sentences tokens = {{"Ann", "Lee", "Rome"},
                            {"A", "B", "C", "D", "E", "F", "g", "h", "i", "j", "k", "Zed"}};
  const std::unordered_set<std::string> training = {"Ann", "Lee", "A", "B", "C", "D", "E", "F"};
  AnalysisOptions options;
  options.sentence_length_bounds = {10};
  options.training_words = &training;
  const auto a = analyze(gold, predicted, tokens, options);

  REQUIRE(a.by_entity_length.size() == 5);
  const std::vector<std::string> length_labels = {"1", "2", "3", "4", "5+"};
  for (std::size_t i = 0; i < 5; ++i) CHECK(a.by_entity_length[i].label == length_labels[i]);
  // length 1: gold Rome, predicted MISC; length 2: the correct PER; 5+: gold ORG (6), pred ORG (5).
  CHECK(a.by_entity_length[0].gold == 1);
  CHECK(a.by_entity_length[0].predicted == 1);
  CHECK(a.by_entity_length[0].correct == 0);
  CHECK(a.by_entity_length[1].gold == 1);
  CHECK(a.by_entity_length[1].predicted == 1);
  CHECK(a.by_entity_length[1].correct == 1);
  CHECK(a.by_entity_length[1].scores.f1 == 1.0);
  CHECK(a.by_entity_length[4].gold == 1);
  CHECK(a.by_entity_length[4].predicted == 1);
  CHECK(a.by_entity_length[4].correct == 0);

  REQUIRE(a.by_sentence_length.size() == 2);
  CHECK(a.by_sentence_length[0].label == "1-10");
  CHECK(a.by_sentence_length[1].label == "11+");
  CHECK(a.by_sentence_length[0].gold == 2);
  CHECK(a.by_sentence_length[0].predicted == 1);
  CHECK(a.by_sentence_length[0].correct == 1);
  CHECK(a.by_sentence_length[0].scores.precision == 1.0);
  CHECK(a.by_sentence_length[0].scores.recall == 0.5);
  CHECK(a.by_sentence_length[1].gold == 1);
  CHECK(a.by_sentence_length[1].predicted == 2);

  // seen: Ann Lee (gold and predicted, correct), gold ORG A..F, predicted ORG A..E;
  // unseen: Rome (gold), Zed (predicted MISC).
  REQUIRE(a.by_training_words.size() == 2);
  CHECK(a.by_training_words[0].label == "seen");
  CHECK(a.by_training_words[0].gold == 2);
  CHECK(a.by_training_words[0].predicted == 2);
  CHECK(a.by_training_words[0].correct == 1);
  CHECK(a.by_training_words[1].label == "unseen");
  CHECK(a.by_training_words[1].gold == 1);
  CHECK(a.by_training_words[1].predicted == 1);
  CHECK(a.by_training_words[1].correct == 0);
}

TEST_CASE("analyze: bad input is an error, not a crash") {
  CHECK_THROWS_AS(analyze({tags("O O")}, {tags("O")}), std::invalid_argument);
  CHECK_THROWS_AS(analyze({tags("O O")}, {tags("O O")}, {{"a"}}), std::invalid_argument);
  const std::unordered_set<std::string> words;
  AnalysisOptions options;
  options.training_words = &words;
  CHECK_THROWS_AS(analyze({tags("O")}, {tags("O")}, {}, options), std::invalid_argument);
  AnalysisOptions bad_bounds;
  bad_bounds.sentence_length_bounds = {10, 10};
  CHECK_THROWS_AS(analyze({tags("O")}, {tags("O")}, {}, bad_bounds), std::invalid_argument);
}

namespace {

/// The class of entity `e` against `others` by the documented rule, computed the slow way:
/// every pair, the largest overlap, the first (leftmost) of equal ones.
std::pair<K, std::optional<std::size_t>> brute_force_class(const Entity& e,
                                                           const std::vector<Entity>& others,
                                                           K unmatched) {
  std::optional<std::size_t> best;
  std::size_t best_overlap = 0;
  std::size_t best_begin = 0;
  for (std::size_t j = 0; j < others.size(); ++j) {
    std::size_t overlap = 0;
    for (std::size_t i = e.begin; i < e.end; ++i)
      if (i >= others[j].begin && i < others[j].end) ++overlap;
    if (overlap == 0) continue;
    if (!best || overlap > best_overlap ||
        (overlap == best_overlap && others[j].begin < best_begin)) {
      best = j;
      best_overlap = overlap;
      best_begin = others[j].begin;
    }
  }
  if (!best) return {unmatched, best};
  const Entity& m = others[*best];
  const bool span = m.begin == e.begin && m.end == e.end;
  const bool type = m.type == e.type;
  return {span ? (type ? K::Correct : K::WrongType)
               : (type ? K::WrongBoundary : K::WrongTypeAndBoundary),
          best};
}

}  // namespace

TEST_CASE("analyze: every entity of random tag sequences classified as brute force says") {
  std::mt19937 gen(7);
  const Tags alphabet = {"O", "B-A", "I-A", "B-B", "I-B", "O", "O"};
  const std::vector<ScoringOptions> modes = {{ScoringMode::Conlleval, std::nullopt},
                                             {ScoringMode::Seqeval, std::nullopt},
                                             {ScoringMode::SeqevalStrict, TagScheme::IOB2}};
  for (const ScoringOptions& scoring : modes) {
    INFO("mode " << to_string(scoring.mode));
    Sentences gold, predicted;
    for (int s = 0; s < 300; ++s) {
      const std::size_t n = 1 + gen() % 9;
      Tags g, p;
      for (std::size_t i = 0; i < n; ++i) {
        g.push_back(alphabet[gen() % alphabet.size()]);
        p.push_back(alphabet[gen() % alphabet.size()]);
      }
      gold.push_back(g);
      predicted.push_back(p);
    }
    AnalysisOptions options;
    options.scoring = scoring;
    const ErrorAnalysis a = analyze(gold, predicted, {}, options);
    std::size_t gold_total = 0, predicted_total = 0;
    for (std::size_t s = 0; s < gold.size(); ++s) {
      const auto g = extract_entities(gold[s], scoring);
      const auto p = extract_entities(predicted[s], scoring);
      const auto& se = a.sentences[s];
      REQUIRE(se.gold.size() == g.size());
      REQUIRE(se.predicted.size() == p.size());
      for (std::size_t i = 0; i < g.size(); ++i) {
        const auto [k, match] = brute_force_class(g[i], p, K::FalseNegative);
        CHECK(se.gold[i].entity == g[i]);
        CHECK(se.gold[i].outcome == k);
        CHECK(se.gold[i].match == match);
      }
      for (std::size_t i = 0; i < p.size(); ++i) {
        const auto [k, match] = brute_force_class(p[i], g, K::FalsePositive);
        CHECK(se.predicted[i].outcome == k);
        CHECK(se.predicted[i].match == match);
      }
      gold_total += g.size();
      predicted_total += p.size();
      // Every entity that is not correct appears in the listing.
      for (const auto* side : {&se.gold, &se.predicted})
        for (const ClassifiedEntity& c : *side) {
          if (c.outcome == K::Correct) continue;
          bool found = false;
          for (const EntityError& e : a.errors)
            if (e.sentence == s &&
                ((e.gold && *e.gold == c.entity && side == &se.gold) ||
                 (e.predicted && *e.predicted == c.entity && side == &se.predicted)))
              found = true;
          CHECK(found);
        }
    }
    // Each entity counted exactly once, on its own side; the totals are evaluate()'s.
    CHECK(a.overall.gold_total() == gold_total);
    CHECK(a.overall.predicted_total() == predicted_total);
    CHECK(a.overall.gold_total() == a.report.gold_entities);
    CHECK(a.overall.predicted_total() == a.report.predicted_entities);
    CHECK(a.overall.gold_count(K::Correct) == a.report.correct_entities);
    CHECK(a.overall.predicted_count(K::Correct) == a.report.correct_entities);
    CHECK(a.overall.gold_count(K::WrongType) == a.overall.predicted_count(K::WrongType));
    std::size_t per_type_gold = 0, per_type_predicted = 0;
    for (const auto& t : a.per_type) {
      per_type_gold += t.gold_total();
      per_type_predicted += t.predicted_total();
      const TypeScores* scores = a.report.find(t.type);
      REQUIRE(scores != nullptr);
      CHECK(t.gold_total() == scores->gold);
      CHECK(t.predicted_total() == scores->predicted);
      CHECK(t.gold_count(K::Correct) == scores->correct);
    }
    CHECK(per_type_gold == gold_total);
    CHECK(per_type_predicted == predicted_total);
  }
}

TEST_CASE("analyze: correct entities agree with conlleval's count on the eval fixtures") {
  for (const char* name : {"ill_formed.txt", "iobes.txt", "odd_tags.txt"}) {
    INFO(name);
    std::ifstream in(lstmner_test::test_data(std::string("eval/") + name));
    REQUIRE(in);
    const PredictionFile file = read_prediction_file(in, name);
    const EvaluationReport conlleval = file.conlleval.report();
    const ErrorAnalysis a = analyze(file.gold, file.predicted, file.tokens);
    CHECK(a.overall.gold_total() == conlleval.gold_entities);
    CHECK(a.overall.predicted_total() == conlleval.predicted_entities);
    CHECK(a.overall.gold_count(K::Correct) == conlleval.correct_entities);
  }
}

TEST_CASE("format_analysis and to_json show the hand case's numbers") {
  const Sentences gold = {tags("B-PER I-PER O B-LOC")};
  const Sentences predicted = {tags("B-PER O O B-ORG")};
  const Sentences tokens = {{"Ann", "Lee", "in", "Rome"}};
  const auto a = analyze(gold, predicted, tokens);
  const std::string text = format_analysis(a);
  CHECK(text.find("2 gold and 2 predicted entities") != std::string::npos);
  CHECK(text.find("sentence 1: wrong boundary; gold PER 0-2 \"Ann Lee\"; predicted PER 0-1 "
                  "\"Ann\"") != std::string::npos);
  CHECK(text.find("  gold:      [Ann Lee]PER in Rome") != std::string::npos);
  CHECK(text.find("  predicted: [Ann]PER Lee in Rome") != std::string::npos);
  CHECK(text.find("sentence 1: wrong type; gold LOC 3-4 \"Rome\"; predicted ORG 3-4") !=
        std::string::npos);

  const std::string json = to_json(a, 1);
  CHECK(json.find("\"errors_total\": 2") != std::string::npos);
  CHECK(json.find("\"outcome\": \"wrong_boundary\"") != std::string::npos);
  CHECK(json.find("\"outcome\": \"wrong_type\"") == std::string::npos);  // only 1 listed
  CHECK(json.find("\"PER\": {\"gold\": {\"total\": 1, \"correct\": 0, \"wrong_type\": 0, "
                  "\"wrong_boundary\": 1, \"wrong_type_and_boundary\": 0, \"false_negative\": "
                  "0}") != std::string::npos);
  CHECK(json.find("\"tags\": [\"O\", \"B-LOC\", \"B-ORG\", \"B-PER\", \"I-PER\"]") !=
        std::string::npos);
}
