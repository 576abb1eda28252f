#pragma once
/// \file tag_scheme.hpp
/// Entity tag schemes (IOB1, IOB2, IOBES): what a tag may look like, which scheme a corpus uses,
/// and lossless conversion between schemes. Standard library only.
///
/// A tag is `O` (outside every entity) or `P-TYPE`: a one-letter prefix P, a hyphen, and a
/// non-empty entity type (which may itself contain hyphens: `B-ORG-X` has type `ORG-X`).
///
/// | scheme | prefixes | an entity is |
/// | --- | --- | --- |
/// | IOB1 | I, B | `I-X`... ; `B-X` only opens an entity that directly follows another `X` entity |
/// | IOB2 (BIO) | B, I | `B-X I-X ...`: every entity opens with `B-` |
/// | IOBES | B, I, E, S | `S-X` alone, or `B-X I-X ... E-X` |
///
/// Public API:
/// - `TagScheme`, `to_string(TagScheme)`, `parse_tag_scheme("iob1" | "iob2" | "bio" | "iobes")`
/// - `split_tag(tag)`: `O` or `P-TYPE` with P in {B, I, E, S}, split at the first hyphen
/// - `tag_problem(tag, scheme)`: why a tag is not valid in a scheme ("" when it is)
/// - `detect_scheme(tag_sequences)`: which scheme a corpus is written in
/// - `Entity {type, begin, end}` (end exclusive), `decode_entities(tags, scheme)`,
///   `encode_entities(entities, length, scheme)`, `convert_tags(tags, from, to)`
///
/// Decoding is lenient so that any sequence of valid prefixes has a meaning: an `I-X` or `E-X`
/// that does not continue an open `X` entity opens a new one (as conlleval does), `E-X` and `S-X`
/// close the entity they belong to, and `B-X` / `S-X` always open one. For well-formed sequences
/// this is exactly each scheme's definition, so `encode_entities(decode_entities(t, s), n, s) == t`
/// and conversions IOB1 -> IOB2 -> IOBES -> IOB1 are lossless. (The scoring rules of conlleval and
/// seqeval, which differ from this on ill-formed input, live in metrics.hpp.)

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lstmner {

enum class TagScheme { IOB1, IOB2, IOBES };

/// "IOB1", "IOB2" or "IOBES".
inline std::string to_string(TagScheme scheme) {
  switch (scheme) {
    case TagScheme::IOB1:
      return "IOB1";
    case TagScheme::IOB2:
      return "IOB2";
    case TagScheme::IOBES:
      return "IOBES";
  }
  return "unknown";
}

/// Parses "iob1", "iob2" (or "bio") and "iobes", in any letter case.
/// Throws std::invalid_argument for anything else.
inline TagScheme parse_tag_scheme(const std::string& name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "iob1") return TagScheme::IOB1;
  if (lower == "iob2" || lower == "bio") return TagScheme::IOB2;
  if (lower == "iobes") return TagScheme::IOBES;
  throw std::invalid_argument("lstmner: parse_tag_scheme: unknown tag scheme '" + name +
                              "' (expected iob1, iob2, bio or iobes)");
}

/// The prefixes a scheme allows besides `O`: "IB" for IOB1 and IOB2, "BIES" for IOBES.
inline std::string_view scheme_prefixes(TagScheme scheme) {
  return scheme == TagScheme::IOBES ? std::string_view("BIES") : std::string_view("BI");
}

/// A tag split at its first hyphen. `O` has prefix 'O' and an empty type.
struct TagParts {
  char prefix = 'O';
  std::string_view type;
};

/// Splits `O` or `P-TYPE` (P one of B, I, E, S; TYPE non-empty). Anything else: nullopt.
inline std::optional<TagParts> split_tag(std::string_view tag) {
  if (tag == "O") return TagParts{'O', {}};
  if (tag.size() < 3 || tag[1] != '-') return std::nullopt;
  const char prefix = tag[0];
  if (prefix != 'B' && prefix != 'I' && prefix != 'E' && prefix != 'S') return std::nullopt;
  return TagParts{prefix, tag.substr(2)};
}

/// Why `tag` is not a valid tag of `scheme` (or, without a scheme, of any of the three), as a
/// phrase for an error message; the empty string when it is valid.
inline std::string tag_problem(std::string_view tag, std::optional<TagScheme> scheme) {
  if (tag.empty()) return "empty tag";
  if (const auto parts = split_tag(tag)) {  // the common case, without building any string
    if (parts->prefix == 'O' || !scheme ||
        scheme_prefixes(*scheme).find(parts->prefix) != std::string_view::npos)
      return {};
  }
  const std::string allowed = scheme ? std::string(scheme_prefixes(*scheme)) : std::string("BIES");
  std::string expected = "O or ";
  for (std::size_t i = 0; i < allowed.size(); ++i) {
    expected += (i ? "/" : "");
    expected += allowed[i];
  }
  expected += "-TYPE";
  if (scheme) expected += " (scheme " + to_string(*scheme) + ")";
  const auto parts = split_tag(tag);
  if (!parts || (parts->prefix != 'O' && allowed.find(parts->prefix) == std::string::npos))
    return "tag '" + std::string(tag) + "' is not " + expected;
  return {};
}

namespace detail {

/// True when `tags[i]` (an I- tag) opens an entity in IOB1 terms: it follows O, the start of the
/// sentence, or a tag of another type. Such a tag is impossible in IOB2.
inline bool inside_tag_opens_entity(const std::vector<std::string>& tags, std::size_t i,
                                    const TagParts& parts) {
  if (i == 0) return true;
  const auto prev = split_tag(tags[i - 1]);
  return !prev || prev->prefix == 'O' || prev->type != parts.type;
}

}  // namespace detail

namespace detail {
/// detect_scheme() over sequences held elsewhere (the reader's sentences), without copying.
inline std::optional<TagScheme> detect_scheme_of(
    const std::vector<const std::vector<std::string>*>& tag_sequences) {
  bool has_end_or_single = false, inside_opens = false, has_begin = false;
  for (const std::vector<std::string>* sequence : tag_sequences) {
    const std::vector<std::string>& tags = *sequence;
    for (std::size_t i = 0; i < tags.size(); ++i) {
      const auto parts = split_tag(tags[i]);
      if (!parts) return std::nullopt;
      switch (parts->prefix) {
        case 'E':
        case 'S':
          has_end_or_single = true;
          break;
        case 'B':
          has_begin = true;
          break;
        case 'I':
          if (!inside_opens) inside_opens = detail::inside_tag_opens_entity(tags, i, *parts);
          break;
        default:
          break;
      }
    }
  }
  if (has_end_or_single) return TagScheme::IOBES;
  if (inside_opens) return TagScheme::IOB1;
  if (has_begin) return TagScheme::IOB2;
  return std::nullopt;
}
}  // namespace detail

/// Which scheme a corpus is written in, from its tag sequences (one per sentence):
/// - any `E-` or `S-` tag: IOBES;
/// - otherwise any `I-X` that opens an entity (first in its sentence, after `O`, or after another
///   type): IOB1 -- IOB2 never does that;
/// - otherwise any `B-` tag: IOB2 (IOB1 writes an entity that follows `O` as `I-X`).
/// nullopt when the tags cannot tell (only `O`), or when a tag is neither `O` nor `B/I/E/S-TYPE`.
inline std::optional<TagScheme> detect_scheme(
    const std::vector<std::vector<std::string>>& tag_sequences) {
  std::vector<const std::vector<std::string>*> pointers;
  pointers.reserve(tag_sequences.size());
  for (const auto& tags : tag_sequences) pointers.push_back(&tags);
  return detail::detect_scheme_of(pointers);
}

/// An entity span over token positions [begin, end).
struct Entity {
  std::string type;
  std::size_t begin = 0;
  std::size_t end = 0;

  friend bool operator==(const Entity& a, const Entity& b) {
    return a.begin == b.begin && a.end == b.end && a.type == b.type;
  }
  friend bool operator!=(const Entity& a, const Entity& b) { return !(a == b); }
  friend bool operator<(const Entity& a, const Entity& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.type < b.type;
  }
};

/// The entities of one tag sequence read in `scheme` (see the file comment for ill-formed input).
/// Throws std::invalid_argument naming the position of a tag that `scheme` does not allow.
inline std::vector<Entity> decode_entities(const std::vector<std::string>& tags, TagScheme scheme) {
  std::vector<Entity> entities;
  bool open = false;  // entities.back() may still grow
  for (std::size_t i = 0; i < tags.size(); ++i) {
    const std::string problem = tag_problem(tags[i], scheme);
    if (!problem.empty())
      throw std::invalid_argument("lstmner: decode_entities: position " + std::to_string(i) + ": " +
                                  problem);
    const TagParts parts = *split_tag(tags[i]);
    if (parts.prefix == 'O') {
      open = false;
      continue;
    }
    const bool continues =
        open && (parts.prefix == 'I' || parts.prefix == 'E') && entities.back().type == parts.type;
    if (continues) {
      entities.back().end = i + 1;
    } else {
      entities.push_back(Entity{std::string(parts.type), i, i + 1});
    }
    open = parts.prefix == 'B' || parts.prefix == 'I';
  }
  return entities;
}

/// Tags of length `length` that encode `entities` (sorted, non-overlapping, inside [0, length))
/// in `scheme`. Throws std::invalid_argument for overlapping, empty or out-of-range entities.
inline std::vector<std::string> encode_entities(const std::vector<Entity>& entities,
                                                std::size_t length, TagScheme scheme) {
  std::vector<std::string> tags(length, "O");
  std::size_t previous_end = 0;
  const Entity* previous = nullptr;
  for (const Entity& e : entities) {
    if (e.begin >= e.end || e.end > length || e.begin < previous_end || e.type.empty())
      throw std::invalid_argument("lstmner: encode_entities: entity '" + e.type + "' [" +
                                  std::to_string(e.begin) + ", " + std::to_string(e.end) +
                                  ") is empty, overlaps the previous one, has no type, or lies "
                                  "outside a sequence of length " +
                                  std::to_string(length));
    const bool follows_same_type =
        previous != nullptr && previous->end == e.begin && previous->type == e.type;
    for (std::size_t i = e.begin; i < e.end; ++i) tags[i] = "I-" + e.type;
    switch (scheme) {
      case TagScheme::IOB1:
        if (follows_same_type) tags[e.begin] = "B-" + e.type;
        break;
      case TagScheme::IOB2:
        tags[e.begin] = "B-" + e.type;
        break;
      case TagScheme::IOBES:
        if (e.end - e.begin == 1) {
          tags[e.begin] = "S-" + e.type;
        } else {
          tags[e.begin] = "B-" + e.type;
          tags[e.end - 1] = "E-" + e.type;
        }
        break;
    }
    previous_end = e.end;
    previous = &e;
  }
  return tags;
}

/// Rewrites a tag sequence from one scheme into another (lossless for well-formed sequences).
/// Throws std::invalid_argument when a tag is not valid in `from`.
inline std::vector<std::string> convert_tags(const std::vector<std::string>& tags, TagScheme from,
                                             TagScheme to) {
  return encode_entities(decode_entities(tags, from), tags.size(), to);
}

}  // namespace lstmner
