#pragma once
/// \file metrics/detail/seqeval_strict.hpp
/// seqeval's strict mode (seqeval.scheme): the token split, the IOB1 / IOB2 / IOBES pattern
/// tables, Tokens.entities for one sentence (strict_entities, a line-by-line port: the
/// specification) and one tag at a time (StrictChunker, what the streaming Scorer runs; the fuzz
/// target fuzz_prediction_file checks that the two agree), and auto_detect.

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

/// Splits `token` into `out`; false when it does not start with one of seqeval's prefixes.
inline bool strict_split(std::string_view token, StrictToken& out) {
  const std::string_view prefixes = "IOBESUL";
  if (token.empty() || prefixes.find(token[0]) == std::string_view::npos) return false;
  std::string_view tag = token.substr(1);
  while (!tag.empty() && tag.front() == '-') tag.remove_prefix(1);
  while (!tag.empty() && tag.back() == '-') tag.remove_suffix(1);
  if (tag.empty()) tag = "_";
  out = {token[0], tag};
  return true;
}

inline std::string strict_token_problem(std::string_view token, std::size_t sentence,
                                        std::size_t position) {
  return "lstmner: evaluate (strict): sentence " + std::to_string(sentence) + " token " +
         std::to_string(position) + ": '" + std::string(token) +
         "' does not start with one of the prefixes I, O, B, E, S, U, L";
}

inline std::string strict_prefix_problem(std::string_view tag, TagScheme scheme,
                                         std::size_t sentence, std::size_t position) {
  return "lstmner: evaluate (strict): sentence " + std::to_string(sentence) + " token " +
         std::to_string(position) + ": '" + std::string(tag) + "' has a prefix that " +
         to_string(scheme) + " does not allow";
}

inline StrictToken strict_token(std::string_view token, std::size_t sentence,
                                std::size_t position) {
  StrictToken out{};
  if (!strict_split(token, out))
    throw std::invalid_argument(strict_token_problem(token, sentence, position));
  return out;
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
      throw std::invalid_argument(strict_prefix_problem(tags[i], scheme, sentence, i));
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

/// strict_entities one tag at a time: feed() every tag of a sentence, then end_sentence(). Each
/// returns the entity that ends just before the tag it is given (nullptr when none does): at most
/// one per tag, the same entities as strict_entities in the same order. Where strict_entities
/// would throw, the chunker goes on and end_sentence() leaves the same message in error() (the
/// first tag without a scheme prefix in the sentence, else the first disallowed prefix); what it
/// returned for that sentence is then meaningless. Memory does not grow with the input.
class StrictChunker {
 public:
  explicit StrictChunker(TagScheme scheme) : scheme_(scheme), rules_(&strict_rules(scheme)) {}

  const Entity* feed(std::string_view tag) {
    StrictToken token{};
    if (!strict_split(tag, token)) {
      if (token_error_.empty()) token_error_ = strict_token_problem(tag, sentence_, position_);
      token = {'O', "_"};  // the sentence fails; any token keeps the state machine going
    }
    return step(token, tag);
  }

  /// Ends the sentence (seqeval's appended outside token) and returns the entity ending there.
  const Entity* end_sentence() {
    const Entity* entity = step(StrictToken{'O', "_"}, {});
    error_ = !token_error_.empty() ? std::move(token_error_) : std::move(prefix_error_);
    token_error_.clear();
    prefix_error_.clear();
    prev_ = {'O', "_"};
    in_entity_ = false;
    position_ = 0;
    ++sentence_;
    return entity;
  }

  /// Why the last sentence ended failed strict_entities; empty when it did not.
  const std::string& error() const { return error_; }

 private:
  /// A StrictToken that owns its tag (the caller's tag does not outlive feed()).
  struct Held {
    char prefix;
    std::string tag;
    StrictToken view() const { return {prefix, tag}; }
    void assign(const StrictToken& t) {
      prefix = t.prefix;
      tag.assign(t.tag);
    }
  };

  const Entity* step(const StrictToken& token, std::string_view raw) {
    bool ended = false;
    if (in_entity_) {  // strict_entities' inner loop: extend, or end the candidate here
      if (strict_match(inner_.view(), token, rules_->inside)) {
        inner_.assign(token);
        ++position_;
        return nullptr;
      }
      if (strict_match(inner_.view(), token, rules_->end)) {
        entity_.type = start_tag_;
        entity_.begin = start_;
        entity_.end = position_;
        ended = true;
      }
      in_entity_ = false;
      prev_ = inner_;
    }
    // The head of strict_entities' outer loop.
    if (!strict_prefix_allowed(token.prefix, scheme_) && prefix_error_.empty())
      prefix_error_ = strict_prefix_problem(raw, scheme_, sentence_, position_);
    if (strict_match(prev_.view(), token, rules_->start)) {
      in_entity_ = true;
      start_ = position_;
      start_tag_.assign(token.tag);
      inner_.assign(token);
    } else {
      prev_.assign(token);
    }
    ++position_;
    return ended ? &entity_ : nullptr;
  }

  TagScheme scheme_;
  const StrictRules* rules_;
  Held prev_{'O', "_"}, inner_{'O', "_"};
  bool in_entity_ = false;
  std::size_t start_ = 0, position_ = 0, sentence_ = 0;
  std::string start_tag_;
  Entity entity_;
  std::string token_error_, prefix_error_, error_;
};

/// seqeval's auto_detect (IOB2, IOE2, IOBES, BILOU), restricted to the schemes lstmner has, one
/// tag at a time: add() every gold tag, then scheme() (which throws what auto_detect would).
class SchemeDetector {
 public:
  void add(std::string_view tag) {
    if (tag.empty() || std::string_view("IOBESUL").find(tag[0]) == std::string_view::npos) {
      if (error_.empty())
        error_ = "lstmner: evaluate (strict): cannot detect the scheme: tag '" + std::string(tag) +
                 "' has no scheme prefix";
      return;
    }
    if (prefixes_.find(tag[0]) == std::string::npos) prefixes_ += tag[0];
  }

  TagScheme scheme() const {
    if (!error_.empty()) throw std::invalid_argument(error_);
    std::string prefixes = prefixes_;  // sorted set of first characters
    std::sort(prefixes.begin(), prefixes.end());
    for (const char* set : {"BIO", "BI", "BO", "B"})
      if (prefixes == set) return TagScheme::IOB2;
    for (const char* set : {"BEIOS", "BEIS", "BEIO", "BEOS", "BEI", "BES", "BEO", "BE", "S"})
      if (prefixes == set) return TagScheme::IOBES;
    throw std::invalid_argument(
        "lstmner: evaluate (strict): cannot detect the scheme of the gold tags (prefixes '" +
        prefixes + "'); pass ScoringOptions::scheme");
  }

 private:
  std::string prefixes_, error_;
};

inline TagScheme seqeval_auto_detect(const std::vector<std::vector<std::string>>& sequences) {
  SchemeDetector detector;
  for (const auto& tags : sequences)
    for (const std::string& tag : tags) detector.add(tag);
  return detector.scheme();
}

}  // namespace detail

}  // namespace lstmner
