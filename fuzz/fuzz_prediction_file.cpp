// Fuzz target: the conlleval-format prediction reader (metrics/prediction_file.hpp) and the
// scorer in every mode (metrics/scorer.hpp, evaluate.hpp), with the three report formatters.
// Input: one option byte, then the file's text.
//   byte 0: bits 0-1 delimiter (" ", "\t", "  ", "|"), bit 2 raw tags (-r), bit 3 outside tag
//           "X" instead of "O" (-o), bits 4-5 strict mode's scheme (detect, IOB1, IOB2, IOBES)
// Invariants: the streaming Scorer agrees with the sentence-at-a-time ports it replaces (seqeval's
// get_entities over the joined sentences and strict mode's Tokens.entities, matched as seqeval
// matches them, by sets of (sentence, begin, end) per type), errors included; scanning the file
// token by token gives the sentences read_prediction_file keeps; counts are consistent.

#include <lstmner/metrics.hpp>

#include "fuzz_support.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace lstmner;

namespace {

using Key = std::tuple<std::size_t, std::size_t, std::size_t>;
using Sets = std::map<std::string, std::vector<Key>>;

struct Counts {
  std::size_t gold = 0, predicted = 0, correct = 0;
};

/// seqeval's matching: per type, the sets of gold and predicted keys and their intersection.
std::map<std::string, Counts> match_sets(Sets& gold, Sets& predicted) {
  std::map<std::string, Counts> out;
  for (Sets* sets : {&gold, &predicted})
    for (auto& [type, keys] : *sets) {
      std::sort(keys.begin(), keys.end());
      keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
      (sets == &gold ? out[type].gold : out[type].predicted) = keys.size();
    }
  for (auto& [type, counts] : out) {
    const auto& g = gold[type];
    const auto& p = predicted[type];
    std::vector<Key> common;
    std::set_intersection(g.begin(), g.end(), p.begin(), p.end(), std::back_inserter(common));
    counts.correct = common.size();
  }
  return out;
}

/// The reference: the sentence-at-a-time ports, or the message they throw.
std::map<std::string, Counts> reference(const std::vector<std::vector<std::string>>& gold,
                                        const std::vector<std::vector<std::string>>& predicted,
                                        const ScoringOptions& options) {
  Sets g, p;
  if (options.mode == ScoringMode::Seqeval) {
    std::vector<std::string> joined_gold, joined_predicted;
    for (std::size_t s = 0; s < gold.size(); ++s) {
      joined_gold.insert(joined_gold.end(), gold[s].begin(), gold[s].end());
      joined_gold.push_back("O");
      joined_predicted.insert(joined_predicted.end(), predicted[s].begin(), predicted[s].end());
      joined_predicted.push_back("O");
    }
    std::vector<detail::SeqevalChunk> chunks;
    detail::seqeval_chunks(joined_gold, 0, chunks);
    for (const auto& c : chunks) g[std::string(c.type)].emplace_back(0, c.begin, c.last);
    chunks.clear();
    detail::seqeval_chunks(joined_predicted, 0, chunks);
    for (const auto& c : chunks) p[std::string(c.type)].emplace_back(0, c.begin, c.last);
  } else {
    const TagScheme scheme = options.scheme ? *options.scheme : detail::seqeval_auto_detect(gold);
    for (std::size_t s = 0; s < gold.size(); ++s) {
      for (const Entity& e : detail::strict_entities(gold[s], scheme, s))
        g[e.type].emplace_back(s, e.begin, e.end);
      for (const Entity& e : detail::strict_entities(predicted[s], scheme, s))
        p[e.type].emplace_back(s, e.begin, e.end);
    }
  }
  return match_sets(g, p);
}

void check_report(const EvaluationReport& r) {
  std::size_t gold = 0, predicted = 0, correct = 0;
  for (const TypeScores& t : r.per_type) {
    FUZZ_CHECK(t.correct <= t.gold && t.correct <= t.predicted);
    gold += t.gold;
    predicted += t.predicted;
    correct += t.correct;
  }
  FUZZ_CHECK(gold == r.gold_entities && predicted == r.predicted_entities &&
             correct == r.correct_entities);
  FUZZ_CHECK(r.correct_tokens <= r.tokens);
  for (double x :
       {r.micro.precision, r.micro.recall, r.micro.f1, r.macro.f1, r.weighted.f1, r.accuracy})
    FUZZ_CHECK(x >= 0.0 && x <= 1.0);
  (void)format_conlleval(r);
  (void)format_seqeval(r, 2);
  (void)to_json(r);
}

}  // namespace

LSTMNER_FUZZ_TARGET(data, size) {
  lstmner_fuzz::FuzzInput input(data, size);
  const std::uint8_t flags = input.byte();
  PredictionFileOptions file_options;
  const char* delimiters[] = {" ", "\t", "  ", "|"};
  file_options.delimiter = delimiters[flags & 3];
  file_options.raw = (flags & 4) != 0;
  if (flags & 8) file_options.outside_tag = "X";
  std::optional<TagScheme> strict_scheme;
  if ((flags >> 4) & 3) strict_scheme = static_cast<TagScheme>(((flags >> 4) & 3) - 1);
  const std::string text(input.rest());

  PredictionFile file;
  try {
    std::istringstream in(text);
    file = read_prediction_file(in, "fuzz.txt", file_options);
  } catch (const std::runtime_error&) {
    return 0;
  }
  FUZZ_CHECK(file.gold.size() == file.predicted.size());
  std::size_t tokens = 0;
  for (std::size_t s = 0; s < file.gold.size(); ++s) {
    FUZZ_CHECK(!file.gold[s].empty() && file.gold[s].size() == file.predicted[s].size());
    tokens += file.gold[s].size();
  }
  check_report(file.conlleval.report());

  ScoringOptions strict;
  strict.mode = ScoringMode::SeqevalStrict;
  strict.scheme = strict_scheme;
  for (const ScoringOptions& options :
       {ScoringOptions{}, ScoringOptions{ScoringMode::Seqeval, std::nullopt}, strict}) {
    // The streaming path: the scanner feeding a Scorer, as lstmner-eval runs it.
    std::optional<EvaluationReport> streamed;
    std::string streamed_error;
    try {
      Scorer scorer(options);
      std::istringstream in(text);
      std::size_t scanned = 0;
      scan_prediction_file(
          in, "fuzz.txt", file_options,
          [&](const PredictionToken& t) {
            scorer.add(t.gold, t.predicted);
            ++scanned;
          },
          [&] { scorer.end_sentence(); });
      FUZZ_CHECK(scanned == tokens);
      streamed = scorer.report();
    } catch (const std::invalid_argument& e) {
      streamed_error = e.what();
    }
    std::optional<EvaluationReport> whole;
    try {
      whole = evaluate(file.gold, file.predicted, options);
    } catch (const std::invalid_argument& e) {
      FUZZ_CHECK(streamed_error == e.what());
    }
    FUZZ_CHECK(whole.has_value() == streamed.has_value());
    if (!whole) continue;
    check_report(*whole);
    FUZZ_CHECK(whole->per_type.size() == streamed->per_type.size());
    FUZZ_CHECK(whole->tokens == tokens && streamed->tokens == tokens);
    if (options.mode == ScoringMode::Conlleval) continue;

    std::optional<std::map<std::string, Counts>> expected;
    std::string expected_error;
    try {
      expected = reference(file.gold, file.predicted, options);
    } catch (const std::invalid_argument& e) {
      expected_error = e.what();
    }
    FUZZ_CHECK(expected.has_value());  // evaluate() succeeded, so must the reference
    FUZZ_CHECK(expected->size() == whole->per_type.size());
    for (const TypeScores& t : whole->per_type) {
      const auto it = expected->find(t.type);
      FUZZ_CHECK(it != expected->end());
      FUZZ_CHECK(it->second.gold == t.gold && it->second.predicted == t.predicted &&
                 it->second.correct == t.correct);
    }
  }
  // Where evaluate() fails, the reference must fail with the same message.
  for (const ScoringOptions& options :
       {ScoringOptions{ScoringMode::Seqeval, std::nullopt}, strict}) {
    std::string evaluate_error, reference_error;
    try {
      (void)evaluate(file.gold, file.predicted, options);
    } catch (const std::invalid_argument& e) {
      evaluate_error = e.what();
    }
    try {
      (void)reference(file.gold, file.predicted, options);
    } catch (const std::invalid_argument& e) {
      reference_error = e.what();
    }
    FUZZ_CHECK(evaluate_error == reference_error);
  }
  return 0;
}
