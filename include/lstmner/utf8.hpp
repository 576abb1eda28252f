#pragma once
/// \file utf8.hpp
/// UTF-8 <-> Unicode code points (char32_t), total on every input: no byte string makes the
/// decoder crash, loop or read past the end, and no char32_t value makes the encoder write
/// invalid UTF-8.
///
///   decode_utf8("Zürich")            -> U"Zürich" (6 code points from 7 bytes)
///   decode_utf8("a\xC3")             -> U"a\uFFFD" (a truncated sequence)
///   encode_utf8(U"Zürich")           -> "Zürich"
///   for_each_code_point(s, f)        -> f(code_point) per code point, allocating nothing
///
/// Well-formed UTF-8 is exactly what the Unicode Standard (chapter 3, table 3-7) allows:
///   U+0000..U+007F     00..7F
///   U+0080..U+07FF     C2..DF  80..BF
///   U+0800..U+0FFF     E0      A0..BF  80..BF
///   U+1000..U+CFFF     E1..EC  80..BF  80..BF
///   U+D000..U+D7FF     ED      80..9F  80..BF            (ED A0..BF would be a surrogate)
///   U+E000..U+FFFF     EE..EF  80..BF  80..BF
///   U+10000..U+3FFFF   F0      90..BF  80..BF  80..BF
///   U+40000..U+FFFFF   F1..F3  80..BF  80..BF  80..BF
///   U+100000..U+10FFFF F4      80..8F  80..BF  80..BF    (F4 90.. would be above U+10FFFF)
/// so overlong encodings (C0, C1, E0 80..9F, F0 80..8F), surrogates (ED A0..BF), code points
/// above U+10FFFF (F4 90..BF, F5..FF) and stray continuation bytes are all ill-formed.
///
/// Replacement policy: *one U+FFFD per maximal subpart* of an ill-formed sequence, the practice
/// the Unicode Standard recommends (chapter 3, "U+FFFD Substitution of Maximal Subparts") and the
/// WHATWG Encoding Standard requires (browsers, Python's decode(errors="replace")). A maximal
/// subpart is the longest prefix of a well-formed sequence that the bytes start with, or a single
/// byte when no well-formed sequence starts with it. The byte that breaks a sequence off is not
/// consumed: it starts the next sequence. For example
///   "\xC3("            -> U+FFFD '('             (the '(' is kept)
///   "\xE2\x82"         -> U+FFFD                 (one truncated sequence, one replacement)
///   "\xC0\xAF"         -> U+FFFD U+FFFD          (overlong: C0 never starts a sequence)
///   "\xED\xA0\x80"     -> U+FFFD U+FFFD U+FFFD   (a surrogate: ED A0 is not a valid prefix)
///   "\xF4\x90\x80\x80" -> 4 x U+FFFD             (above U+10FFFF)
///   "\xF0\x9F\x98"     -> U+FFFD                 (a truncated 4-byte sequence)
/// An U+FFFD that stands in the input itself (EF BF BD) decodes as a valid U+FFFD; the
/// step-wise decoder (decode_utf8_step) says which is which.
///
/// Encoding: every Unicode scalar value (U+0000..U+D7FF, U+E000..U+10FFFF) is written as its
/// shortest form; a surrogate or a value above U+10FFFF is written as U+FFFD (EF BF BD).
///
/// Standard library only; every function is thread-safe and allocates only the string it returns.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lstmner {

/// U+FFFD REPLACEMENT CHARACTER: what ill-formed input decodes to.
inline constexpr char32_t replacement_character = 0xFFFD;

/// True for the Unicode scalar values: U+0000..U+10FFFF without the surrogates U+D800..U+DFFF.
constexpr bool is_unicode_scalar_value(char32_t c) {
  return c <= 0x10FFFF && (c < 0xD800 || c > 0xDFFF);
}

/// One step of the decoder: the code point at a byte position and how many bytes it took.
struct Utf8Step {
  char32_t code_point = replacement_character;  ///< U+FFFD when !valid
  std::size_t length = 0;                       ///< bytes consumed: 1..4 (0 only at the end)
  bool valid = false;  ///< false: the bytes were a maximal ill-formed subpart
};

/// Decodes the sequence starting at byte `pos` of `bytes` (pos < bytes.size(); at or past the end
/// the step has length 0). The next sequence starts at pos + length.
constexpr Utf8Step decode_utf8_step(std::string_view bytes, std::size_t pos) {
  Utf8Step step;
  if (pos >= bytes.size()) return step;
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(bytes[pos + i]); };
  const unsigned char lead = byte(0);
  step.length = 1;
  if (lead < 0x80) {
    step.code_point = lead;
    step.valid = true;
    return step;
  }
  // The number of continuation bytes, the lead's payload bits and the range the first
  // continuation byte must lie in (the later ones are always 80..BF): table 3-7.
  std::size_t continuation = 0;
  char32_t value = 0;
  unsigned char low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    continuation = 1;
    value = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    continuation = 2;
    value = lead & 0x0Fu;
    if (lead == 0xE0) low = 0xA0;   // below: overlong
    if (lead == 0xED) high = 0x9F;  // above: a surrogate
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    continuation = 3;
    value = lead & 0x07u;
    if (lead == 0xF0) low = 0x90;   // below: overlong
    if (lead == 0xF4) high = 0x8F;  // above: beyond U+10FFFF
  } else {
    return step;  // 80..C1, F5..FF: never the first byte of a well-formed sequence
  }
  for (std::size_t i = 1; i <= continuation; ++i) {
    if (pos + i >= bytes.size()) return step;  // truncated: the subpart so far is one U+FFFD
    const unsigned char c = byte(i);
    if (c < low || c > high) return step;  // c is not consumed: it starts the next sequence
    value = (value << 6) | (c & 0x3Fu);
    step.length = i + 1;
    low = 0x80;
    high = 0xBF;
  }
  step.code_point = value;
  step.valid = true;
  return step;
}

/// Calls f(code_point) for every code point of `bytes` in order, U+FFFD for every maximal
/// ill-formed subpart; allocates nothing.
template <class F>
void for_each_code_point(std::string_view bytes, F&& f) {
  for (std::size_t pos = 0; pos < bytes.size();) {
    const Utf8Step step = decode_utf8_step(bytes, pos);
    f(step.code_point);
    pos += step.length;
  }
}

/// The number of code points decode_utf8 gives for `bytes`.
inline std::size_t utf8_code_point_count(std::string_view bytes) {
  std::size_t count = 0;
  for_each_code_point(bytes, [&](char32_t) { ++count; });
  return count;
}

/// The code points of `bytes`, U+FFFD for every maximal ill-formed subpart (file comment).
inline std::u32string decode_utf8(std::string_view bytes) {
  std::u32string out;
  out.reserve(bytes.size());
  for_each_code_point(bytes, [&](char32_t c) { out.push_back(c); });
  return out;
}

/// True when `bytes` is well-formed UTF-8 (decode_utf8 would replace nothing).
inline bool is_valid_utf8(std::string_view bytes) {
  for (std::size_t pos = 0; pos < bytes.size();) {
    const Utf8Step step = decode_utf8_step(bytes, pos);
    if (!step.valid) return false;
    pos += step.length;
  }
  return true;
}

/// Appends the UTF-8 form of `c` to `out`; U+FFFD's (EF BF BD) when `c` is not a scalar value.
inline void append_utf8(std::string& out, char32_t c) {
  if (!is_unicode_scalar_value(c)) c = replacement_character;
  const auto put = [&](std::uint32_t b) { out.push_back(static_cast<char>(b)); };
  if (c < 0x80) {
    put(c);
  } else if (c < 0x800) {
    put(0xC0 | (c >> 6));
    put(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    put(0xE0 | (c >> 12));
    put(0x80 | ((c >> 6) & 0x3F));
    put(0x80 | (c & 0x3F));
  } else {
    put(0xF0 | (c >> 18));
    put(0x80 | ((c >> 12) & 0x3F));
    put(0x80 | ((c >> 6) & 0x3F));
    put(0x80 | (c & 0x3F));
  }
}

/// The UTF-8 form of `code_points` (U+FFFD for every value that is not a scalar value).
inline std::string encode_utf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) append_utf8(out, c);
  return out;
}

/// The UTF-8 form of one code point.
inline std::string encode_utf8(char32_t code_point) {
  std::string out;
  append_utf8(out, code_point);
  return out;
}

}  // namespace lstmner
