#pragma once
/// \file word_vectors.hpp
/// Reading pretrained word vectors (GloVe, word2vec, fastText) and looking words up in them.
///
///   WordVectors v = read_word_vectors("glove.6B.100d.txt");          // format detected
///   WordVectors top = read_word_vectors("cc.en.300.vec", {WordVectorFormat::automatic, 50000});
///   VectorLookup hit = v.lookup("Paris");     // exact, else lower-cased, else digits -> 0
///   if (hit) embedding.set_vector(id, v.vector(hit.index));
///
/// Formats (WordVectorFormat; `automatic` tells them apart):
///   - text: GloVe, and word2vec's text output without its header: one vector per line, the word,
///     then dim numbers, separated by spaces or tabs. dim is the first line's number of values.
///   - text_header: fastText `.vec` and word2vec text with a header: a first line "count dim",
///     then `count` lines as above.
///   - binary: word2vec binary: the header line "count dim\n", then per vector the word's bytes up
///     to a space, dim little-endian IEEE float32, and optionally '\n'.
/// Detection: a first line of exactly two unsigned decimal integers is a header (so a
/// header-less file of 1-dimensional vectors whose first word is an integer needs format = text);
/// after a header, the file is text when the next line parses as a word and dim numbers, and
/// binary when it does not and the bytes after its first space hold a byte no text vector line
/// has (a control byte other than tab, CR and LF, or a byte >= 0x80): floats almost always do.
///
/// Words are byte strings, UTF-8 in every file we know of; they are stored as they are (no
/// normalisation, invalid UTF-8 kept). A text line may have a word that holds spaces (glove.840B
/// has a few, like ". . ."): a line with more than dim + 1 fields takes everything before its
/// last dim fields as the word, unless all of those extra fields are numbers, which is reported
/// as a wrong dimension. A UTF-8 byte-order mark at the start, CRLF line ends, trailing blanks on
/// a line and blank lines at the end of a text file are accepted.
///
/// Numbers: decimal or scientific notation with an optional sign (what every writer emits), read
/// as double and rounded to float; NaN, infinities and values beyond float's range are errors
/// (tiny values that underflow become 0). Binary floats must be finite too.
///
/// Errors: every problem throws `WordVectorError` (a std::runtime_error) whose message is
///   lstmner: read_word_vectors: <file>:<line>: <what>                 (text formats)
///   lstmner: read_word_vectors: <file>: entry <i>, byte <offset>: <what>  (binary vectors)
/// for: an empty file or no vectors; a malformed number; a line or entry with a different
/// number of values than dim (a wrong dimension); a word seen twice; a truncated file; a header
/// that disagrees with the contents (fewer or more vectors, or another dimension); absurd header
/// sizes: the declared count and dim are checked against the bytes the file has *before*
/// anything is allocated (a text vector takes at least 2·dim + 2 bytes, a binary one 4·dim + 2),
/// so no file makes the reader allocate more than a small multiple of its own size.
///
/// Limit: `max_words = N` keeps the first N vectors (these files are sorted by descending
/// frequency, so the N most frequent words) and stops reading there; whatever follows, including
/// a disagreement with the header, is then not looked at.
///
/// Lookup (WordVectors::lookup) tries three rules in order and reports which one matched:
///   1. exact:     the word as given;
///   2. lowercase: ASCII-lower-cased, against the vectors' words lower-cased the same way;
///   3. digits:    lower-cased and every ASCII digit replaced by '0' (WordNormalization of
///                 vocabulary.hpp), against the vectors' words normalised the same way.
/// When several vector words share a normalised form, the first in the file (the most
/// frequent) is the one found. "Paris" thus finds "paris" in GloVe (lower-cased) and "PARIS"
/// finds "Paris" in a cased file; "1996" finds "1996" itself, else any year-like "0000" form.
///
/// Memory: `parse_word_vectors` reads from a buffer in memory (a fuzzing entry point:
/// every input is either read or rejected with a WordVectorError); `read_word_vectors` streams a
/// file in 1 MiB chunks, so a limited read of a large file touches only its beginning. The
/// vectors are a float matrix [dim x count] whose column i is the vector of words()[i].
///
/// Thread safety: a WordVectors is immutable after construction; its const members may be called
/// from several threads at once.

#include <lstmner/tensor.hpp>
#include <lstmner/vocabulary.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <istream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lstmner {

/// The layout of a vector file (see the file comment).
enum class WordVectorFormat {
  automatic,    ///< detect it (reading only); a constructed WordVectors reports this
  text,         ///< GloVe / word2vec text: "word v1 ... vdim" per line, no header
  text_header,  ///< fastText .vec / word2vec text with its header: "count dim" first
  binary,       ///< word2vec binary
};

inline const char* to_string(WordVectorFormat format) {
  switch (format) {
    case WordVectorFormat::automatic:
      return "automatic";
    case WordVectorFormat::text:
      return "text";
    case WordVectorFormat::text_header:
      return "text with a header";
    case WordVectorFormat::binary:
      return "word2vec binary";
  }
  return "?";
}

struct WordVectorReadOptions {
  WordVectorFormat format = WordVectorFormat::automatic;
  /// Keep only the first N vectors and stop reading there (0: all of them).
  std::size_t max_words = 0;
};

/// A malformed, truncated or unreadable vector file. line() is the 1-based line of a text file
/// (0 when the problem is not on one line); entry() the 0-based vector of a binary file (-1 when
/// none); offset() the byte offset the problem was found at (-1 when none).
class WordVectorError : public std::runtime_error {
 public:
  WordVectorError(std::string source, std::size_t line, std::ptrdiff_t entry, std::ptrdiff_t offset,
                  const std::string& what)
      : std::runtime_error(message(source, line, entry, offset, what)),
        source_(std::move(source)),
        line_(line),
        entry_(entry),
        offset_(offset) {}
  const std::string& source() const { return source_; }
  std::size_t line() const { return line_; }
  std::ptrdiff_t entry() const { return entry_; }
  std::ptrdiff_t offset() const { return offset_; }

 private:
  static std::string message(const std::string& source, std::size_t line, std::ptrdiff_t entry,
                             std::ptrdiff_t offset, const std::string& what) {
    std::string where = "lstmner: read_word_vectors: " + source;
    if (line > 0) {
      where += ":" + std::to_string(line);
    } else if (entry >= 0 || offset >= 0) {
      where += ":";
      if (entry >= 0) where += " entry " + std::to_string(entry) + (offset >= 0 ? "," : "");
      if (offset >= 0) where += " byte " + std::to_string(offset);
    }
    return where + ": " + what;
  }

  std::string source_;
  std::size_t line_;
  std::ptrdiff_t entry_;
  std::ptrdiff_t offset_;
};

/// Which rule of WordVectors::lookup found a word.
enum class VectorMatch { none, exact, lowercase, digits };

inline const char* to_string(VectorMatch match) {
  switch (match) {
    case VectorMatch::none:
      return "none";
    case VectorMatch::exact:
      return "exact";
    case VectorMatch::lowercase:
      return "lowercase";
    case VectorMatch::digits:
      return "digits";
  }
  return "?";
}

/// The result of a lookup: the column of the vector found (-1: none) and the rule that found it.
struct VectorLookup {
  Index index = -1;
  VectorMatch match = VectorMatch::none;
  bool found() const { return index >= 0; }
  explicit operator bool() const { return found(); }
};

namespace detail {
class VectorReader;
}  // namespace detail

/// Words and their vectors: column i of vectors() [dim x size] belongs to words()[i].
class WordVectors {
 public:
  /// The normalisations of the lookup's second and third rules.
  static constexpr WordNormalization lowercase_rule{true, false};
  static constexpr WordNormalization digits_rule{true, true};

  WordVectors() = default;

  /// From words and their vectors (one column each). Throws std::invalid_argument when the
  /// counts differ or a word is given twice.
  WordVectors(std::vector<std::string> words, Matrix<float> vectors,
              WordVectorFormat format = WordVectorFormat::automatic)
      : words_(std::move(words)), vectors_(std::move(vectors)), format_(format) {
    require(static_cast<Index>(words_.size()) == vectors_.cols(),
            "WordVectors: " + std::to_string(words_.size()) + " words for " +
                std::to_string(vectors_.cols()) + " vectors");
    exact_.reserve(words_.size());
    for (std::size_t i = 0; i < words_.size(); ++i) {
      const bool fresh = exact_.emplace(words_[i], static_cast<Index>(i)).second;
      require(fresh, "WordVectors: the word '" + words_[i] + "' is given twice");
    }
    index_normalised_forms();
  }

  Index dim() const { return vectors_.rows(); }
  Index size() const { return static_cast<Index>(words_.size()); }
  bool empty() const { return words_.empty(); }
  const std::vector<std::string>& words() const { return words_; }
  /// [dim x size]: column i is the vector of words()[i].
  const Matrix<float>& vectors() const { return vectors_; }
  /// The vector of words()[i] (a contiguous column).
  auto vector(Index i) const {
    require(i >= 0 && i < size(), "WordVectors: vector " + std::to_string(i) + " is outside [0, " +
                                      std::to_string(size()) + ")");
    return vectors_.col(i);
  }
  /// The layout the vectors were read from (automatic when constructed from memory).
  WordVectorFormat format() const { return format_; }

  /// The column of `word` exactly as given, or nothing.
  std::optional<Index> find(std::string_view word) const {
    const auto it = exact_.find(std::string(word));
    if (it == exact_.end()) return std::nullopt;
    return it->second;
  }

  /// exact -> lowercase -> digits (file comment): the first rule that finds `word`.
  VectorLookup lookup(std::string_view word) const {
    if (auto i = find(word)) return {*i, VectorMatch::exact};
    if (auto it = lower_.find(lowercase_rule.apply(word)); it != lower_.end())
      return {it->second, VectorMatch::lowercase};
    if (auto it = digits_.find(digits_rule.apply(word)); it != digits_.end())
      return {it->second, VectorMatch::digits};
    return {};
  }

 private:
  friend class detail::VectorReader;

  /// The reader's: words and vectors already checked, and the exact index it built.
  WordVectors(std::vector<std::string> words, Matrix<float> vectors, WordVectorFormat format,
              std::unordered_map<std::string, Index> exact)
      : words_(std::move(words)),
        vectors_(std::move(vectors)),
        format_(format),
        exact_(std::move(exact)) {
    index_normalised_forms();
  }

  void index_normalised_forms() {
    lower_.reserve(words_.size());
    digits_.reserve(words_.size());
    // emplace keeps the first: among words of one normalised form, the most frequent wins.
    for (std::size_t i = 0; i < words_.size(); ++i) {
      lower_.emplace(lowercase_rule.apply(words_[i]), static_cast<Index>(i));
      digits_.emplace(digits_rule.apply(words_[i]), static_cast<Index>(i));
    }
  }

  std::vector<std::string> words_;
  Matrix<float> vectors_;
  WordVectorFormat format_ = WordVectorFormat::automatic;
  std::unordered_map<std::string, Index> exact_;
  std::unordered_map<std::string, Index> lower_;
  std::unordered_map<std::string, Index> digits_;
};

namespace detail {

/// Bytes from a buffer in memory or from a stream read in chunks, with line and byte access.
/// Views it hands out stay valid until the next call that reads (fill, next_line, peek_line).
class VectorInput {
 public:
  static constexpr std::size_t chunk = std::size_t{1} << 20;

  explicit VectorInput(std::string_view memory) : data_(memory), size_(memory.size()) {}
  /// `size`: the stream's length in bytes (the file size), for the checks of declared sizes.
  VectorInput(std::istream& stream, std::uint64_t size)
      : stream_(&stream), size_(size), at_eof_(false) {}

  /// Bytes consumed since the start.
  std::uint64_t offset() const { return base_ + pos_; }
  /// Bytes left to read (by the size given).
  std::uint64_t remaining() const { return size_ > offset() ? size_ - offset() : 0; }
  /// The bytes buffered from the current position on.
  std::string_view available() const { return data_.substr(pos_); }
  void skip(std::size_t n) { pos_ += std::min(n, data_.size() - pos_); }

  /// Buffers at least `n` bytes from the current position when the input has them; returns
  /// how many are buffered (fewer than n only at the end).
  std::size_t fill(std::size_t n) {
    while (data_.size() - pos_ < n && !at_eof_) {
      // Drop what was consumed, then read at least a chunk (and enough for n) more.
      buffer_.erase(0, pos_);
      base_ += pos_;
      pos_ = 0;
      const std::size_t old = buffer_.size();
      const std::size_t want = std::max(chunk, n - old);
      buffer_.resize(old + want);
      stream_->read(&buffer_[old], static_cast<std::streamsize>(want));
      const auto got = static_cast<std::size_t>(stream_->gcount());
      buffer_.resize(old + got);
      if (got < want) {
        if (stream_->bad()) throw std::runtime_error("read error");
        at_eof_ = true;
      }
      data_ = buffer_;
    }
    return data_.size() - pos_;
  }

  /// The next line without its '\n' (and consumes it); false when no byte is left.
  bool next_line(std::string_view& line) {
    const std::size_t end = find_line_end(std::numeric_limits<std::size_t>::max());
    if (end == 0 && available().empty()) return false;
    line = data_.substr(pos_, end);
    pos_ += end;
    if (pos_ < data_.size()) ++pos_;  // the '\n'
    return true;
  }

  /// The next line (without '\n'), or its first `limit` bytes, without consuming anything.
  std::string_view peek_line(std::size_t limit) { return data_.substr(pos_, find_line_end(limit)); }

 private:
  /// Length of the line at pos_ (up to '\n', the end, or `limit`), buffering as needed.
  std::size_t find_line_end(std::size_t limit) {
    std::size_t scanned = 0;
    for (;;) {
      const std::string_view rest = data_.substr(pos_);
      const std::size_t nl = rest.find('\n', scanned);
      if (nl != std::string_view::npos) return std::min(nl, limit);
      if (rest.size() >= limit) return limit;
      if (at_eof_) return rest.size();
      scanned = rest.size();
      fill(rest.size() + chunk);
    }
  }

  std::istream* stream_ = nullptr;
  std::string buffer_;
  std::string_view data_;
  std::size_t pos_ = 0;
  std::uint64_t base_ = 0;
  std::uint64_t size_ = 0;
  bool at_eof_ = true;
};

inline bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

/// A header "count dim": exactly two unsigned decimal integers (nothing when it is not one).
struct VectorHeader {
  std::uint64_t count = 0;
  std::uint64_t dim = 0;
  bool overflow = false;  ///< digits only, but too many for 64 bits
};

inline std::optional<VectorHeader> parse_vector_header(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || is_blank(line.back()))) line.remove_suffix(1);
  std::size_t i = 0;
  std::uint64_t values[2] = {0, 0};
  bool overflow = false;
  for (int k = 0; k < 2; ++k) {
    while (i < line.size() && is_blank(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
    if (i == start) return std::nullopt;
    const auto [ptr, ec] = std::from_chars(line.data() + start, line.data() + i, values[k]);
    (void)ptr;
    if (ec == std::errc::result_out_of_range) overflow = true;
    if (k == 0 && (i == line.size() || !is_blank(line[i]))) return std::nullopt;
  }
  if (i != line.size()) return std::nullopt;
  return VectorHeader{values[0], values[1], overflow};
}

/// One number of a text vector, or the reason it is not one.
inline bool parse_vector_number(std::string_view text, float& out, std::string* why) {
  std::string_view digits = text;
  if (!digits.empty() && digits[0] == '+') {
    digits.remove_prefix(1);  // from_chars takes no '+'; "+-1" and "++1" are still errors
    if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits = {};
  }
  if (digits.empty()) {
    if (why) *why = "is not a number";
    return false;
  }
  double value = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (ec == std::errc::invalid_argument || ptr != digits.data() + digits.size()) {
    if (why) *why = "is not a number";
    return false;
  }
  if (ec == std::errc::result_out_of_range) {
    // Too small for a double rounds to 0 (as it would for float); too large is an error. Tiny:
    // a negative exponent, or no exponent and an integer part of zeros ("0.000…0001").
    const std::size_t e = digits.find_first_of("eE");
    const std::string_view integer = digits.substr(digits[0] == '-' ? 1 : 0);
    const bool tiny =
        e != std::string_view::npos
            ? e + 1 < digits.size() && digits[e + 1] == '-'
            : integer.substr(0, integer.find('.')).find_first_not_of('0') == std::string_view::npos;
    if (!tiny) {
      if (why) *why = "is out of range";
      return false;
    }
    value = 0;
  }
  if (!std::isfinite(value)) {
    if (why) *why = "is not finite";
    return false;
  }
  if (std::abs(value) > static_cast<double>(std::numeric_limits<float>::max())) {
    if (why) *why = "is out of float range";
    return false;
  }
  out = static_cast<float>(value);
  return true;
}

/// The reader proper: one object per file.
class VectorReader {
 public:
  VectorReader(VectorInput& input, std::string source, const WordVectorReadOptions& options)
      : in_(input), source_(std::move(source)), options_(options) {}

  WordVectors read() {
    if (in_.fill(3) >= 3 && in_.available().substr(0, 3) == "\xEF\xBB\xBF") in_.skip(3);
    if (in_.available().empty() && in_.fill(1) == 0) fail(0, "the file is empty");
    WordVectorFormat format = options_.format;
    std::optional<VectorHeader> header;
    if (format != WordVectorFormat::text) {
      const std::string_view first = in_.peek_line(4096);
      header = parse_vector_header(first);
      if (!header && format != WordVectorFormat::automatic) {
        fail(1, "expected a header line 'count dim' (" + std::string(to_string(format)) +
                    " format), found '" + shorten(first) + "'");
      }
    }
    if (!header) {
      format = WordVectorFormat::text;
      read_text(std::nullopt);
    } else {
      std::string_view line;
      in_.next_line(line);
      line_ = 1;
      check_header(*header);
      if (format == WordVectorFormat::automatic) format = detect_after_header(*header);
      if (format == WordVectorFormat::binary) {
        read_binary(*header);
      } else {
        format = WordVectorFormat::text_header;
        read_text(*header);
      }
    }
    if (words_.empty()) fail(0, "the file holds no vectors");
    matrix_.conservativeResize(dim_, static_cast<Index>(words_.size()));
    return WordVectors(std::move(words_), std::move(matrix_), format, std::move(seen_));
  }

 private:
  [[noreturn]] void fail(std::size_t line, const std::string& what) const {
    throw WordVectorError(source_, line, -1, -1, what);
  }
  [[noreturn]] void fail_entry(std::size_t entry, std::uint64_t offset,
                               const std::string& what) const {
    const char* hint = detected_binary_
                           ? " (the file was read as word2vec binary: its first vector is not a "
                             "text line; pass the format to read it as text)"
                           : "";
    throw WordVectorError(source_, 0, static_cast<std::ptrdiff_t>(entry),
                          static_cast<std::ptrdiff_t>(offset), what + hint);
  }

  /// A printable excerpt of some bytes for a message.
  static std::string shorten(std::string_view text, std::size_t limit = 40) {
    std::string out;
    for (char c : text.substr(0, limit)) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7F) {
        static const char* hex = "0123456789ABCDEF";
        out += "\\x";
        out += hex[u >> 4];
        out += hex[u & 15];
      } else {
        out += c;
      }
    }
    if (text.size() > limit) out += "...";
    return out;
  }

  std::size_t limit() const {
    return options_.max_words == 0 ? std::numeric_limits<std::size_t>::max() : options_.max_words;
  }

  /// Checks a header's sizes against the bytes after it, then sizes the matrix for the vectors
  /// that will be kept.
  void check_header(const VectorHeader& header) {
    if (header.overflow) fail(1, "the header's numbers do not fit in 64 bits: not a vector file");
    if (header.dim == 0) fail(1, "the header declares dimension 0");
    if (header.count == 0) fail(1, "the header declares 0 vectors: the file holds no vectors");
    // The smallest vector: a text line "w 0 0 ... 0" and its '\n', or a binary "w " + floats.
    // (Checked with divisions: no product can overflow.)
    const std::uint64_t left = in_.remaining();
    const bool binary = options_.format == WordVectorFormat::binary;
    const std::uint64_t per_value = binary ? 4 : 2;
    if (header.dim > (left + 1) / per_value) {
      fail(1, "the header declares dimension " + std::to_string(header.dim) + ", but the " +
                  std::to_string(left) + " bytes after it cannot hold even one such vector");
    }
    // Text: 2·dim + 1 bytes a line, + 1 for the '\n' (the last may lack it); binary: 4·dim + 2.
    // In automatic mode the smaller (text) bound applies until the format is known.
    const std::uint64_t smallest = per_value * header.dim + 2;
    if (header.count > (left + 1) / smallest) {
      fail(1, "the header declares " + std::to_string(header.count) + " vectors of dimension " +
                  std::to_string(header.dim) + ", which need at least " + std::to_string(smallest) +
                  " bytes each, but only " + std::to_string(left) + " bytes follow");
    }
    dim_ = static_cast<Index>(header.dim);
    reserve(static_cast<std::size_t>(std::min<std::uint64_t>(header.count, limit())));
  }

  void reserve(std::size_t vectors) {
    matrix_.resize(dim_, static_cast<Index>(vectors));
    words_.reserve(vectors);
  }

  /// Text or binary after a header (the file comment's rule).
  WordVectorFormat detect_after_header(const VectorHeader& header) {
    const auto dim = static_cast<std::size_t>(header.dim);
    const std::string_view line = in_.peek_line((std::size_t{1} << 20) + 32 * dim);
    if (split_line(line, static_cast<Index>(dim), nullptr, true) == ParseResult::ok) {
      return WordVectorFormat::text;
    }
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos) return WordVectorFormat::text;
    in_.fill(space + 1 + std::max<std::size_t>(4 * dim, 16));
    const std::string_view after = in_.available().substr(space + 1, 4 * dim);
    std::size_t scanned = 0;
    for (char c : after) {
      const auto u = static_cast<unsigned char>(c);
      if (u == '\n' && scanned >= 16) break;  // a text line ends; a binary file has shown itself
      if (u >= 0x80 || (u < 0x20 && u != '\t' && u != '\r' && u != '\n')) {
        detected_binary_ = true;
        return WordVectorFormat::binary;
      }
      ++scanned;
    }
    return WordVectorFormat::text;
  }

  // ----- text ------------------------------------------------------------------------------------

  enum class ParseResult { ok, blank, error };

  /// Splits a text line into its word and dim values (into `values` when given; a check only
  /// when null). `dim` < 0: the first line of a header-less file, which defines dim. On a problem
  /// returns error with the message in problem_ unless `quiet`.
  ParseResult split_line(std::string_view line, Index dim, float* values, bool quiet) {
    while (!line.empty() && (line.back() == '\r' || is_blank(line.back()))) line.remove_suffix(1);
    if (line.empty()) return ParseResult::blank;
    fields_.clear();
    for (std::size_t i = 0; i < line.size();) {
      if (is_blank(line[i])) {
        ++i;
        continue;
      }
      const std::size_t start = i;
      while (i < line.size() && !is_blank(line[i])) ++i;
      fields_.emplace_back(start, i);
    }
    if (is_blank(line[0])) {
      if (!quiet) problem_ = "the line starts with a blank: the word is empty";
      return ParseResult::error;
    }
    const auto values_given = static_cast<Index>(fields_.size()) - 1;
    if (dim < 0) {
      if (values_given == 0) {
        if (!quiet) problem_ = "the first line has a word and no values: not a vector file";
        return ParseResult::error;
      }
      dim = values_given;
    }
    std::size_t first_value = 1;
    if (values_given < dim) {
      if (!quiet) {
        problem_ = "the vector has " + std::to_string(values_given) + " values, expected " +
                   std::to_string(dim) + dimension_source_;
      }
      return ParseResult::error;
    }
    if (values_given > dim) {
      // A word with blanks in it, unless the extra fields are numbers: then a wrong dimension.
      first_value = fields_.size() - static_cast<std::size_t>(dim);
      bool all_numbers = true;
      float ignored;
      for (std::size_t k = 1; k < first_value && all_numbers; ++k)
        all_numbers = parse_vector_number(field(line, k), ignored, nullptr);
      if (all_numbers) {
        if (!quiet) {
          problem_ = "the vector has " + std::to_string(values_given) + " values, expected " +
                     std::to_string(dim) + dimension_source_;
        }
        return ParseResult::error;
      }
    }
    word_ = line.substr(0, fields_[first_value - 1].second);
    float scratch = 0;
    std::string why;
    for (std::size_t k = first_value; k < fields_.size(); ++k) {
      float& out = values ? values[k - first_value] : scratch;
      if (!parse_vector_number(field(line, k), out, quiet ? nullptr : &why)) {
        if (!quiet) {
          problem_ = "value " + std::to_string(k - first_value + 1) + " ('" +
                     shorten(field(line, k)) + "') " + why;
        }
        return ParseResult::error;
      }
    }
    parsed_dim_ = dim;
    return ParseResult::ok;
  }

  std::string_view field(std::string_view line, std::size_t k) const {
    return line.substr(fields_[k].first, fields_[k].second - fields_[k].first);
  }

  void read_text(const std::optional<VectorHeader>& header) {
    if (header) {
      dimension_source_ = " (the header's dimension)";
    } else {
      dimension_source_ = " (the dimension of line 1)";
    }
    const std::size_t declared =
        header ? static_cast<std::size_t>(header->count) : std::numeric_limits<std::size_t>::max();
    first_line_ = line_ + 1;
    std::size_t blank_line = 0;  // the first blank line seen: an error unless only blanks follow
    std::string_view line;
    while (words_.size() < limit() && in_.next_line(line)) {
      ++line_;
      if (dim_ == 0) {
        // The first line of a header-less file defines dim; check it before the matrix grows.
        const ParseResult first = split_line(line, -1, nullptr, false);
        if (first == ParseResult::blank) fail(line_, "a blank line before the first vector");
        if (first == ParseResult::error) fail(line_, problem_);
        dim_ = parsed_dim_;
      }
      const auto column = static_cast<Index>(words_.size());
      if (column >= matrix_.cols()) {
        if (header) {
          // More lines than the header declares (a blank one at the end is fine).
          if (split_line(line, dim_, nullptr, true) == ParseResult::blank) {
            blank_line = blank_line ? blank_line : line_;
            continue;
          }
          fail(line_, "more vectors than the " + std::to_string(declared) +
                          " the header (line 1) declares");
        }
        matrix_.conservativeResize(dim_, std::max<Index>(1, 2 * matrix_.cols()));  // doubling
      }
      const ParseResult result = split_line(line, dim_, matrix_.col(column).data(), false);
      if (result == ParseResult::blank) {
        blank_line = blank_line ? blank_line : line_;
        continue;
      }
      if (result == ParseResult::error) fail(line_, problem_);
      if (blank_line) fail(blank_line, "a blank line between vectors");
      add_word(std::string(word_));
    }
    if (header && words_.size() < std::min(declared, limit())) {
      fail(1, "the header declares " + std::to_string(declared) + " vectors, but the file ends " +
                  "after " + std::to_string(words_.size()) + " (at line " + std::to_string(line_) +
                  ")");
    }
  }

  /// Records the word of the next column; a word seen before is an error. (Blank lines between
  /// vectors are errors too, so column k of a text file is on line first_line_ + k.)
  void add_word(std::string word) {
    const auto column = static_cast<Index>(words_.size());
    const auto [it, fresh] = seen_.emplace(word, column);
    if (!fresh) {
      const auto first = static_cast<std::size_t>(it->second);
      if (binary_) {
        fail_entry(words_.size(), entry_offset_,
                   "the word '" + shorten(word) + "' appears twice (first as entry " +
                       std::to_string(first) + ")");
      }
      fail(line_, "the word '" + shorten(word) + "' appears twice (first on line " +
                      std::to_string(first_line_ + first) + ")");
    }
    words_.push_back(std::move(word));
  }

  // ----- binary ----------------------------------------------------------------------------------

  void read_binary(const VectorHeader& header) {
    binary_ = true;
    // The text bound of check_header was looser when the format was detected: apply the
    // binary one now.
    const std::uint64_t left = in_.remaining();
    const std::uint64_t smallest = 4 * header.dim + 2;
    if (header.dim > left / 4 || header.count > (left + 1) / smallest) {
      fail(1, "the header declares " + std::to_string(header.count) + " vectors of dimension " +
                  std::to_string(header.dim) + ", which need at least " + std::to_string(smallest) +
                  " bytes each in word2vec binary, but only " + std::to_string(left) +
                  " bytes follow");
    }
    const auto dim = static_cast<std::size_t>(header.dim);
    const std::size_t keep = std::min<std::size_t>(static_cast<std::size_t>(header.count), limit());
    constexpr std::size_t max_word_bytes = std::size_t{1} << 16;
    for (std::size_t entry = 0; entry < keep; ++entry) {
      // word2vec ends every vector with '\n'; other writers do not: skip it when it is there.
      while (in_.fill(1) >= 1 && in_.available()[0] == '\n') in_.skip(1);
      entry_offset_ = in_.offset();
      if (in_.available().empty()) {
        fail_entry(entry, entry_offset_,
                   "truncated: the header declares " + std::to_string(header.count) +
                       " vectors, the file ends after " + std::to_string(entry));
      }
      std::size_t length = 0;
      for (;;) {
        if (in_.fill(length + 1) < length + 1) {
          fail_entry(entry, entry_offset_, "truncated in the word (no space after it)");
        }
        const char c = in_.available()[length];
        if (c == ' ') break;
        if (c == '\n') {
          fail_entry(
              entry, entry_offset_,
              "a newline inside the word '" + shorten(in_.available().substr(0, length)) + "'");
        }
        if (++length > max_word_bytes) {
          fail_entry(entry, entry_offset_,
                     "no space within " + std::to_string(max_word_bytes) +
                         " bytes: not a word (a damaged file or a wrong dimension?)");
        }
      }
      if (length == 0) fail_entry(entry, entry_offset_, "empty word (a space where it should be)");
      std::string word(in_.available().substr(0, length));
      in_.skip(length + 1);
      const std::uint64_t values_at = in_.offset();
      if (in_.fill(4 * dim) < 4 * dim) {
        fail_entry(entry, values_at,
                   "truncated: the vector of '" + shorten(word) + "' needs " +
                       std::to_string(4 * dim) + " bytes, " + std::to_string(in_.fill(4 * dim)) +
                       " are left");
      }
      const auto* bytes = reinterpret_cast<const unsigned char*>(in_.available().data());
      float* out = matrix_.col(static_cast<Index>(entry)).data();
      for (std::size_t k = 0; k < dim; ++k) {
        const std::uint32_t bits =
            std::uint32_t{bytes[4 * k]} | std::uint32_t{bytes[4 * k + 1]} << 8 |
            std::uint32_t{bytes[4 * k + 2]} << 16 | std::uint32_t{bytes[4 * k + 3]} << 24;
        float value;
        std::memcpy(&value, &bits, sizeof value);
        if (!std::isfinite(value)) {
          fail_entry(entry, values_at + 4 * k,
                     "value " + std::to_string(k + 1) + " of '" + shorten(word) +
                         "' is not finite (NaN or infinite)");
        }
        out[k] = value;
      }
      in_.skip(4 * dim);
      add_word(std::move(word));
    }
    if (keep < header.count) return;  // limited: the rest is not read
    // After the last vector only line ends (or blanks) may follow.
    for (;;) {
      const std::size_t n = in_.fill(1);
      if (n == 0) break;
      const char c = in_.available()[0];
      if (c != '\n' && c != '\r' && c != ' ' && c != '\t') {
        fail_entry(
            header.count, in_.offset(),
            "more data after the " + std::to_string(header.count) + " vectors the header declares");
      }
      in_.skip(1);
    }
  }

  VectorInput& in_;
  std::string source_;
  WordVectorReadOptions options_;
  Index dim_ = 0;
  Index parsed_dim_ = 0;
  Matrix<float> matrix_;
  std::vector<std::string> words_;
  std::unordered_map<std::string, Index> seen_;              ///< word -> its column
  std::vector<std::pair<std::size_t, std::size_t>> fields_;  ///< [start, end) of a line's fields
  std::string_view word_;                                    ///< the word of the last line split
  std::string problem_;                                      ///< why the last split failed
  std::string dimension_source_;
  std::size_t line_ = 0;        ///< the line last read (text)
  std::size_t first_line_ = 0;  ///< the line of the first vector (text)
  bool binary_ = false;
  bool detected_binary_ = false;  ///< binary by detection, not by the options
  std::uint64_t entry_offset_ = 0;
};

}  // namespace detail

/// Reads vectors from `bytes` in memory; `source` names them in messages. Throws
/// WordVectorError for every problem (file comment). The fuzzing entry point.
inline WordVectors parse_word_vectors(std::string_view bytes, const std::string& source,
                                      const WordVectorReadOptions& options = {}) {
  detail::VectorInput input(bytes);
  return detail::VectorReader(input, source, options).read();
}

/// Reads the vector file at `path` (streamed; see the file comment). Throws WordVectorError for
/// a missing, unreadable or non-regular file and for every problem with its contents.
inline WordVectors read_word_vectors(const std::string& path,
                                     const WordVectorReadOptions& options = {}) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw WordVectorError(path, 0, -1, -1, "no such file");
  }
  if (std::filesystem::is_directory(status)) {
    throw WordVectorError(path, 0, -1, -1, "is a directory");
  }
  // A device or a pipe has no size to check declared counts against: vector files are regular.
  if (!std::filesystem::is_regular_file(status)) {
    throw WordVectorError(path, 0, -1, -1, "is not a regular file");
  }
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw WordVectorError(path, 0, -1, -1, "cannot read its size: " + ec.message());
  std::ifstream stream(path, std::ios::binary);
  if (!stream) throw WordVectorError(path, 0, -1, -1, "cannot be opened for reading");
  detail::VectorInput input(stream, size);
  try {
    return detail::VectorReader(input, path, options).read();
  } catch (const WordVectorError&) {
    throw;
  } catch (const std::runtime_error& e) {  // a read error of the stream
    throw WordVectorError(path, 0, -1, static_cast<std::ptrdiff_t>(input.offset()), e.what());
  }
}

}  // namespace lstmner
