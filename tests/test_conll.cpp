#include <lstmner/conll.hpp>
#include <lstmner/metrics.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace lstmner;
using Tags = std::vector<std::string>;

namespace {

ConllDocument read_string(const std::string& text, const ConllReadOptions& options = {}) {
  std::istringstream in(text);
  return read_conll(in, "<test>", options);
}

std::string data_path(const std::string& name) {
  return lstmner_test::test_data("conll/" + name).string();
}

/// The exact message read_conll throws for a file, or "" when it does not throw.
std::string error_of(const std::string& name, const ConllReadOptions& options = {}) {
  try {
    read_conll(data_path(name), options);
  } catch (const ConllError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("read_conll: CRLF, BOM, trailing blanks, blank-line runs, no final newline, UTF-8") {
  const ConllDocument doc = read_conll(data_path("messy.txt"));
  REQUIRE(doc.source == data_path("messy.txt"));
  REQUIRE(doc.documents == 2);
  REQUIRE(doc.sentences.size() == 3);
  REQUIRE(doc.tokens() == 9);
  REQUIRE(doc.scheme == TagScheme::IOB1);
  REQUIRE(doc.scheme_detected);

  const Sentence& first = doc.sentences[0];
  REQUIRE(first.words == Tags{"EU", "rejects", "German"});
  REQUIRE(first.tags == Tags{"I-ORG", "O", "I-MISC"});
  REQUIRE(first.columns[1] == Tags{"rejects", "VBZ", "I-VP", "O"});
  REQUIRE(first.first_line == 3);
  REQUIRE(first.starts_document);
  REQUIRE(first.docstart_line == "-DOCSTART- -X- -X- O");  // BOM and CR removed

  const Sentence& second = doc.sentences[1];
  REQUIRE(second.words == Tags{"Z\xc3\xbcrich", "\xe2\x80\x9c"});  // bytes passed through
  REQUIRE(second.first_line == 9);
  REQUIRE_FALSE(second.starts_document);

  const Sentence& third = doc.sentences[2];  // the -DOCSTART- line ended the sentence before
  REQUIRE(third.starts_document);
  REQUIRE(third.first_line == 13);
  REQUIRE(third.tags == Tags{"I-PER", "I-PER", "O", "B-PER"});  // last line had no newline
}

TEST_CASE("read_conll: chosen columns, tab-separated fields with spaces, unlabelled input") {
  ConllReadOptions tabs;
  tabs.delimiter = ConllDelimiter::Tab;
  const ConllDocument doc = read_conll(data_path("tabs.txt"), tabs);
  REQUIRE(doc.sentences.size() == 2);
  REQUIRE(doc.sentences[0].words == Tags{"Peter", "van der Berg", "spoke"});
  REQUIRE(doc.scheme == TagScheme::IOB2);

  ConllReadOptions pos;
  pos.word_column = 0;
  pos.tag_column = 1;  // the POS column as "tags": not entity tags, so reject them
  REQUIRE_THROWS_WITH(read_string("EU NNP I-ORG\n", pos),
                      "lstmner: read_conll: <test>:1: tag 'NNP' is not O or B/I/E/S-TYPE");
  ConllReadOptions chunk;
  chunk.tag_column = -2;
  chunk.word_column = -4;
  const ConllDocument chunks = read_string("EU NNP I-NP I-ORG\nrejects VBZ I-VP O\n", chunk);
  REQUIRE(chunks.sentences[0].tags == Tags{"I-NP", "I-VP"});
  REQUIRE(chunks.sentences[0].words == Tags{"EU", "rejects"});

  ConllReadOptions unlabelled;
  unlabelled.tag_column = std::nullopt;
  const ConllDocument raw = read_string("EU\nrejects\n\n\nGerman\n", unlabelled);
  REQUIRE(raw.sentences.size() == 2);
  REQUIRE(raw.sentences[0].tags.empty());
  REQUIRE(raw.sentences[1].words == Tags{"German"});
}

TEST_CASE("read_conll: every malformed file gets its exact message with file and line") {
  const std::string p = "lstmner: read_conll: ";
  REQUIRE(error_of("bad_columns.txt") ==
          p + data_path("bad_columns.txt") +
              ":2: 3 fields, but the sentence starting at line 1 has 4");
  REQUIRE(error_of("bad_tag.txt") ==
          p + data_path("bad_tag.txt") + ":3: tag 'X-ORG' is not O or B/I/E/S-TYPE");
  ConllReadOptions iob2;
  iob2.scheme = TagScheme::IOB2;
  REQUIRE(error_of("bad_scheme.txt", iob2) ==
          p + data_path("bad_scheme.txt") + ":4: tag 'S-MISC' is not O or B/I-TYPE (scheme IOB2)");
  ConllReadOptions tabs;
  tabs.delimiter = ConllDelimiter::Tab;
  REQUIRE(error_of("bad_empty_tag.txt", tabs) ==
          p + data_path("bad_empty_tag.txt") + ":2: empty tag (field 2 of 2)");
  REQUIRE(error_of("bad_one_column.txt") ==
          p + data_path("bad_one_column.txt") +
              ":1: the word column and the tag column are the same field in a line of 1 field");
  REQUIRE(error_of("binary.txt") ==
          p + data_path("binary.txt") + ":2: NUL byte: this is a binary file, not CoNLL text");
  REQUIRE(error_of("does_not_exist.txt") == p + data_path("does_not_exist.txt") + ": no such file");
  REQUIRE_THROWS_WITH(read_conll(std::string()), p + ": no such file");
  REQUIRE_THROWS_WITH(read_conll(lstmner_test::test_data("conll").string()),
                      Catch::EndsWith("conll: is a directory"));

  ConllReadOptions wide;
  wide.tag_column = 7;
  REQUIRE_THROWS_WITH(read_string("EU B-ORG\n", wide),
                      p + "<test>:1: no tag column 7 in a line of 2 fields");
  // The error carries the place as data too.
  try {
    read_conll(data_path("bad_tag.txt"));
    FAIL("no exception");
  } catch (const ConllError& e) {
    REQUIRE(e.line() == 3);
    REQUIRE(e.source() == data_path("bad_tag.txt"));
  }
}

TEST_CASE("read_conll: lenient mode drops and reports bad lines, strict mode stops at the first") {
  REQUIRE(error_of("lenient.txt") == "lstmner: read_conll: " + data_path("lenient.txt") +
                                         ":9: 3 fields, but the sentence " +
                                         "starting at line 8 has 4");
  ConllReadOptions lenient;
  lenient.lenient = true;
  const ConllDocument doc = read_conll(data_path("lenient.txt"), lenient);
  REQUIRE(doc.skipped_lines == 2);
  REQUIRE(doc.skipped ==
          Tags{data_path("lenient.txt") + ":9: 3 fields, but the sentence starting at line 8 has 4",
               data_path("lenient.txt") + ":10: tag 'X-LOC' is not O or B/I/E/S-TYPE"});
  REQUIRE(doc.sentences.size() == 2);
  REQUIRE(doc.sentences[1].words == Tags{"fine", "ok"});
  REQUIRE(doc.sentences[1].first_line == 8);
  REQUIRE(doc.sentences[1].starts_document);
}

TEST_CASE("write_conll appends the prediction column and round-trips through the reader") {
  const ConllDocument doc = read_conll(data_path("messy.txt"));
  std::vector<Tags> predicted = doc.tag_sequences();
  predicted[2][2] = "I-PER";  // "and": joins Peter Blackburn and Mary
  std::ostringstream out;
  write_conll(out, doc, predicted);
  const std::string expected =
      "-DOCSTART- -X- -X- O O\n\n"
      "EU NNP I-NP I-ORG I-ORG\nrejects VBZ I-VP O O\nGerman JJ I-NP I-MISC I-MISC\n\n"
      "Z\xc3\xbcrich NNP I-NP I-LOC I-LOC\n\xe2\x80\x9c \" O O O\n\n"
      "-DOCSTART- -X- -X- O O\n\n"
      "Peter NNP I-NP I-PER I-PER\nBlackburn NNP I-NP I-PER I-PER\nand CC O O I-PER\n"
      "Mary NNP I-NP B-PER B-PER\n\n";
  REQUIRE(out.str() == expected);

  // Reading the output back with the last column as tags gives the predictions.
  const ConllDocument back = read_string(out.str());
  REQUIRE(back.tag_sequences() == predicted);
  REQUIRE(back.documents == 2);

  // And it is conlleval input: the prediction file reader scores it. Gold: EU, German, Zurich,
  // Peter Blackburn, Mary. Predicted: the same, except that "Peter Blackburn and" is one PER.
  std::istringstream scored(out.str());
  const EvaluationReport report = read_prediction_file(scored, "written").conlleval.report();
  REQUIRE(report.tokens == 11);  // conlleval counts the two -DOCSTART- lines
  REQUIRE(report.gold_entities == 5);
  REQUIRE(report.predicted_entities == 5);
  REQUIRE(report.correct_entities == 4);
}

TEST_CASE("read_conll without columns keeps words and tags; write_conll writes those") {
  ConllReadOptions lean;
  lean.keep_columns = false;
  const ConllDocument doc = read_string("EU NNP I-ORG\nrejects VBZ O\n", lean);
  REQUIRE(doc.sentences[0].columns.empty());
  REQUIRE(doc.sentences[0].words == Tags{"EU", "rejects"});
  std::ostringstream out;
  write_conll(out, doc, {{"I-ORG", "I-ORG"}});
  REQUIRE(out.str() == "EU I-ORG I-ORG\nrejects O I-ORG\n\n");
}

TEST_CASE("write_conll without columns, and its argument checks") {
  Sentence s;
  s.words = {"Hello", "Paris"};
  std::ostringstream out;
  write_conll(out, std::vector<Sentence>{s}, {{"O", "B-LOC"}});
  REQUIRE(out.str() == "Hello O\nParis B-LOC\n\n");
  REQUIRE_THROWS_WITH(write_conll(out, std::vector<Sentence>{s}, {{"O"}}),
                      "lstmner: write_conll: sentence 0 has 2 tokens but 1 predicted tags");
  REQUIRE_THROWS_WITH(write_conll(out, std::vector<Sentence>{s}, {}),
                      "lstmner: write_conll: 1 sentences but 0 predicted tag sequences");
  s.words[1] = "New York";
  REQUIRE_THROWS_WITH(write_conll(out, std::vector<Sentence>{s}, {{"O", "B-LOC"}}),
                      Catch::Contains("field 'New York' is empty or contains the separator"));
  ConllWriteOptions tab;
  tab.separator = "\t";
  std::ostringstream tabbed;
  write_conll(tabbed, std::vector<Sentence>{s}, {{"O", "B-LOC"}}, tab);
  REQUIRE(tabbed.str() == "Hello\tO\nNew York\tB-LOC\n\n");
}

TEST_CASE("CoNLL-2003: exact sentence, token, document and entity counts", "[conll2003]") {
  const auto dir = lstmner_test::conll2003_dir(
      {"train.txt", "valid.txt", "test.txt", "iob2/train.txt", "iob2/valid.txt", "iob2/test.txt"});
  if (!dir) return;
  struct Split {
    const char* file;
    std::size_t documents, sentences, tokens;
  };
  for (const Split& split :
       {Split{"train.txt", 946, 14041, 203621}, Split{"valid.txt", 216, 3250, 51362},
        Split{"test.txt", 231, 3453, 46435}}) {
    INFO(split.file);
    const ConllDocument iob1 = read_conll((*dir / split.file).string());
    REQUIRE(iob1.documents == split.documents);
    REQUIRE(iob1.sentences.size() == split.sentences);
    REQUIRE(iob1.tokens() == split.tokens);
    REQUIRE(iob1.scheme == TagScheme::IOB1);
    REQUIRE(iob1.scheme_detected);

    // The IOB2 copy is the same text with IOB2 chunk and NER columns: converting ours gives it.
    const ConllDocument iob2 = read_conll((*dir / "iob2" / split.file).string());
    REQUIRE(iob2.scheme == TagScheme::IOB2);
    REQUIRE(iob2.sentences.size() == iob1.sentences.size());
    std::size_t not_canonical = 0;
    for (std::size_t s = 0; s < iob1.sentences.size(); ++s) {
      const Tags& tags = iob1.sentences[s].tags;
      REQUIRE(iob2.sentences[s].words == iob1.sentences[s].words);
      REQUIRE(convert_tags(tags, TagScheme::IOB1, TagScheme::IOB2) == iob2.sentences[s].tags);
      const Tags iobes = convert_tags(iob2.sentences[s].tags, TagScheme::IOB2, TagScheme::IOBES);
      const Tags back = convert_tags(iobes, TagScheme::IOBES, TagScheme::IOB1);
      for (std::size_t i = 0; i < tags.size(); ++i) not_canonical += back[i] != tags[i];
    }
    // Round trip IOB1 -> IOB2 -> IOBES -> IOB1 changes exactly the two B-MISC after O in train.
    REQUIRE(not_canonical == (std::string(split.file) == "train.txt" ? 2u : 0u));
  }

  const ConllDocument train = read_conll((*dir / "train.txt").string());
  std::map<std::string, std::size_t> entities;
  for (const Sentence& s : train.sentences)
    for (const Entity& e : extract_entities(s.tags)) ++entities[e.type];
  REQUIRE(entities == std::map<std::string, std::size_t>{
                          {"PER", 6600}, {"LOC", 7140}, {"ORG", 6321}, {"MISC", 3438}});
}
