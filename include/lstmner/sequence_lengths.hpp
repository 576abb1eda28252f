#pragma once
/// \file sequence_lengths.hpp
/// The lengths of the sequences in a padded, time-major batch.
///
/// A batch of B sequences padded to T = max length is stored time-major: step t holds one column
/// per sequence. Sequence b is real at steps 0 .. lengths[b]-1 and padding after that; padded steps
/// never change a layer's state and never receive gradient.

#include <lstmner/parts.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace lstmner {

class SequenceLengths {
 public:
  SequenceLengths() = default;
  /// Throws std::invalid_argument for an empty batch or a length below 1.
  explicit SequenceLengths(std::vector<Index> lengths) : lengths_(std::move(lengths)) {
    require(!lengths_.empty(), "SequenceLengths: a batch needs at least one sequence");
    for (std::size_t b = 0; b < lengths_.size(); ++b) {
      require(lengths_[b] >= 1, "SequenceLengths: sequence " + std::to_string(b) + " has length " +
                                    std::to_string(lengths_[b]) +
                                    "; every sequence needs at least one step");
      max_length_ = std::max(max_length_, lengths_[b]);
      num_tokens_ += lengths_[b];
    }
  }

  /// Replaces the lengths by length_of(0), ..., length_of(count - 1), reusing this object's
  /// storage: no allocation once it has held a batch this large. Same checks as the constructor.
  template <class LengthOf>
  void assign(std::size_t count, LengthOf&& length_of) {
    if (count == 0) require(false, "SequenceLengths: a batch needs at least one sequence");
    lengths_.resize(count);
    max_length_ = 0;
    num_tokens_ = 0;
    for (std::size_t b = 0; b < count; ++b) {
      const Index length = static_cast<Index>(length_of(b));
      if (length < 1) {  // the message is built only on failure: this runs every step
        require(false, "SequenceLengths: sequence " + std::to_string(b) + " has length " +
                           std::to_string(length) + "; every sequence needs at least one step");
      }
      lengths_[b] = length;
      max_length_ = std::max(max_length_, length);
      num_tokens_ += length;
    }
  }

  Index batch_size() const { return static_cast<Index>(lengths_.size()); }
  Index max_length() const { return max_length_; }
  /// Number of real (unpadded) steps over the whole batch.
  Index num_tokens() const { return num_tokens_; }
  Index operator[](Index b) const { return lengths_[static_cast<std::size_t>(b)]; }
  const std::vector<Index>& lengths() const { return lengths_; }
  /// True where step t of sequence b is real, not padding.
  bool active(Index t, Index b) const { return t < (*this)[b]; }

  /// Throws unless a (features, batch, time) tensor matches this batch.
  /// As below, for a literal name: the message (a std::string) is built only on failure, so a
  /// passing check allocates nothing (it runs several times in every training step).
  template <class Scalar>
  void check(const Tensor3<Scalar>& x, const char* who) const {
    if (x.dim(1) != batch_size() || x.dim(2) != max_length()) check(x, std::string(who));
  }

  template <class Scalar>
  void check(const Tensor3<Scalar>& x, const std::string& who) const {
    require(x.dim(1) == batch_size() && x.dim(2) == max_length(),
            who + ": input of shape " + shape_string(x.shape()) + " does not match a batch of " +
                std::to_string(batch_size()) + " sequences of max length " +
                std::to_string(max_length()) + " (expected (features, " +
                std::to_string(batch_size()) + ", " + std::to_string(max_length()) + "))");
  }

 private:
  std::vector<Index> lengths_;
  Index max_length_ = 0;
  Index num_tokens_ = 0;
};

/// Calls f(column, b, t, real) for every token column in `columns` of a batch's B·T columns:
/// column = b + B·t is step t of sequence b, real is t < lengths[b]. The per-token layers cut
/// their passes into ranges of columns this way.
template <class F>
void for_each_token_column(const SequenceLengths& lengths, Range columns, F&& f) {
  const Index batch = lengths.batch_size();
  for (Index c = columns.first; c < columns.last; ++c) {
    const Index b = c % batch, t = c / batch;
    f(c, b, t, t < lengths[b]);
  }
}

/// The same for `part` (parts.hpp) of all the columns.
template <class F>
void for_each_token_column(const SequenceLengths& lengths, Part part, F&& f) {
  const Range all{0, lengths.batch_size() * lengths.max_length()};
  for_each_token_column(lengths, all.share(part), f);
}

namespace detail {

/// `lengths.check(x, who())`, building its message only when x does not match the batch.
template <class Scalar, class WhoFn>
void check_batch_shape(const SequenceLengths& lengths, const Tensor3<Scalar>& x, WhoFn&& who) {
  if (x.dim(1) != lengths.batch_size() || x.dim(2) != lengths.max_length()) lengths.check(x, who());
}

/// The input checks of a sequence layer's forward and backward, messages built only on failure:
/// the layer is constructed (`constructed`; `built_from` says with what), lengths are given, x has
/// `features` rows per step and matches the batch. Messages start with "<layer>: <pass>: ".
template <class Scalar>
void check_sequence_input(const char* layer, const char* pass, bool constructed,
                          const char* built_from, Index features, const Tensor3<Scalar>& x,
                          const SequenceLengths& lengths) {
  const auto where = [&] { return std::string(layer) + ": " + pass; };
  require_lazily(constructed, [&] {
    return where() + ": the layer is empty (construct it with " + built_from + " first)";
  });
  require_lazily(lengths.batch_size() >= 1,
                 [&] { return where() + ": no sequence lengths given"; });
  require_lazily(x.dim(0) == features, [&] {
    return where() + ": input x has " + std::to_string(x.dim(0)) + " features per step, expected " +
           std::to_string(features) + " (shape " + shape_string(x.shape()) + ")";
  });
  check_batch_shape(lengths, x, where);
}

}  // namespace detail

}  // namespace lstmner
