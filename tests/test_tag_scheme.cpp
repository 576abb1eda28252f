#include <lstmner/tag_scheme.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace lstmner;
using Tags = std::vector<std::string>;

TEST_CASE("tag scheme names parse and print") {
  REQUIRE(parse_tag_scheme("iob1") == TagScheme::IOB1);
  REQUIRE(parse_tag_scheme("IOB2") == TagScheme::IOB2);
  REQUIRE(parse_tag_scheme("bio") == TagScheme::IOB2);
  REQUIRE(parse_tag_scheme("IoBeS") == TagScheme::IOBES);
  REQUIRE(to_string(TagScheme::IOBES) == "IOBES");
  REQUIRE_THROWS_WITH(parse_tag_scheme("bilou"),
                      "lstmner: parse_tag_scheme: unknown tag scheme 'bilou' (expected iob1, "
                      "iob2, bio or iobes)");
}

TEST_CASE("tags are O or a scheme prefix, a hyphen and a non-empty type") {
  REQUIRE(split_tag("O")->prefix == 'O');
  REQUIRE(split_tag("B-ORG-X")->type == "ORG-X");  // split at the first hyphen
  REQUIRE_FALSE(split_tag("B-"));
  REQUIRE_FALSE(split_tag("PER"));
  REQUIRE_FALSE(split_tag("X-PER"));
  REQUIRE_FALSE(split_tag("b-PER"));
  REQUIRE(tag_problem("I-PER", TagScheme::IOB1).empty());
  REQUIRE(tag_problem("S-PER", std::nullopt).empty());
  REQUIRE(tag_problem("S-PER", TagScheme::IOB2) ==
          "tag 'S-PER' is not O or B/I-TYPE (scheme IOB2)");
  REQUIRE(tag_problem("X-PER", std::nullopt) == "tag 'X-PER' is not O or B/I/E/S-TYPE");
  REQUIRE(tag_problem("", TagScheme::IOBES) == "empty tag");
}

TEST_CASE("detect_scheme tells IOB1, IOB2 and IOBES apart") {
  // IOB1: an I- tag opens an entity (sentence start, after O, after another type).
  REQUIRE(detect_scheme({{"I-PER", "I-PER", "O"}}) == TagScheme::IOB1);
  REQUIRE(detect_scheme({{"B-PER", "I-PER"}, {"O", "I-LOC"}}) == TagScheme::IOB1);
  REQUIRE(detect_scheme({{"B-PER", "I-LOC"}}) == TagScheme::IOB1);
  // IOB2: every entity opens with B-.
  REQUIRE(detect_scheme({{"B-PER", "I-PER", "O", "B-LOC", "B-LOC"}}) == TagScheme::IOB2);
  // IOBES: E- or S- anywhere.
  REQUIRE(detect_scheme({{"O"}, {"S-PER"}}) == TagScheme::IOBES);
  REQUIRE(detect_scheme({{"B-PER", "E-PER"}}) == TagScheme::IOBES);
  // Nothing to tell from, or not a tag at all.
  REQUIRE_FALSE(detect_scheme({{"O", "O"}, {}}));
  REQUIRE_FALSE(detect_scheme({{"B-PER", "U-PER"}}));
}

TEST_CASE("decode_entities reads each scheme, hand-checked spans") {
  // IOB1: B- only separates two adjacent entities of the same type.
  REQUIRE(decode_entities({"I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG"}, TagScheme::IOB1) ==
          std::vector<Entity>{{"PER", 0, 2}, {"PER", 2, 3}, {"LOC", 4, 5}, {"ORG", 5, 6}});
  REQUIRE(decode_entities({"B-PER", "I-PER", "B-PER", "I-LOC"}, TagScheme::IOB2) ==
          std::vector<Entity>{{"PER", 0, 2}, {"PER", 2, 3}, {"LOC", 3, 4}});
  REQUIRE(
      decode_entities({"S-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "E-LOC"}, TagScheme::IOBES) ==
      std::vector<Entity>{{"PER", 0, 1}, {"PER", 1, 2}, {"LOC", 2, 5}, {"LOC", 5, 6}});
  REQUIRE(decode_entities({}, TagScheme::IOB2).empty());
  REQUIRE_THROWS_WITH(decode_entities({"O", "E-PER"}, TagScheme::IOB2),
                      "lstmner: decode_entities: position 1: tag 'E-PER' is not O or B/I-TYPE "
                      "(scheme IOB2)");
}

TEST_CASE("convert_tags between every pair of schemes, by hand") {
  const Tags iob1 = {"I-PER", "I-PER", "B-PER", "O", "I-LOC", "O", "I-ORG", "I-MISC", "I-MISC"};
  const Tags iob2 = {"B-PER", "I-PER", "B-PER", "O", "B-LOC", "O", "B-ORG", "B-MISC", "I-MISC"};
  const Tags iobes = {"B-PER", "E-PER", "S-PER", "O", "S-LOC", "O", "S-ORG", "B-MISC", "E-MISC"};
  const std::vector<std::pair<TagScheme, Tags>> all = {
      {TagScheme::IOB1, iob1}, {TagScheme::IOB2, iob2}, {TagScheme::IOBES, iobes}};
  for (const auto& [from, from_tags] : all)
    for (const auto& [to, to_tags] : all) {
      INFO(to_string(from) << " -> " << to_string(to));
      REQUIRE(convert_tags(from_tags, from, to) == to_tags);
    }
}

TEST_CASE("round trip IOB1 -> IOB2 -> IOBES -> IOB1 is the identity on well-formed IOB1") {
  const std::vector<Tags> cases = {
      {},
      {"O"},
      {"I-X"},
      {"I-X", "B-X", "B-X", "I-X"},
      {"I-A", "I-B", "I-A-B", "O", "I-A"},
      {"O", "I-PER", "I-PER", "I-PER", "O", "I-LOC", "B-LOC", "O"},
  };
  for (const Tags& tags : cases) {
    const Tags iob2 = convert_tags(tags, TagScheme::IOB1, TagScheme::IOB2);
    const Tags iobes = convert_tags(iob2, TagScheme::IOB2, TagScheme::IOBES);
    REQUIRE(convert_tags(iobes, TagScheme::IOBES, TagScheme::IOB1) == tags);
  }
  // A B- after O is not canonical IOB1 (CoNLL-2003 train has two); it decodes the same as I-.
  REQUIRE(convert_tags({"O", "B-MISC"}, TagScheme::IOB1, TagScheme::IOB2) == Tags{"O", "B-MISC"});
  REQUIRE(convert_tags({"O", "B-MISC"}, TagScheme::IOB1, TagScheme::IOB1) == Tags{"O", "I-MISC"});
}

TEST_CASE("ill-formed sequences are repaired the way conlleval reads them") {
  // I- after O opens an entity in IOB2 as well; E- without B- is a one-token entity.
  REQUIRE(convert_tags({"O", "I-PER", "I-PER"}, TagScheme::IOB2, TagScheme::IOBES) ==
          Tags{"O", "B-PER", "E-PER"});
  REQUIRE(convert_tags({"E-PER", "I-PER"}, TagScheme::IOBES, TagScheme::IOB2) ==
          Tags{"B-PER", "B-PER"});
  REQUIRE(convert_tags({"B-PER", "I-LOC"}, TagScheme::IOB2, TagScheme::IOB2) ==
          Tags{"B-PER", "B-LOC"});
}

TEST_CASE("encode_entities rejects spans it cannot write") {
  REQUIRE(encode_entities({{"PER", 1, 3}}, 4, TagScheme::IOBES) ==
          Tags{"O", "B-PER", "E-PER", "O"});
  REQUIRE_THROWS_WITH(encode_entities({{"PER", 0, 2}, {"LOC", 1, 3}}, 4, TagScheme::IOB2),
                      Catch::Contains("overlaps the previous one"));
  REQUIRE_THROWS_AS(encode_entities({{"PER", 2, 5}}, 4, TagScheme::IOB2), std::invalid_argument);
  REQUIRE_THROWS_AS(encode_entities({{"PER", 2, 2}}, 4, TagScheme::IOB2), std::invalid_argument);
}
