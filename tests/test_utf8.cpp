#include <lstmner/utf8.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <unordered_set>
#include <vector>

using namespace lstmner;

namespace {

constexpr char32_t R = replacement_character;

std::string bytes(std::initializer_list<unsigned> list) {
  std::string out;
  for (unsigned b : list) out.push_back(static_cast<char>(b));
  return out;
}

/// A key for a byte string of up to 4 bytes: its length and its bytes.
std::uint64_t key(const std::string& s, std::size_t pos, std::size_t n) {
  std::uint64_t k = n;
  for (std::size_t i = 0; i < n; ++i) k = (k << 8) | static_cast<unsigned char>(s[pos + i]);
  return k;
}

/// The set of every proper and complete prefix of the shortest-form UTF-8 encoding of every
/// Unicode scalar value, built from the encoding rules alone (bit shifts, not the decoder).
const std::unordered_set<std::uint64_t>& well_formed_prefixes() {
  static const std::unordered_set<std::uint64_t> prefixes = [] {
    std::unordered_set<std::uint64_t> set;
    set.reserve(1 << 21);
    for (char32_t c = 0; c <= 0x10FFFF; ++c) {
      if (c >= 0xD800 && c <= 0xDFFF) continue;
      std::string e;
      if (c < 0x80) {
        e = bytes({static_cast<unsigned>(c)});
      } else if (c < 0x800) {
        e = bytes({0xC0 | (c >> 6), 0x80 | (c & 0x3F)});
      } else if (c < 0x10000) {
        e = bytes({0xE0 | (c >> 12), 0x80 | ((c >> 6) & 0x3F), 0x80 | (c & 0x3F)});
      } else {
        e = bytes({0xF0 | (c >> 18), 0x80 | ((c >> 12) & 0x3F), 0x80 | ((c >> 6) & 0x3F),
                   0x80 | (c & 0x3F)});
      }
      for (std::size_t n = 1; n <= e.size(); ++n) set.insert(key(e, 0, n));
    }
    return set;
  }();
  return prefixes;
}

/// Complete sequences: a prefix whose lead byte says it is complete.
bool complete(const std::string& s) {
  const auto lead = static_cast<unsigned char>(s[0]);
  const std::size_t expected = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  return s.size() == expected;
}

/// Reference decoder straight from the definition of a maximal subpart: the longest prefix of the
/// rest that is a prefix of some well-formed sequence (at least one byte).
std::u32string reference_decode(const std::string& s) {
  const auto& prefixes = well_formed_prefixes();
  std::u32string out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    std::size_t longest = 0;
    for (std::size_t n = 1; n <= 4 && pos + n <= s.size(); ++n) {
      if (prefixes.count(key(s, pos, n))) longest = n;
    }
    if (longest > 0 && complete(s.substr(pos, longest))) {
      // The scalar value, from the bits.
      const std::string seq = s.substr(pos, longest);
      const auto lead = static_cast<unsigned char>(seq[0]);
      char32_t value = longest == 1   ? lead
                       : longest == 2 ? lead & 0x1Fu
                       : longest == 3 ? lead & 0x0Fu
                                      : lead & 0x07u;
      for (std::size_t i = 1; i < longest; ++i)
        value = (value << 6) | (static_cast<unsigned char>(seq[i]) & 0x3Fu);
      out.push_back(value);
    } else {
      out.push_back(R);
    }
    pos += std::max<std::size_t>(longest, 1);
  }
  return out;
}

}  // namespace

TEST_CASE("utf8: well-formed text decodes to its code points and back") {
  const std::string text = "a\xC3\xBC\xE2\x82\xAC\xF0\x9F\x98\x80z";  // a ü € 😀 z
  REQUIRE(decode_utf8(text) == std::u32string{U'a', 0xFC, 0x20AC, 0x1F600, U'z'});
  REQUIRE(encode_utf8(decode_utf8(text)) == text);
  REQUIRE(is_valid_utf8(text));
  REQUIRE(utf8_code_point_count(text) == 5);
  REQUIRE(decode_utf8("").empty());
  REQUIRE(is_valid_utf8(""));
  // The boundaries of every row of table 3-7.
  const std::vector<std::pair<std::string, char32_t>> edges = {
      {bytes({0x00}), 0x0},
      {bytes({0x7F}), 0x7F},
      {bytes({0xC2, 0x80}), 0x80},
      {bytes({0xDF, 0xBF}), 0x7FF},
      {bytes({0xE0, 0xA0, 0x80}), 0x800},
      {bytes({0xE1, 0x80, 0x80}), 0x1000},
      {bytes({0xED, 0x9F, 0xBF}), 0xD7FF},
      {bytes({0xEE, 0x80, 0x80}), 0xE000},
      {bytes({0xEF, 0xBF, 0xBD}), 0xFFFD},  // a real U+FFFD in the input
      {bytes({0xEF, 0xBF, 0xBF}), 0xFFFF},
      {bytes({0xF0, 0x90, 0x80, 0x80}), 0x10000},
      {bytes({0xF1, 0x80, 0x80, 0x80}), 0x40000},
      {bytes({0xF4, 0x8F, 0xBF, 0xBF}), 0x10FFFF},
  };
  for (const auto& [encoded, code_point] : edges) {
    CAPTURE(static_cast<std::uint32_t>(code_point));
    const Utf8Step step = decode_utf8_step(encoded, 0);
    REQUIRE(step.valid);
    REQUIRE(step.code_point == code_point);
    REQUIRE(step.length == encoded.size());
    REQUIRE(encode_utf8(code_point) == encoded);
  }
}

TEST_CASE("utf8: every kind of malformation is one U+FFFD per maximal subpart") {
  struct Case {
    const char* what;
    std::string input;
    std::u32string expected;
  };
  const std::vector<Case> cases = {
      {"stray continuation byte", bytes({0x80}), {R}},
      {"two stray continuation bytes", bytes({0x41, 0x80, 0xBF, 0x42}), {U'A', R, R, U'B'}},
      {"lead byte never used (C0)", bytes({0xC0}), {R}},
      {"overlong 2-byte '/'", bytes({0xC0, 0xAF}), {R, R}},
      {"overlong 2-byte (C1)", bytes({0xC1, 0xBF}), {R, R}},
      {"overlong 3-byte", bytes({0xE0, 0x80, 0xAF}), {R, R, R}},
      {"overlong 4-byte", bytes({0xF0, 0x80, 0x80, 0xAF}), {R, R, R, R}},
      {"surrogate D800", bytes({0xED, 0xA0, 0x80}), {R, R, R}},
      {"surrogate DFFF", bytes({0xED, 0xBF, 0xBF}), {R, R, R}},
      {"surrogate pair (CESU-8)", bytes({0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80}), {R, R, R, R, R, R}},
      {"above U+10FFFF (F4 90)", bytes({0xF4, 0x90, 0x80, 0x80}), {R, R, R, R}},
      {"F5 lead", bytes({0xF5, 0x80, 0x80, 0x80}), {R, R, R, R}},
      {"FE and FF", bytes({0xFE, 0xFF}), {R, R}},
      {"5-byte form", bytes({0xF8, 0x88, 0x80, 0x80, 0x80}), {R, R, R, R, R}},
      {"truncated 2-byte at the end", bytes({0x61, 0xC3}), {U'a', R}},
      {"truncated 3-byte at the end", bytes({0xE2, 0x82}), {R}},
      {"truncated 4-byte at the end", bytes({0xF0, 0x9F, 0x98}), {R}},
      {"truncated 3-byte before ASCII", bytes({0xE2, 0x82, 0x28}), {R, U'('}},
      {"truncated 2-byte before a lead", bytes({0xC3, 0xC3, 0xBC}), {R, 0xFC}},
      {"truncated 4-byte before a 4-byte",
       bytes({0xF0, 0x9F, 0xF0, 0x9F, 0x98, 0x80}),
       {R, 0x1F600}},
      {"lead then a continuation out of its range", bytes({0xE0, 0x9F, 0x80}), {R, R, R}},
      // The example of the Unicode Standard, chapter 3 (table 3-8).
      {"the standard's example",
       bytes({0x61, 0xF1, 0x80, 0x80, 0xE1, 0x80, 0xC2, 0x62, 0x80, 0x63, 0x80, 0xBF, 0x64}),
       {U'a', R, R, R, U'b', R, U'c', R, R, U'd'}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    REQUIRE(decode_utf8(c.input) == c.expected);
    REQUIRE(decode_utf8(c.input) == reference_decode(c.input));
    REQUIRE_FALSE(is_valid_utf8(c.input));
    // Re-encoding gives well-formed UTF-8 that decodes to the same code points.
    const std::string repaired = encode_utf8(decode_utf8(c.input));
    REQUIRE(is_valid_utf8(repaired));
    REQUIRE(decode_utf8(repaired) == c.expected);
  }
  // The step decoder tells a replacement from a real U+FFFD.
  REQUIRE_FALSE(decode_utf8_step(bytes({0xC0}), 0).valid);
  REQUIRE(decode_utf8_step(bytes({0xEF, 0xBF, 0xBD}), 0).valid);
  REQUIRE(decode_utf8_step("", 0).length == 0);
  REQUIRE(decode_utf8_step("a", 5).length == 0);
}

TEST_CASE("utf8: the decoder agrees with the definition on every short byte string") {
  // Every 1- and 2-byte string, and every 3-, 4- and 5-byte string over the bytes where the rules
  // change (the ends of each range of table 3-7 and the bytes just outside them).
  for (unsigned a = 0; a < 256; ++a) {
    const std::string one = bytes({a});
    REQUIRE(decode_utf8(one) == reference_decode(one));
    for (unsigned b = 0; b < 256; ++b) {
      const std::string two = bytes({a, b});
      const std::u32string decoded = decode_utf8(two);
      if (decoded != reference_decode(two)) FAIL("bytes " << a << " " << b);
    }
  }
  const std::vector<unsigned> edges = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                       0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE,
                                       0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  std::size_t checked = 0, valid = 0;
  for (unsigned a : edges)
    for (unsigned b : edges)
      for (unsigned c : edges)
        for (unsigned d : edges) {
          for (const std::string& s : {bytes({a, b, c}), bytes({a, b, c, d}),
                                       bytes({a, b, c, d, 0x80}), bytes({a, b, c, d, 0xE1})}) {
            const std::u32string decoded = decode_utf8(s);
            if (decoded != reference_decode(s)) FAIL("bytes " << a << " " << b << " " << c);
            // Valid iff nothing was replaced; then encoding gives the input back.
            bool replaced = false;
            for (std::size_t pos = 0; pos < s.size();) {
              const Utf8Step step = decode_utf8_step(s, pos);
              replaced |= !step.valid;
              pos += step.length;
            }
            if (is_valid_utf8(s) == replaced) FAIL("validity of " << a << " " << b << " " << c);
            if (!replaced) {
              ++valid;
              if (encode_utf8(decoded) != s) FAIL("round trip " << a << " " << b << " " << c);
            }
            ++checked;
          }
        }
  REQUIRE(checked == 4 * edges.size() * edges.size() * edges.size() * edges.size());
  REQUIRE(valid > 0);
}

TEST_CASE("utf8: every scalar value round-trips; other values encode as U+FFFD") {
  for (char32_t c = 0; c <= 0x10FFFF; ++c) {
    const std::string e = encode_utf8(c);
    if (!is_unicode_scalar_value(c)) {
      if (e != "\xEF\xBF\xBD") FAIL("surrogate " << static_cast<std::uint32_t>(c));
      continue;
    }
    const Utf8Step step = decode_utf8_step(e, 0);
    if (!step.valid || step.code_point != c || step.length != e.size())
      FAIL("code point " << static_cast<std::uint32_t>(c));
  }
  REQUIRE(encode_utf8(char32_t{0x110000}) == "\xEF\xBF\xBD");
  REQUIRE(encode_utf8(char32_t{0xFFFFFFFF}) == "\xEF\xBF\xBD");
  REQUIRE(encode_utf8(std::u32string{U'a', 0xD800, U'b'}) ==
          "a\xEF\xBF\xBD"
          "b");
  REQUIRE_FALSE(is_unicode_scalar_value(0xD800));
  REQUIRE_FALSE(is_unicode_scalar_value(0xDFFF));
  REQUIRE(is_unicode_scalar_value(0xD7FF));
  REQUIRE(is_unicode_scalar_value(0xE000));
}
