#include <lstmner/conll.hpp>
#include <lstmner/metrics.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace lstmner;
using Tags = std::vector<std::string>;
using Sentences = std::vector<Tags>;

namespace {

const ScoringOptions conlleval{ScoringMode::Conlleval, std::nullopt};
const ScoringOptions seqeval{ScoringMode::Seqeval, std::nullopt};
ScoringOptions strict(std::optional<TagScheme> scheme) {
  return {ScoringMode::SeqevalStrict, scheme};
}

using Spans = std::vector<Entity>;

/// gold / predicted / correct entity counts of a report.
struct Counts {
  std::size_t gold, predicted, correct;
  bool operator==(const Counts& o) const {
    return gold == o.gold && predicted == o.predicted && correct == o.correct;
  }
};
std::ostream& operator<<(std::ostream& os, const Counts& c) {
  return os << "{" << c.gold << ", " << c.predicted << ", " << c.correct << "}";
}
Counts counts(const EvaluationReport& r) {
  return {r.gold_entities, r.predicted_entities, r.correct_entities};
}
Counts counts(const Sentences& gold, const Sentences& predicted, const ScoringOptions& options) {
  return counts(evaluate(gold, predicted, options));
}

}  // namespace

TEST_CASE("conlleval rules: entity starts and ends, hand-checked") {
  // I- after O starts an entity; so does I- at the start of a sentence.
  REQUIRE(extract_entities({"I-PER", "I-PER", "O", "I-LOC"}) ==
          Spans{{"PER", 0, 2}, {"LOC", 3, 4}});
  // A type change inside a chunk ends it and starts another.
  REQUIRE(extract_entities({"B-PER", "I-LOC", "I-LOC"}) == Spans{{"PER", 0, 1}, {"LOC", 1, 3}});
  // B- after B- (or after I-) of the same type starts a new entity.
  REQUIRE(extract_entities({"B-PER", "B-PER", "I-PER", "B-PER"}) ==
          Spans{{"PER", 0, 1}, {"PER", 1, 3}, {"PER", 3, 4}});
  // E-: E after E and I after E start anew, but B after E continues the chunk (no rule for it).
  REQUIRE(extract_entities({"B-X", "E-X", "E-X", "I-X", "E-X", "B-X", "E-X"}) ==
          Spans{{"X", 0, 2}, {"X", 2, 3}, {"X", 3, 7}});
  // S- has no rule of its own: only a type change starts or ends at it.
  REQUIRE(extract_entities({"S-X", "S-X", "S-Y", "O", "S-X"}) ==
          Spans{{"X", 0, 2}, {"Y", 2, 3}, {"X", 4, 5}});
  // A tag without a hyphen is a prefix with an empty type; a type "0" is empty too (Perl).
  // "PER" is prefix "PER", type "": no rule starts a chunk at it after O.
  REQUIRE(extract_entities({"B", "I", "B-0", "O", "PER"}) == Spans{{"", 0, 2}, {"", 2, 3}});
  // Type with hyphens: split at the first one.
  REQUIRE(extract_entities({"B-A-B", "I-A-B"}) == Spans{{"A-B", 0, 2}});
}

TEST_CASE("conlleval counting: a chunk is correct when both start and end together") {
  // gold PER[0,2); predicted PER[0,1) PER[1,2): neither correct.
  REQUIRE(counts({{"B-PER", "I-PER"}}, {{"B-PER", "B-PER"}}, conlleval) == Counts{1, 2, 0});
  // Same span, predicted written with I- after O: correct.
  REQUIRE(counts({{"O", "B-PER", "I-PER"}}, {{"O", "I-PER", "I-PER"}}, conlleval) ==
          Counts{1, 1, 1});
  // Same start, type differs: not correct; same span, different type: not correct.
  REQUIRE(counts({{"B-PER", "I-PER"}}, {{"B-PER", "I-LOC"}}, conlleval) == Counts{1, 2, 0});
  REQUIRE(counts({{"B-PER", "I-PER"}}, {{"B-LOC", "I-LOC"}}, conlleval) == Counts{1, 1, 0});
  // An entity that runs to the end of the input is closed there.
  ConllevalCounter counter;
  counter.add("B-LOC", "B-LOC");
  counter.add("I-LOC", "I-LOC");
  REQUIRE(counts(counter.report()) == Counts{1, 1, 1});
  // Sentence boundaries close entities: I-PER I-PER across two sentences are two entities.
  REQUIRE(counts({{"I-PER"}, {"I-PER"}}, {{"I-PER"}, {"I-PER"}}, conlleval) == Counts{2, 2, 2});
}

TEST_CASE("conlleval token accuracy compares prefix and type as conlleval splits them") {
  const EvaluationReport r =
      evaluate({{"B", "O", "B-PER", "I-LOC"}}, {{"B-0", "O", "I-PER", "I-LOC"}}, conlleval);
  REQUIRE(r.tokens == 4);
  REQUIRE(r.correct_tokens == 3);  // "B" == "B-0" after Perl's "0" -> "" (seqeval: 2)
  REQUIRE(evaluate({{"B", "O", "B-PER", "I-LOC"}}, {{"B-0", "O", "I-PER", "I-LOC"}}, seqeval)
              .correct_tokens == 2);
}

TEST_CASE("conlleval report text, byte for byte, hand-computed") {
  // Gold: PER[0,2) LOC[3,4) | ORG[0,1); predicted: PER[0,2) LOC[2,4) | ORG[0,1) MISC[1,2).
  const Sentences gold = {{"B-PER", "I-PER", "O", "B-LOC"}, {"B-ORG", "O"}};
  const Sentences predicted = {{"B-PER", "I-PER", "B-LOC", "I-LOC"}, {"B-ORG", "B-MISC"}};
  const EvaluationReport r = evaluate(gold, predicted);
  // 6 tokens; O vs B-LOC, B-LOC vs I-LOC and O vs B-MISC are wrong.
  REQUIRE(r.tokens == 6);
  REQUIRE(r.correct_tokens == 3);
  REQUIRE(counts(r) == Counts{3, 4, 2});
  REQUIRE(format_conlleval(r) ==
          "processed 6 tokens with 3 phrases; found: 4 phrases; correct: 2.\n"
          "accuracy:  50.00%; precision:  50.00%; recall:  66.67%; FB1:  57.14\n"
          "              LOC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
          "             MISC: precision:   0.00%; recall:   0.00%; FB1:   0.00  1\n"
          "              ORG: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
          "              PER: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n");
  // No tokens: no accuracy line.
  REQUIRE(format_conlleval(evaluate({}, {})) ==
          "processed 0 tokens with 0 phrases; found: 0 phrases; correct: 0.\n");
  // Micro, macro and weighted averages from the counts (as fractions).
  REQUIRE(r.micro.precision == Approx(0.5));
  REQUIRE(r.micro.recall == Approx(2.0 / 3));
  REQUIRE(r.micro.f1 == Approx(4.0 / 7));
  REQUIRE(r.macro.precision == Approx(0.5));      // (0 + 0 + 1 + 1) / 4
  REQUIRE(r.macro.recall == Approx(0.5));         // MISC has no gold entity: recall 0
  REQUIRE(r.weighted.recall == Approx(2.0 / 3));  // (1*0 + 0*0 + 1*1 + 1*1) / 3
  REQUIRE(r.weighted.precision == Approx(2.0 / 3));
  REQUIRE(r.find("ORG")->scores.f1 == 1.0);
  REQUIRE(r.find("XYZ") == nullptr);
}

TEST_CASE("seqeval default mode: get_entities rules, hand-checked") {
  // E- and S- always end an entity; B- and S- always start one.
  REQUIRE(extract_entities({"S-X", "S-X", "B-X", "E-X", "B-X", "I-X"}, seqeval) ==
          Spans{{"X", 0, 1}, {"X", 1, 2}, {"X", 2, 4}, {"X", 4, 6}});
  // The type is what follows the first hyphen after the first character; "_" when empty.
  REQUIRE(extract_entities({"B", "PER", "BB-LOC"}, seqeval) ==
          Spans{{"_", 0, 1}, {"ER", 1, 2}, {"LOC", 2, 3}});
  // I- after O starts, a type change ends and starts, B- after B- starts (as conlleval).
  REQUIRE(extract_entities({"O", "I-PER", "I-LOC", "B-LOC", "B-LOC"}, seqeval) ==
          Spans{{"PER", 1, 2}, {"LOC", 2, 3}, {"LOC", 3, 4}, {"LOC", 4, 5}});
}

TEST_CASE("every place where conlleval and seqeval's default mode disagree") {
  SECTION("S- after S- of the same type: conlleval one entity, seqeval two") {
    const Tags tags = {"S-PER", "S-PER"};
    REQUIRE(extract_entities(tags, conlleval) == Spans{{"PER", 0, 2}});
    REQUIRE(extract_entities(tags, seqeval) == Spans{{"PER", 0, 1}, {"PER", 1, 2}});
    // ...so gold S-PER S-PER against predicted B-PER E-PER is right for conlleval only.
    REQUIRE(counts({tags}, {{"B-PER", "E-PER"}}, conlleval) == Counts{1, 1, 1});
    REQUIRE(counts({tags}, {{"B-PER", "E-PER"}}, seqeval) == Counts{2, 1, 0});
  }
  SECTION("B- after E-: conlleval continues the entity, seqeval starts a new one") {
    const Tags tags = {"B-LOC", "E-LOC", "B-LOC", "E-LOC"};
    REQUIRE(extract_entities(tags, conlleval) == Spans{{"LOC", 0, 4}});
    REQUIRE(extract_entities(tags, seqeval) == Spans{{"LOC", 0, 2}, {"LOC", 2, 4}});
  }
  SECTION("I-/E- after S- and B-/S- after B-/I-/S-: seqeval splits, conlleval continues") {
    REQUIRE(extract_entities({"S-ORG", "I-ORG", "E-ORG"}, conlleval) == Spans{{"ORG", 0, 3}});
    REQUIRE(extract_entities({"S-ORG", "I-ORG", "E-ORG"}, seqeval) ==
            Spans{{"ORG", 0, 1}, {"ORG", 1, 3}});
    REQUIRE(extract_entities({"B-ORG", "S-ORG"}, conlleval) == Spans{{"ORG", 0, 2}});
    REQUIRE(extract_entities({"B-ORG", "S-ORG"}, seqeval) == Spans{{"ORG", 0, 1}, {"ORG", 1, 2}});
  }
  SECTION("a tag without a type: conlleval type \"\", seqeval type \"_\"") {
    REQUIRE(extract_entities({"B"}, conlleval) == Spans{{"", 0, 1}});
    REQUIRE(extract_entities({"B"}, seqeval) == Spans{{"_", 0, 1}});
  }
  SECTION("type \"0\": conlleval reads it as no type (Perl truth), seqeval keeps \"0\"") {
    REQUIRE(extract_entities({"B-0"}, conlleval) == Spans{{"", 0, 1}});
    REQUIRE(extract_entities({"B-0"}, seqeval) == Spans{{"0", 0, 1}});
  }
  SECTION("a tag without hyphen or with a long prefix: conlleval splits at the hyphen") {
    REQUIRE(extract_entities({"PER"}, conlleval).empty());
    REQUIRE(extract_entities({"PER"}, seqeval) == Spans{{"ER", 0, 1}});
    REQUIRE(extract_entities({"O", "BI-LOC"}, conlleval) == Spans{{"LOC", 1, 2}});
    REQUIRE(extract_entities({"B-LOC", "BI-LOC"}, conlleval) == Spans{{"LOC", 0, 2}});
    REQUIRE(extract_entities({"B-LOC", "BI-LOC"}, seqeval) == Spans{{"LOC", 0, 1}, {"LOC", 1, 2}});
  }
  SECTION("token accuracy: conlleval compares split tags, seqeval whole strings") {
    REQUIRE(evaluate({{"B-0"}}, {{"B"}}, conlleval).correct_tokens == 1);
    REQUIRE(evaluate({{"B-0"}}, {{"B"}}, seqeval).correct_tokens == 0);
  }
  SECTION("the same well-formed IOB1/IOB2 input: identical counts") {
    const Sentences gold = {{"I-PER", "I-PER", "B-PER", "O", "I-LOC"}, {"B-ORG", "I-ORG"}};
    const Sentences predicted = {{"I-PER", "B-PER", "B-PER", "I-LOC", "I-LOC"}, {"O", "I-ORG"}};
    REQUIRE(counts(gold, predicted, conlleval) == counts(gold, predicted, seqeval));
    REQUIRE(counts(gold, predicted, conlleval) == Counts{4, 5, 1});
  }
}

TEST_CASE("seqeval strict mode: entities must follow the scheme") {
  // IOB2: an I- that does not continue a B- of its type is no entity at all.
  REQUIRE(extract_entities({"I-PER", "I-PER", "O", "B-LOC", "I-ORG"}, strict(TagScheme::IOB2)) ==
          Spans{{"LOC", 3, 4}});
  REQUIRE(counts({{"B-PER", "I-PER"}}, {{"I-PER", "I-PER"}}, seqeval) == Counts{1, 1, 1});
  REQUIRE(counts({{"B-PER", "I-PER"}}, {{"I-PER", "I-PER"}}, strict(TagScheme::IOB2)) ==
          Counts{1, 0, 0});
  // IOBES: an entity must close with E- (or be an S-); "B-X I-X" is nothing.
  REQUIRE(extract_entities({"B-X", "I-X", "O", "B-X", "E-X", "S-Y"}, strict(TagScheme::IOBES)) ==
          Spans{{"X", 3, 5}, {"Y", 5, 6}});
  // IOB1: I- after O opens, B- after I- of the same type opens another.
  REQUIRE(extract_entities({"O", "I-X", "I-X", "B-X", "I-Y"}, strict(TagScheme::IOB1)) ==
          Spans{{"X", 1, 3}, {"X", 3, 4}, {"Y", 4, 5}});
  // Prefixes the scheme does not allow are errors, as in seqeval.
  REQUIRE_THROWS_WITH(evaluate({{"O", "S-PER"}}, {{"O", "O"}}, strict(TagScheme::IOB2)),
                      "lstmner: evaluate (strict): sentence 0 token 1: 'S-PER' has a prefix "
                      "that IOB2 does not allow");
  REQUIRE_THROWS_WITH(evaluate({{"O"}}, {{"X-PER"}}, strict(TagScheme::IOB2)),
                      Catch::Contains("'X-PER' does not start with one of the prefixes"));
  // Without a scheme it is detected from the gold tags, like classification_report.
  const EvaluationReport detected =
      evaluate({{"S-A", "B-B", "E-B"}}, {{"S-A", "O", "O"}}, strict({}));
  REQUIRE(detected.scheme == TagScheme::IOBES);
  REQUIRE(counts(detected) == Counts{2, 1, 1});
  REQUIRE_THROWS_WITH(evaluate({{"O"}}, {{"O"}}, strict({})),
                      Catch::Contains("cannot detect the scheme"));
}

TEST_CASE("seqeval classification report table, hand-computed") {
  // Gold: PER PER | LOC; predicted: PER (right), LOC (wrong span) | LOC (right), MISC.
  const Sentences gold = {{"B-PER", "O", "B-PER", "I-PER"}, {"B-LOC", "O"}};
  const Sentences predicted = {{"B-PER", "O", "B-LOC", "I-PER"}, {"B-LOC", "B-MISC"}};
  const EvaluationReport r = evaluate(gold, predicted, seqeval);
  // LOC: gold 1, predicted 2 ([2,3) and [4,5)), correct 1; MISC: 0/1/0; PER: 2/2/1 ([3,4) wrong).
  REQUIRE(r.find("LOC")->predicted == 2);
  REQUIRE(r.find("PER")->correct == 1);
  REQUIRE(format_seqeval(r) ==
          "              precision    recall  f1-score   support\n"
          "\n"
          "         LOC       0.50      1.00      0.67         1\n"
          "        MISC       0.00      0.00      0.00         0\n"
          "         PER       0.50      0.50      0.50         2\n"
          "\n"
          "   micro avg       0.40      0.67      0.50         3\n"
          "   macro avg       0.33      0.50      0.39         3\n"
          "weighted avg       0.50      0.67      0.56         3\n");
  // A long type name widens the first column; widths count UTF-8 characters like Python.
  const EvaluationReport wide =
      evaluate({{"B-PERSON_NAME_LONG"}, {"B-\xc3\x9c"}}, {{"B-PERSON_NAME_LONG"}, {"O"}}, seqeval);
  const std::string table = format_seqeval(wide, 3);
  REQUIRE(table.substr(0, 27) == std::string(18, ' ') + "precision");  // width 16, + 2
  REQUIRE(table.find("\nPERSON_NAME_LONG      1.000") != std::string::npos);
  REQUIRE(table.find("\n" + std::string(15, ' ') + "\xc3\x9c      0.000") != std::string::npos);
}

TEST_CASE("JSON report") {
  const EvaluationReport r = evaluate({{"B-PER", "I-PER", "O"}}, {{"B-PER", "I-PER", "B-LOC"}});
  REQUIRE(to_json(r) ==
          "{\n"
          "  \"mode\": \"conlleval\",\n"
          "  \"scheme\": null,\n"
          "  \"tokens\": 3,\n"
          "  \"correct_tokens\": 2,\n"
          "  \"accuracy\": 0.6666666666666666,\n"
          "  \"entities\": {\"gold\": 1, \"predicted\": 2, \"correct\": 1},\n"
          "  \"micro\": {\"precision\": 0.5, \"recall\": 1.0, \"f1\": 0.6666666666666666},\n"
          "  \"macro\": {\"precision\": 0.5, \"recall\": 0.5, \"f1\": 0.5},\n"
          "  \"weighted\": {\"precision\": 1.0, \"recall\": 1.0, \"f1\": 1.0},\n"
          "  \"per_type\": {\n"
          "    \"LOC\": {\"gold\": 0, \"predicted\": 1, \"correct\": 0, \"precision\": 0.0, "
          "\"recall\": 0.0, \"f1\": 0.0},\n"
          "    \"PER\": {\"gold\": 1, \"predicted\": 1, \"correct\": 1, \"precision\": 1.0, "
          "\"recall\": 1.0, \"f1\": 1.0}\n"
          "  }\n"
          "}\n");
  EvaluationReport quoted;
  quoted.per_type.push_back(TypeScores{"a\"b\\c\x01", 0, 0, 0, {}});
  REQUIRE(to_json(quoted).find("\"a\\\"b\\\\c\\u0001\"") != std::string::npos);
}

TEST_CASE("evaluate rejects sequences of different shapes") {
  REQUIRE_THROWS_WITH(evaluate({{"O"}}, {}), "lstmner: evaluate: 1 gold sentences but 0 predicted");
  REQUIRE_THROWS_WITH(evaluate({{"O"}, {"O", "O"}}, {{"O"}, {"O"}}, seqeval),
                      "lstmner: evaluate: sentence 1 has 2 gold tags but 1 predicted");
  REQUIRE_THROWS_AS(parse_scoring_mode("lenient"), std::invalid_argument);
  REQUIRE(parse_scoring_mode("default") == ScoringMode::Seqeval);
}

TEST_CASE("read_prediction_file reads conlleval's format the way conlleval does") {
  std::istringstream in(
      "-DOCSTART- -X- O O\r\n\r\nA x B-PER B-PER\n-X- y O O\nB x I-PER I-PER\n\nC x O\n");
  REQUIRE_THROWS_WITH(read_prediction_file(in, "f.txt"),
                      "lstmner: read_prediction_file: f.txt:7: unexpected number of features: 3 "
                      "(4)");
  std::istringstream ok("-DOCSTART- -X- O O\r\n\r\nA x B-PER B-PER\n-X- y O O\nB x I-PER I-PER");
  const PredictionFile file = read_prediction_file(ok, "ok.txt");
  REQUIRE(file.gold == Sentences{{"B-PER"}, {"I-PER"}});  // -X- separates, DOCSTART left out
  const EvaluationReport r = file.conlleval.report();
  REQUIRE(r.tokens == 3);  // the -DOCSTART- line counts, as in conlleval
  REQUIRE(counts(r) == Counts{2, 2, 2});
  // Two spaces make an empty field (Perl's split on / /); trailing ones are dropped.
  std::istringstream spaced("A  B-PER B-PER  \n");
  REQUIRE(read_prediction_file(spaced, "s").gold == Sentences{{"B-PER"}});
  // Raw mode: every non-outside tag is a one-token entity.
  PredictionFileOptions raw;
  raw.raw = true;
  raw.outside_tag = "NONE";
  std::istringstream raw_in("a PER PER\nb PER LOC\nc NONE O\n");
  const PredictionFile raw_file = read_prediction_file(raw_in, "r", raw);
  REQUIRE(raw_file.gold == Sentences{{"B-PER", "B-PER", "O"}});
  REQUIRE(counts(raw_file.conlleval.report()) == Counts{2, 2, 1});
}

TEST_CASE("CoNLL-2003 test set scored against itself, in every mode", "[conll2003]") {
  const auto dir = lstmner_test::conll2003_dir({"test.txt"});
  if (!dir) return;
  const ConllDocument test = read_conll((*dir / "test.txt").string());
  const Sentences gold = test.tag_sequences();
  const EvaluationReport c = evaluate(gold, gold);
  REQUIRE(c.tokens == 46435);
  REQUIRE(counts(c) == Counts{5648, 5648, 5648});
  REQUIRE(c.find("PER")->gold == 1617);
  REQUIRE(c.find("LOC")->gold == 1668);
  REQUIRE(c.find("ORG")->gold == 1661);
  REQUIRE(c.find("MISC")->gold == 702);
  REQUIRE(c.micro.f1 == 1.0);
  REQUIRE(counts(evaluate(gold, gold, seqeval)) == Counts{5648, 5648, 5648});
  // Strict IOB1 reads the I-starting entities correctly; strict IOB2 drops them.
  REQUIRE(evaluate(gold, gold, strict(TagScheme::IOB1)).gold_entities == 5648);
  REQUIRE(evaluate(gold, gold, strict(TagScheme::IOB2)).gold_entities == 20);  // B- tags only

  // Written back with the gold as prediction, conlleval counts the -DOCSTART- lines too.
  std::ostringstream written;
  write_conll(written, test, gold);
  std::istringstream in(written.str());
  const EvaluationReport file = read_prediction_file(in, "test").conlleval.report();
  REQUIRE(file.tokens == 46666);
  const std::string first_line =
      "processed 46666 tokens with 5648 phrases; found: 5648 phrases; correct: 5648.\n";
  REQUIRE(format_conlleval(file).substr(0, first_line.size()) == first_line);

  // IOBES gold scored by conlleval loses entities: S-X S-X and E-X B-X merge.
  Sentences iobes;
  for (const Tags& tags : gold)
    iobes.push_back(convert_tags(tags, TagScheme::IOB1, TagScheme::IOBES));
  REQUIRE(evaluate(iobes, iobes, seqeval).gold_entities == 5648);
  REQUIRE(evaluate(iobes, iobes, strict(TagScheme::IOBES)).gold_entities == 5648);
  REQUIRE(evaluate(iobes, iobes, conlleval).gold_entities < 5648);
}
