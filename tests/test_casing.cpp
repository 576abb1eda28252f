#include <lstmner/casing.hpp>

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

using namespace lstmner;

namespace {
std::string name_of(const std::string& word) {
  return casing_name(casing_class(word));
}
}  // namespace

TEST_CASE("each casing class with the words that define it") {
  REQUIRE(name_of("") == "padding");

  REQUIRE(name_of("1996") == "numeric");
  REQUIRE(name_of("0") == "numeric");

  REQUIRE(name_of("3.5") == "mostly_numeric");
  REQUIRE(name_of("1,000") == "mostly_numeric");
  REQUIRE(name_of("1996-08-22") == "mostly_numeric");
  REQUIRE(name_of("6-4") == "mostly_numeric");
  REQUIRE(name_of("+44") == "mostly_numeric");

  REQUIRE(name_of("F1") == "contains_digit");
  REQUIRE(name_of("2nd") == "contains_digit");
  REQUIRE(name_of("U2") == "contains_digit");  // exactly half is not "more than half"
  REQUIRE(name_of("1990s") == "mostly_numeric");

  REQUIRE(name_of("rejects") == "all_lower");
  REQUIRE(name_of("n't") == "all_lower");
  REQUIRE(name_of("o'clock") == "all_lower");

  REQUIRE(name_of("EU") == "all_upper");
  REQUIRE(name_of("U.S.") == "all_upper");
  REQUIRE(name_of("'S") == "all_upper");
  REQUIRE(name_of("A") == "all_upper");

  REQUIRE(name_of("Peter") == "initial_upper");
  REQUIRE(name_of("Mr.") == "initial_upper");
  REQUIRE(name_of("Zürich") == "initial_upper");
  REQUIRE(name_of("One-day") == "initial_upper");

  REQUIRE(name_of("McDonald") == "mixed");
  REQUIRE(name_of("iPhone") == "mixed");
  REQUIRE(name_of("O'Brien") == "mixed");

  REQUIRE(name_of(",") == "other");
  REQUIRE(name_of("--") == "other");
  REQUIRE(name_of("$") == "other");
  REQUIRE(name_of("東京") == "other");
  REQUIRE(name_of("É") == "other");  // a cased letter outside ASCII is not seen as one
}

TEST_CASE("the boundary between mostly_numeric and contains_digit is 'more than half'") {
  REQUIRE(casing_class("F16") == Casing::mostly_numeric);
  REQUIRE(casing_class("F1") == Casing::contains_digit);
  REQUIRE(casing_class("F1AB") == Casing::contains_digit);
}

TEST_CASE("characters are counted in code points, not bytes") {
  // "1é" is two characters (three bytes), one a digit: it must be classed like "1x".
  REQUIRE(casing_class("1é") == casing_class("1x"));
  REQUIRE(casing_class("12é") == Casing::mostly_numeric);
  REQUIRE(casing_class("1éé") == Casing::contains_digit);
}

TEST_CASE("ids are dense, stable, and cover every class") {
  const std::vector<std::string> words = {"", "1", "1.5", "a1", "ab", "AB", "Ab", "aB", ","};
  const auto ids = casing_ids(words);
  REQUIRE(ids == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  REQUIRE(num_casing_classes == 9);
  std::set<std::string> names;
  for (int i = 0; i < num_casing_classes; ++i) names.insert(casing_name(static_cast<Casing>(i)));
  REQUIRE(names.size() == static_cast<std::size_t>(num_casing_classes));
  REQUIRE(names.count("invalid") == 0);
}
