#pragma once
/// \file vocabulary.hpp
/// `Vocabulary`: strings <-> dense int32 ids, for words and for tags, and the word normalisation
/// applied before every lookup.
///
///   WordNormalization norm{/*lowercase=*/true, /*digits_to_zero=*/true};
///   auto words = Vocabulary::build(count_tokens(sentences, norm), /*min_count=*/2,
///                                  {"<pad>", "<unk>"}, norm);       // "<unk>" is the unknown
///                                  entry
///   words.id("Paris");   // id of "paris", or 1 (<unk>) when it was too rare or never seen
///   auto tags = Vocabulary::build(tag_counts, 1, {}, {}, "");       // no unknown entry
///   tags.id("B-FOO");    // throws std::invalid_argument: not in the vocabulary
///
/// Ids: the reserved entries first, in the order given, then the words with count >= min_count by
/// descending count, ties broken by byte-wise string order. The same counts therefore always give
/// the same ids, whatever the order they were counted in.
///
/// Normalisation (`WordNormalization`) is applied to every counted word when building and to every
/// word looked up; reserved entries are stored as given. It is ASCII-only: 'A'..'Z' are lowercased
/// and '0'..'9' become '0'; every other byte, in particular every byte of a multi-byte UTF-8
/// character, passes through unchanged.
///
/// Thread safety: all const member functions may be called from several threads at once.
///
/// Model files (serialize.hpp): save() writes the kind marker "lstmner.Vocabulary", the
/// normalisation flags, the strings in id order, their counts and the unknown id (-1 for none);
/// load() checks all of it and throws std::runtime_error naming the file and field. check() does
/// the same checks without building anything (its only allocation is 8 bytes per entry, half of
/// the least an entry takes in the file), and load() runs it first: a damaged vocabulary is
/// rejected before the memory of a real one is spent on it.

#include <lstmner/serialize.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lstmner {

/// How a word is folded before it is counted or looked up.
struct WordNormalization {
  bool lowercase = false;       ///< ASCII 'A'..'Z' -> 'a'..'z'
  bool digits_to_zero = false;  ///< ASCII '0'..'9' -> '0' ("1996" and "2013" share an entry)

  std::string apply(std::string_view word) const {
    std::string out(word);
    if (!lowercase && !digits_to_zero) return out;
    for (char& c : out) {
      if (lowercase && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (digits_to_zero && c >= '0' && c <= '9') c = '0';
    }
    return out;
  }

  bool operator==(const WordNormalization& other) const {
    return lowercase == other.lowercase && digits_to_zero == other.digits_to_zero;
  }
  bool operator!=(const WordNormalization& other) const { return !(*this == other); }
};

/// Counts of the normalised tokens of `sentences`, ready for Vocabulary::build.
inline std::map<std::string, std::size_t> count_tokens(
    const std::vector<std::vector<std::string>>& sentences, const WordNormalization& norm = {}) {
  std::map<std::string, std::size_t> counts;
  for (const auto& sentence : sentences) {
    for (const auto& token : sentence) ++counts[norm.apply(token)];
  }
  return counts;
}

class Vocabulary {
 public:
  /// The name of the unknown entry build() looks for among the reserved entries by default.
  static constexpr const char* default_unknown = "<unk>";

  /// An empty vocabulary (size 0, no unknown entry).
  Vocabulary() = default;

  /// Builds a vocabulary from `counts` (any range of (string, count) pairs, e.g. a std::map).
  /// Keys are normalised with `norm` and merged; entries with count < `min_count` are left out.
  /// `reserved` entries come first with ids 0, 1, ...; `unknown` names the reserved entry that
  /// stands for every string not in the vocabulary ("" or a name not among `reserved`: none, and
  /// id() throws for unknown strings). A counted key equal to a reserved entry takes its id.
  template <class Counts>
  static Vocabulary build(const Counts& counts, std::size_t min_count,
                          const std::vector<std::string>& reserved = {},
                          const WordNormalization& norm = {},
                          const std::string& unknown = default_unknown) {
    Vocabulary v;
    v.normalization_ = norm;
    for (const auto& entry : reserved) {
      require(v.index_.count(entry) == 0,
              "Vocabulary::build: reserved entry '" + entry + "' is given twice");
      v.add(entry, 0);
      if (!unknown.empty() && entry == unknown) {
        v.unknown_id_ = static_cast<std::int32_t>(v.size() - 1);
      }
    }
    std::map<std::string, std::size_t> merged;
    for (const auto& [key, count] : counts) merged[norm.apply(key)] += count;

    std::vector<std::pair<std::string, std::size_t>> kept;
    for (auto& [word, count] : merged) {
      const auto reserved_id = v.index_.find(word);
      if (reserved_id != v.index_.end()) {
        v.counts_[static_cast<std::size_t>(reserved_id->second)] += count;
      } else if (count >= min_count && count > 0) {
        kept.emplace_back(word, count);
      }
    }
    // Descending count, then byte-wise string order: independent of how the counts were made.
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    require(reserved.size() + kept.size() <=
                static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()),
            "Vocabulary::build: more entries than int32 ids");
    for (auto& [word, count] : kept) v.add(std::move(word), count);
    return v;
  }

  /// The id of `word` after normalisation; the unknown id when it is not in the vocabulary.
  /// Throws std::invalid_argument when it is not and the vocabulary has no unknown entry.
  std::int32_t id(std::string_view word) const {
    if (auto found = find(word)) return *found;
    if (unknown_id_ >= 0) return unknown_id_;
    throw std::invalid_argument("lstmner: Vocabulary: '" + std::string(word) +
                                "' is not in the vocabulary, which has no unknown entry");
  }

  /// The id of `word` after normalisation, or nothing (never the unknown id).
  std::optional<std::int32_t> find(std::string_view word) const {
    const auto it = index_.find(normalization_.apply(word));
    if (it == index_.end()) return std::nullopt;
    return it->second;
  }

  bool contains(std::string_view word) const { return find(word).has_value(); }

  /// Ids of a sequence of words.
  std::vector<std::int32_t> ids(const std::vector<std::string>& words) const {
    std::vector<std::int32_t> out;
    out.reserve(words.size());
    for (const auto& w : words) out.push_back(id(w));
    return out;
  }

  /// The string of an id (normalised form). Throws std::invalid_argument when out of range.
  const std::string& word(std::int32_t id) const {
    check_id(id);
    return words_[static_cast<std::size_t>(id)];
  }

  /// Training count of an id (0 for reserved entries nothing in the data mapped to).
  std::size_t count(std::int32_t id) const {
    check_id(id);
    return counts_[static_cast<std::size_t>(id)];
  }

  std::size_t size() const { return words_.size(); }
  bool empty() const { return words_.empty(); }
  bool has_unknown() const { return unknown_id_ >= 0; }
  /// The unknown entry's id; throws std::logic_error when there is none.
  std::int32_t unknown_id() const {
    if (unknown_id_ < 0) throw std::logic_error("lstmner: Vocabulary: no unknown entry");
    return unknown_id_;
  }
  const WordNormalization& normalization() const { return normalization_; }
  /// Every entry in id order.
  const std::vector<std::string>& words() const { return words_; }

  bool operator==(const Vocabulary& other) const {
    return words_ == other.words_ && counts_ == other.counts_ && unknown_id_ == other.unknown_id_ &&
           normalization_ == other.normalization_;
  }
  bool operator!=(const Vocabulary& other) const { return !(*this == other); }

  // ----- model files -----------------------------------------------------------------------------

  void save(BinaryWriter& out) const {
    out.write_string(kind);
    out.write_bool(normalization_.lowercase);
    out.write_bool(normalization_.digits_to_zero);
    out.write_strings(words_);
    out.write_u64(counts_.size());
    for (std::size_t c : counts_) out.write_u64(c);
    out.write_i32(unknown_id_);
  }

  /// What check() finds out about a stored vocabulary.
  struct Summary {
    std::size_t size = 0;
    std::int32_t unknown_id = -1;
  };

  /// Checks a vocabulary written by save() as load() does and moves `in` past it, building
  /// nothing.
  static Summary check(BinaryReader& in) {
    const std::string_view marker = in.read_string_view("vocabulary kind");
    if (marker != kind) in.fail("expected a vocabulary, found '" + std::string(marker) + "'");
    in.read_bool("vocabulary lowercase");
    in.read_bool("vocabulary digits_to_zero");
    const std::uint64_t size = in.read_u64("vocabulary entries (string count)");
    // Every string takes at least its 8-byte length: bound the count before reserving.
    if (size > in.remaining() / 8) {
      in.truncated(
          "list of strings", "vocabulary entries",
          std::to_string(size) + " strings need at least " + std::to_string(size) + " x 8 bytes");
    }
    if (size > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max())) {
      in.fail("more vocabulary entries than int32 ids");
    }
    // Duplicates are found by sorting the entries' 64-bit hashes (8 bytes per entry); only when
    // two hashes are equal are the entries themselves compared.
    const BinaryReader entries_start = in;
    std::vector<std::uint64_t> hashes;
    hashes.reserve(static_cast<std::size_t>(size));
    for (std::uint64_t i = 0; i < size; ++i)
      hashes.push_back(std::hash<std::string_view>{}(in.read_list_string("vocabulary entries", i)));
    const std::uint64_t count_size = in.read_u64("vocabulary count size");
    if (count_size != size) {
      in.fail(std::to_string(count_size) + " counts for " + std::to_string(size) +
              " vocabulary entries");
    }
    in.skip(count_size * 8, "vocabulary counts");
    std::sort(hashes.begin(), hashes.end());
    if (std::adjacent_find(hashes.begin(), hashes.end()) != hashes.end()) {
      hashes = std::vector<std::uint64_t>();
      BinaryReader again = entries_start;
      std::vector<std::string_view> words;
      words.reserve(static_cast<std::size_t>(size));
      for (std::uint64_t i = 0; i < size; ++i)
        words.push_back(again.read_list_string("vocabulary entries", i));
      std::sort(words.begin(), words.end());
      const auto twice = std::adjacent_find(words.begin(), words.end());
      if (twice != words.end())
        in.fail("vocabulary entry '" + std::string(*twice) + "' appears twice");
    }
    const std::int32_t unknown_id = in.read_i32("vocabulary unknown id");
    if (unknown_id < -1 || unknown_id >= static_cast<std::int64_t>(size)) {
      in.fail("unknown id " + std::to_string(unknown_id) + " outside the vocabulary of " +
              std::to_string(size) + " entries");
    }
    return {static_cast<std::size_t>(size), unknown_id};
  }

  static Vocabulary load(BinaryReader& in) {
    {
      BinaryReader probe = in;
      check(probe);
    }
    const std::string marker = in.read_string("vocabulary kind");
    if (marker != kind) in.fail("expected a vocabulary, found '" + marker + "'");
    Vocabulary v;
    v.normalization_.lowercase = in.read_bool("vocabulary lowercase");
    v.normalization_.digits_to_zero = in.read_bool("vocabulary digits_to_zero");
    std::vector<std::string> words = in.read_strings("vocabulary entries");
    if (words.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) {
      in.fail("more vocabulary entries than int32 ids");
    }
    const std::uint64_t count_size = in.read_u64("vocabulary count size");
    if (count_size != words.size()) {
      in.fail(std::to_string(count_size) + " counts for " + std::to_string(words.size()) +
              " vocabulary entries");
    }
    std::vector<std::size_t> counts;
    counts.reserve(words.size());
    for (std::size_t i = 0; i < words.size(); ++i) {
      counts.push_back(static_cast<std::size_t>(in.read_u64("vocabulary count")));
    }
    for (std::size_t i = 0; i < words.size(); ++i) {
      if (v.index_.count(words[i])) in.fail("vocabulary entry '" + words[i] + "' appears twice");
      v.add(std::move(words[i]), counts[i]);
    }
    v.unknown_id_ = in.read_i32("vocabulary unknown id");
    if (v.unknown_id_ < -1 || v.unknown_id_ >= static_cast<std::int64_t>(v.size())) {
      in.fail("unknown id " + std::to_string(v.unknown_id_) + " outside the vocabulary of " +
              std::to_string(v.size()) + " entries");
    }
    return v;
  }

 private:
  static constexpr const char* kind = "lstmner.Vocabulary";

  void add(std::string word, std::size_t count) {
    index_.emplace(word, static_cast<std::int32_t>(words_.size()));
    words_.push_back(std::move(word));
    counts_.push_back(count);
  }

  void check_id(std::int32_t id) const {
    require(id >= 0 && static_cast<std::size_t>(id) < words_.size(),
            "Vocabulary: id " + std::to_string(id) + " is outside [0, " +
                std::to_string(words_.size()) + ")");
  }

  std::vector<std::string> words_;
  std::vector<std::size_t> counts_;
  std::unordered_map<std::string, std::int32_t> index_;
  std::int32_t unknown_id_ = -1;
  WordNormalization normalization_;
};

}  // namespace lstmner
