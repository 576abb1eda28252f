#pragma once
/// \file casing.hpp
/// The casing feature of Huang et al. (2015) and Chiu & Nichols (2016): each word falls into one
/// of a few classes that describe its capitalisation and digits. With words lowercased for the
/// vocabulary, this small embedding is what keeps "Apple" and "apple" apart.
///
/// Classes, tested in this order (the first that applies wins):
///
///   id  class            rule                                              examples
///   0   padding          the empty string; also the id of padded steps
///   1   numeric          only ASCII digits                                  1996, 0
///   2   mostly_numeric   more than half the characters are digits           3.5, 1,000, 1996-08-22
///   3   contains_digit   some digit, but not mostly                         F16, 2nd, 20s
///   4   all_lower        lowercase letters, no uppercase ones               the, n't, o'clock
///   5   all_upper        uppercase letters, no lowercase ones               EU, U.S., NATO, 'S
///   6   initial_upper    first character uppercase, no other uppercase      Peter, Mr., Zürich
///   7   mixed            upper and lower, not initial_upper                 McDonald, iPhone
///   8   other            no ASCII letter or digit                           , . -- $ 東京
///
/// Letters and digits are ASCII; a multi-byte UTF-8 character counts as one uncased character
/// (neither letter case nor digit), so "Zürich" is initial_upper and "东京" is other. Character
/// counts are in code points, never bytes. Standard library only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lstmner {

enum class Casing : std::int32_t {
  padding = 0,
  numeric = 1,
  mostly_numeric = 2,
  contains_digit = 3,
  all_lower = 4,
  all_upper = 5,
  initial_upper = 6,
  mixed = 7,
  other = 8,
};

/// Number of casing classes: the row count of a casing embedding.
inline constexpr int num_casing_classes = 9;

/// The casing class of one word (see the table above).
inline Casing casing_class(std::string_view word) {
  if (word.empty()) return Casing::padding;
  std::size_t characters = 0, digits = 0, upper = 0, lower = 0;
  bool first_is_upper = false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    const auto c = static_cast<unsigned char>(word[i]);
    if ((c & 0xC0u) == 0x80u) continue;  // a UTF-8 continuation byte: same character
    const bool is_upper = c >= 'A' && c <= 'Z';
    if (characters == 0) first_is_upper = is_upper;
    ++characters;
    if (c >= '0' && c <= '9') ++digits;
    if (is_upper) ++upper;
    if (c >= 'a' && c <= 'z') ++lower;
  }
  if (digits == characters) return Casing::numeric;
  if (2 * digits > characters) return Casing::mostly_numeric;
  if (digits > 0) return Casing::contains_digit;
  if (lower > 0 && upper == 0) return Casing::all_lower;
  if (upper > 0 && lower == 0) return Casing::all_upper;
  if (first_is_upper && upper == 1) return Casing::initial_upper;
  if (upper > 0) return Casing::mixed;
  return Casing::other;
}

/// The class ids of a sentence, ready for an embedding lookup.
inline std::vector<std::int32_t> casing_ids(const std::vector<std::string>& words) {
  std::vector<std::int32_t> ids;
  ids.reserve(words.size());
  for (const auto& w : words) ids.push_back(static_cast<std::int32_t>(casing_class(w)));
  return ids;
}

/// The name of a class as in the table above ("all_upper", ...).
inline const char* casing_name(Casing casing) {
  switch (casing) {
    case Casing::padding:
      return "padding";
    case Casing::numeric:
      return "numeric";
    case Casing::mostly_numeric:
      return "mostly_numeric";
    case Casing::contains_digit:
      return "contains_digit";
    case Casing::all_lower:
      return "all_lower";
    case Casing::all_upper:
      return "all_upper";
    case Casing::initial_upper:
      return "initial_upper";
    case Casing::mixed:
      return "mixed";
    case Casing::other:
      return "other";
  }
  return "invalid";
}

}  // namespace lstmner
