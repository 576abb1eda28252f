#pragma once
/// \file dropout.hpp
/// Inverted dropout (Srivastava et al. 2014) with a mask drawn from a caller-supplied Rng.
///
/// Training: every element is kept with probability 1 - rate and then scaled by 1 / (1 - rate), or
/// set to 0; the expected value of each output equals its input, so inference needs no rescaling —
/// at inference simply do not call the layer. rate 0 is the identity and draws nothing from the
/// Rng.
///
///   forward:  x (any rank) → y, same shape; the mask (0 or 1/(1-rate) per element) goes into the
///             Workspace. The sequence overload (x (F,B,T) with lengths) also zeroes the mask at
///             padded steps, so padded outputs and padded input gradients are exactly 0.
///   backward: dy → dx = dy ⊙ mask, from the Workspace of the matching forward.
///
/// The sequence passes can also be cut into ranges of token columns (parts.hpp) that threads run
/// side by side: resize_for(x, y, ws) once, then forward_columns(x, lengths, y, seed, ws, columns)
/// for every range; backward_columns likewise. The mask of token column c is drawn from a small
/// generator seeded by (seed, c) alone (counter-based, like Philox in the GPU frameworks), so it
/// is the same however the columns are cut and on however many threads; the plain sequence
/// forward takes its seed from the Rng (one draw).
///
/// The layer holds only its rate; it is const in both passes, so threads may share one layer,
/// each with its own Rng and Workspace. The mask depends only on the Rng's state and x's size:
/// the same seed gives the same mask.

#include <lstmner/parts.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

namespace lstmner {

template <class Scalar>
class Dropout {
 public:
  struct Workspace {
    /// One factor per element of x: 0 (dropped) or 1/(1-rate) (kept). Empty when identity.
    Tensor1<Scalar> mask;
    /// True when the last forward was the identity (rate 0): backward then copies dy.
    bool identity = true;
  };

  /// rate in [0, 1): the probability of dropping an element.
  explicit Dropout(double rate = 0.0) : rate_(rate) {
    require(rate >= 0.0 && rate < 1.0,
            "Dropout: rate must be in [0, 1), got " + std::to_string(rate));
  }

  double rate() const { return rate_; }

  /// Any tensor: y = x ⊙ mask, with a fresh mask drawn from `rng`.
  template <int Rank>
  void forward(const Tensor<Scalar, Rank>& x, Tensor<Scalar, Rank>& y, Rng& rng,
               Workspace& ws) const {
    draw_mask(x.size(), rng, ws);
    y.resize(x.shape());
    if (ws.identity) {
      y.vec() = x.vec();
    } else {
      y.vec().array() = x.vec().array() * ws.mask.vec().array();
    }
  }

  /// A sequence batch (F,B,T): as above, with the mask zeroed at padded steps (drawn as
  /// forward_columns draws it, from a seed taken from `rng`).
  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& y,
               Rng& rng, Workspace& ws) const {
    lengths.check(x, "Dropout: forward: x");
    resize_for(x, y, ws);
    const std::uint64_t seed = rate_ == 0.0 ? 0 : rng.next();
    forward_columns(x, lengths, y, seed, ws, Range{0, x.dim(1) * x.dim(2)});
  }

  /// Sizes y and the mask for a sequence forward over x (before the ranges run).
  void resize_for(const Tensor3<Scalar>& x, Tensor3<Scalar>& y, Workspace& ws) const {
    ws.identity = rate_ == 0.0;
    ws.mask.resize(ws.identity ? 0 : x.size());
    y.resize(x.shape());
  }

  /// The token `columns` of the sequence forward (after resize_for), with the masks of `seed`.
  void forward_columns(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& y,
                       std::uint64_t seed, Workspace& ws, Range columns) const {
    const Index features = x.dim(0);
    const Index begin = columns.first * features, count = columns.size() * features;
    auto y_part = ArrayMap<Scalar>(y.data() + begin, count);
    const auto x_part = ConstArrayMap<Scalar>(x.data() + begin, count);
    if (ws.identity) {
      y_part = x_part;
      zero_padded_columns(lengths, columns, y.data(), features);
      return;
    }
    for_each_token_column(lengths, columns, [&](Index c, Index, Index, bool real) {
      Scalar* mask = ws.mask.data() + c * features;
      if (real) {
        draw_column_mask(mask, features, seed, c);
      } else {  // padding: 0 in y and in dx
        VectorMap<Scalar>(mask, features).setZero();
      }
    });
    y_part = x_part * ConstArrayMap<Scalar>(ws.mask.data() + begin, count);
  }

  /// Any tensor: dx = dy ⊙ mask of the last forward with `ws`.
  template <int Rank>
  void backward(const Tensor<Scalar, Rank>& dy, Tensor<Scalar, Rank>& dx,
                const Workspace& ws) const {
    check_mask(dy.size(), ws);
    dx.resize(dy.shape());
    if (ws.identity) {
      dx.vec() = dy.vec();
    } else {
      dx.vec().array() = dy.vec().array() * ws.mask.vec().array();
    }
  }

  /// A sequence batch (F,B,T): as above; padded steps of dx are 0.
  void backward(const Tensor3<Scalar>& dy, const SequenceLengths& lengths, Tensor3<Scalar>& dx,
                const Workspace& ws) const {
    lengths.check(dy, "Dropout: backward: dy");
    check_mask(dy.size(), ws);
    dx.resize(dy.shape());
    backward_columns(dy, lengths, dx, ws, Range{0, dy.dim(1) * dy.dim(2)});
  }

  /// The token `columns` of the sequence backward (dx already sized like dy).
  void backward_columns(const Tensor3<Scalar>& dy, const SequenceLengths& lengths,
                        Tensor3<Scalar>& dx, const Workspace& ws, Range columns) const {
    const Index features = dy.dim(0);
    const Index begin = columns.first * features, count = columns.size() * features;
    auto dx_part = ArrayMap<Scalar>(dx.data() + begin, count);
    const auto dy_part = ConstArrayMap<Scalar>(dy.data() + begin, count);
    if (ws.identity) {
      dx_part = dy_part;
      zero_padded_columns(lengths, columns, dx.data(), features);
    } else {
      dx_part = dy_part * ConstArrayMap<Scalar>(ws.mask.data() + begin, count);
    }
  }

  /// Throws unless the last forward with `ws` masked `n` elements (or was the identity).
  static void check_mask(Index n, const Workspace& ws) {
    if (!ws.identity && n != ws.mask.size()) {  // message built only on failure
      require(false, "Dropout: backward: dy has " + std::to_string(n) +
                         " elements but the forward pass masked " + std::to_string(ws.mask.size()));
    }
  }

 private:
  /// Zeroes the padded columns among `columns` of a (features x B·T) column-major buffer.
  static void zero_padded_columns(const SequenceLengths& lengths, Range columns, Scalar* data,
                                  Index features) {
    for_each_token_column(lengths, columns, [&](Index c, Index, Index, bool real) {
      if (!real) VectorMap<Scalar>(data + c * features, features).setZero();
    });
  }

  /// splitmix64's output function: a bijective mix of all 64 bits.
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  /// The mask of token column `column` under `seed`: splitmix64 (Steele et al. 2014) started at
  /// a state mixed from both, one 64-bit draw per two features.
  void draw_column_mask(Scalar* mask, Index n, std::uint64_t seed, Index column) const {
    std::uint64_t state = mix(seed ^ mix(static_cast<std::uint64_t>(column) + 1));
    const auto threshold = static_cast<std::uint64_t>(std::ldexp(rate_, 32));
    const Scalar factor[2] = {Scalar(0), static_cast<Scalar>(1.0 / (1.0 - rate_))};
    for (Index i = 0; i < n; i += 2) {
      state += 0x9E3779B97F4A7C15ull;
      const std::uint64_t draw = mix(state);
      mask[i] = factor[(draw & 0xFFFFFFFFu) >= threshold];
      if (i + 1 < n) mask[i + 1] = factor[(draw >> 32) >= threshold];
    }
  }

  void draw_mask(Index n, Rng& rng, Workspace& ws) const {
    ws.identity = rate_ == 0.0;
    if (ws.identity) {
      ws.mask.resize(0);
      return;
    }
    ws.mask.resize(n);
    draw_mask(ws.mask.data(), n, rng);
  }

  void draw_mask(Scalar* mask, Index n, Rng& rng) const {
    // Each 64-bit draw gives two 32-bit uniforms u; an element is dropped when u < rate · 2^32
    // (the rate is thus rounded to a multiple of 2^-32, far below any statistical effect).
    // The factor is looked up by the comparison's result: no branch to mispredict and no
    // int-to-float conversion, which measured 5x slower here.
    const auto threshold = static_cast<std::uint64_t>(std::ldexp(rate_, 32));
    const Scalar factor[2] = {Scalar(0), static_cast<Scalar>(1.0 / (1.0 - rate_))};
    Index i = 0;
    for (; i + 1 < n; i += 2) {
      const std::uint64_t draw = rng.next();
      mask[i] = factor[(draw & 0xFFFFFFFFu) >= threshold];
      mask[i + 1] = factor[(draw >> 32) >= threshold];
    }
    if (i < n) mask[i] = factor[(rng.next() & 0xFFFFFFFFu) >= threshold];
  }

  double rate_ = 0.0;
};

}  // namespace lstmner
