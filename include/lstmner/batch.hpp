#pragma once
/// \file batch.hpp
/// Sentences as ids, and mini-batches of them bucketed by length.
///
/// A `Batch` holds a padded, time-major block of word ids, casing ids and target tag ids, shape
/// (batch, time) as in docs/architecture.md, with the lengths of its sentences. Buffers keep their
/// allocation between batches (Tensor::resize), so refilling a batch touches no heap once the
/// largest batch has been seen.
///
/// Bucketing: sentences are ordered by length (ties in a seeded random order), cut into batches of
/// `batch_size`, and the batches are visited in a seeded random order. Sentences in one batch then
/// have nearly the same length, so padding is small, yet every epoch sees different batches.

#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

namespace lstmner {

/// One sentence as ids: words, casing classes, and (for training data) tag ids.
struct EncodedSentence {
  std::vector<std::int32_t> words;
  std::vector<std::int32_t> casing;
  std::vector<std::int32_t> tags;  ///< empty for unlabelled input
  /// Per token: the word occurs once in the training data (candidate for <unk> replacement).
  std::vector<std::uint8_t> singleton;
  /// Per token: its id in the pretrained-vector block's table; empty without that block.
  std::vector<std::int32_t> vectors;
  /// Per token: its document-context class (blocks/doc_context.hpp); empty without that block.
  std::vector<std::int32_t> doc_context;
  /// The character ids of every token, token i's at [char_offsets[i], char_offsets[i + 1]);
  /// both empty without a character encoder.
  std::vector<std::int32_t> chars;
  std::vector<std::int32_t> char_offsets;

  std::size_t size() const { return words.size(); }
};

struct Batch {
  Tensor2<std::int32_t> words;    ///< (batch, time), 0 at padded steps
  Tensor2<std::int32_t> casing;   ///< (batch, time)
  Tensor2<std::int32_t> tags;     ///< (batch, time); empty when the sentences carry no tags
  Tensor2<std::int32_t> vectors;  ///< (batch, time) pretrained-vector ids; empty without them
  /// (batch, time) document-context classes; empty when the sentences carry none.
  Tensor2<std::int32_t> doc_context;
  /// Character ids of token column c = b + B·t at [char_offsets[c], char_offsets[c + 1]) of
  /// `chars` (none at padded columns); both empty when the sentences carry no characters.
  std::vector<std::int32_t> chars;
  std::vector<Index> char_offsets;
  SequenceLengths lengths;
  std::vector<std::size_t> sentences;  ///< index of each batch column in the source vector

  Index batch_size() const { return lengths.batch_size(); }
  Index max_length() const { return lengths.max_length(); }
};

namespace detail {

/// One of the batch's optional per-token id tensors (batch.vectors, batch.doc_context) from the
/// sentences' ids `member` (empty when the first sentence has none).
inline void fill_batch_ids(const std::vector<EncodedSentence>& data,
                           const std::vector<std::size_t>& indices,
                           std::vector<std::int32_t> EncodedSentence::*member,
                           Tensor2<std::int32_t>& out, const char* what) {
  const Index B = static_cast<Index>(indices.size());
  Index T = 0;
  for (std::size_t i : indices) T = std::max(T, static_cast<Index>(data[i].size()));
  if ((data[indices.front()].*member).empty()) {
    out.resize(0, 0);
    return;
  }
  out.resize(B, T);
  out.setZero();
  for (Index b = 0; b < B; ++b) {
    const EncodedSentence& s = data[indices[static_cast<std::size_t>(b)]];
    const std::vector<std::int32_t>& ids = s.*member;
    if (ids.size() != s.words.size())
      require(false, std::string("fill_batch: a sentence has no ") + what + " for every token");
    for (Index t = 0; t < static_cast<Index>(s.size()); ++t)
      out(b, t) = ids[static_cast<std::size_t>(t)];
  }
}

/// batch.chars and batch.char_offsets from the sentences' characters, column by column (empty
/// when the first sentence has none). Reuses the buffers' capacity.
inline void fill_batch_chars(const std::vector<EncodedSentence>& data,
                             const std::vector<std::size_t>& indices, Batch& batch) {
  batch.chars.clear();
  batch.char_offsets.clear();
  if (data[indices.front()].char_offsets.empty()) return;
  const Index B = batch.batch_size(), T = batch.max_length();
  for (std::size_t i : indices) {
    const EncodedSentence& s = data[i];
    if (s.char_offsets.size() != s.words.size() + 1 ||
        static_cast<std::size_t>(s.char_offsets.back()) != s.chars.size()) {
      require(false, "fill_batch: a sentence has no characters for every token");
    }
  }
  batch.char_offsets.push_back(0);
  for (Index t = 0; t < T; ++t) {
    for (Index b = 0; b < B; ++b) {
      const EncodedSentence& s = data[indices[static_cast<std::size_t>(b)]];
      if (t < static_cast<Index>(s.size())) {
        const auto k = static_cast<std::size_t>(t);
        batch.chars.insert(batch.chars.end(), s.chars.begin() + s.char_offsets[k],
                           s.chars.begin() + s.char_offsets[k + 1]);
      }
      batch.char_offsets.push_back(static_cast<Index>(batch.chars.size()));
    }
  }
}

}  // namespace detail

/// Fills `batch` with the sentences `indices` of `data` (each must have at least one token).
inline void fill_batch(const std::vector<EncodedSentence>& data,
                       const std::vector<std::size_t>& indices, Batch& batch) {
  if (indices.empty()) require(false, "fill_batch: no sentences");
  // Error messages are built only on failure and every buffer keeps its capacity, so filling a
  // batch no larger than an earlier one allocates nothing (this runs once per training step).
  bool tagged = true;
  for (std::size_t i : indices) {
    if (i >= data.size()) require(false, "fill_batch: sentence index out of range");
    const EncodedSentence& s = data[i];
    if (s.words.empty()) require(false, "fill_batch: sentence " + std::to_string(i) + " is empty");
    // casing (and singleton) are empty or one per word; tags empty, one per word, or nothing
    // else: a shorter vector would be read past its end.
    if (!s.casing.empty() && s.casing.size() != s.words.size())
      require(false, "fill_batch: sentence " + std::to_string(i) + " has " +
                         std::to_string(s.words.size()) + " words but " +
                         std::to_string(s.casing.size()) + " casing ids");
    if (!s.singleton.empty() && s.singleton.size() != s.words.size())
      require(false, "fill_batch: sentence " + std::to_string(i) + " has " +
                         std::to_string(s.words.size()) + " words but " +
                         std::to_string(s.singleton.size()) + " singleton marks");
    if (!s.tags.empty() && s.tags.size() != s.words.size())
      require(false, "fill_batch: sentence " + std::to_string(i) + " has " +
                         std::to_string(s.words.size()) + " words but " +
                         std::to_string(s.tags.size()) + " tags");
    tagged = tagged && s.tags.size() == s.size();
  }
  batch.lengths.assign(indices.size(), [&](std::size_t b) { return data[indices[b]].size(); });
  batch.sentences.assign(indices.begin(), indices.end());
  const Index B = batch.batch_size(), T = batch.max_length();
  batch.words.resize(B, T);
  batch.casing.resize(B, T);
  batch.words.setZero();
  batch.casing.setZero();
  if (tagged) {
    batch.tags.resize(B, T);
    batch.tags.setZero();
  } else {
    batch.tags.resize(0, 0);
  }
  for (Index b = 0; b < B; ++b) {
    const EncodedSentence& s = data[indices[static_cast<std::size_t>(b)]];
    for (Index t = 0; t < static_cast<Index>(s.size()); ++t) {
      const auto k = static_cast<std::size_t>(t);
      batch.words(b, t) = s.words[k];
      batch.casing(b, t) = s.casing.empty() ? 0 : s.casing[k];
      if (tagged) batch.tags(b, t) = s.tags[k];
    }
  }
  detail::fill_batch_ids(data, indices, &EncodedSentence::vectors, batch.vectors,
                         "pretrained-vector id");
  detail::fill_batch_ids(data, indices, &EncodedSentence::doc_context, batch.doc_context,
                         "document-context class");
  detail::fill_batch_chars(data, indices, batch);
}

/// Groups sentence indices into batches of at most `batch_size` sentences of similar length,
/// given the length of every sentence. With `rng`, ties are broken and batches ordered at random
/// (training); without, the batches come in ascending length, ties in index order.
inline std::vector<std::vector<std::size_t>> bucket_by_length(
    const std::vector<std::size_t>& lengths, std::size_t batch_size, Rng* rng = nullptr) {
  require(batch_size >= 1, "bucket_by_length: batch_size must be at least 1");
  std::vector<std::size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (rng != nullptr) rng->shuffle(order);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t start = 0; start < order.size(); start += batch_size) {
    const std::size_t end = std::min(order.size(), start + batch_size);
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                         order.begin() + static_cast<std::ptrdiff_t>(end));
  }
  if (rng != nullptr) rng->shuffle(batches);
  return batches;
}

/// Splits batches whose sentences differ so much in length that padding them to the longest
/// would waste work: each batch (its sentences in ascending length, as bucket_by_length without
/// rng makes them) is cut into pieces that take 4 sentences at a time for as long as the piece's
/// padded steps stay within (1 + max_padding) times its real tokens. Pieces are multiples of 4
/// sentences (apart from a batch's last), the column blocks of the LSTM kernels.
inline std::vector<std::vector<std::size_t>> split_padded_batches(
    const std::vector<std::size_t>& lengths, const std::vector<std::vector<std::size_t>>& batches,
    double max_padding) {
  std::vector<std::vector<std::size_t>> pieces;
  for (const auto& batch : batches) {
    std::size_t start = 0;
    while (start < batch.size()) {
      std::size_t end = std::min(batch.size(), start + 4);
      std::size_t real = 0;
      for (std::size_t i = start; i < end; ++i) real += lengths[batch[i]];
      while (end < batch.size()) {
        const std::size_t next_end = std::min(batch.size(), end + 4);
        std::size_t next_real = real;
        for (std::size_t i = end; i < next_end; ++i) next_real += lengths[batch[i]];
        const double padded =
            static_cast<double>((next_end - start) * lengths[batch[next_end - 1]]);
        if (padded > (1.0 + max_padding) * static_cast<double>(next_real)) break;
        end = next_end;
        real = next_real;
      }
      pieces.emplace_back(batch.begin() + static_cast<std::ptrdiff_t>(start),
                          batch.begin() + static_cast<std::ptrdiff_t>(end));
      start = end;
    }
  }
  return pieces;
}

/// Cuts each batch (its sentences in ascending length, as bucket_by_length makes them) into
/// pieces of as many sentences as fit in `max_tokens` padded tokens (sentences x the longest);
/// a sentence longer than max_tokens is a piece of its own. Pieces keep the batches' order.
/// This is what bounds the memory of a batch, whatever the sentences' lengths.
inline std::vector<std::vector<std::size_t>> split_batches_by_tokens(
    const std::vector<std::size_t>& lengths, const std::vector<std::vector<std::size_t>>& batches,
    std::size_t max_tokens) {
  std::vector<std::vector<std::size_t>> pieces;
  for (const auto& batch : batches) {
    std::size_t start = 0;
    while (start < batch.size()) {
      std::size_t end = start + 1;
      while (end < batch.size() && (end + 1 - start) * lengths[batch[end]] <= max_tokens) ++end;
      pieces.emplace_back(batch.begin() + static_cast<std::ptrdiff_t>(start),
                          batch.begin() + static_cast<std::ptrdiff_t>(end));
      start = end;
    }
  }
  return pieces;
}

/// The same for encoded sentences.
inline std::vector<std::vector<std::size_t>> bucket_by_length(
    const std::vector<EncodedSentence>& data, std::size_t batch_size, Rng* rng = nullptr) {
  std::vector<std::size_t> lengths(data.size());
  for (std::size_t i = 0; i < data.size(); ++i) lengths[i] = data[i].size();
  return bucket_by_length(lengths, batch_size, rng);
}

}  // namespace lstmner
