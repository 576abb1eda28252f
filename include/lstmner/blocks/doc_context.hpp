#pragma once
/// \file blocks/doc_context.hpp
/// The document-context feature: what the rest of a token's document says about the token's
/// word. In a headline ("JAPAN GET LUCKY WIN") or at the start of a sentence a word's casing
/// tells nothing; the same word elsewhere in the document, in the middle of an ordinary
/// sentence, tells whether it is a name ("Japan began the defence ...") or not. Each token gets
/// one of a few classes, looked up in a small trained embedding ("doc_context" block, an
/// EmbeddingBlock over Batch::doc_context; TaggerConfig::doc_context_dim, 0 = no block).
///
/// Definitions (ASCII letters only, as in casing.hpp; a non-ASCII character is uncased):
///   - a token's *case*: that of its first letter, if no non-ASCII character comes before that
///     letter ("Merkel", "NATO", "'Allo": capitalised; "the", "iPhone": lower-case); otherwise
///     (no letter, "1996", ",", or a non-ASCII first letter, "Ölmez") the token is *uncased*;
///   - a *headline*: a sentence with more tokens of at least two letters all in upper case than
///     tokens with a lower-case letter ("SOCCER - JAPAN GET LUCKY WIN", "LONDON 1996-08-30");
///   - an *informative* occurrence: a cased token of a sentence that is not a headline, with a
///     letter in some token before it in the sentence (not sentence-initial, also after an
///     opening quote or a list number);
///   - a *name run*: two or more consecutive capitalised tokens of a sentence that is not a
///     headline ("Angela Merkel said": "Merkel" is in a run; the sentence-initial "Angela" is in
///     the run too but, not being informative, is not counted).
///
/// A token's *form* is its ASCII-lower-cased text. For every cased token, over the informative
/// occurrences of its form in its document *other than itself*:
///
///   id  class                 the other informative occurrences of the form
///   0   padding               (padded steps)
///   1   uncased               (the token itself is uncased: no statistics)
///   2   unseen                none
///   3   lower                 all lower-case
///   4   capitalised           all capitalised, none in a name run
///   5   capitalised_in_name   all capitalised, at least one in a name run
///   6   mixed                 some of each case, none in a name run
///   7   mixed_in_name         some of each case, at least one in a name run
///
/// A document is a list of consecutive sentences: in CoNLL data the sentences from one
/// -DOCSTART- line to the next (sentences before the first such line are a document of their
/// own; a file without any is one document). Where no documents are given (Tagger::predict of a
/// list of sentences), the sentences passed together are one document; a single sentence is a
/// document of its own. Standard library only, apart from the block's EmbeddingBlock.

#include <lstmner/blocks/embedding_block.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lstmner {

enum class DocContext : std::int32_t {
  padding = 0,
  uncased = 1,
  unseen = 2,
  lower = 3,
  capitalised = 4,
  capitalised_in_name = 5,
  mixed = 6,
  mixed_in_name = 7,
};

/// Number of document-context classes: the column count of the block's table.
inline constexpr int num_doc_context_classes = 8;

/// The name of a class as in the table above.
inline const char* doc_context_name(DocContext c) {
  switch (c) {
    case DocContext::padding:
      return "padding";
    case DocContext::uncased:
      return "uncased";
    case DocContext::unseen:
      return "unseen";
    case DocContext::lower:
      return "lower";
    case DocContext::capitalised:
      return "capitalised";
    case DocContext::capitalised_in_name:
      return "capitalised_in_name";
    case DocContext::mixed:
      return "mixed";
    case DocContext::mixed_in_name:
      return "mixed_in_name";
  }
  return "invalid";
}

namespace detail {

/// A token's case: that of its first ASCII letter, unless a non-ASCII byte comes first.
enum class TokenCase : std::uint8_t { uncased, lower, upper };

inline TokenCase token_case(std::string_view token) {
  for (const char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80u) return TokenCase::uncased;
    if (c >= 'A' && c <= 'Z') return TokenCase::upper;
    if (c >= 'a' && c <= 'z') return TokenCase::lower;
  }
  return TokenCase::uncased;
}

inline bool has_ascii_letter(std::string_view token) {
  for (const char ch : token) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return true;
  }
  return false;
}

/// Whether a sentence is a headline (see the file comment).
inline bool is_headline(const std::vector<std::string>& tokens) {
  std::size_t shouting = 0, ordinary = 0;
  for (const std::string& token : tokens) {
    std::size_t upper = 0, lower = 0;
    for (const char ch : token) {
      const auto c = static_cast<unsigned char>(ch);
      upper += c >= 'A' && c <= 'Z';
      lower += c >= 'a' && c <= 'z';
    }
    if (lower > 0) ++ordinary;
    if (lower == 0 && upper >= 2) ++shouting;
  }
  return shouting > ordinary;
}

inline std::string ascii_lower(std::string_view token) {
  std::string s(token);
  for (char& ch : s)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return s;
}

/// What one informative occurrence contributes to its form's statistics.
struct FormCounts {
  std::size_t capitalised = 0, lower = 0, in_name = 0;
};

/// The informative occurrences of one sentence: per token, whether it is one, its case, and
/// whether it is in a name run.
struct Occurrence {
  bool informative = false;
  bool capitalised = false;
  bool in_name = false;
};

inline void sentence_occurrences(const std::vector<std::string>& tokens,
                                 std::vector<Occurrence>& out) {
  out.assign(tokens.size(), Occurrence{});
  if (is_headline(tokens)) return;
  bool letter_before = false;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const TokenCase c = token_case(tokens[i]);
    if (c != TokenCase::uncased && letter_before) {
      out[i].informative = true;
      out[i].capitalised = c == TokenCase::upper;
    }
    letter_before = letter_before || has_ascii_letter(tokens[i]);
  }
  // Name runs: maximal runs of >= 2 consecutive capitalised tokens.
  for (std::size_t i = 0; i < tokens.size();) {
    std::size_t j = i;
    while (j < tokens.size() && token_case(tokens[j]) == TokenCase::upper) ++j;
    if (j - i >= 2)
      for (std::size_t k = i; k < j; ++k) out[k].in_name = true;
    i = j == i ? i + 1 : j;
  }
}

inline DocContext classify(const FormCounts& c) {
  if (c.capitalised == 0 && c.lower == 0) return DocContext::unseen;
  if (c.capitalised == 0) return DocContext::lower;
  if (c.lower == 0)
    return c.in_name > 0 ? DocContext::capitalised_in_name : DocContext::capitalised;
  return c.in_name > 0 ? DocContext::mixed_in_name : DocContext::mixed;
}

}  // namespace detail

/// The class ids of every token of one document, sentence by sentence: the document is the
/// sentences words_of(first), ..., words_of(last - 1) (each a std::vector<std::string>), and
/// out[i - first] receives sentence i's ids (one per token).
template <class WordsOf>
void document_context_ids(WordsOf&& words_of, std::size_t first, std::size_t last,
                          std::vector<std::vector<std::int32_t>>& out) {
  std::unordered_map<std::string, detail::FormCounts> counts;
  std::vector<std::vector<detail::Occurrence>> occurrences(last - first);
  for (std::size_t s = first; s < last; ++s) {
    const std::vector<std::string>& tokens = words_of(s);
    std::vector<detail::Occurrence>& occ = occurrences[s - first];
    detail::sentence_occurrences(tokens, occ);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (!occ[i].informative) continue;
      detail::FormCounts& c = counts[detail::ascii_lower(tokens[i])];
      ++(occ[i].capitalised ? c.capitalised : c.lower);
      c.in_name += occ[i].capitalised && occ[i].in_name;
    }
  }
  out.resize(last - first);
  for (std::size_t s = first; s < last; ++s) {
    const std::vector<std::string>& tokens = words_of(s);
    const std::vector<detail::Occurrence>& occ = occurrences[s - first];
    std::vector<std::int32_t>& ids = out[s - first];
    ids.resize(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      if (detail::token_case(tokens[i]) == detail::TokenCase::uncased) {
        ids[i] = static_cast<std::int32_t>(DocContext::uncased);
        continue;
      }
      const auto it = counts.find(detail::ascii_lower(tokens[i]));
      detail::FormCounts c = it == counts.end() ? detail::FormCounts{} : it->second;
      if (occ[i].informative) {  // leave the token itself out of its own statistics
        --(occ[i].capitalised ? c.capitalised : c.lower);
        c.in_name -= occ[i].capitalised && occ[i].in_name;
      }
      ids[i] = static_cast<std::int32_t>(detail::classify(c));
    }
  }
}

/// The class ids of every token of `count` sentences (words_of(i), i < count) cut into
/// documents: starts_document(i) says whether sentence i opens a document (sentence 0 always
/// opens one). Returns one vector of ids per sentence.
template <class WordsOf, class StartsDocument>
std::vector<std::vector<std::int32_t>> doc_context_ids(std::size_t count, WordsOf&& words_of,
                                                       StartsDocument&& starts_document) {
  std::vector<std::vector<std::int32_t>> ids(count), part;
  for (std::size_t first = 0; first < count;) {
    std::size_t last = first + 1;
    while (last < count && !starts_document(last)) ++last;
    document_context_ids(words_of, first, last, part);
    for (std::size_t s = first; s < last; ++s) ids[s] = std::move(part[s - first]);
    first = last;
  }
  return ids;
}

/// The same for a list of tokenised sentences; `starts_document` (one flag per sentence) marks
/// the sentences that open a document; empty: all the sentences are one document.
inline std::vector<std::vector<std::int32_t>> doc_context_ids(
    const std::vector<std::vector<std::string>>& sentences,
    const std::vector<bool>& starts_document = {}) {
  if (!starts_document.empty() && starts_document.size() != sentences.size())
    throw std::invalid_argument(
        "lstmner: doc_context_ids: " + std::to_string(starts_document.size()) +
        " document flags for " + std::to_string(sentences.size()) + " sentences");
  return doc_context_ids(
      sentences.size(),
      [&](std::size_t i) -> const std::vector<std::string>& { return sentences[i]; },
      [&](std::size_t i) { return !starts_document.empty() && starts_document[i]; });
}

/// The document-context block: an embedding of the classes above, `dim` rows, over
/// Batch::doc_context, named "doc_context" (its parameter: "doc_context.table").
template <class Scalar, class Init>
std::unique_ptr<InputBlock<Scalar>> make_doc_context_block(Index dim, Init& init) {
  return std::make_unique<EmbeddingBlock<Scalar>>(
      "doc_context", &Batch::doc_context, Embedding<Scalar>(num_doc_context_classes, dim, init));
}

}  // namespace lstmner
