#pragma once
/// \file metrics/detail/conlleval_chunks.hpp
/// conlleval's chunk rules, ported line for line: how it splits a tag into prefix and type
/// (ConllevalTag), and its endOfChunk and startOfChunk. ConllevalCounter and extract_entities()
/// run on them.

#include <cstddef>
#include <string_view>

namespace lstmner {

namespace detail {

/// The chunk tags conlleval's rules name; every other prefix only takes part in type changes.
enum class ConllevalPrefix : unsigned char { O, B, I, E, Dot, Open, Close, Other };

/// conlleval splits a tag at its first hyphen (/^([^-]*)-(.*)$/), and Perl's truth test turns a
/// type "0" into "" ($type = $type ? $type : "").
struct ConllevalTag {
  std::string_view prefix;
  std::string_view type;
  ConllevalPrefix code = ConllevalPrefix::Other;
};

inline ConllevalTag conlleval_split(std::string_view tag) {
  const std::size_t hyphen = tag.find('-');
  ConllevalTag t{tag, {}};
  if (hyphen != std::string_view::npos) {
    t.prefix = tag.substr(0, hyphen);
    t.type = tag.substr(hyphen + 1);
    if (t.type == "0") t.type = {};
  }
  if (t.prefix.size() == 1) {
    switch (t.prefix[0]) {
      case 'O':
        t.code = ConllevalPrefix::O;
        break;
      case 'B':
        t.code = ConllevalPrefix::B;
        break;
      case 'I':
        t.code = ConllevalPrefix::I;
        break;
      case 'E':
        t.code = ConllevalPrefix::E;
        break;
      case '.':
        t.code = ConllevalPrefix::Dot;
        break;
      case '[':
        t.code = ConllevalPrefix::Open;
        break;
      case ']':
        t.code = ConllevalPrefix::Close;
        break;
      default:
        break;
    }
  }
  return t;
}

/// conlleval's endOfChunk: did a chunk end between the previous token and this one?
inline bool conlleval_end_of_chunk(ConllevalPrefix prev_tag, ConllevalPrefix tag,
                                   std::string_view prev_type, std::string_view type) {
  using P = ConllevalPrefix;
  bool end = false;
  if (prev_tag == P::B && tag == P::B) end = true;
  if (prev_tag == P::B && tag == P::O) end = true;
  if (prev_tag == P::I && tag == P::B) end = true;
  if (prev_tag == P::I && tag == P::O) end = true;
  if (prev_tag == P::E && tag == P::E) end = true;
  if (prev_tag == P::E && tag == P::I) end = true;
  if (prev_tag == P::E && tag == P::O) end = true;
  if (prev_tag != P::O && prev_tag != P::Dot && prev_type != type) end = true;
  // conlleval: "[" and "]" chunks are assumed to have length 1
  if (prev_tag == P::Close || prev_tag == P::Open) end = true;
  return end;
}

/// conlleval's startOfChunk: did a chunk start at this token?
inline bool conlleval_start_of_chunk(ConllevalPrefix prev_tag, ConllevalPrefix tag,
                                     std::string_view prev_type, std::string_view type) {
  using P = ConllevalPrefix;
  bool start = false;
  if (prev_tag == P::B && tag == P::B) start = true;
  if (prev_tag == P::I && tag == P::B) start = true;
  if (prev_tag == P::O && tag == P::B) start = true;
  if (prev_tag == P::O && tag == P::I) start = true;
  if (prev_tag == P::E && tag == P::E) start = true;
  if (prev_tag == P::E && tag == P::I) start = true;
  if (prev_tag == P::O && tag == P::E) start = true;
  if (tag != P::O && tag != P::Dot && prev_type != type) start = true;
  if (tag == P::Open || tag == P::Close) start = true;
  return start;
}

}  // namespace detail

}  // namespace lstmner
