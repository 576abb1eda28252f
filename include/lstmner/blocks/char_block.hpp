#pragma once
/// \file blocks/char_block.hpp
/// `CharBlock`: the character-level word encoder as an input block ("chars"). Each distinct
/// spelling in a batch is encoded once by a character encoder — `CharBiLSTM` (char_bilstm.hpp,
/// Lample et al. 2016) or `CharCNN` (char_cnn.hpp, Ma & Hovy 2016) — and its vector is copied to
/// every token column with that spelling.
///
///   forward:  1. (one thread) the batch's spellings: every real token column's character ids
///                (batch.chars, from the sentence encoder; case kept) looked up in a hash table
///                of the spellings seen so far in this batch, in column order, so the words are
///                numbered by first occurrence; their characters laid out as the encoder's
///                padded (W, L) batch.
///             2. the encoder's forward over the W words (its own stages).
///             3. by token columns: each column gets its word's vector (0 at padded columns).
///   backward: 1. by rows of the vectors: each word's gradient is the sum of its columns'
///                gradients, added in column order (the same in any cut).
///             2. the encoder's backward.
///
/// Nothing allocates once the state has held the largest batch (the hash table and every buffer
/// keep their capacity).

#include <lstmner/batch.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/input_block.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lstmner {

template <class Scalar, class CharEncoder>
class CharBlock final : public InputBlock<Scalar> {
 public:
  using typename InputBlock<Scalar>::Rows;
  using typename InputBlock<Scalar>::ConstRows;
  using Base = InputBlock<Scalar>;

  /// Token columns per part of the scatter, vector rows per part of the gather, at least.
  static constexpr Index columns_per_part = 32;
  static constexpr Index rows_per_part = 8;

  struct State final : Base::State {
    std::vector<Index> word_of_column;   ///< per token column: its word, −1 at padding
    std::vector<Index> first_column;     ///< per word: the column it was first seen at
    std::vector<std::int64_t> slots;     ///< the hash table: word + 1 per slot, 0 = empty
    Tensor2<std::int32_t> ids;           ///< (W, L) the words' character ids
    SequenceLengths lengths;             ///< the words' lengths
    Tensor2<Scalar> vectors, d_vectors;  ///< (F, W)
    typename CharEncoder::Workspace encoder;
  };

  CharEncoder encoder;

  explicit CharBlock(CharEncoder char_encoder) : encoder(std::move(char_encoder)) {
    for (auto* p : encoder.params()) p->name = "chars." + p->name;
  }

  std::unique_ptr<Base> clone() const override { return std::make_unique<CharBlock>(*this); }
  std::string name() const override { return "chars"; }
  Index rows() const override { return encoder.output_size(); }
  ParamList<Scalar> params() override { return encoder.params(); }
  std::unique_ptr<typename Base::State> make_state() const override {
    return std::make_unique<State>();
  }

  void forward(const Batch& batch, Rows out, typename Base::State& base_state,
               ExecutionContext& context) const override {
    State& state = static_cast<State&>(base_state);
    collect_words(batch, state);
    encoder.forward(state.ids, state.lengths, state.vectors, state.encoder, context);
    const auto vectors = std::as_const(state.vectors).matrix();
    context.for_ranges(out.cols(), columns_per_part, [&](Range columns) {
      for (Index c = columns.first; c < columns.last; ++c) {
        const Index w = state.word_of_column[static_cast<std::size_t>(c)];
        if (w >= 0) {
          out.col(c) = vectors.col(w);
        } else {
          out.col(c).setZero();
        }
      }
    });
  }

  void backward(const Batch& batch, ConstRows d_out, typename Base::State& base_state,
                ExecutionContext& context) override {
    (void)batch;
    State& state = static_cast<State&>(base_state);
    const Index F = rows(), W = state.lengths.batch_size();
    state.d_vectors.resize(F, W);
    auto d_vectors = state.d_vectors.matrix();
    context.for_ranges(F, rows_per_part, [&](Range r) {
      d_vectors.middleRows(r.first, r.size()).setZero();
      for (Index c = 0; c < d_out.cols(); ++c) {
        const Index w = state.word_of_column[static_cast<std::size_t>(c)];
        if (w >= 0)
          d_vectors.col(w).segment(r.first, r.size()) += d_out.col(c).segment(r.first, r.size());
      }
    });
    encoder.backward(state.ids, state.lengths, state.d_vectors, state.encoder, context);
  }

 private:
  /// The characters of token column c: batch.chars[char_offsets[c] .. char_offsets[c + 1]).
  static const std::int32_t* chars_of(const Batch& batch, Index c, Index& n) {
    const Index begin = batch.char_offsets[static_cast<std::size_t>(c)];
    n = batch.char_offsets[static_cast<std::size_t>(c) + 1] - begin;
    return batch.chars.data() + begin;
  }

  static std::uint64_t hash(const std::int32_t* chars, Index n) {
    std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a over the ids' bytes, then a final mix
    for (Index i = 0; i < n; ++i) {
      h = (h ^ static_cast<std::uint32_t>(chars[i])) * 0x100000001b3ull;
    }
    h ^= h >> 29;
    return h * 0xbf58476d1ce4e5b9ull;
  }

  /// Numbers the batch's spellings by first occurrence and lays out their characters.
  void collect_words(const Batch& batch, State& state) const {
    const Index B = batch.lengths.batch_size(), T = batch.lengths.max_length(), N = B * T;
    if (static_cast<Index>(batch.char_offsets.size()) != N + 1) {
      require(false,
              "CharBlock: the batch carries no characters (encode the sentences with a "
              "character vocabulary)");
    }
    std::size_t capacity = 16;
    while (capacity < 2 * static_cast<std::size_t>(N)) capacity *= 2;
    state.slots.assign(capacity, 0);
    state.word_of_column.assign(static_cast<std::size_t>(N), -1);
    state.first_column.clear();
    Index longest = 1;
    for (Index c = 0; c < N; ++c) {
      if (c / B >= batch.lengths[c % B]) continue;  // padding
      Index n = 0;
      const std::int32_t* chars = chars_of(batch, c, n);
      if (n < 1) require(false, "CharBlock: a token has no characters");
      std::size_t slot = hash(chars, n) & (capacity - 1);
      Index word = -1;
      for (;; slot = (slot + 1) & (capacity - 1)) {
        const std::int64_t entry = state.slots[slot];
        if (entry == 0) {  // a new spelling
          word = static_cast<Index>(state.first_column.size());
          state.slots[slot] = word + 1;
          state.first_column.push_back(c);
          longest = std::max(longest, n);
          break;
        }
        Index m = 0;
        const std::int32_t* other =
            chars_of(batch, state.first_column[static_cast<std::size_t>(entry - 1)], m);
        if (m == n && std::equal(chars, chars + n, other)) {
          word = static_cast<Index>(entry - 1);
          break;
        }
      }
      state.word_of_column[static_cast<std::size_t>(c)] = word;
    }
    const auto W = static_cast<Index>(state.first_column.size());
    state.lengths.assign(static_cast<std::size_t>(W), [&](std::size_t w) {
      Index n = 0;
      chars_of(batch, state.first_column[w], n);
      return n;
    });
    state.ids.resize(W, longest);
    state.ids.setZero();
    for (Index w = 0; w < W; ++w) {
      Index n = 0;
      const std::int32_t* chars =
          chars_of(batch, state.first_column[static_cast<std::size_t>(w)], n);
      for (Index l = 0; l < n; ++l) state.ids(w, l) = chars[l];
    }
  }
};

}  // namespace lstmner
