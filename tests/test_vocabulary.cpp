#include <lstmner/vocabulary.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

using namespace lstmner;

TEST_CASE("word normalisation folds ASCII case and digits and leaves UTF-8 alone") {
  const WordNormalization none;
  const WordNormalization lower{true, false};
  const WordNormalization digits{false, true};
  const WordNormalization both{true, true};
  REQUIRE(none.apply("U.S.-1996") == "U.S.-1996");
  REQUIRE(lower.apply("U.S.-1996") == "u.s.-1996");
  REQUIRE(digits.apply("U.S.-1996") == "U.S.-0000");
  REQUIRE(both.apply("Zürich-3,5") == "zürich-0,0");
  // Multi-byte characters are not letters to the folding: "É" (C3 89) stays as it is.
  REQUIRE(both.apply("ÉCOLE") == "École");
  REQUIRE(both.apply(both.apply("MiXeD42")) == both.apply("MiXeD42"));  // idempotent
}

TEST_CASE("ids: reserved first, then by descending count, ties by string") {
  const std::map<std::string, std::size_t> counts = {{"the", 5}, {"cat", 2}, {"bat", 2},
                                                     {"sat", 1}, {"on", 3},  {"mat", 1}};
  const auto v = Vocabulary::build(counts, 1, {"<pad>", "<unk>"});
  REQUIRE(v.words() ==
          std::vector<std::string>{"<pad>", "<unk>", "the", "on", "bat", "cat", "mat", "sat"});
  REQUIRE(v.size() == 8);
  REQUIRE(v.id("<pad>") == 0);
  REQUIRE(v.unknown_id() == 1);
  REQUIRE(v.id("the") == 2);
  REQUIRE(v.id("bat") == 4);
  REQUIRE(v.id("cat") == 5);
  REQUIRE(v.word(3) == "on");
  REQUIRE(v.count(2) == 5);
  REQUIRE(v.count(0) == 0);
  REQUIRE(v.id("dog") == 1);
  REQUIRE_FALSE(v.find("dog").has_value());
  REQUIRE(v.contains("mat"));
  REQUIRE(v.ids({"the", "dog", "sat"}) == std::vector<std::int32_t>{2, 1, 7});
  REQUIRE_THROWS_WITH(v.word(8), Catch::Contains("Vocabulary: id 8 is outside [0, 8)"));
  REQUIRE_THROWS_WITH(v.word(-1), Catch::Contains("id -1 is outside"));
}

TEST_CASE("the same counts give the same ids whatever order they were counted in") {
  std::vector<std::vector<std::string>> a = {{"b", "a", "c", "a"}, {"d", "c", "b", "e"}};
  std::vector<std::vector<std::string>> b = {{"e", "b", "c"}, {"a", "d"}, {"a", "c", "b"}};
  const auto va = Vocabulary::build(count_tokens(a), 1, {"<unk>"});
  const auto vb = Vocabulary::build(count_tokens(b), 1, {"<unk>"});
  REQUIRE(va == vb);
  std::unordered_map<std::string, std::size_t> hashed = {
      {"e", 1}, {"a", 2}, {"d", 1}, {"c", 2}, {"b", 2}};
  REQUIRE(Vocabulary::build(hashed, 1, {"<unk>"}) == va);
  REQUIRE(va.words() == std::vector<std::string>{"<unk>", "a", "b", "c", "d", "e"});
}

TEST_CASE("min count sends rare words to the unknown entry") {
  const std::map<std::string, std::size_t> counts = {{"often", 10}, {"twice", 2}, {"once", 1}};
  const auto v = Vocabulary::build(counts, 2, {"<pad>", "<unk>"});
  REQUIRE(v.size() == 4);
  REQUIRE(v.id("often") == 2);
  REQUIRE(v.id("twice") == 3);
  REQUIRE(v.id("once") == v.unknown_id());
  REQUIRE(Vocabulary::build(counts, 11, {"<unk>"}).size() == 1);
}

TEST_CASE("normalisation is applied when building and when looking up") {
  const WordNormalization norm{true, true};
  const std::map<std::string, std::size_t> counts = {
      {"Paris", 2}, {"PARIS", 1}, {"1996", 1}, {"2013", 2}, {"<UNK>", 4}};
  const auto v = Vocabulary::build(counts, 1, {"<pad>", "<UNK>"}, norm, "<UNK>");
  // "Paris" and "PARIS" merge into "paris" (3), "1996" and "2013" into "0000" (3); the reserved
  // "<UNK>" is stored as given, and "<unk>" from the data (normalised) is a word of its own.
  REQUIRE(v.words() == std::vector<std::string>{"<pad>", "<UNK>", "<unk>", "0000", "paris"});
  REQUIRE(v.id("pArIs") == v.id("Paris"));
  REQUIRE(v.id("1871") == 3);
  REQUIRE(v.count(4) == 3);
  REQUIRE(v.id("London") == 1);
  REQUIRE(v.normalization() == norm);
}

TEST_CASE("a counted word equal to a reserved entry takes the reserved id") {
  const std::map<std::string, std::size_t> counts = {{"<pad>", 3}, {"x", 1}};
  const auto v = Vocabulary::build(counts, 1, {"<pad>", "<unk>"});
  REQUIRE(v.size() == 3);
  REQUIRE(v.id("<pad>") == 0);
  REQUIRE(v.count(0) == 3);
  REQUIRE_THROWS_WITH(Vocabulary::build(counts, 1, {"<pad>", "<pad>"}),
                      Catch::Contains("reserved entry '<pad>' is given twice"));
}

TEST_CASE("a tag vocabulary has no unknown entry: unknown tags throw") {
  const std::map<std::string, std::size_t> tags = {{"O", 100}, {"B-PER", 7}, {"I-PER", 3}};
  const auto v = Vocabulary::build(tags, 1, {}, {}, "");
  REQUIRE_FALSE(v.has_unknown());
  REQUIRE(v.id("O") == 0);
  REQUIRE(v.id("B-PER") == 1);
  REQUIRE_THROWS_WITH(v.id("B-FOO"),
                      "lstmner: Vocabulary: 'B-FOO' is not in the vocabulary, which has no "
                      "unknown entry");
  REQUIRE_THROWS_AS(v.unknown_id(), std::logic_error);
  // Without "<unk>" among the reserved entries, the default unknown name finds nothing either.
  REQUIRE_FALSE(Vocabulary::build(tags, 1, {"<pad>"}).has_unknown());
  REQUIRE(Vocabulary().empty());
}

TEST_CASE("save and load give the same vocabulary; damaged data is rejected by field") {
  const WordNormalization norm{true, false};
  const std::map<std::string, std::size_t> counts = {{"Zürich", 4}, {"bern", 4}, {"GENF", 1}};
  const auto v = Vocabulary::build(counts, 1, {"<pad>", "<unk>"}, norm);
  BinaryWriter out;
  v.save(out);
  out.write_u32(0xABCD);  // something after it, read by the caller
  const std::string bytes = out.take();

  BinaryReader in(bytes, "vocab.bin");
  const Vocabulary loaded = Vocabulary::load(in);
  REQUIRE(loaded == v);
  REQUIRE(loaded.id("ZÜRICH") == v.id("ZÜRICH"));  // Ü is not folded: unknown in both
  REQUIRE(loaded.id("zürich") == 3);
  REQUIRE(in.read_u32("after") == 0xABCD);

  // Every truncation is reported, never a crash.
  for (std::size_t k = 0; k + 4 < bytes.size(); ++k) {
    const std::string prefix = bytes.substr(0, k);
    BinaryReader cut(prefix, "vocab.bin");
    INFO("prefix of " << k << " bytes");
    REQUIRE_THROWS_WITH(Vocabulary::load(cut), Catch::Contains("truncated at byte"));
  }

  SECTION("an unknown id outside the vocabulary") {
    std::string bad = bytes;
    const std::size_t unknown_at = bytes.size() - 4 - 4;
    bad[unknown_at] = 9;
    BinaryReader r(bad, "vocab.bin");
    REQUIRE_THROWS_WITH(Vocabulary::load(r),
                        Catch::Contains("unknown id 9 outside the vocabulary of 5 entries"));
  }
  SECTION("a duplicated entry") {
    BinaryWriter w;
    w.write_string("lstmner.Vocabulary");
    w.write_bool(false);
    w.write_bool(false);
    w.write_strings({"a", "b", "a"});
    w.write_u64(3);
    for (int i = 0; i < 3; ++i) w.write_u64(1);
    w.write_i32(-1);
    const std::string dup = w.take();
    BinaryReader r(dup, "vocab.bin");
    REQUIRE_THROWS_WITH(Vocabulary::load(r), Catch::Contains("entry 'a' appears twice"));
  }
  SECTION("something else where a vocabulary should be") {
    BinaryWriter w;
    w.write_string("lstmner.Config");
    const std::string other = w.take();
    BinaryReader r(other, "vocab.bin");
    REQUIRE_THROWS_WITH(Vocabulary::load(r),
                        "model file 'vocab.bin', byte 0: expected a vocabulary, found "
                        "'lstmner.Config'");
  }
}
