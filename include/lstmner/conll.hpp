#pragma once
/// \file conll.hpp
/// Reading and writing CoNLL column files (CoNLL-2003 `word POS chunk NER` and its relatives).
/// Standard library only (plus tag_scheme.hpp).
///
/// Input: one token per line, fields separated by spaces or tabs; a blank line ends a sentence;
/// a line whose first field is `-DOCSTART-` opens a document and is never part of a sentence.
/// Tolerated: CRLF line ends, trailing spaces/tabs, several blank lines in a row, a missing final
/// newline, a UTF-8 byte-order mark at the start. All other bytes (UTF-8 or not) pass through.
///
/// Strict by default: a bad line throws `ConllError` (a std::runtime_error) whose message is
/// `lstmner: read_conll: <file>:<line>: <what>`, and which carries the file and line:
///   - a token line with a different number of fields than the first token line of its sentence;
///   - an empty field (possible with the Space and Tab delimiters);
///   - a word or tag column the line does not have, or the word and tag being the same field;
///   - a tag that is not `O` or `P-TYPE` with a prefix of the scheme in use (tag_problem());
///   - a NUL byte (a binary file); a file that does not exist, is a directory or cannot be read.
/// With `lenient = true` bad token lines are dropped instead and counted in `skipped_lines`, with
/// their messages in `skipped`; unreadable and binary files still throw.
///
/// Public API:
///   ConllReadOptions{word_column, tag_column, scheme, lenient, delimiter, docstart, keep_columns}
///   Sentence{words, tags, columns, first_line, starts_document, docstart_line}
///   ConllDocument{source, sentences, documents, scheme, scheme_detected, skipped_lines, skipped}
///   read_conll(path, options), read_conll(istream, name, options)
///   write_conll(ostream, document_or_sentences, predicted_tags, ConllWriteOptions)
///   write_conll(path, ...)
/// The writer appends the predicted tag as a last column to every token line (and `O` to every
/// -DOCSTART- line, so that all lines have the same number of fields), keeps -DOCSTART- lines and
/// the blank line after them, and ends every sentence with a blank line: conlleval (and
/// `lstmner-eval`) can score the output as it is, gold tag last-but-one and prediction last.

#include <lstmner/tag_scheme.hpp>

#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <istream>
#include <iterator>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace lstmner {

/// How fields are separated on a line.
enum class ConllDelimiter {
  Whitespace,  ///< any run of spaces and tabs (default; fields never contain blanks)
  Space,       ///< every single space (two spaces in a row make an empty field: an error)
  Tab,         ///< every tab (fields may contain spaces)
};

struct ConllReadOptions {
  /// Field index of the word; a negative index counts from the end (-1 is the last field).
  int word_column = 0;
  /// Field index of the gold tag (negative counts from the end); nullopt for unlabelled input.
  std::optional<int> tag_column = -1;
  /// Tags must use this scheme's prefixes; nullopt accepts IOB1/IOB2/IOBES and detects which.
  std::optional<TagScheme> scheme;
  /// Drop bad token lines (counting them) instead of throwing.
  bool lenient = false;
  ConllDelimiter delimiter = ConllDelimiter::Whitespace;
  /// First field of a document-boundary line.
  std::string docstart = "-DOCSTART-";
  /// Keep every field of every token in Sentence::columns (what write_conll writes back).
  /// Without them reading CoNLL-2003 train takes half the time; write_conll then writes the word,
  /// the gold tag and the prediction.
  bool keep_columns = true;
};

struct Sentence {
  std::vector<std::string> words;
  /// Gold tags, one per word; empty when read without a tag column.
  std::vector<std::string> tags;
  /// Every field of every token line, as read (columns[i][k]: field k of token i); empty when
  /// read with keep_columns = false.
  std::vector<std::vector<std::string>> columns;
  /// 1-based line number of the sentence's first token.
  std::size_t first_line = 0;
  /// A -DOCSTART- line came before this sentence (after the previous one).
  bool starts_document = false;
  /// That line's text (without its line end), written back by write_conll.
  std::string docstart_line;

  std::size_t size() const { return words.size(); }
};

struct ConllDocument {
  /// File name, or the name given for a stream; used in error messages.
  std::string source;
  std::vector<Sentence> sentences;
  /// Number of -DOCSTART- lines.
  std::size_t documents = 0;
  /// The scheme given in the options, or the detected one (IOB2 when the tags cannot tell).
  TagScheme scheme = TagScheme::IOB2;
  /// True when `scheme` was detected from the tags rather than given (or defaulted).
  bool scheme_detected = false;
  /// Lenient mode: how many token lines were dropped, and why (`<file>:<line>: <what>`).
  std::size_t skipped_lines = 0;
  std::vector<std::string> skipped;

  /// Number of tokens over all sentences.
  std::size_t tokens() const {
    std::size_t n = 0;
    for (const Sentence& s : sentences) n += s.size();
    return n;
  }
  /// The gold tags of every sentence (the shape metrics.hpp's evaluate() takes).
  std::vector<std::vector<std::string>> tag_sequences() const {
    std::vector<std::vector<std::string>> out;
    out.reserve(sentences.size());
    for (const Sentence& s : sentences) out.push_back(s.tags);
    return out;
  }
};

/// A malformed or unreadable CoNLL input; `line` is 0 when the problem is not on one line.
class ConllError : public std::runtime_error {
 public:
  ConllError(const std::string& source, std::size_t line, const std::string& what)
      : std::runtime_error("lstmner: read_conll: " + source +
                           (line ? ":" + std::to_string(line) : std::string()) + ": " + what),
        source_(source),
        line_(line) {}
  const std::string& source() const { return source_; }
  std::size_t line() const { return line_; }

 private:
  std::string source_;
  std::size_t line_;
};

namespace detail {

/// Splits `line` into `fields` (views into `line`) according to `delimiter`.
inline void split_conll_fields(std::string_view line, ConllDelimiter delimiter,
                               std::vector<std::string_view>& fields) {
  fields.clear();
  if (delimiter == ConllDelimiter::Whitespace) {
    std::size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
      const std::size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
      if (i > start) fields.push_back(line.substr(start, i - start));
    }
    return;
  }
  const char sep = delimiter == ConllDelimiter::Tab ? '\t' : ' ';
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = line.find(sep, start);
    if (pos == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, pos - start));
    start = pos + 1;
  }
}

/// Resolves a possibly negative column index against `count` fields; -1 when out of range.
inline long resolve_conll_column(int column, std::size_t count) {
  const long n = static_cast<long>(count);
  const long c = column < 0 ? n + column : column;
  return (c < 0 || c >= n) ? -1 : c;
}

inline std::string describe_conll_column(int column) {
  return column < 0 ? std::to_string(column) + " (counted from the end)" : std::to_string(column);
}

}  // namespace detail

/// Reads CoNLL sentences from a stream in one pass; `name` stands for the file in messages.
inline ConllDocument read_conll(std::istream& in, const std::string& name,
                                const ConllReadOptions& options = {}) {
  ConllDocument doc;
  doc.source = name;
  Sentence current;
  bool pending_document = false;
  std::string pending_docstart;
  std::size_t sentence_fields = 0;  // number of fields of the current sentence's lines
  std::string line;
  std::vector<std::string_view> fields;
  std::size_t line_number = 0;

  // `current` is scratch space whose vectors keep their capacity from sentence to sentence; a
  // finished sentence is moved into vectors of exactly its size (one allocation each).
  auto finish_sentence = [&]() {
    if (current.words.empty()) return;
    Sentence& out = doc.sentences.emplace_back();
    out.words.assign(std::make_move_iterator(current.words.begin()),
                     std::make_move_iterator(current.words.end()));
    out.tags.assign(std::make_move_iterator(current.tags.begin()),
                    std::make_move_iterator(current.tags.end()));
    out.columns.assign(std::make_move_iterator(current.columns.begin()),
                       std::make_move_iterator(current.columns.end()));
    out.first_line = current.first_line;
    if (pending_document) {
      out.starts_document = true;
      out.docstart_line = std::move(pending_docstart);
      pending_docstart.clear();
      pending_document = false;
    }
    current.words.clear();
    current.tags.clear();
    current.columns.clear();
    sentence_fields = 0;
  };

  while (std::getline(in, line)) {
    ++line_number;
    std::string_view text(line);
    if (line_number == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    if (text.find('\0') != std::string_view::npos)
      throw ConllError(name, line_number, "NUL byte: this is a binary file, not CoNLL text");
    // Trailing blanks are dropped, except the delimiter itself when it is explicit (then a
    // trailing delimiter means an empty last field, which is reported).
    while (!text.empty() && (text.back() == '\r' ||
                             (text.back() == ' ' && options.delimiter != ConllDelimiter::Space) ||
                             (text.back() == '\t' && options.delimiter != ConllDelimiter::Tab)))
      text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) {  // a blank line
      finish_sentence();
      continue;
    }
    detail::split_conll_fields(text, options.delimiter, fields);
    if (fields.empty()) {
      finish_sentence();
      continue;
    }
    if (fields[0] == options.docstart) {
      finish_sentence();
      ++doc.documents;
      pending_document = true;
      pending_docstart = std::string(text);
      continue;
    }

    // A token line: everything that can be wrong with it is found before anything is stored.
    std::string problem;
    long word_index = -1, tag_index = -1;
    if (sentence_fields != 0 && fields.size() != sentence_fields) {
      problem = std::to_string(fields.size()) + " fields, but the sentence starting at line " +
                std::to_string(current.first_line) + " has " + std::to_string(sentence_fields);
    }
    if (problem.empty()) {
      word_index = detail::resolve_conll_column(options.word_column, fields.size());
      if (options.tag_column)
        tag_index = detail::resolve_conll_column(*options.tag_column, fields.size());
      for (std::size_t k = 0; problem.empty() && k < fields.size(); ++k) {
        if (!fields[k].empty()) continue;
        const long column = static_cast<long>(k);
        problem = std::string(column == tag_index    ? "empty tag"
                              : column == word_index ? "empty word"
                                                     : "empty field") +
                  " (field " + std::to_string(k + 1) + " of " + std::to_string(fields.size()) + ")";
      }
    }
    if (problem.empty()) {
      if (word_index < 0)
        problem = "no word column " + detail::describe_conll_column(options.word_column) +
                  " in a line of " + std::to_string(fields.size()) + " fields";
    }
    if (problem.empty() && options.tag_column) {
      if (tag_index < 0) {
        problem = "no tag column " + detail::describe_conll_column(*options.tag_column) +
                  " in a line of " + std::to_string(fields.size()) + " fields";
      } else if (tag_index == word_index) {
        problem = "the word column and the tag column are the same field in a line of " +
                  std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s");
      } else {
        problem = tag_problem(fields[static_cast<std::size_t>(tag_index)], options.scheme);
      }
    }
    if (!problem.empty()) {
      if (!options.lenient) throw ConllError(name, line_number, problem);
      ++doc.skipped_lines;
      doc.skipped.push_back(name + ":" + std::to_string(line_number) + ": " + problem);
      continue;
    }

    if (current.words.empty()) {
      current.first_line = line_number;
      sentence_fields = fields.size();
    }
    current.words.emplace_back(fields[static_cast<std::size_t>(word_index)]);
    if (tag_index >= 0) current.tags.emplace_back(fields[static_cast<std::size_t>(tag_index)]);
    if (options.keep_columns) current.columns.emplace_back(fields.begin(), fields.end());
  }
  if (in.bad()) throw ConllError(name, line_number, "read error after this line");
  finish_sentence();

  if (options.scheme) {
    doc.scheme = *options.scheme;
  } else if (options.tag_column) {
    std::vector<const std::vector<std::string>*> tags;
    tags.reserve(doc.sentences.size());
    for (const Sentence& sentence : doc.sentences) tags.push_back(&sentence.tags);
    const auto detected = detail::detect_scheme_of(tags);
    doc.scheme = detected.value_or(TagScheme::IOB2);
    doc.scheme_detected = detected.has_value();
  }
  return doc;
}

/// Reads a CoNLL file. Throws ConllError when it does not exist, is a directory, cannot be
/// opened, or is malformed (see the file comment).
inline ConllDocument read_conll(const std::string& path, const ConllReadOptions& options = {}) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    // "No such file" only when that is what the system says (not for a directory that cannot
    // be searched, say).
    const bool missing = !ec || ec == std::errc::no_such_file_or_directory;
    throw ConllError(path, 0, missing ? std::string("no such file") : ec.message());
  }
  if (std::filesystem::is_directory(status)) throw ConllError(path, 0, "is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConllError(path, 0,
                     "cannot be opened for reading: " +
                         std::generic_category().message(errno != 0 ? errno : EACCES));
  }
  return read_conll(in, path, options);
}

struct ConllWriteOptions {
  /// Placed between fields. conlleval splits on single spaces, so keep " " for files to score.
  std::string separator = " ";
  /// Written to -DOCSTART- lines in place of the predicted tag (keeps the field count equal).
  std::string docstart_tag = "O";
};

/// Writes sentences with `predicted[s][i]` appended to token i of sentence s (see the file
/// comment). A sentence without `columns` is written as its word, its gold tag when it has tags,
/// and the prediction. Throws std::invalid_argument when the prediction counts do not match or a
/// field contains the separator or a line break (the output could not be read back).
inline void write_conll(std::ostream& out, const std::vector<Sentence>& sentences,
                        const std::vector<std::vector<std::string>>& predicted,
                        const ConllWriteOptions& options = {}) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("lstmner: write_conll: " + what);
  };
  if (predicted.size() != sentences.size())
    fail(std::to_string(sentences.size()) + " sentences but " + std::to_string(predicted.size()) +
         " predicted tag sequences");
  if (options.separator.empty()) fail("the separator is empty");
  auto put_field = [&](const std::string& field, std::size_t s, std::size_t i) {
    if (field.find(options.separator) != std::string::npos ||
        field.find('\n') != std::string::npos || field.empty())
      fail("sentence " + std::to_string(s) + " token " + std::to_string(i) + ": field '" + field +
           "' is empty or contains the separator or a line break");
    out << field;
  };
  for (std::size_t s = 0; s < sentences.size(); ++s) {
    const Sentence& sentence = sentences[s];
    if (predicted[s].size() != sentence.words.size())
      fail("sentence " + std::to_string(s) + " has " + std::to_string(sentence.words.size()) +
           " tokens but " + std::to_string(predicted[s].size()) + " predicted tags");
    if (!sentence.columns.empty() && sentence.columns.size() != sentence.words.size())
      fail("sentence " + std::to_string(s) + " has " + std::to_string(sentence.words.size()) +
           " words but " + std::to_string(sentence.columns.size()) + " column rows");
    if (!sentence.tags.empty() && sentence.tags.size() != sentence.words.size())
      fail("sentence " + std::to_string(s) + " has " + std::to_string(sentence.words.size()) +
           " words but " + std::to_string(sentence.tags.size()) + " tags");
    if (sentence.starts_document) {
      out << sentence.docstart_line << options.separator << options.docstart_tag << "\n\n";
    }
    for (std::size_t i = 0; i < sentence.words.size(); ++i) {
      if (!sentence.columns.empty()) {
        for (const std::string& field : sentence.columns[i]) {
          put_field(field, s, i);
          out << options.separator;
        }
      } else {
        put_field(sentence.words[i], s, i);
        out << options.separator;
        if (!sentence.tags.empty()) {
          put_field(sentence.tags[i], s, i);
          out << options.separator;
        }
      }
      put_field(predicted[s][i], s, i);
      out << '\n';
    }
    out << '\n';
  }
}

inline void write_conll(std::ostream& out, const ConllDocument& document,
                        const std::vector<std::vector<std::string>>& predicted,
                        const ConllWriteOptions& options = {}) {
  write_conll(out, document.sentences, predicted, options);
}

/// Writes to a file; throws std::runtime_error when it cannot be created or written.
inline void write_conll(const std::string& path, const std::vector<Sentence>& sentences,
                        const std::vector<std::vector<std::string>>& predicted,
                        const ConllWriteOptions& options = {}) {
  errno = 0;
  std::ofstream out(path, std::ios::binary);
  if (!out) {
    throw std::runtime_error("lstmner: write_conll: cannot create '" + path +
                             "': " + std::generic_category().message(errno != 0 ? errno : EACCES));
  }
  write_conll(out, sentences, predicted, options);
  out.flush();
  if (!out) throw std::runtime_error("lstmner: write_conll: error while writing '" + path + "'");
}

}  // namespace lstmner
