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
/// The sequence passes can also be cut into Parts (parallel.hpp) of the token columns that threads
/// run side by side, each part drawing its mask from its own Rng: resize_for(x, y, ws) once, then
/// forward_part(x, lengths, y, rng_of_part, ws, part) for every part; backward_part likewise.
/// Part{} (the whole) with one Rng draws exactly the mask of the plain forward.
///
/// The layer holds only its rate; it is const in both passes, so threads may share one layer,
/// each with its own Rng and Workspace. The mask depends only on the Rng's state and x's size:
/// the same seed gives the same mask.

#include <lstmner/parallel.hpp>
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

  /// A sequence batch (F,B,T): as above, with the mask zeroed at padded steps.
  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& y,
               Rng& rng, Workspace& ws) const {
    lengths.check(x, "Dropout: forward: x");
    resize_for(x, y, ws);
    forward_part(x, lengths, y, rng, ws, Part{});
  }

  /// Sizes y and the mask for a sequence forward over x (before the parts run).
  void resize_for(const Tensor3<Scalar>& x, Tensor3<Scalar>& y, Workspace& ws) const {
    ws.identity = rate_ == 0.0;
    ws.mask.resize(ws.identity ? 0 : x.size());
    y.resize(x.shape());
  }

  /// `part` of the token columns of the sequence forward (after resize_for), its mask drawn from
  /// `rng`.
  void forward_part(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& y,
                    Rng& rng, Workspace& ws, Part part) const {
    const Index features = x.dim(0);
    const auto [begin, count] = part_elements(features, lengths, part);
    auto y_part = ArrayMap<Scalar>(y.data() + begin, count);
    const auto x_part = ConstArrayMap<Scalar>(x.data() + begin, count);
    if (ws.identity) {
      y_part = x_part;
      zero_padded_columns(lengths, part, y.data(), features);
      return;
    }
    draw_mask(ws.mask.data() + begin, count, rng);
    zero_padded_columns(lengths, part, ws.mask.data(), features);  // padding: 0 in y and in dx
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
    backward_part(dy, lengths, dx, ws, Part{});
  }

  /// `part` of the token columns of the sequence backward (dx already sized like dy).
  void backward_part(const Tensor3<Scalar>& dy, const SequenceLengths& lengths, Tensor3<Scalar>& dx,
                     const Workspace& ws, Part part) const {
    const Index features = dy.dim(0);
    const auto [begin, count] = part_elements(features, lengths, part);
    auto dx_part = ArrayMap<Scalar>(dx.data() + begin, count);
    const auto dy_part = ConstArrayMap<Scalar>(dy.data() + begin, count);
    if (ws.identity) {
      dx_part = dy_part;
      zero_padded_columns(lengths, part, dx.data(), features);
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
  /// The storage range (first element, element count) of `part` of the token columns of a
  /// (features, B, T) tensor: whole columns, so a part's elements are contiguous.
  static std::pair<Index, Index> part_elements(Index features, const SequenceLengths& lengths,
                                               Part part) {
    const Index columns = lengths.batch_size() * lengths.max_length();
    const Index first = part.first(columns), last = part.last(columns);
    return {first * features, (last - first) * features};
  }

  /// Zeroes the padded columns among `part` of a (features x B·T) column-major buffer.
  static void zero_padded_columns(const SequenceLengths& lengths, Part part, Scalar* data,
                                  Index features) {
    for_each_token_column(lengths, part, [&](Index c, Index, Index, bool real) {
      if (!real) VectorMap<Scalar>(data + c * features, features).setZero();
    });
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
