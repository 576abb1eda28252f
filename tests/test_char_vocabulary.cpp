#include <lstmner/char_vocabulary.hpp>
#include <lstmner/random.hpp>
#include <lstmner/vocabulary.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

using namespace lstmner;

namespace {

/// A hand-written file body: min count, then (code point, count) pairs.
std::string char_vocabulary_bytes(
    std::uint64_t min_count, const std::vector<std::pair<std::uint32_t, std::uint64_t>>& entries,
    std::uint64_t declared) {
  BinaryWriter w;
  w.write_string("lstmner.CharVocabulary");
  w.write_u64(min_count);
  w.write_u64(declared);
  for (const auto& [c, n] : entries) {
    w.write_u32(c);
    w.write_u64(n);
  }
  return w.take();
}

std::string load_error(const std::string& bytes) {
  BinaryReader r(bytes, "chars.bin");
  try {
    CharVocabulary::load(r);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST_CASE("char vocabulary: reserved ids, then by descending count, ties by code point") {
  // "Zürich" x2, "zug" x1, "Ulm" x1: case kept, 'ü' one character.
  const std::map<std::string, std::size_t> words = {{"Zürich", 2}, {"zug", 1}, {"Ulm", 1}};
  const auto v = CharVocabulary::build_from_words(words, 1);
  // Counts: Z 2, ü 2, r 2, i 2, c 2, h 2, z 1, u 1, g 1, U 1, l 1, m 1.
  const std::vector<char32_t> expected = {U'Z', U'c', U'h', U'i', U'r', 0xFC,
                                          U'U', U'g', U'l', U'm', U'u', U'z'};
  REQUIRE(v.code_points() == expected);
  REQUIRE(v.size() == 14);
  REQUIRE(v.id(U'Z') == 2);
  REQUIRE(v.id(0xFC) == 7);
  REQUIRE(v.id(U'z') == 13);
  REQUIRE(v.id(U'Q') == CharVocabulary::unknown_id);
  REQUIRE_FALSE(v.find(U'Q').has_value());
  REQUIRE(v.count(2) == 2);
  REQUIRE(v.count(13) == 1);
  REQUIRE(v.count(CharVocabulary::pad_id) == 0);
  REQUIRE(v.count(CharVocabulary::unknown_id) == 0);
  REQUIRE(v.code_point(7) == 0xFC);
  REQUIRE_THROWS_WITH(v.code_point(1), Catch::Contains("id 1 is not a character id"));
  REQUIRE_THROWS_WITH(v.code_point(14), Catch::Contains("id 14 is not a character id"));
  REQUIRE_THROWS_WITH(v.count(-1), Catch::Contains("id -1 is outside [0, 14)"));

  // Case is kept; a character outside 0..255 goes through the hash map.
  REQUIRE(v.encode("Zug") == std::vector<std::int32_t>{2, 12, 9});
  REQUIRE(v.encode("zü€") == std::vector<std::int32_t>{13, 7, CharVocabulary::unknown_id});
  REQUIRE(v.encode("").empty());

  // min_count leaves out the rarer characters; the same counts in another form give the same ids.
  const auto frequent = CharVocabulary::build_from_words(words, 2);
  REQUIRE(frequent.size() == 8);
  REQUIRE(frequent.id(U'z') == CharVocabulary::unknown_id);
  REQUIRE(frequent.min_count() == 2);
  const std::vector<std::vector<std::string>> sentences = {{"Zürich", "zug"}, {"Ulm", "Zürich"}};
  REQUIRE(CharVocabulary::build(CharVocabulary::count_chars(sentences), 1) == v);
  REQUIRE(CharVocabulary::build_from_words(count_tokens(sentences), 1) == v);

  const CharVocabulary empty;
  REQUIRE(empty.size() == 2);
  REQUIRE(empty.encode("ab") == std::vector<std::int32_t>{1, 1});
}

TEST_CASE("char vocabulary: ill-formed UTF-8 becomes U+FFFD, a character like any other") {
  // One U+FFFD per maximal subpart: "\xC3(" is U+FFFD '('; "\xE2\x82" one U+FFFD.
  const std::map<std::string, std::size_t> words = {{"a\xC3(", 3}, {"\xE2\x82", 1}};
  const auto v = CharVocabulary::build_from_words(words, 1);
  REQUIRE(v.count(v.id(replacement_character)) == 4);
  REQUIRE(v.encode("\xFF\xC3(") == std::vector<std::int32_t>{v.id(replacement_character),
                                                             v.id(replacement_character),
                                                             v.id(U'(')});
  // Without enough of it in training, ill-formed bytes are <unk>.
  const auto strict = CharVocabulary::build_from_words(words, 5);
  REQUIRE(strict.encode("\xFF") == std::vector<std::int32_t>{CharVocabulary::unknown_id});
  // Values that are not scalar values cannot be counted.
  const std::map<char32_t, std::size_t> bad = {{0xD800, 1}};
  REQUIRE_THROWS_WITH(CharVocabulary::build(bad), Catch::Contains("U+D800 is not a Unicode"));
  const std::map<char32_t, std::size_t> too_big = {{0x110000, 1}};
  REQUIRE_THROWS_WITH(CharVocabulary::build(too_big), Catch::Contains("U+110000 is not"));
}

TEST_CASE("char vocabulary: encode_batch makes the padded (W, L) batch and reuses its storage") {
  const std::map<std::string, std::size_t> words = {{"ab", 1}, {"ü", 1}};
  const auto v = CharVocabulary::build_from_words(words, 1);
  const std::vector<std::string> batch = {"ab", "x", "üab", "b"};
  Tensor2<std::int32_t> ids;
  SequenceLengths lengths;
  v.encode_batch(batch, ids, lengths);
  REQUIRE(lengths.lengths() == std::vector<Index>{2, 1, 3, 1});
  REQUIRE(ids.dim(0) == 4);
  REQUIRE(ids.dim(1) == 3);
  const std::int32_t a = v.id(U'a'), b = v.id(U'b'), u = v.id(0xFC), unk = 1, pad = 0;
  const std::vector<std::vector<std::int32_t>> expected = {
      {a, b, pad}, {unk, pad, pad}, {u, a, b}, {b, pad, pad}};
  for (Index w = 0; w < 4; ++w)
    for (Index l = 0; l < 3; ++l) {
      CAPTURE(w, l);
      REQUIRE(ids(w, l) == expected[static_cast<std::size_t>(w)][static_cast<std::size_t>(l)]);
    }
  // A smaller batch afterwards: the same storage, the right shape.
  const std::int32_t* storage = ids.data();
  const std::vector<std::string_view> small = {"ba"};
  v.encode_batch(small, ids, lengths);
  REQUIRE(ids.data() == storage);
  REQUIRE(ids.dim(0) == 1);
  REQUIRE(ids.dim(1) == 2);
  REQUIRE(ids(0, 0) == b);
  REQUIRE(ids(0, 1) == a);
  REQUIRE(lengths.lengths() == std::vector<Index>{2});

  const std::vector<std::string> with_empty = {"a", ""};
  REQUIRE_THROWS_WITH(v.encode_batch(with_empty, ids, lengths), Catch::Contains("word 1 is empty"));
  const std::vector<std::string> none;
  REQUIRE_THROWS_WITH(v.encode_batch(none, ids, lengths), Catch::Contains("no words given"));
}

TEST_CASE("char vocabulary: save and load round-trip; damaged data is rejected by field") {
  const std::map<std::string, std::size_t> words = {{"Zürich", 2}, {"日本", 3}, {"a", 1}};
  const auto v = CharVocabulary::build_from_words(words, 1);
  BinaryWriter out;
  v.save(out);
  out.write_u32(0xABCD);
  const std::string bytes = out.take();
  BinaryReader in(bytes, "chars.bin");
  const CharVocabulary loaded = CharVocabulary::load(in);
  REQUIRE(loaded == v);
  REQUIRE(loaded.encode("日本Zü") == v.encode("日本Zü"));
  REQUIRE(in.read_u32("after") == 0xABCD);

  for (std::size_t k = 0; k + 4 < bytes.size(); ++k) {
    const std::string prefix = bytes.substr(0, k);
    INFO("prefix of " << k << " bytes");
    REQUIRE_THAT(load_error(prefix),
                 Catch::Contains("truncated at byte") || Catch::Contains("bytes follow"));
  }

  SECTION("a count larger than the bytes could hold is rejected before allocating") {
    const std::string huge = char_vocabulary_bytes(1, {{'a', 1}}, std::uint64_t{1} << 60);
    REQUIRE_THAT(load_error(huge), Catch::Contains("declares 1152921504606846976 characters") &&
                                       Catch::Contains("only 12 bytes follow"));
  }
  SECTION("a surrogate and a value above U+10FFFF") {
    REQUIRE_THAT(load_error(char_vocabulary_bytes(1, {{0xDC00, 1}}, 1)),
                 Catch::Contains("entry 0: U+DC00 is not a Unicode scalar value"));
    REQUIRE_THAT(load_error(char_vocabulary_bytes(1, {{'a', 2}, {0x7FFFFFFF, 1}}, 2)),
                 Catch::Contains("entry 1: U+7FFFFFFF is not a Unicode scalar value"));
  }
  SECTION("a code point given twice") {
    REQUIRE_THAT(load_error(char_vocabulary_bytes(1, {{'a', 2}, {'b', 1}, {'a', 1}}, 3)),
                 Catch::Contains("entry 2: U+0061 appears twice"));
  }
  SECTION("a count of zero or below the min count") {
    REQUIRE_THAT(load_error(char_vocabulary_bytes(1, {{'a', 0}}, 1)),
                 Catch::Contains("U+0061 has count 0"));
    REQUIRE_THAT(load_error(char_vocabulary_bytes(3, {{'a', 5}, {'b', 2}}, 2)),
                 Catch::Contains("entry 1: U+0062 has count 2, below the min count 3"));
  }
  SECTION("entries out of build order") {
    REQUIRE_THAT(load_error(char_vocabulary_bytes(1, {{'a', 1}, {'b', 2}}, 2)),
                 Catch::Contains("entry 1: U+0062 (count 2) is out of order"));
    REQUIRE_THAT(load_error(char_vocabulary_bytes(1, {{'b', 2}, {'a', 2}}, 2)),
                 Catch::Contains("out of order"));
  }
  SECTION("the error names the file and the byte") {
    REQUIRE(load_error(char_vocabulary_bytes(1, {{0xD800, 1}}, 1)) ==
            "model file 'chars.bin', byte 46: char vocabulary entry 0: U+D800 is not a Unicode "
            "scalar value");
  }
  SECTION("something else where a character vocabulary should be") {
    BinaryWriter w;
    w.write_string("lstmner.Vocabulary");
    REQUIRE(load_error(w.take()) ==
            "model file 'chars.bin', byte 0: expected a character vocabulary, found "
            "'lstmner.Vocabulary'");
  }
}

TEST_CASE("char vocabulary: random bytes never crash the loader") {
  const std::map<std::string, std::size_t> words = {{"Zürich", 2}, {"日本", 3}, {"a", 1}};
  BinaryWriter out;
  CharVocabulary::build_from_words(words, 1).save(out);
  const std::string bytes = out.take();
  Rng rng(5);
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string damaged = bytes;
    const int flips = 1 + static_cast<int>(rng.below(4));
    for (int f = 0; f < flips; ++f)
      damaged[rng.below(damaged.size())] = static_cast<char>(rng.below(256));
    const std::string result = load_error(damaged);
    if (result != "(loaded)") {
      ++rejected;
      REQUIRE_THAT(result, Catch::StartsWith("model file 'chars.bin'"));
    }
  }
  REQUIRE(rejected > 0);
}
