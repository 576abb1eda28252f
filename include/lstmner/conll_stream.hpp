#pragma once
/// \file conll_stream.hpp
/// `ConllStreamReader`: reads a CoNLL stream window by window, in memory bounded by the window,
/// whatever the size of the input. Standard library only (plus conll.hpp).
///
///   lstmner::ConllStreamReader reader(std::cin, "<stdin>", options);
///   lstmner::ConllWindow window;
///   while (reader.read(1024, window)) {               // at most 1024 sentences at a time
///     auto tags = tagger.predict(words_of(window.sentences));
///     lstmner::write_conll(std::cout, window, tags);  // window after window, in input order
///   }
///
/// Every window is parsed by read_conll (conll.hpp), so lines are read, checked and reported
/// exactly as there: the sentences of all windows together are read_conll's sentences of the
/// whole input, field for field (Sentence::first_line counts lines of the whole input), and a bad
/// line throws the ConllError read_conll would throw for the whole input, with the same file, line
/// and message. A window ends only between sentences, never between a -DOCSTART- line and the
/// sentence it opens.
///
/// One difference, on purpose: a -DOCSTART- line that no sentence follows (an empty document, or
/// one at the end of the input) is dropped by read_conll but kept here, as
/// `ConllWindow::empty_document`. Written window by window (write_conll below) the output then
/// keeps every -DOCSTART- line of the input, and the output of an input cut at any blank line
/// (as GNU parallel --pipe --recend '\n\n' cuts it, see docs/scale.md) is, piece after piece, the
/// output of the whole.
///
/// Memory: the lines of one window (at most `max_sentences` sentences, each with the -DOCSTART-
/// line before it and one blank line after it; runs of blank lines are not kept) and their
/// Sentences. So O(max_sentences × longest sentence).
///
/// Not supported: lenient mode (it could drop a -DOCSTART- line whose sentence is all bad lines
/// at a window's end; the constructor throws std::invalid_argument), and detecting the tag scheme
/// (a window's tags cannot tell the whole input's; give ConllReadOptions::scheme to check tags
/// against one).

#include <lstmner/conll.hpp>

#include <algorithm>
#include <cstddef>
#include <istream>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lstmner {

/// Whole sentences read from a stream by ConllStreamReader::read.
struct ConllWindow {
  std::vector<Sentence> sentences;
  /// The text of a -DOCSTART- line that no sentence followed (an empty document, or the last
  /// document line of the input), as Sentence::docstart_line would hold it. It comes after
  /// `sentences` in the input.
  std::optional<std::string> empty_document;

  /// Number of tokens over all sentences.
  std::size_t tokens() const {
    std::size_t n = 0;
    for (const Sentence& s : sentences) n += s.size();
    return n;
  }
};

namespace detail {

/// A read-only std::streambuf over characters owned elsewhere (no copy of the window's text).
class ViewStreamBuf : public std::streambuf {
 public:
  explicit ViewStreamBuf(std::string& text) {
    setg(text.data(), text.data(), text.data() + text.size());
  }
};

}  // namespace detail

class ConllStreamReader {
 public:
  /// Reads from `in` (which must outlive the reader); `name` stands for it in error messages.
  ConllStreamReader(std::istream& in, std::string name, ConllReadOptions options = {})
      : in_(in), name_(std::move(name)), options_(std::move(options)) {
    if (options_.lenient)
      throw std::invalid_argument("lstmner: ConllStreamReader: lenient mode is not supported");
  }

  /// Replaces `window` by the next at most `max_sentences` sentences (0: no limit, the whole
  /// input at once). Returns false, with `window` empty, when the input holds nothing more.
  /// A window may hold fewer sentences than asked for (none, but an empty document) before the
  /// end of the input. Throws ConllError on a bad line (see the file comment).
  bool read(std::size_t max_sentences, ConllWindow& window) {
    window.sentences.clear();
    window.empty_document.reset();
    text_.clear();
    runs_.clear();
    window_lines_ = 0;
    std::size_t complete = 0;      // sentences ended by a blank or -DOCSTART- line
    bool open = false;             // a token line came after the last blank/-DOCSTART- line
    bool pending = false;          // a -DOCSTART- line came and no token line since
    std::string pending_docstart;  // its text
    const auto full = [&] { return max_sentences != 0 && complete >= max_sentences; };

    for (;;) {
      if (!carried_) {
        if (!std::getline(in_, line_)) break;
        ++line_number_;
      }
      carried_ = false;
      const LineKind kind = classify();
      if (kind == LineKind::Blank) {
        if (!open) continue;  // changes nothing for read_conll; not kept
        append();
        open = false;
        ++complete;
        if (full()) break;
      } else if (kind == LineKind::Docstart) {
        if (pending) {  // the previous -DOCSTART- line opened an empty document
          window.empty_document = std::move(pending_docstart);
          carried_ = true;  // this line begins the next window
          break;
        }
        if (open) {
          open = false;
          ++complete;
          if (full()) {
            carried_ = true;
            break;
          }
        }
        append();
        pending = true;
        pending_docstart = std::string(trimmed_);
      } else {
        append();
        open = true;
        pending = false;
      }
    }
    if (!carried_ && in_.bad()) throw ConllError(name_, line_number_, "read error after this line");
    if (pending && !window.empty_document) window.empty_document = std::move(pending_docstart);
    if (window_lines_ > 0) parse(window);
    return !window.sentences.empty() || window.empty_document.has_value();
  }

  /// Lines read from the input so far.
  std::size_t lines_read() const { return line_number_; }

 private:
  enum class LineKind { Blank, Docstart, Token };

  /// Classifies line_ as read_conll does (same trimming, same field split), leaving the trimmed
  /// text in trimmed_.
  LineKind classify() {
    std::string_view text(line_);
    if (line_number_ == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    const ConllDelimiter delimiter = options_.delimiter;
    while (!text.empty() &&
           (text.back() == '\r' || (text.back() == ' ' && delimiter != ConllDelimiter::Space) ||
            (text.back() == '\t' && delimiter != ConllDelimiter::Tab)))
      text.remove_suffix(1);
    trimmed_ = text;
    if (text.find_first_not_of(" \t") == std::string_view::npos) return LineKind::Blank;
    detail::split_conll_fields(text, delimiter, fields_);
    if (fields_.empty()) return LineKind::Blank;
    return fields_[0] == options_.docstart ? LineKind::Docstart : LineKind::Token;
  }

  /// Adds line_ to the window's text, noting where its line numbering jumps.
  void append() {
    // Line 1 of the text is always a blank line of ours: read_conll then never takes a
    // byte-order mark at the start of a later window for the file's (file line 1 loses its mark
    // here instead, as read_conll would drop it).
    if (window_lines_ == 0) {
      text_ += '\n';
      window_lines_ = 1;
    }
    ++window_lines_;
    if (runs_.empty() || runs_.back().second + (window_lines_ - runs_.back().first) != line_number_)
      runs_.emplace_back(window_lines_, line_number_);
    std::string_view text(line_);
    if (line_number_ == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    text_.append(text.data(), text.size());
    text_ += '\n';
  }

  /// The input line of line `window_line` of the window's text.
  std::size_t input_line(std::size_t window_line) const {
    auto run = std::upper_bound(runs_.begin(), runs_.end(), window_line,
                                [](std::size_t line, const std::pair<std::size_t, std::size_t>& r) {
                                  return line < r.first;
                                });
    if (run == runs_.begin()) return 0;
    --run;
    return run->second + (window_line - run->first);
  }

  void parse(ConllWindow& window) {
    detail::ViewStreamBuf buffer(text_);
    std::istream in(&buffer);
    ConllDocument doc;
    try {
      doc = read_conll(in, name_, options_);
    } catch (const ConllError& e) {
      throw relocated(e);
    }
    for (Sentence& s : doc.sentences) s.first_line = input_line(s.first_line);
    window.sentences = std::move(doc.sentences);
  }

  /// The error read_conll reported for the window, with its line numbers (the line's, and that
  /// of the sentence it names) counted in the whole input. Both lie in the same run of lines:
  /// lines are left out of the window's text only between sentences.
  ConllError relocated(const ConllError& e) const {
    if (e.line() == 0) return e;
    const std::string prefix =
        "lstmner: read_conll: " + name_ + ":" + std::to_string(e.line()) + ": ";
    std::string what = e.what();
    if (what.compare(0, prefix.size(), prefix) == 0) what.erase(0, prefix.size());
    const std::size_t line = input_line(e.line());
    const std::string starting = "sentence starting at line ";
    const std::size_t at = what.find(starting);
    if (at != std::string::npos) {
      const std::size_t begin = at + starting.size();
      std::size_t end = begin;
      while (end < what.size() && what[end] >= '0' && what[end] <= '9') ++end;
      if (end > begin) {
        const std::size_t first = std::stoul(what.substr(begin, end - begin));
        what.replace(begin, end - begin, std::to_string(first + (line - e.line())));
      }
    }
    return ConllError(name_, line, what);
  }

  std::istream& in_;
  std::string name_;
  ConllReadOptions options_;
  std::string line_;  // the current input line
  std::size_t line_number_ = 0;
  bool carried_ = false;      // line_ is read and belongs to the next window
  std::string_view trimmed_;  // line_ as classify() trimmed it
  std::vector<std::string_view> fields_;
  std::string text_;  // the window's lines, parsed by read_conll
  std::size_t window_lines_ = 0;
  /// (line of text_, input line) where each run of consecutive input lines starts in text_.
  std::vector<std::pair<std::size_t, std::size_t>> runs_;
};

/// Writes a window as write_conll writes sentences, then its empty document's -DOCSTART- line
/// (with `options.docstart_tag` appended and a blank line after it, as before a sentence).
inline void write_conll(std::ostream& out, const ConllWindow& window,
                        const std::vector<std::vector<std::string>>& predicted,
                        const ConllWriteOptions& options = {}) {
  write_conll(out, window.sentences, predicted, options);
  if (window.empty_document)
    out << *window.empty_document << options.separator << options.docstart_tag << "\n\n";
}

}  // namespace lstmner
