// The sample corpus in examples/data/sample: what the quick start trains on when CoNLL-2003 is
// not there. These checks keep it a fair, readable stand-in (see its README.md).

#include <lstmner/conll.hpp>
#include <lstmner/tokenizer.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

using namespace lstmner;

namespace {

ConllDocument read_sample(const std::string& split) {
  return read_conll(
      lstmner_test::test_data("../../examples/data/sample/" + split + ".txt").string());
}

/// Entities of an IOB1 sentence as (type, words joined by spaces).
std::vector<std::pair<std::string, std::string>> entities_of(const Sentence& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (std::size_t i = 0; i < s.size();) {
    if (s.tags[i] == "O") {
      ++i;
      continue;
    }
    const std::string type = s.tags[i].substr(2);
    std::string text = s.words[i];
    std::size_t j = i + 1;
    for (; j < s.size() && s.tags[j] == "I-" + type; ++j) text += " " + s.words[j];
    out.emplace_back(type, text);
    i = j;
  }
  return out;
}

}  // namespace

TEST_CASE("the sample corpus reads as IOB1 CoNLL with documents and all four entity types") {
  const std::vector<std::pair<std::string, std::size_t>> splits = {
      {"train", 400}, {"valid", 100}, {"test", 100}};
  for (const auto& [split, sentences] : splits) {
    INFO(split);
    const ConllDocument doc = read_sample(split);
    REQUIRE(doc.sentences.size() == sentences);
    REQUIRE(doc.documents >= 10);
    REQUIRE(doc.scheme == TagScheme::IOB1);
    REQUIRE(doc.scheme_detected);
    std::set<std::string> types;
    for (const Sentence& s : doc.sentences) {
      REQUIRE(s.columns.front().size() == 4);
      for (const auto& [type, text] : entities_of(s)) types.insert(type);
    }
    REQUIRE(types == std::set<std::string>{"LOC", "MISC", "ORG", "PER"});
  }
}

TEST_CASE("many test entities hold words that training never shows") {
  std::set<std::string> train_words;
  for (const Sentence& s : read_sample("train").sentences) {
    train_words.insert(s.words.begin(), s.words.end());
  }
  std::size_t entities = 0, with_unseen_word = 0;
  for (const Sentence& s : read_sample("test").sentences) {
    for (const auto& [type, text] : entities_of(s)) {
      ++entities;
      bool unseen = false;
      for (const auto& w : tokenize_words(text)) unseen = unseen || train_words.count(w) == 0;
      with_unseen_word += unseen;
    }
  }
  INFO(with_unseen_word << " of " << entities);
  REQUIRE(entities >= 150);
  REQUIRE(with_unseen_word * 100 >= entities * 30);  // README: 125 of 212
  REQUIRE(with_unseen_word < entities);
}

TEST_CASE("every sample sentence, written as plain text, tokenizes back to its tokens") {
  for (const char* split : {"train", "valid", "test"}) {
    for (const Sentence& s : read_sample(split).sentences) {
      std::string line;
      for (const auto& w : s.words) line += (line.empty() ? "" : " ") + w;
      INFO(split << ": " << line);
      REQUIRE(tokenize_words(line) == s.words);
    }
  }
}
