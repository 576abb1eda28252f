#pragma once
/// \file tokenizer.hpp
/// A small rule-based tokenizer for raw text, one sentence per line, that splits the way
/// CoNLL-2003's English data is split, so that text typed by a user looks like what the tagger
/// was trained on.
///
///   tokenize("Mr. Smith's firm earned $1,000 in the U.S.")
///     -> Mr. | Smith | 's | firm | earned | $ | 1,000 | in | the | U.S | .
///
/// Every token keeps its byte offsets [begin, end) into the line, and its text is exactly those
/// bytes. Whitespace (space, tab, CR, LF, VT, FF) separates tokens and is never part of one.
///
/// The rules (each observed in CoNLL-2003's train.txt):
///  - Punctuation is a token of its own: ( ) [ ] { } " , ; : ? ! % / & $ and so on. A run of the
///    same character among . - * = ! ? ~ # stays together: "...", "--", "---", "**".
///  - Clitics are split off: "Germany's" -> Germany 's; "don't" -> do n't; "can't" -> ca n't;
///    also 're 've 'll 'd 'm, in either case ("'S"). "players'" -> players '; "'96" -> ' 96.
///    An apostrophe between letters is kept: O'Brien, d'Italia, o'clock, rock'n'roll.
///  - Hyphens inside a word are kept: one-day, 1996-08-22, 6-4, Inzamam-ul-Haq, U.S.-led; a hyphen
///    ending a word too ("non-", "6-"). A leading hyphen is split ("-0.2" -> - 0.2), and so is a
///    run of two or more ("word--word" -> word -- word).
///  - Numbers stay whole: 1,000  3.5  .500  +44  2:29.34  1/2  1996/97 (a comma, colon or slash
///    only between two digits; a leading '.' or '+' before a digit). "$1,000" -> $ 1,000, but a
///    currency prefix of 1-3 capitals keeps its '$': "US$10" -> US$ 10, "C$" stays whole.
///  - '&' and '@' between word characters are kept: S&P, AT&T, name@example.com; so are trailing
///    pluses ("AA+", "C++") and URLs starting with http://, https://, ftp:// or www. (less the
///    punctuation that ends them).
///  - A period inside a word is kept: U.S, a.m, 3.5, example.com. A period ending a word is split
///    off, except after an abbreviation: initials ("M."), letter-dot sequences ("U.S.", "a.m.",
///    "F.C."), a list of common abbreviations ("Mr.", "Inc.", "vs.", "Calif.", "Jan." — see
///    detail::known_abbreviations) and a number opening the line ("1. Gerhard ..."). The last
///    period of the sentence is always split, as CoNLL-2003 does: "... in the U.S." -> U.S .
///    ("Last" means only closing quotes follow it; "( U.S. )" keeps its period.) An abbreviation
///    after a hyphen counts too ("Iraq-U.N."). "No." is not an abbreviation (CoNLL-2003 never has
///    it).
///  - Not copied from CoNLL-2003's tables, on purpose: '*' and '=' are always split ("Year*",
///    "10=" stay whole there), and "...For" is split.
///  - UTF-8: bytes of a multi-byte character are never separated. Non-ASCII characters are word
///    characters, except the typographic quotes ‘ ’ “ ” « », the dashes – — and the ellipsis …,
///    which are punctuation tokens; ’ also works as an apostrophe in clitics (don’t -> do n’t).
///    Invalid UTF-8 bytes pass through as single-byte word characters.
///
/// Standard library only; no allocation beyond the returned tokens. Thread-safe (no state).

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lstmner {

/// A token and where it is in its line: text == line.substr(begin, end - begin).
struct TextToken {
  std::string text;
  std::size_t begin = 0;
  std::size_t end = 0;

  bool operator==(const TextToken& other) const {
    return text == other.text && begin == other.begin && end == other.end;
  }
};

namespace detail {

inline bool tok_is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
inline bool tok_is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
inline bool tok_is_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}
inline bool tok_is_alpha(unsigned char c) {
  return tok_is_upper(c) || (c >= 'a' && c <= 'z');
}

/// Byte length of the UTF-8 character starting at s[i]: 1 for ASCII and for any invalid or
/// incomplete sequence, so that a byte is never skipped and a valid character never split.
inline std::size_t tok_char_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 1;
  if (c >= 0xC2 && c <= 0xDF)
    n = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    n = 3;
  else if (c >= 0xF0 && c <= 0xF4)
    n = 4;
  if (i + n > s.size()) return 1;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0u) != 0x80u) return 1;
  }
  return n;
}

/// The non-ASCII characters the tokenizer treats as punctuation.
enum class TokUnicode { None, SingleQuote, RightSingleQuote, DoubleQuote, Dash, Ellipsis };

inline TokUnicode tok_unicode_punctuation(std::string_view s, std::size_t i) {
  const auto at = [&](std::size_t k) {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u;
  };
  if (at(0) == 0xC2 && (at(1) == 0xAB || at(1) == 0xBB)) return TokUnicode::DoubleQuote;  // « »
  if (at(0) != 0xE2 || at(1) != 0x80) return TokUnicode::None;
  switch (at(2)) {
    case 0x98:
      return TokUnicode::SingleQuote;  // ‘
    case 0x99:
      return TokUnicode::RightSingleQuote;  // ’
    case 0x9C:                              // “
    case 0x9D:
      return TokUnicode::DoubleQuote;  // ”
    case 0x93:                         // –
    case 0x94:
      return TokUnicode::Dash;  // —
    case 0xA6:
      return TokUnicode::Ellipsis;  // …
    default:
      return TokUnicode::None;
  }
}

/// A letter, digit, '_', or a non-ASCII character that is not punctuation.
inline bool tok_is_word_char(std::string_view s, std::size_t i) {
  if (i >= s.size()) return false;
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return tok_is_alpha(c) || tok_is_digit(c) || c == '_';
  return tok_unicode_punctuation(s, i) == TokUnicode::None;
}

/// A word character that is not a digit: what may surround an apostrophe inside a word.
inline bool tok_is_letter_char(std::string_view s, std::size_t i) {
  return tok_is_word_char(s, i) && !tok_is_digit(static_cast<unsigned char>(s[i]));
}

/// Length of an apostrophe at s[i]: 1 for ', 3 for ’, 0 for anything else.
inline std::size_t tok_apostrophe_length(std::string_view s, std::size_t i) {
  if (i >= s.size()) return 0;
  if (s[i] == '\'') return 1;
  return tok_unicode_punctuation(s, i) == TokUnicode::RightSingleQuote ? 3 : 0;
}

/// Start of the character before byte i (i > 0).
inline std::size_t tok_previous_char(std::string_view s, std::size_t i) {
  std::size_t p = i - 1;
  while (p > 0 && i - p < 4 && (static_cast<unsigned char>(s[p]) & 0xC0u) == 0x80u) --p;
  return tok_char_length(s, p) == i - p ? p : i - 1;
}

inline bool tok_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (tok_is_upper(x)) x = static_cast<unsigned char>(x - 'A' + 'a');
    if (tok_is_upper(y)) y = static_cast<unsigned char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

/// The clitics split off the end of a word (after the apostrophe); "n't" is handled apart.
inline bool tok_is_clitic_tail(std::string_view letters) {
  for (const char* tail : {"s", "re", "ve", "ll", "d", "m"}) {
    if (tok_iequals(letters, tail)) return true;
  }
  return false;
}

/// Abbreviations that keep their period inside a sentence, as written and in capitals.
inline const std::vector<std::string_view>& known_abbreviations() {
  static const std::vector<std::string_view> list = {
      // titles and name parts
      "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Jr", "Sr", "Gen", "Gov", "Sen", "Rep", "Lt", "Col",
      "Capt", "Sgt", "Maj", "Adm", "Rev", "Mt", "Ft", "Messrs",
      // companies
      "Inc", "Corp", "Co", "Ltd", "Bros", "Dept", "Assn", "Univ",
      // months
      "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
      // U.S. states as Reuters abbreviates them
      "Ala", "Ariz", "Ark", "Calif", "Colo", "Conn", "Del", "Fla", "Ga", "Ill", "Ind", "Kan", "Ky",
      "La", "Md", "Mass", "Mich", "Minn", "Miss", "Mo", "Mont", "Neb", "Nev", "Okla", "Ore", "Pa",
      "Tenn", "Tex", "Va", "Vt", "Wash", "Wis", "Wyo",
      // other
      "vs", "etc", "approx", "est", "vol", "pp", "cf"};
  return list;
}

inline bool tok_is_known_abbreviation(std::string_view word) {
  for (std::string_view a : known_abbreviations()) {
    if (word == a) return true;
    if (word.size() == a.size()) {  // the all-capitals form, as in headlines ("MR.", "INC.")
      bool capitals = true;
      for (std::size_t i = 0; i < a.size() && capitals; ++i) {
        const auto c = static_cast<unsigned char>(a[i]);
        const unsigned char upper =
            tok_is_upper(c) || !tok_is_alpha(c) ? c : static_cast<unsigned char>(c - 'a' + 'A');
        capitals = static_cast<unsigned char>(word[i]) == upper;
      }
      if (capitals) return true;
    }
  }
  return false;
}

/// Is `core` (a word without its final period) an abbreviation that keeps the period?
inline bool tok_keeps_period(std::string_view core) {
  // "Iraq-U.N.", "then-U.S.": the part after the last hyphen decides.
  const std::size_t hyphen = core.rfind('-');
  if (hyphen != std::string_view::npos) core = core.substr(hyphen + 1);
  if (core.empty()) return false;
  if (core.size() == 1 && tok_is_alpha(static_cast<unsigned char>(core[0]))) return true;
  // Letter-dot sequences: U.S, a.m, F.C, m.p.h, Ph.D — segments of 1 to 3 letters.
  if (core.find('.') != std::string_view::npos) {
    std::size_t segment = 0;
    for (char ch : core) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '.') {
        if (segment == 0) return false;
        segment = 0;
      } else if (tok_is_alpha(c) && segment < 3) {
        ++segment;
      } else {
        return false;
      }
    }
    return segment > 0;
  }
  return tok_is_known_abbreviation(core);
}

/// True when only whitespace and closing quotes follow byte `i` on the line. (A bracket does not
/// end the sentence: CoNLL-2003 keeps "( U.S. )" at the end of a line.)
inline bool tok_at_line_end(std::string_view line, std::size_t i) {
  while (i < line.size()) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (tok_is_space(c) || c == '"' || c == '\'') {
      ++i;
      continue;
    }
    const TokUnicode u = tok_unicode_punctuation(line, i);
    if (u == TokUnicode::DoubleQuote || u == TokUnicode::RightSingleQuote) {
      i += tok_char_length(line, i);
      continue;
    }
    return false;
  }
  return true;
}

class LineTokenizer {
 public:
  explicit LineTokenizer(std::string_view line) : line_(line) {}

  std::vector<TextToken> run() {
    std::size_t i = 0;
    while (i < line_.size()) {
      if (tok_is_space(static_cast<unsigned char>(line_[i]))) {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < line_.size() && !tok_is_space(static_cast<unsigned char>(line_[end]))) ++end;
      chunk(i, end);
      i = end;
    }
    return std::move(tokens_);
  }

 private:
  void emit(std::size_t begin, std::size_t end) {
    if (begin < end) tokens_.push_back({std::string(line_.substr(begin, end - begin)), begin, end});
  }

  unsigned char byte(std::size_t i) const {
    return i < line_.size() ? static_cast<unsigned char>(line_[i]) : 0;
  }

  /// Splits one whitespace-free chunk [begin, end).
  void chunk(std::size_t begin, std::size_t end) {
    std::size_t p = begin;
    while (p < end) {
      const std::string_view c(line_.substr(0, end));  // never look past the chunk
      const bool after_word = p > begin && tok_is_word_char(c, tok_previous_char(c, p));
      const bool number_sign =
          (byte(p) == '+' || byte(p) == '.') && tok_is_digit(byte(p + 1)) && p + 1 < end;
      if (!after_word && starts_url(c.substr(p))) {
        p = url(c, p);
      } else if (tok_is_word_char(c, p) || (number_sign && !after_word)) {
        p = word(c, p);
      } else {
        p = punctuation(c, p);
      }
    }
  }

  static bool starts_url(std::string_view rest) {
    for (std::string_view prefix : {"http://", "https://", "ftp://", "www."}) {
      if (rest.size() > prefix.size() && tok_iequals(rest.substr(0, prefix.size()), prefix)) {
        return true;
      }
    }
    return false;
  }

  /// A URL runs to the end of the chunk, less the punctuation that closes a sentence or clause.
  std::size_t url(std::string_view c, std::size_t p) {
    std::size_t q = c.size();
    while (q > p && std::string_view(".,;:!?)]}\"'").find(line_[q - 1]) != std::string_view::npos) {
      --q;
    }
    emit(p, q);
    return q;
  }

  /// Scans the word starting at p, emits it (with clitics and a final period split off), and
  /// returns where it ends. `c` is the line cut at the end of the chunk.
  std::size_t word(std::string_view c, std::size_t p) {
    std::size_t q = p;
    if (!tok_is_word_char(c, q)) ++q;  // the '+' or '.' of a number
    bool final_period = false;
    while (q < c.size()) {
      if (tok_is_word_char(c, q)) {
        q += tok_char_length(c, q);
        continue;
      }
      const unsigned char ch = byte(q);
      const std::size_t prev = tok_previous_char(c, q);
      const bool prev_digit = tok_is_digit(byte(prev));
      const bool next_word = tok_is_word_char(c, q + 1);
      if (ch == '-') {
        if (byte(q + 1) == '-' && q + 1 < c.size()) break;  // "--" is a token of its own
        ++q;  // inside the word, or ending it ("non-")
        if (!next_word) break;
        continue;
      }
      if (ch == '.') {
        if (next_word) {
          ++q;
          continue;
        }
        if (q + 1 < c.size() && byte(q + 1) == '.') break;  // an ellipsis follows
        if (q + 2 < c.size() && byte(q + 1) == '-' && tok_is_word_char(c, q + 2)) {
          q += 2;  // "U.S.-led"
          continue;
        }
        ++q;
        final_period = true;
        break;
      }
      if ((ch == ',' || ch == ':' || ch == '/') && prev_digit && q + 1 < c.size() &&
          tok_is_digit(byte(q + 1))) {
        ++q;
        continue;
      }
      if ((ch == '&' || ch == '@') && next_word) {
        ++q;
        continue;
      }
      if (const std::size_t a = tok_apostrophe_length(c, q)) {
        if (tok_is_letter_char(c, prev) && tok_is_letter_char(c, q + a)) {
          q += a;
          continue;
        }
        break;
      }
      if (ch == '+' && !next_word && q > p) {  // ratings and names: "AA+", "C++"
        while (q < c.size() && byte(q) == '+') ++q;
        break;
      }
      if (ch == '$' && is_currency_prefix(c.substr(p, q - p))) ++q;  // "US$"
      break;
    }
    std::size_t word_end = q;
    if (final_period) {
      const std::string_view core = c.substr(p, q - 1 - p);
      const bool list_number = p == first_token_begin() && !core.empty() &&
                               core.find_first_not_of("0123456789") == std::string_view::npos;
      const bool keep = (tok_keeps_period(core) || list_number) && !tok_at_line_end(line_, q);
      if (!keep) word_end = q - 1;
    }
    split_clitic(c, p, word_end);
    emit(word_end, q);  // the period, when split off
    return q;
  }

  /// Byte offset of the line's first non-space byte.
  std::size_t first_token_begin() const {
    std::size_t i = 0;
    while (i < line_.size() && tok_is_space(static_cast<unsigned char>(line_[i]))) ++i;
    return i;
  }

  static bool is_currency_prefix(std::string_view letters) {
    if (letters.empty() || letters.size() > 3) return false;
    for (char ch : letters) {
      if (!tok_is_upper(static_cast<unsigned char>(ch))) return false;
    }
    return true;
  }

  /// Emits [p, end) as stem + clitic when it ends in one ("do n't", "Germany 's").
  void split_clitic(std::string_view c, std::size_t p, std::size_t end) {
    // Find the last apostrophe of the word.
    for (std::size_t a = end; a > p;) {
      a = tok_previous_char(c, a);
      const std::size_t length = tok_apostrophe_length(c, a);
      if (length == 0) continue;
      const std::string_view tail = c.substr(a + length, end - a - length);
      if (tok_iequals(tail, "t") && a >= p + 2 && (byte(a - 1) == 'n' || byte(a - 1) == 'N')) {
        emit(p, a - 1);  // "do" + "n't"
        emit(a - 1, end);
        return;
      }
      if (a > p && tok_is_clitic_tail(tail)) {
        emit(p, a);
        emit(a, end);
        return;
      }
      break;
    }
    emit(p, end);
  }

  /// Emits the punctuation token at p and returns where it ends.
  std::size_t punctuation(std::string_view c, std::size_t p) {
    if (const std::size_t a = tok_apostrophe_length(c, p)) {
      // A clitic written apart or after a digit: "'s" in "1990's", "Reuters 's".
      std::size_t q = p + a;
      while (q < c.size() && tok_is_alpha(byte(q))) ++q;
      if (q > p + a && !tok_is_word_char(c, q) && tok_is_clitic_tail(c.substr(p + a, q - p - a))) {
        emit(p, q);
        return q;
      }
      emit(p, p + a);
      return p + a;
    }
    if (tok_unicode_punctuation(c, p) != TokUnicode::None) {
      const std::size_t q = p + tok_char_length(c, p);
      emit(p, q);
      return q;
    }
    const unsigned char ch = byte(p);
    std::size_t q = p + 1;
    if (ch == '.' || ch == '-' || ch == '*' || ch == '=' || ch == '!' || ch == '?' || ch == '~' ||
        ch == '#') {
      while (q < c.size() && byte(q) == ch) ++q;
    }
    emit(p, q);
    return q;
  }

  std::string_view line_;
  std::vector<TextToken> tokens_;
};

}  // namespace detail

/// The tokens of one line of raw text, with their byte offsets (see the rules above).
inline std::vector<TextToken> tokenize(std::string_view line) {
  return detail::LineTokenizer(line).run();
}

/// The token texts of one line.
inline std::vector<std::string> tokenize_words(std::string_view line) {
  std::vector<std::string> words;
  for (auto& token : tokenize(line)) words.push_back(std::move(token.text));
  return words;
}

}  // namespace lstmner
