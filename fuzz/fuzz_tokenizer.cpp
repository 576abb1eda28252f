// Fuzz target: the raw-text tokenizer (tokenizer.hpp). Input: one line of text, any bytes.
// Invariants: tokens are non-empty, in order, do not overlap, hold exactly the bytes of their
// offsets, contain no whitespace, and together cover every byte that is not whitespace; a
// multi-byte UTF-8 character is never split; tokenize_words gives the same texts.

#include <lstmner/tokenizer.hpp>

#include "fuzz_support.hpp"

#include <string>
#include <string_view>
#include <vector>

using namespace lstmner;

namespace {

bool is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/// True when byte i of s is a continuation byte of a valid multi-byte UTF-8 character that
/// starts before it (so that a token boundary there would split the character).
bool inside_character(std::string_view s, std::size_t i) {
  for (std::size_t start = i; start > 0 && i - start < 3;) {
    --start;
    const std::size_t length = detail::tok_char_length(s, start);
    if (length > 1) return start + length > i;
    if ((static_cast<unsigned char>(s[start]) & 0xC0) != 0x80) return false;
  }
  return false;
}

}  // namespace

LSTMNER_FUZZ_TARGET(data, size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const std::vector<TextToken> tokens = tokenize(line);
  std::vector<bool> covered(line.size(), false);
  std::size_t previous_end = 0;
  for (const TextToken& t : tokens) {
    FUZZ_CHECK(t.begin < t.end && t.end <= line.size());
    FUZZ_CHECK(t.begin >= previous_end);
    FUZZ_CHECK(t.text == line.substr(t.begin, t.end - t.begin));
    FUZZ_CHECK(!inside_character(line, t.begin));
    FUZZ_CHECK(t.end == line.size() || !inside_character(line, t.end));
    for (std::size_t i = t.begin; i < t.end; ++i) {
      FUZZ_CHECK(!is_space(static_cast<unsigned char>(line[i])));
      covered[i] = true;
    }
    previous_end = t.end;
  }
  for (std::size_t i = 0; i < line.size(); ++i)
    FUZZ_CHECK(covered[i] || is_space(static_cast<unsigned char>(line[i])));
  const std::vector<std::string> words = tokenize_words(line);
  FUZZ_CHECK(words.size() == tokens.size());
  for (std::size_t i = 0; i < words.size(); ++i) FUZZ_CHECK(words[i] == tokens[i].text);
  return 0;
}
