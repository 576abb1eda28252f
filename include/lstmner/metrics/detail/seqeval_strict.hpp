#pragma once
/// \file metrics/detail/seqeval_strict.hpp
/// seqeval's strict mode (seqeval.scheme): the token split, the IOB1 / IOB2 / IOBES pattern
/// tables, Tokens.entities for one sentence, and auto_detect.

#include <lstmner/tag_scheme.hpp>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lstmner {

namespace detail {

/// A token of seqeval's scheme classes: prefix = first character, tag = the rest with hyphens
/// stripped from both ends ("_" when empty).
struct StrictToken {
  char prefix;
  std::string_view tag;
};

inline StrictToken strict_token(std::string_view token, std::size_t sentence,
                                std::size_t position) {
  const std::string_view prefixes = "IOBESUL";
  if (token.empty() || prefixes.find(token[0]) == std::string_view::npos)
    throw std::invalid_argument("lstmner: evaluate (strict): sentence " + std::to_string(sentence) +
                                " token " + std::to_string(position) + ": '" + std::string(token) +
                                "' does not start with one of the prefixes I, O, B, E, S, U, L");
  std::string_view tag = token.substr(1);
  while (!tag.empty() && tag.front() == '-') tag.remove_prefix(1);
  while (!tag.empty() && tag.back() == '-') tag.remove_suffix(1);
  if (tag.empty()) tag = "_";
  return {token[0], tag};
}

inline bool strict_prefix_allowed(char prefix, TagScheme scheme) {
  return prefix == 'O' || scheme_prefixes(scheme).find(prefix) != std::string_view::npos;
}

// The pattern tables of seqeval's IOB1, IOB2 and IOBES classes: (previous prefix, current
// prefix, type condition). '*' stands for any prefix.
enum class TypeCondition { Any, Same, Different };
struct StrictPattern {
  char prev, cur;
  TypeCondition cond;
};

inline bool strict_match(const StrictToken& prev, const StrictToken& cur,
                         const std::vector<StrictPattern>& patterns) {
  for (const StrictPattern& p : patterns) {
    if ((p.prev == '*' || p.prev == prev.prefix) && (p.cur == '*' || p.cur == cur.prefix)) {
      if (p.cond == TypeCondition::Any) return true;
      if (p.cond == TypeCondition::Same && prev.tag == cur.tag) return true;
      if (p.cond == TypeCondition::Different && prev.tag != cur.tag) return true;
    }
  }
  return false;
}

struct StrictRules {
  std::vector<StrictPattern> start, inside, end;
};

inline const StrictRules& strict_rules(TagScheme scheme) {
  using C = TypeCondition;
  static const StrictRules iob1{{{'O', 'I', C::Any},
                                 {'I', 'I', C::Different},
                                 {'B', 'I', C::Any},
                                 {'I', 'B', C::Same},
                                 {'B', 'B', C::Same}},
                                {{'B', 'I', C::Same}, {'I', 'I', C::Same}},
                                {{'I', 'I', C::Different},
                                 {'I', 'O', C::Any},
                                 {'I', 'B', C::Any},
                                 {'B', 'O', C::Any},
                                 {'B', 'I', C::Different},
                                 {'B', 'B', C::Same}}};
  static const StrictRules iob2{{{'*', 'B', C::Any}},
                                {{'B', 'I', C::Same}, {'I', 'I', C::Same}},
                                {{'I', 'O', C::Any},
                                 {'I', 'I', C::Different},
                                 {'I', 'B', C::Any},
                                 {'B', 'O', C::Any},
                                 {'B', 'I', C::Different},
                                 {'B', 'B', C::Any}}};
  static const StrictRules iobes{
      {{'*', 'B', C::Any}, {'*', 'S', C::Any}},
      {{'B', 'I', C::Same}, {'B', 'E', C::Same}, {'I', 'I', C::Same}, {'I', 'E', C::Same}},
      {{'S', '*', C::Any}, {'E', '*', C::Any}}};
  switch (scheme) {
    case TagScheme::IOB1:
      return iob1;
    case TagScheme::IOB2:
      return iob2;
    case TagScheme::IOBES:
      break;
  }
  return iobes;
}

/// seqeval's Tokens.entities for one sentence (end exclusive).
inline std::vector<Entity> strict_entities(const std::vector<std::string>& tags, TagScheme scheme,
                                           std::size_t sentence) {
  const StrictRules& rules = strict_rules(scheme);
  std::vector<StrictToken> tokens;
  tokens.reserve(tags.size() + 1);
  for (std::size_t i = 0; i < tags.size(); ++i)
    tokens.push_back(strict_token(tags[i], sentence, i));
  const StrictToken outside{'O', "_"};
  tokens.push_back(outside);
  std::vector<Entity> entities;
  std::size_t i = 0;
  StrictToken prev = outside;
  while (i < tokens.size()) {
    const StrictToken& token = tokens[i];
    if (!strict_prefix_allowed(token.prefix, scheme))
      throw std::invalid_argument("lstmner: evaluate (strict): sentence " +
                                  std::to_string(sentence) + " token " + std::to_string(i) + ": '" +
                                  tags[i] + "' has a prefix that " + to_string(scheme) +
                                  " does not allow");
    if (strict_match(prev, token, rules.start)) {
      std::size_t end = i + 1;
      StrictToken inner_prev = token;
      while (end < tokens.size() && strict_match(inner_prev, tokens[end], rules.inside))
        inner_prev = tokens[end++];
      // `end` < tokens.size(): the appended outside token is never "inside" an entity.
      if (strict_match(tokens[end - 1], tokens[end], rules.end))
        entities.push_back(Entity{std::string(token.tag), i, end});
      i = end;
    } else {
      ++i;
    }
    prev = tokens[i - 1];
  }
  return entities;
}

/// seqeval's auto_detect (IOB2, IOE2, IOBES, BILOU), restricted to the schemes lstmner has.
inline TagScheme seqeval_auto_detect(const std::vector<std::vector<std::string>>& sequences) {
  std::string prefixes;  // sorted set of first characters
  for (const auto& tags : sequences)
    for (const std::string& tag : tags) {
      if (tag.empty() || std::string_view("IOBESUL").find(tag[0]) == std::string_view::npos)
        throw std::invalid_argument("lstmner: evaluate (strict): cannot detect the scheme: tag '" +
                                    tag + "' has no scheme prefix");
      if (prefixes.find(tag[0]) == std::string::npos) prefixes += tag[0];
    }
  std::sort(prefixes.begin(), prefixes.end());
  for (const char* set : {"BIO", "BI", "BO", "B"})
    if (prefixes == set) return TagScheme::IOB2;
  for (const char* set : {"BEIOS", "BEIS", "BEIO", "BEOS", "BEI", "BES", "BEO", "BE", "S"})
    if (prefixes == set) return TagScheme::IOBES;
  throw std::invalid_argument(
      "lstmner: evaluate (strict): cannot detect the scheme of the gold tags (prefixes '" +
      prefixes + "'); pass ScoringOptions::scheme");
}

}  // namespace detail

}  // namespace lstmner
