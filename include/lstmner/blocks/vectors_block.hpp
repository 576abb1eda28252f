#pragma once
/// \file blocks/vectors_block.hpp
/// Pretrained word vectors as an input block ("vectors"): an EmbeddingBlock (embedding_block.hpp)
/// over batch.vectors, whose table starts from a vectors file (word_vectors.hpp) and is then
/// fine-tuned, or kept frozen.
///
/// The block's vocabulary (`VectorVocabulary`) is the training words ∪ the vector words: ids 0
/// (padding) and 1 (unknown), then every vector word in file order (optionally only the first N,
/// the most frequent), then the training words that no vector is found for. A token's id is found
/// by the vectors' three rules — exact, lower-cased, digits normalised (WordVectors::lookup) — so
/// a test word seen only in the vectors is known. The table starts as the vectors; the unknown
/// entry and the training words without a vector start at random, uniform with the vectors'
/// standard deviation (the vectors' scale); padding is 0.

#include <lstmner/random.hpp>
#include <lstmner/tensor.hpp>
#include <lstmner/word_vectors.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lstmner {

class VectorVocabulary {
 public:
  static constexpr std::int32_t pad_id = 0;
  static constexpr std::int32_t unknown_id = 1;
  static constexpr std::int32_t reserved = 2;

  VectorVocabulary() = default;
  /// The words of ids reserved, reserved + 1, ... (each at most once).
  explicit VectorVocabulary(std::vector<std::string> words) {
    const auto n = static_cast<Index>(words.size());
    lookup_ = WordVectors(std::move(words), Matrix<float>(0, n));
  }

  /// The id of `token`: the first of the exact, lower-cased and digit rules that finds it, else
  /// unknown_id.
  std::int32_t id(std::string_view token) const {
    const VectorLookup hit = lookup_.lookup(token);
    return hit ? static_cast<std::int32_t>(reserved + hit.index) : unknown_id;
  }
  /// The words in id order, from id `reserved` on.
  const std::vector<std::string>& words() const { return lookup_.words(); }
  /// Ids in all (the table's columns).
  Index size() const { return reserved + lookup_.size(); }
  bool empty() const { return lookup_.empty(); }

 private:
  WordVectors lookup_;  ///< the words only (0-dimensional vectors): the lookup rules
};

/// The block's vocabulary and its starting table [dim x size] from `vectors` and the training
/// words (any order; duplicates and words the vectors have are skipped).
template <class Scalar>
std::pair<VectorVocabulary, Matrix<Scalar>> build_vector_table(
    const WordVectors& vectors, const std::vector<std::string>& training_words, Rng& rng) {
  require(!vectors.empty() && vectors.dim() >= 1,
          "pretrained vectors: the vectors file holds no vectors");
  std::vector<std::string> words = vectors.words();
  const VectorVocabulary vector_words(words);
  for (const std::string& w : training_words) {
    if (vector_words.id(w) != VectorVocabulary::unknown_id) continue;
    words.push_back(w);
  }
  // Training words may repeat among themselves: keep the first of each.
  std::vector<std::string> unique;
  unique.reserve(words.size());
  {
    std::unordered_map<std::string, bool> seen;
    for (auto& w : words)
      if (seen.emplace(w, true).second) unique.push_back(std::move(w));
  }
  VectorVocabulary vocabulary(std::move(unique));

  const Index dim = vectors.dim();
  const auto values = vectors.vectors().array().template cast<double>();
  const double sum = values.sum();
  const double sum_squares = values.square().sum();
  const double n = static_cast<double>(values.size());
  const double mean = sum / n;
  const double stddev = std::sqrt(std::max(sum_squares / n - mean * mean, 1e-12));
  const double limit = std::sqrt(3.0) * stddev;  // uniform(-a, a) has standard deviation a/√3

  Matrix<Scalar> table(dim, vocabulary.size());
  table.col(VectorVocabulary::pad_id).setZero();
  for (Index j = 1; j < table.cols(); ++j) {
    const Index vector = j - VectorVocabulary::reserved;
    if (vector >= 0 && vector < vectors.size()) {
      table.col(j) = vectors.vector(vector).template cast<Scalar>();
    } else {
      for (Index i = 0; i < dim; ++i) table(i, j) = static_cast<Scalar>(rng.uniform(-limit, limit));
    }
  }
  return {std::move(vocabulary), std::move(table)};
}

}  // namespace lstmner
