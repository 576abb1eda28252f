#include <lstmner/tokenizer.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace lstmner;
using Words = std::vector<std::string>;

namespace {

/// The tokens of `line` joined with '|', which reads well in a failure message.
std::string split(const std::string& line) {
  std::string out;
  for (const auto& w : tokenize_words(line)) out += (out.empty() ? "" : "|") + w;
  return out;
}

}  // namespace

TEST_CASE("tokenizer: whitespace and plain punctuation") {
  REQUIRE(tokenize("").empty());
  REQUIRE(tokenize(" \t \r\n").empty());
  REQUIRE(split("Rain fell in Lisbon on Tuesday.") == "Rain|fell|in|Lisbon|on|Tuesday|.");
  REQUIRE(split("  two\tspaces  ") == "two|spaces");
  REQUIRE(split("He came, saw; and left: quickly!") == "He|came|,|saw|;|and|left|:|quickly|!");
  REQUIRE(split("Why?") == "Why|?");
  REQUIRE(split("(Reuters) [note] {x}") == "(|Reuters|)|[|note|]|{|x|}");
  REQUIRE(split("\"We won,\" she said.") == "\"|We|won|,|\"|she|said|.");
  REQUIRE(split("50% of it") == "50|%|of|it");
  REQUIRE(split("dollar/yen") == "dollar|/|yen");
  REQUIRE(split("Smith & Wesson") == "Smith|&|Wesson");
  REQUIRE(split("Wait... what?!") == "Wait|...|what|?|!");
  REQUIRE(split("ten -- or more") == "ten|--|or|more");
  REQUIRE(split("word--word") == "word|--|word");
  REQUIRE(split("----- ** ===") == "-----|**|===");
}

TEST_CASE("tokenizer: clitics and apostrophes") {
  REQUIRE(split("Germany's plan") == "Germany|'s|plan");
  REQUIRE(split("THE COUNTY'S VOTE") == "THE|COUNTY|'S|VOTE");
  REQUIRE(split("I don't know") == "I|do|n't|know");
  REQUIRE(split("they can't, won't") == "they|ca|n't|,|wo|n't");
  REQUIRE(split("DIDN'T") == "DID|N'T");
  REQUIRE(split("we're sure you've seen we'll do it, I'm told he'd go") ==
          "we|'re|sure|you|'ve|seen|we|'ll|do|it|,|I|'m|told|he|'d|go");
  REQUIRE(split("the players' union") == "the|players|'|union");
  REQUIRE(split("since '96 or the 1990's") == "since|'|96|or|the|1990|'s");
  REQUIRE(split("O'Brien's goal") == "O'Brien|'s|goal");
  REQUIRE(split("d'Italia o'clock rock'n'roll gov't") == "d'Italia|o'clock|rock'n'roll|gov't");
  REQUIRE(split("'Mad' cows") == "'|Mad|'|cows");
  REQUIRE(split("already tokenised : Reuters 's reporter do n't") ==
          "already|tokenised|:|Reuters|'s|reporter|do|n't");
}

TEST_CASE("tokenizer: hyphens, dates and scores") {
  REQUIRE(split("a one-day match") == "a|one-day|match");
  REQUIRE(split("BRUSSELS 1996-08-22") == "BRUSSELS|1996-08-22");
  REQUIRE(split("won 6-4 7-6") == "won|6-4|7-6");
  REQUIRE(split("pro- and anti-war") == "pro-|and|anti-war");
  REQUIRE(split("U.S.-led forces") == "U.S.-led|forces");
  REQUIRE(split("fell -0.2 points") == "fell|-|0.2|points");
  REQUIRE(split("a - b") == "a|-|b");
}

TEST_CASE("tokenizer: numbers and money") {
  REQUIRE(split("1,000 people") == "1,000|people");
  REQUIRE(split("grew 3.5 percent") == "grew|3.5|percent");
  REQUIRE(split("1,234,567.89") == "1,234,567.89");
  REQUIRE(split("batting .500") == "batting|.500");
  REQUIRE(split("call +44 now") == "call|+44|now");
  REQUIRE(split("in 2:29.34") == "in|2:29.34");
  REQUIRE(split("1/2 and 1996/97") == "1/2|and|1996/97");
  REQUIRE(split("cost $1,000.") == "cost|$|1,000|.");
  REQUIRE(split("US$10 and C$ 5") == "US$|10|and|C$|5");
  REQUIRE(split("1,2,3 and a,b") == "1,2,3|and|a|,|b");
  REQUIRE(split("one, 2, three") == "one|,|2|,|three");
  REQUIRE(split("rated AA+ by S&P") == "rated|AA+|by|S&P");
}

TEST_CASE("tokenizer: periods, abbreviations and the end of the sentence") {
  REQUIRE(split("Mr. Smith met Dr. Jones") == "Mr.|Smith|met|Dr.|Jones");
  REQUIRE(split("Acme Inc. and Widget Corp. merged") == "Acme|Inc.|and|Widget|Corp.|merged");
  REQUIRE(split("the U.S. and U.N. said") == "the|U.S.|and|U.N.|said");
  REQUIRE(split("Rovers F.C. won at 9 a.m. today") == "Rovers|F.C.|won|at|9|a.m.|today");
  REQUIRE(split("J. R. Smith vs. Brown") == "J.|R.|Smith|vs.|Brown");
  REQUIRE(split("SAN JOSE, Calif. - Rain") == "SAN|JOSE|,|Calif.|-|Rain");
  REQUIRE(split("MR. BROWN") == "MR.|BROWN");
  // The last period of the line is split off, even after an abbreviation.
  REQUIRE(split("She lives in the U.S.") == "She|lives|in|the|U.S|.");
  REQUIRE(split("He joined Acme Inc.") == "He|joined|Acme|Inc|.");
  REQUIRE(split("He said \"go to the U.S.\"") == "He|said|\"|go|to|the|U.S|.|\"");
  // ... but a closing bracket keeps the abbreviation whole, as in CoNLL-2003.
  REQUIRE(split("Ann Lee ( U.S. )") == "Ann|Lee|(|U.S.|)");
  REQUIRE(split("the Iraq-U.N. deal") == "the|Iraq-U.N.|deal");
  // A period after an ordinary word inside the line ends a sentence.
  REQUIRE(split("It rained. Then it stopped.") == "It|rained|.|Then|it|stopped|.");
  REQUIRE(split("No. 1 seed") == "No|.|1|seed");
  REQUIRE(split("see example.com. Or") == "see|example.com|.|Or");
  // A number opening the line is a list item.
  REQUIRE(split("1. Anna Kowalska ( Poland ) 2:01.5") == "1.|Anna|Kowalska|(|Poland|)|2:01.5");
  REQUIRE(split("scored 1. Then") == "scored|1|.|Then");
  REQUIRE(split("U.S.") == "U.S|.");
  REQUIRE(split(".") == ".");
  REQUIRE(split("a.") == "a|.");
}

TEST_CASE("tokenizer: URLs and e-mail addresses stay whole") {
  REQUIRE(split("see http://example.org/a/b?c=1.") == "see|http://example.org/a/b?c=1|.");
  REQUIRE(split("(www.example.com)") == "(|www.example.com|)");
  REQUIRE(split("mail desk@example.com,") == "mail|desk@example.com|,");
}

TEST_CASE("tokenizer: UTF-8 passes through and is never split inside a character") {
  REQUIRE(split("Zürich and Kraków") == "Zürich|and|Kraków");
  REQUIRE(split("東京, 大阪") == "東京|,|大阪");
  REQUIRE(split("“Hello,” she said — twice…") == "“|Hello|,|”|she|said|—|twice|…");
  REQUIRE(split("I don’t know Kowalski’s") == "I|do|n’t|know|Kowalski|’s");
  REQUIRE(split("«Oui»") == "«|Oui|»");
  REQUIRE(split("naïve café-bar") == "naïve|café-bar");
}

TEST_CASE("tokenizer: byte offsets point back into the line") {
  const std::string line = "  Mr. Müller's firm (Zürich) earned $1,000.";
  const auto tokens = tokenize(line);
  REQUIRE(tokens.size() == 11);
  REQUIRE(tokens[0] == TextToken{"Mr.", 2, 5});
  REQUIRE(tokens[1] == TextToken{"Müller", 6, 13});  // ü is two bytes
  REQUIRE(tokens[2] == TextToken{"'s", 13, 15});
  REQUIRE(tokens[10] == TextToken{".", line.size() - 1, line.size()});
  for (const auto& t : tokens) REQUIRE(line.substr(t.begin, t.end - t.begin) == t.text);
}

TEST_CASE("tokenizer: random input never loses a byte or splits a character") {
  const std::vector<std::string> pieces = {
      "a", "Z", "7", " ", "\t", ".",    ",",  "'",       "\"",   "-",    "$",    "%",       "(",
      ")", "&", "@", "+", "/",  ":",    "*",  "=",       "é",    "東",   "’",    "“",       "—",
      "…", "😀", "s", "n", "t",  "U.S.", "Mr", "http://", "\xC3", "\x80", "\xFF", "\xE2\x80"};
  std::mt19937 rng(2024);
  std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> length(0, 30);
  for (int trial = 0; trial < 3000; ++trial) {
    std::string line;
    for (int i = length(rng); i > 0; --i) line += pieces[pick(rng)];
    const auto tokens = tokenize(line);
    INFO("line: " << line);
    std::size_t covered = 0;
    std::size_t previous_end = 0;
    for (const auto& t : tokens) {
      REQUIRE(t.begin < t.end);
      REQUIRE(t.begin >= previous_end);
      REQUIRE(line.substr(t.begin, t.end - t.begin) == t.text);
      for (std::size_t i = previous_end; i < t.begin; ++i) {
        REQUIRE(detail::tok_is_space(static_cast<unsigned char>(line[i])));  // only gaps
      }
      for (char ch : t.text) REQUIRE_FALSE(detail::tok_is_space(static_cast<unsigned char>(ch)));
      covered += t.end - t.begin;
      previous_end = t.end;
    }
    std::size_t non_space = 0;
    for (char ch : line) non_space += !detail::tok_is_space(static_cast<unsigned char>(ch));
    REQUIRE(covered == non_space);
    // No boundary falls inside a valid multi-byte character.
    for (std::size_t i = 0; i < line.size();) {
      const std::size_t n = detail::tok_char_length(line, i);
      for (const auto& t : tokens) {
        REQUIRE_FALSE((t.begin > i && t.begin < i + n));
        REQUIRE_FALSE((t.end > i && t.end < i + n));
      }
      i += n;
    }
  }
}

TEST_CASE("tokenizer: CoNLL-2003 sentences, joined by spaces, come back as the same tokens",
          "[conll2003]") {
  const auto dir = lstmner_test::conll2003_dir({"train.txt"});
  if (!dir) return;
  std::ifstream in(*dir / "train.txt");
  std::string line;
  Words words;
  std::size_t sentences = 0, identical = 0;
  auto finish = [&] {
    if (words.empty()) return;
    std::string joined;
    for (const auto& w : words) joined += (joined.empty() ? "" : " ") + w;
    ++sentences;
    identical += tokenize_words(joined) == words;
    words.clear();
  };
  while (std::getline(in, line)) {
    if (line.empty()) {
      finish();
      continue;
    }
    const std::string word = line.substr(0, line.find(' '));
    if (word != "-DOCSTART-") words.push_back(word);
  }
  finish();
  INFO(identical << " of " << sentences << " sentences");
  REQUIRE(sentences == 14041);
  // Measured 13995 (99.67%); the rest are table rows and wire codes ("10=", "Year*", "0#NKEL.RUO").
  REQUIRE(identical >= sentences * 995 / 1000);
}
