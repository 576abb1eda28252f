#pragma once
/// \file metrics.hpp
/// Entity-level scoring exactly as conlleval (the CoNLL shared tasks' Perl script) and seqeval
/// (the Python library) score, and their reports. Standard library only (plus tag_scheme.hpp).
/// docs/metrics.md lists every rule and every place where the two disagree, with examples.
///
/// Public API:
///   ScoringMode { Conlleval (default), Seqeval (seqeval's default mode), SeqevalStrict }
///   ScoringOptions { mode, scheme (strict mode only; nullopt = detect like seqeval) }
///   extract_entities(tags, options) -> std::vector<Entity> {type, begin, end (exclusive)}
///   evaluate(gold, predicted, options) -> EvaluationReport   (one tag sequence per sentence)
///   EvaluationReport: per_type (sorted by type), micro / macro / weighted averages, token
///     accuracy, gold / predicted / correct entity counts, token counts. Scores are fractions.
///   ConllevalCounter: conlleval's streaming state machine (add(gold, predicted), add_boundary())
///   read_prediction_file(istream, name, options): conlleval's input format, line by line
///   format_conlleval(report), format_seqeval(report, digits), to_json(report)
///
/// Conlleval mode is a line-for-line port of conlleval's chunk logic (startOfChunk, endOfChunk
/// and its "inCorrect" bookkeeping), so that counts agree on every input, well-formed or not;
/// format_conlleval() prints its report byte for byte. Seqeval mode ports seqeval's
/// get_entities() (default) and Tokens.entities (mode='strict'), its set-based matching, its
/// averages, and classification_report()'s table.

#include <lstmner/tag_scheme.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <istream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lstmner {

enum class ScoringMode {
  Conlleval,      ///< conlleval.pl (the CoNLL-2000/2003 script)
  Seqeval,        ///< seqeval's default mode (mode=None)
  SeqevalStrict,  ///< seqeval's mode='strict' with a scheme
};

inline std::string to_string(ScoringMode mode) {
  switch (mode) {
    case ScoringMode::Conlleval:
      return "conlleval";
    case ScoringMode::Seqeval:
      return "seqeval";
    case ScoringMode::SeqevalStrict:
      return "strict";
  }
  return "unknown";
}

/// "conlleval", "seqeval" (or "default") and "strict"; std::invalid_argument otherwise.
inline ScoringMode parse_scoring_mode(const std::string& name) {
  if (name == "conlleval") return ScoringMode::Conlleval;
  if (name == "seqeval" || name == "default") return ScoringMode::Seqeval;
  if (name == "strict") return ScoringMode::SeqevalStrict;
  throw std::invalid_argument("lstmner: parse_scoring_mode: unknown mode '" + name +
                              "' (expected conlleval, seqeval or strict)");
}

struct ScoringOptions {
  ScoringMode mode = ScoringMode::Conlleval;
  /// Strict mode: the scheme entities must follow. nullopt: detected from the gold tags the way
  /// seqeval's classification_report does (IOB2 or IOBES).
  std::optional<TagScheme> scheme;
};

/// Precision, recall and F1, as fractions in [0, 1] (0 where undefined, like both tools).
struct PRF {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
};

struct TypeScores {
  std::string type;
  std::size_t gold = 0;       ///< entities of this type in the gold tags ("support")
  std::size_t predicted = 0;  ///< entities of this type predicted
  std::size_t correct = 0;    ///< predicted entities matching a gold one exactly
  PRF scores;
};

struct EvaluationReport {
  ScoringMode mode = ScoringMode::Conlleval;
  /// Strict mode: the scheme used.
  std::optional<TagScheme> scheme;
  /// One entry per entity type seen in the gold or predicted tags, sorted bytewise.
  std::vector<TypeScores> per_type;
  std::size_t gold_entities = 0, predicted_entities = 0, correct_entities = 0;
  /// Tokens scored, and those whose predicted tag equals the gold one.
  std::size_t tokens = 0, correct_tokens = 0;
  double accuracy = 0.0;
  PRF micro;     ///< from the summed counts: what conlleval calls "overall"
  PRF macro;     ///< unweighted mean over per_type
  PRF weighted;  ///< mean over per_type weighted by gold counts

  const TypeScores* find(std::string_view type) const {
    for (const TypeScores& t : per_type)
      if (t.type == type) return &t;
    return nullptr;
  }
};

namespace detail {

/// The numbers seqeval and conlleval derive from counts (x / 0 is 0 in both).
inline PRF prf_from_counts(std::size_t correct, std::size_t predicted, std::size_t gold) {
  PRF s;
  if (predicted > 0) s.precision = static_cast<double>(correct) / static_cast<double>(predicted);
  if (gold > 0) s.recall = static_cast<double>(correct) / static_cast<double>(gold);
  if (s.precision + s.recall > 0) s.f1 = 2.0 * s.precision * s.recall / (s.precision + s.recall);
  return s;
}

/// numpy's pairwise summation (what np.add.reduce, np.mean and np.average use on a contiguous
/// float64 array), reproduced so that averages agree with seqeval to the last bit.
inline double numpy_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += a[i];
    return sum;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += a[i];
    return sum;
  }
  std::size_t half = n / 2;
  half -= half % 8;
  return numpy_sum(a, half) + numpy_sum(a + half, n - half);
}

/// Fills per-type scores, micro, macro and weighted averages as seqeval computes them
/// (sklearn-style zero division: 0; np.average for the macro and weighted means).
inline void finish_report(EvaluationReport& report) {
  report.gold_entities = report.predicted_entities = report.correct_entities = 0;
  const std::size_t n = report.per_type.size();
  // Columns: precision, recall, f1, and each multiplied by the type's gold count.
  std::vector<double> columns[6];
  for (auto& column : columns) column.reserve(n);
  for (TypeScores& t : report.per_type) {
    t.scores = prf_from_counts(t.correct, t.predicted, t.gold);
    report.gold_entities += t.gold;
    report.predicted_entities += t.predicted;
    report.correct_entities += t.correct;
    const double w = static_cast<double>(t.gold);
    columns[0].push_back(t.scores.precision);
    columns[1].push_back(t.scores.recall);
    columns[2].push_back(t.scores.f1);
    columns[3].push_back(t.scores.precision * w);
    columns[4].push_back(t.scores.recall * w);
    columns[5].push_back(t.scores.f1 * w);
  }
  auto sum = [&](int c) { return numpy_sum(columns[c].data(), n); };
  report.micro =
      prf_from_counts(report.correct_entities, report.predicted_entities, report.gold_entities);
  report.macro = PRF{};
  report.weighted = PRF{};
  if (n > 0) {
    const double dn = static_cast<double>(n);
    report.macro = PRF{sum(0) / dn, sum(1) / dn, sum(2) / dn};
  }
  if (report.gold_entities > 0) {
    const double total = static_cast<double>(report.gold_entities);
    report.weighted = PRF{sum(3) / total, sum(4) / total, sum(5) / total};
  }
  report.accuracy = report.tokens > 0 ? static_cast<double>(report.correct_tokens) /
                                            static_cast<double>(report.tokens)
                                      : 0.0;
}

// ---- conlleval's rules -------------------------------------------------------------------------

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

/// conlleval's counting, one line at a time: add() for a token line (gold tag, predicted tag),
/// add_boundary() for a sentence break (a blank line, or a line whose first field is -X-).
/// The per-type key of an entity is its type as conlleval reads it ("" for a tag without one).
class ConllevalCounter {
 public:
  void add(std::string_view gold_tag, std::string_view predicted_tag) {
    const detail::ConllevalTag gold = detail::conlleval_split(gold_tag);
    const detail::ConllevalTag guess = detail::conlleval_split(predicted_tag);
    step(gold.code, gold.type, guess.code, guess.type);
    ++tokens_;
    if (gold.prefix == guess.prefix && gold.type == guess.type) ++correct_tokens_;
  }

  /// A sentence break: conlleval reads it as a token "O O" that is not counted.
  void add_boundary() { step(detail::ConllevalPrefix::O, {}, detail::ConllevalPrefix::O, {}); }

  /// The counts so far, as a report (an entity still open at the end is closed, as conlleval
  /// does at the end of its input).
  EvaluationReport report() const {
    EvaluationReport report;
    report.mode = ScoringMode::Conlleval;
    report.tokens = tokens_;
    report.correct_tokens = correct_tokens_;
    for (const auto& [type, counts] : types_) {
      TypeScores t;
      t.type = type;
      t.gold = counts.gold;
      t.predicted = counts.predicted;
      t.correct = counts.correct + (in_correct_ && type == last_correct_type_ ? 1 : 0);
      report.per_type.push_back(std::move(t));
    }
    detail::finish_report(report);
    return report;
  }

 private:
  struct Counts {
    std::size_t gold = 0, predicted = 0, correct = 0;
  };

  Counts& counts(std::string_view type) {
    auto it = types_.find(type);
    if (it == types_.end()) it = types_.emplace(std::string(type), Counts{}).first;
    return it->second;
  }

  // The body of conlleval's main loop, in its order.
  void step(detail::ConllevalPrefix correct, std::string_view correct_type,
            detail::ConllevalPrefix guessed, std::string_view guessed_type) {
    using detail::conlleval_end_of_chunk;
    using detail::conlleval_start_of_chunk;
    const bool gold_end =
        conlleval_end_of_chunk(last_correct_, correct, last_correct_type_, correct_type);
    const bool guess_end =
        conlleval_end_of_chunk(last_guessed_, guessed, last_guessed_type_, guessed_type);
    const bool gold_start =
        conlleval_start_of_chunk(last_correct_, correct, last_correct_type_, correct_type);
    const bool guess_start =
        conlleval_start_of_chunk(last_guessed_, guessed, last_guessed_type_, guessed_type);
    if (in_correct_) {
      if (gold_end && guess_end && last_guessed_type_ == last_correct_type_) {
        in_correct_ = false;
        ++counts(last_correct_type_).correct;
      } else if (gold_end != guess_end || guessed_type != correct_type) {
        in_correct_ = false;
      }
    }
    if (gold_start && guess_start && guessed_type == correct_type) in_correct_ = true;
    if (gold_start) ++counts(correct_type).gold;
    if (guess_start) ++counts(guessed_type).predicted;
    last_correct_ = correct;
    last_correct_type_.assign(correct_type);
    last_guessed_ = guessed;
    last_guessed_type_.assign(guessed_type);
  }

  std::map<std::string, Counts, std::less<>> types_;
  detail::ConllevalPrefix last_correct_ = detail::ConllevalPrefix::O;
  detail::ConllevalPrefix last_guessed_ = detail::ConllevalPrefix::O;
  std::string last_correct_type_, last_guessed_type_;
  bool in_correct_ = false;
  std::size_t tokens_ = 0, correct_tokens_ = 0;
};

namespace detail {

// ---- seqeval's default mode (seqeval.metrics.sequence_labeling) -----------------------------

/// seqeval's get_entities() tag split: the first character is the tag, the type is what follows
/// the first hyphen after it ("_" when empty).
struct SeqevalTag {
  char prefix;
  std::string_view type;
};

inline SeqevalTag seqeval_split(std::string_view chunk) {
  if (chunk.empty()) return {'\0', "_"};  // Python would raise IndexError on ''[0]
  std::string_view rest = chunk.substr(1);
  const std::size_t hyphen = rest.find('-');
  std::string_view type = hyphen == std::string_view::npos ? rest : rest.substr(hyphen + 1);
  if (type.empty()) type = "_";
  return {chunk[0], type};
}

inline bool seqeval_end_of_chunk(char prev_tag, char tag, std::string_view prev_type,
                                 std::string_view type) {
  bool end = false;
  if (prev_tag == 'E' || prev_tag == 'S') end = true;
  if ((prev_tag == 'B' || prev_tag == 'I') && (tag == 'B' || tag == 'S' || tag == 'O')) end = true;
  if (prev_tag != 'O' && prev_tag != '.' && prev_type != type) end = true;
  return end;
}

inline bool seqeval_start_of_chunk(char prev_tag, char tag, std::string_view prev_type,
                                   std::string_view type) {
  bool start = false;
  if (tag == 'B' || tag == 'S') start = true;
  if ((prev_tag == 'E' || prev_tag == 'S' || prev_tag == 'O') && (tag == 'E' || tag == 'I'))
    start = true;
  if (tag != 'O' && tag != '.' && prev_type != type) start = true;
  return start;
}

/// seqeval's get_entities over sentences joined with an "O" after each (its handling of a list
/// of lists), positions global and end inclusive, exactly as seqeval returns them.
struct SeqevalChunk {
  std::string_view type;
  std::size_t sentence, begin, last;
};

inline void seqeval_chunks(const std::vector<std::string>& tags, std::size_t sentence,
                           std::vector<SeqevalChunk>& out) {
  char prev_tag = 'O';
  std::string_view prev_type = "_";
  std::size_t begin = 0;
  for (std::size_t i = 0; i <= tags.size(); ++i) {
    const SeqevalTag t = i < tags.size() ? seqeval_split(tags[i]) : SeqevalTag{'O', "_"};
    if (seqeval_end_of_chunk(prev_tag, t.prefix, prev_type, t.type))
      out.push_back({prev_type, sentence, begin, i - 1});
    if (seqeval_start_of_chunk(prev_tag, t.prefix, prev_type, t.type)) begin = i;
    prev_tag = t.prefix;
    prev_type = t.type;
  }
}

// ---- seqeval's strict mode (seqeval.scheme) ---------------------------------------------------

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

/// Sorted, de-duplicated (sentence, begin, end) keys per type: seqeval's sets of entities.
using SpanKey = std::pair<std::size_t, std::pair<std::size_t, std::size_t>>;
using SpansByType = std::map<std::string, std::vector<SpanKey>, std::less<>>;

inline void add_span(SpansByType& by_type, std::string_view type, SpanKey key) {
  auto it = by_type.find(type);
  if (it == by_type.end()) it = by_type.emplace(std::string(type), std::vector<SpanKey>{}).first;
  it->second.push_back(key);
}

inline EvaluationReport report_from_spans(SpansByType& gold, SpansByType& predicted) {
  EvaluationReport report;
  std::vector<std::string> types;
  for (const auto& entry : gold) types.push_back(entry.first);
  for (const auto& entry : predicted) types.push_back(entry.first);
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  for (const std::string& type : types) {
    std::vector<SpanKey>& g = gold[type];
    std::vector<SpanKey>& p = predicted[type];
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
    std::size_t common = 0;
    for (std::size_t a = 0, b = 0; a < g.size() && b < p.size();) {
      if (g[a] < p[b]) {
        ++a;
      } else if (p[b] < g[a]) {
        ++b;
      } else {
        ++common, ++a, ++b;
      }
    }
    TypeScores t;
    t.type = type;
    t.gold = g.size();
    t.predicted = p.size();
    t.correct = common;
    report.per_type.push_back(std::move(t));
  }
  return report;
}

inline void check_same_shape(const std::vector<std::vector<std::string>>& gold,
                             const std::vector<std::vector<std::string>>& predicted) {
  if (gold.size() != predicted.size())
    throw std::invalid_argument("lstmner: evaluate: " + std::to_string(gold.size()) +
                                " gold sentences but " + std::to_string(predicted.size()) +
                                " predicted");
  for (std::size_t s = 0; s < gold.size(); ++s)
    if (gold[s].size() != predicted[s].size())
      throw std::invalid_argument("lstmner: evaluate: sentence " + std::to_string(s) + " has " +
                                  std::to_string(gold[s].size()) + " gold tags but " +
                                  std::to_string(predicted[s].size()) + " predicted");
}

}  // namespace detail

/// The entities of one sentence's tags under the rules of `options.mode` (end exclusive):
/// - Conlleval: an entity starts where conlleval's startOfChunk says so and runs up to the next
///   token where endOfChunk (or a new start) says so;
/// - Seqeval: seqeval's get_entities(), end made exclusive;
/// - SeqevalStrict: seqeval's Tokens(...).entities for the scheme (options.scheme, or detected
///   from these tags). Tags whose prefix the scheme does not allow throw std::invalid_argument.
inline std::vector<Entity> extract_entities(const std::vector<std::string>& tags,
                                            const ScoringOptions& options = {}) {
  std::vector<Entity> entities;
  switch (options.mode) {
    case ScoringMode::Conlleval: {
      detail::ConllevalPrefix prev_tag = detail::ConllevalPrefix::O;
      std::string_view prev_type;
      bool open = false;
      for (std::size_t i = 0; i < tags.size(); ++i) {
        const detail::ConllevalTag t = detail::conlleval_split(tags[i]);
        if (open && detail::conlleval_end_of_chunk(prev_tag, t.code, prev_type, t.type)) {
          entities.back().end = i;
          open = false;
        }
        if (detail::conlleval_start_of_chunk(prev_tag, t.code, prev_type, t.type)) {
          if (open) entities.back().end = i;
          entities.push_back(Entity{std::string(t.type), i, tags.size()});
          open = true;
        }
        prev_tag = t.code;
        prev_type = t.type;
      }
      break;
    }
    case ScoringMode::Seqeval: {
      std::vector<detail::SeqevalChunk> chunks;
      detail::seqeval_chunks(tags, 0, chunks);
      for (const auto& c : chunks)
        entities.push_back(Entity{std::string(c.type), c.begin, c.last + 1});
      break;
    }
    case ScoringMode::SeqevalStrict: {
      const TagScheme scheme =
          options.scheme ? *options.scheme : detail::seqeval_auto_detect({tags});
      entities = detail::strict_entities(tags, scheme, 0);
      break;
    }
  }
  return entities;
}

/// Scores predicted tag sequences against gold ones (one sequence per sentence, equal lengths;
/// std::invalid_argument otherwise). Conlleval mode gives what conlleval prints for a file with
/// these sentences separated by blank lines; the seqeval modes give what seqeval's
/// classification_report / precision_score / recall_score / f1_score / accuracy_score return.
inline EvaluationReport evaluate(const std::vector<std::vector<std::string>>& gold,
                                 const std::vector<std::vector<std::string>>& predicted,
                                 const ScoringOptions& options = {}) {
  detail::check_same_shape(gold, predicted);
  EvaluationReport report;
  if (options.mode == ScoringMode::Conlleval) {
    ConllevalCounter counter;
    for (std::size_t s = 0; s < gold.size(); ++s) {
      for (std::size_t i = 0; i < gold[s].size(); ++i) counter.add(gold[s][i], predicted[s][i]);
      counter.add_boundary();
    }
    return counter.report();
  }

  detail::SpansByType gold_spans, predicted_spans;
  std::optional<TagScheme> scheme;
  if (options.mode == ScoringMode::Seqeval) {
    // seqeval joins the sentences with an "O" after each; positions are global.
    std::vector<detail::SeqevalChunk> chunks;
    std::vector<std::string> joined_gold, joined_predicted;
    for (std::size_t s = 0; s < gold.size(); ++s) {
      joined_gold.insert(joined_gold.end(), gold[s].begin(), gold[s].end());
      joined_gold.push_back("O");
      joined_predicted.insert(joined_predicted.end(), predicted[s].begin(), predicted[s].end());
      joined_predicted.push_back("O");
    }
    detail::seqeval_chunks(joined_gold, 0, chunks);
    for (const auto& c : chunks) detail::add_span(gold_spans, c.type, {0, {c.begin, c.last}});
    chunks.clear();
    detail::seqeval_chunks(joined_predicted, 0, chunks);
    for (const auto& c : chunks) detail::add_span(predicted_spans, c.type, {0, {c.begin, c.last}});
  } else {
    scheme = options.scheme ? *options.scheme : detail::seqeval_auto_detect(gold);
    for (std::size_t s = 0; s < gold.size(); ++s) {
      for (const Entity& e : detail::strict_entities(gold[s], *scheme, s))
        detail::add_span(gold_spans, e.type, {s, {e.begin, e.end}});
      for (const Entity& e : detail::strict_entities(predicted[s], *scheme, s))
        detail::add_span(predicted_spans, e.type, {s, {e.begin, e.end}});
    }
  }
  report = detail::report_from_spans(gold_spans, predicted_spans);
  report.mode = options.mode;
  report.scheme = scheme;
  for (std::size_t s = 0; s < gold.size(); ++s) {
    report.tokens += gold[s].size();
    for (std::size_t i = 0; i < gold[s].size(); ++i)
      if (gold[s][i] == predicted[s][i]) ++report.correct_tokens;
  }
  detail::finish_report(report);
  return report;
}

// ---- conlleval's input format ------------------------------------------------------------------

struct PredictionFileOptions {
  /// conlleval -d: the field separator (conlleval's default is one space; each occurrence
  /// separates, so two spaces make an empty field, as in Perl's split).
  std::string delimiter = " ";
  /// conlleval -r: tags carry no prefix; every tag other than the outside tag becomes B-tag.
  bool raw = false;
  /// conlleval -o: the outside tag in raw mode.
  std::string outside_tag = "O";
  /// First field of the lines that conlleval treats as a sentence break.
  std::string boundary = "-X-";
  /// First field of document lines, left out of `gold` / `predicted` (conlleval counts them).
  std::string docstart = "-DOCSTART-";
};

/// A prediction file read line by line as conlleval reads it.
struct PredictionFile {
  /// Every line fed to conlleval's counter (-DOCSTART- lines counted as tokens, as conlleval does).
  ConllevalCounter conlleval;
  /// Sentences of gold (last-but-one field) and predicted (last field) tags, -DOCSTART- lines
  /// left out: the input of evaluate() in the seqeval modes.
  std::vector<std::vector<std::string>> gold, predicted;
  std::size_t lines = 0;
};

/// Reads conlleval's input format: fields split on `delimiter` (trailing empty fields dropped),
/// the last two fields gold and predicted tag, blank lines (or lines starting with -X-) between
/// sentences. A trailing CR is removed from every line (conlleval would keep it in the last tag).
/// Throws std::runtime_error naming `name` and the line, where conlleval stops with an error:
/// a non-empty line with a different number of fields than the file's first line, or fewer
/// than two fields.
inline PredictionFile read_prediction_file(std::istream& in, const std::string& name,
                                           const PredictionFileOptions& options = {}) {
  if (options.delimiter.empty())
    throw std::invalid_argument("lstmner: read_prediction_file: empty delimiter");
  PredictionFile file;
  std::string line;
  std::vector<std::string_view> fields;
  std::vector<std::string> gold_sentence, predicted_sentence;
  std::optional<std::size_t> field_count;  // conlleval's $nbrOfFeatures (set by the first line)
  std::string raw_gold, raw_predicted;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("lstmner: read_prediction_file: " + name + ":" +
                             std::to_string(file.lines) + ": " + what);
  };
  auto end_sentence = [&]() {
    if (!gold_sentence.empty()) {
      file.gold.push_back(std::move(gold_sentence));
      file.predicted.push_back(std::move(predicted_sentence));
      gold_sentence.clear();
      predicted_sentence.clear();
    }
  };
  while (std::getline(in, line)) {
    ++file.lines;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Perl's split(/$delimiter/, $line): every occurrence separates, trailing empties go.
    fields.clear();
    std::string_view rest(line);
    for (;;) {
      const std::size_t pos = rest.find(options.delimiter);
      if (pos == std::string_view::npos) {
        fields.push_back(rest);
        break;
      }
      fields.push_back(rest.substr(0, pos));
      rest.remove_prefix(pos + options.delimiter.size());
    }
    while (!fields.empty() && fields.back().empty()) fields.pop_back();

    if (!field_count) {
      if (!fields.empty()) field_count = fields.size();
    } else if (!fields.empty() && fields.size() != *field_count) {
      fail("unexpected number of features: " + std::to_string(fields.size()) + " (" +
           std::to_string(*field_count) + ")");
    }
    if (fields.empty() || fields[0] == options.boundary) {
      file.conlleval.add_boundary();
      end_sentence();
      continue;
    }
    if (fields.size() < 2) fail("unexpected number of features in line " + line);
    std::string_view gold = fields[fields.size() - 2];
    std::string_view predicted = fields.back();
    if (options.raw) {
      raw_gold = gold == options.outside_tag || gold == "O" ? "O" : "B-" + std::string(gold);
      raw_predicted = predicted == options.outside_tag || predicted == "O"
                          ? "O"
                          : "B-" + std::string(predicted);
      gold = raw_gold;
      predicted = raw_predicted;
    }
    file.conlleval.add(gold, predicted);
    if (fields[0] == options.docstart) {
      end_sentence();
    } else {
      gold_sentence.emplace_back(gold);
      predicted_sentence.emplace_back(predicted);
    }
  }
  if (in.bad()) throw std::runtime_error("lstmner: read_prediction_file: " + name + ": read error");
  end_sentence();
  return file;
}

// ---- reports -----------------------------------------------------------------------------------

namespace detail {

template <class... Args>
std::string format_c(const char* format, Args... args) {
  char buffer[256];
  const int n = std::snprintf(buffer, sizeof buffer, format, args...);
  if (n < 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buffer)
    return std::string(buffer, static_cast<std::size_t>(n));
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), format, args...);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

/// Characters of a UTF-8 string (Python's len()), for seqeval's column widths.
inline std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

inline std::string pad_left(const std::string& s, std::size_t width) {
  const std::size_t len = utf8_length(s);
  return len >= width ? s : std::string(width - len, ' ') + s;
}

inline std::string json_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string s(buffer, result.ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += format_c("\\u%04x", static_cast<unsigned>(c));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace detail

/// conlleval's report, byte for byte (percentages computed from the counts with its formulas):
///   processed N tokens with G phrases; found: P phrases; correct: C.
///   accuracy:  xx.xx%; precision:  xx.xx%; recall:  xx.xx%; FB1:  xx.xx
///                 LOC: precision:  xx.xx%; recall:  xx.xx%; FB1:  xx.xx  P
/// (no accuracy line without tokens; a type "" is printed once for gold and once for predicted
/// entities, as conlleval's duplicate filter lets it through).
inline std::string format_conlleval(const EvaluationReport& report) {
  using detail::format_c;
  std::string out =
      format_c("processed %zu tokens with %zu phrases; ", report.tokens, report.gold_entities);
  out += format_c("found: %zu phrases; correct: %zu.\n", report.predicted_entities,
                  report.correct_entities);
  auto percent = [](std::size_t num, std::size_t den) {
    return den > 0 ? 100.0 * static_cast<double>(num) / static_cast<double>(den) : 0.0;
  };
  auto fb1 = [](double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0.0; };
  if (report.tokens > 0) {
    const double p = percent(report.correct_entities, report.predicted_entities);
    const double r = percent(report.correct_entities, report.gold_entities);
    out += format_c("accuracy: %6.2f%%; ", percent(report.correct_tokens, report.tokens));
    out += format_c("precision: %6.2f%%; ", p);
    out += format_c("recall: %6.2f%%; ", r);
    out += format_c("FB1: %6.2f\n", fb1(p, r));
  }
  for (const TypeScores& t : report.per_type) {
    const int copies = t.type.empty() ? (t.gold > 0) + (t.predicted > 0) : 1;
    const double p = percent(t.correct, t.predicted);
    const double r = percent(t.correct, t.gold);
    for (int c = 0; c < copies; ++c) {
      out += format_c("%17s: ", t.type.c_str());
      out += format_c("precision: %6.2f%%; ", p);
      out += format_c("recall: %6.2f%%; ", r);
      out += format_c("FB1: %6.2f  %zu\n", fb1(p, r), t.predicted);
    }
  }
  return out;
}

/// seqeval's classification_report() string (what Python's print() shows, minus print's own
/// final newline): a header, one row per type, then micro / macro / weighted averages.
inline std::string format_seqeval(const EvaluationReport& report, int digits = 2) {
  if (digits < 0 || digits > 20)
    throw std::invalid_argument("lstmner: format_seqeval: digits must be in 0..20");
  std::size_t width = std::max<std::size_t>(12, static_cast<std::size_t>(digits));
  for (const TypeScores& t : report.per_type) width = std::max(width, detail::utf8_length(t.type));
  std::string out = std::string(width, ' ') + " " + " precision" + "    recall" + "  f1-score" +
                    "   support" + "\n\n";
  auto row = [&](const std::string& name, const PRF& s, std::size_t support) {
    out += detail::pad_left(name, width) + " ";
    for (double v : {s.precision, s.recall, s.f1}) out += detail::format_c(" %9.*f", digits, v);
    out += detail::format_c(" %9zu", support) + "\n";
  };
  for (const TypeScores& t : report.per_type) row(t.type, t.scores, t.gold);
  out += "\n";
  row("micro avg", report.micro, report.gold_entities);
  row("macro avg", report.macro, report.gold_entities);
  row("weighted avg", report.weighted, report.gold_entities);
  return out;
}

/// The report as a JSON object (numbers in shortest round-trip form, scores as fractions).
inline std::string to_json(const EvaluationReport& report) {
  using detail::json_number;
  using detail::json_string;
  auto prf = [](const PRF& s) {
    return "{\"precision\": " + json_number(s.precision) +
           ", \"recall\": " + json_number(s.recall) + ", \"f1\": " + json_number(s.f1) + "}";
  };
  std::string out = "{\n  \"mode\": " + json_string(to_string(report.mode)) + ",\n";
  out +=
      "  \"scheme\": " + (report.scheme ? json_string(to_string(*report.scheme)) : "null") + ",\n";
  out += "  \"tokens\": " + std::to_string(report.tokens) +
         ",\n  \"correct_tokens\": " + std::to_string(report.correct_tokens) +
         ",\n  \"accuracy\": " + json_number(report.accuracy) + ",\n";
  out += "  \"entities\": {\"gold\": " + std::to_string(report.gold_entities) +
         ", \"predicted\": " + std::to_string(report.predicted_entities) +
         ", \"correct\": " + std::to_string(report.correct_entities) + "},\n";
  out += "  \"micro\": " + prf(report.micro) + ",\n";
  out += "  \"macro\": " + prf(report.macro) + ",\n";
  out += "  \"weighted\": " + prf(report.weighted) + ",\n";
  out += "  \"per_type\": {";
  for (std::size_t i = 0; i < report.per_type.size(); ++i) {
    const TypeScores& t = report.per_type[i];
    out += (i ? ",\n    " : "\n    ") + json_string(t.type) +
           ": {\"gold\": " + std::to_string(t.gold) +
           ", \"predicted\": " + std::to_string(t.predicted) +
           ", \"correct\": " + std::to_string(t.correct) +
           ", \"precision\": " + json_number(t.scores.precision) +
           ", \"recall\": " + json_number(t.scores.recall) +
           ", \"f1\": " + json_number(t.scores.f1) + "}";
  }
  out += report.per_type.empty() ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

}  // namespace lstmner
