#pragma once
/// \file char_vocabulary.hpp
/// `CharVocabulary`: Unicode code points <-> dense int32 ids, for the character-level word
/// encoders (char_cnn.hpp). Characters are code points decoded from UTF-8 (utf8.hpp), case kept.
///
///   auto chars = CharVocabulary::build_from_words(count_tokens(train_sentences), /*min_count=*/1);
///   chars.encode("Zürich");          // {id('Z'), id('ü'), ...}: 6 ids for 7 bytes
///   chars.encode_batch(words, ids, lengths);   // the padded (W, L) batch a char encoder takes
///
/// Ids: 0 is `<pad>` (what encode_batch pads with), 1 is `<unk>` (every code point not in the
/// vocabulary), then the code points counted at least `min_count` times by descending count, ties
/// by ascending code point: the same counts always give the same ids. Ill-formed UTF-8 decodes to
/// U+FFFD (one per maximal subpart, utf8.hpp), which is then a character like any other: it has
/// an id when the training words held enough of it, else it is `<unk>`.
///
/// Thread safety: all const member functions may be called from several threads at once; none of
/// them allocates except the ones returning a new vector, and encode_batch, which only grows its
/// outputs (a batch no larger than an earlier one allocates nothing).
///
/// Model files (serialize.hpp): save() writes the kind marker "lstmner.CharVocabulary", the
/// min count, then the number n of code points and n pairs (u32 code point, u64 count) in id
/// order. load() checks all of it before trusting it, and throws std::runtime_error naming the
/// file, the byte offset and the field for: a count n larger than the bytes present could hold
/// (checked before allocating), a value that is not a Unicode scalar value, a code point given
/// twice, a count below the min count or zero, and entries out of the order build() gives.

#include <lstmner/sequence_lengths.hpp>
#include <lstmner/serialize.hpp>
#include <lstmner/tensor.hpp>
#include <lstmner/utf8.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lstmner {

class CharVocabulary {
 public:
  static constexpr std::int32_t pad_id = 0;      ///< `<pad>`: fills a batch past a word's end
  static constexpr std::int32_t unknown_id = 1;  ///< `<unk>`: every character not in the vocabulary
  static constexpr std::int32_t reserved = 2;    ///< ids below this are `<pad>` and `<unk>`

  /// Only `<pad>` and `<unk>` (size 2): every character is unknown.
  CharVocabulary() { small_.fill(-1); }

  /// Counts of the code points of every token of `sentences` (case kept).
  static std::map<char32_t, std::size_t> count_chars(
      const std::vector<std::vector<std::string>>& sentences) {
    std::map<char32_t, std::size_t> counts;
    for (const auto& sentence : sentences)
      for (const auto& token : sentence)
        for_each_code_point(token, [&](char32_t c) { ++counts[c]; });
    return counts;
  }

  /// Builds from per-code-point counts (any range of (char32_t, count) pairs); code points
  /// counted fewer than `min_count` times (and never) are left out. Values that are not Unicode
  /// scalar values (utf8.hpp) are rejected with std::invalid_argument: decoded UTF-8 never holds
  /// them.
  template <class Counts>
  static CharVocabulary build(const Counts& char_counts, std::size_t min_count = 1) {
    CharVocabulary v;
    v.min_count_ = min_count;
    std::map<char32_t, std::size_t> merged;
    for (const auto& [c, count] : char_counts) {
      require(is_unicode_scalar_value(c),
              "CharVocabulary::build: " + describe(c) + " is not a Unicode scalar value");
      merged[c] += count;
    }
    std::vector<std::pair<char32_t, std::size_t>> kept;
    for (const auto& [c, count] : merged)
      if (count >= min_count && count > 0) kept.emplace_back(c, count);
    std::sort(kept.begin(), kept.end(), build_order);
    for (const auto& [c, count] : kept) v.add(c, count);
    return v;
  }

  /// Builds from word counts (any range of (string, count) pairs, e.g. count_tokens(sentences)
  /// without normalisation): every code point of a word is counted `count` times.
  template <class WordCounts>
  static CharVocabulary build_from_words(const WordCounts& word_counts, std::size_t min_count = 1) {
    std::map<char32_t, std::size_t> counts;
    for (const auto& [word, count] : word_counts)
      for_each_code_point(word, [&, n = count](char32_t c) { counts[c] += n; });
    return build(counts, min_count);
  }

  /// The id of `c`: its own, or unknown_id.
  std::int32_t id(char32_t c) const { return find(c).value_or(unknown_id); }

  /// The id of `c`, or nothing (never unknown_id).
  std::optional<std::int32_t> find(char32_t c) const {
    if (c < small_.size()) {
      const std::int32_t id = small_[c];
      if (id >= 0) return id;
      return std::nullopt;
    }
    const auto it = large_.find(c);
    if (it == large_.end()) return std::nullopt;
    return it->second;
  }
  bool contains(char32_t c) const { return find(c).has_value(); }

  /// The code point of a non-reserved id. Throws std::invalid_argument for `<pad>`, `<unk>` and
  /// ids outside [0, size()).
  char32_t code_point(std::int32_t id) const {
    require(id >= reserved && static_cast<std::size_t>(id) < size(),
            "CharVocabulary: id " + std::to_string(id) +
                " is not a character id (characters have " + "ids " + std::to_string(reserved) +
                " .. " + std::to_string(size() - 1) + "; 0 is <pad>, 1 is <unk>)");
    return code_points_[static_cast<std::size_t>(id - reserved)];
  }

  /// Training count of an id: 0 for `<pad>` and `<unk>`.
  std::size_t count(std::int32_t id) const {
    require(id >= 0 && static_cast<std::size_t>(id) < size(),
            "CharVocabulary: id " + std::to_string(id) + " is outside [0, " +
                std::to_string(size()) + ")");
    return id < reserved ? 0 : counts_[static_cast<std::size_t>(id - reserved)];
  }

  /// Ids in all: the two reserved ones and the characters.
  std::size_t size() const { return reserved + code_points_.size(); }
  /// The characters in id order (id = index + reserved).
  const std::vector<char32_t>& code_points() const { return code_points_; }
  std::size_t min_count() const { return min_count_; }

  /// The ids of the code points of `word`.
  std::vector<std::int32_t> encode(std::string_view word) const {
    std::vector<std::int32_t> ids;
    encode(word, ids);
    return ids;
  }

  /// The same into `ids` (replacing its contents; no allocation when its capacity suffices).
  void encode(std::string_view word, std::vector<std::int32_t>& ids) const {
    ids.clear();
    for_each_code_point(word, [&](char32_t c) { ids.push_back(id(c)); });
  }

  /// The batch a character encoder takes for `words` (any range of strings or string views):
  /// `ids` (W, L) with ids(w, l) the id of character l of word w and `<pad>` past its end, L the
  /// most characters of any word; `lengths` the characters of each word. Throws
  /// std::invalid_argument for an empty batch or an empty word (a word needs a character).
  /// Reuses the storage of ids and lengths: no allocation when they have held a batch as large.
  template <class Words>
  void encode_batch(const Words& words, Tensor2<std::int32_t>& ids,
                    SequenceLengths& lengths) const {
    const auto word_count =
        static_cast<std::size_t>(std::distance(std::begin(words), std::end(words)));
    auto word = std::begin(words);
    // Each length is computed once here and once more when the ids are written: decoding twice
    // is cheaper than a side buffer that would have to be kept.
    const auto length_of = [&](std::size_t w) {
      const std::size_t n = utf8_code_point_count(std::string_view(*word));
      if (n == 0) {
        require(false, "CharVocabulary: encode_batch: word " + std::to_string(w) +
                           " is empty (a word needs at least one character)");
      }
      ++word;
      return static_cast<Index>(n);
    };
    if (word_count == 0) require(false, "CharVocabulary: encode_batch: no words given");
    lengths.assign(word_count, length_of);  // calls length_of(0), length_of(1), ... in order
    const auto W = static_cast<Index>(word_count);
    ids.resize(W, lengths.max_length());
    ids.setConstant(pad_id);
    Index w = 0;
    for (const auto& text : words) {
      Index l = 0;
      for_each_code_point(std::string_view(text), [&](char32_t c) { ids(w, l++) = id(c); });
      ++w;
    }
  }

  bool operator==(const CharVocabulary& other) const {
    return code_points_ == other.code_points_ && counts_ == other.counts_ &&
           min_count_ == other.min_count_;
  }
  bool operator!=(const CharVocabulary& other) const { return !(*this == other); }

  // ----- model files -----------------------------------------------------------------------------

  void save(BinaryWriter& out) const {
    out.write_string(kind);
    out.write_u64(min_count_);
    out.write_u64(code_points_.size());
    for (std::size_t i = 0; i < code_points_.size(); ++i) {
      out.write_u32(static_cast<std::uint32_t>(code_points_[i]));
      out.write_u64(counts_[i]);
    }
  }

  static CharVocabulary load(BinaryReader& in) {
    const std::string marker = in.read_string("char vocabulary kind");
    if (marker != kind) in.fail("expected a character vocabulary, found '" + marker + "'");
    CharVocabulary v;
    const std::uint64_t min_count = in.read_u64("char vocabulary min count");
    v.min_count_ = static_cast<std::size_t>(min_count);
    const std::uint64_t n = in.read_u64("char vocabulary size");
    constexpr std::uint64_t entry_bytes = 4 + 8;
    if (n > in.remaining() / entry_bytes) {
      in.fail("the character vocabulary declares " + std::to_string(n) + " characters (" +
              std::to_string(entry_bytes) + " bytes each), but only " +
              std::to_string(in.remaining()) + " bytes follow");
    }
    v.code_points_.reserve(static_cast<std::size_t>(n));
    v.counts_.reserve(static_cast<std::size_t>(n));
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::string entry = "char vocabulary entry " + std::to_string(i);
      const std::uint32_t raw = in.read_u32(entry + " (code point)");
      const auto c = static_cast<char32_t>(raw);
      if (!is_unicode_scalar_value(c)) {
        in.fail(entry + ": " + describe(c) + " is not a Unicode scalar value");
      }
      if (v.contains(c)) in.fail(entry + ": " + describe(c) + " appears twice");
      const std::uint64_t count = in.read_u64(entry + " (count)");
      if (count == 0 || count < min_count) {
        in.fail(entry + ": " + describe(c) + " has count " + std::to_string(count) +
                ", below the min count " + std::to_string(std::max<std::uint64_t>(min_count, 1)));
      }
      if (!v.code_points_.empty() && !build_order({v.code_points_.back(), v.counts_.back()},
                                                  {c, static_cast<std::size_t>(count)})) {
        in.fail(entry + ": " + describe(c) + " (count " + std::to_string(count) +
                ") is out of order: characters go by descending count, then ascending code point");
      }
      v.add(c, static_cast<std::size_t>(count));
    }
    return v;
  }

  /// "U+00FC" for messages.
  static std::string describe(char32_t c) {
    static const char* digits = "0123456789ABCDEF";
    std::string hex;
    for (auto v = static_cast<std::uint32_t>(c); v != 0 || hex.size() < 4; v >>= 4)
      hex.insert(hex.begin(), digits[v & 0xF]);
    return "U+" + hex;
  }

 private:
  static constexpr const char* kind = "lstmner.CharVocabulary";

  /// The order of ids: descending count, then ascending code point.
  static bool build_order(const std::pair<char32_t, std::size_t>& a,
                          const std::pair<char32_t, std::size_t>& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  }

  void add(char32_t c, std::size_t count) {
    const auto id = static_cast<std::int32_t>(size());
    if (c < small_.size()) {
      small_[c] = id;
    } else {
      large_.emplace(c, id);
    }
    code_points_.push_back(c);
    counts_.push_back(count);
  }

  std::vector<char32_t> code_points_;  ///< id - reserved -> code point
  std::vector<std::size_t> counts_;    ///< id - reserved -> training count
  std::size_t min_count_ = 1;
  std::array<std::int32_t, 256> small_;  ///< code points below 256 -> id (-1: none): no hashing
  std::unordered_map<char32_t, std::int32_t> large_;  ///< every other code point -> id
};

}  // namespace lstmner
