#pragma once
/// \file lstm.hpp
/// A unidirectional LSTM layer over a padded, time-major batch of sequences.
///
/// Parameters, in slot order: `W` [4H x In], `U` [4H x H], `b` [4H x 1], each with the gate
/// blocks stacked in the order i (input), f (forget), g (cell candidate), o (output):
///
///     rows 0..H-1 | H..2H-1 | 2H..3H-1 | 3H..4H-1
///          i      |    f    |     g    |     o
///
/// Initialisation: W Glorot-uniform, each H x H gate block of U orthogonal, b zero except the
/// forget-gate block, which starts at 1 (so the cell remembers by default; Jozefowicz et al. 2015).
///
///   forward(x, lengths, h, ws) const:  x (In,B,T) → h (H,B,T), h_{-1} = c_{-1} = 0.
///       Step t of sequence b is real iff t < lengths[b]; padded steps leave the state unchanged
///       and output 0. Caches in `ws` the gate activations, cell states, tanh of the cells and the
///       hidden states (kernels/lstm_reference.hpp lists them): backward needs nothing else.
///   backward(x, lengths, dh, dx, ws):  the same x and lengths as the forward pass that filled
///       `ws`, dh (H,B,T) → writes dx (In,B,T) (0 at padded steps) and adds into W.grad, U.grad,
///       b.grad. dh at padded steps is ignored. x at padded steps must be finite (it is 0 by the
///       layer contract): the fast kernel multiplies it by a zero gradient rather than skip it.
///
/// The arithmetic lives in kernels/: `kernel = LstmKernel::fast` (the default) or
/// `LstmKernel::reference` (the plain one, for tests and as a readable specification). Both fill
/// the same cache, so either backward can follow either forward.
///
/// Bad arguments throw std::invalid_argument starting with "lstmner: LSTM:".

#include <lstmner/kernels/lstm_fast.hpp>
#include <lstmner/kernels/lstm_reference.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <string>

namespace lstmner {

/// Which implementation of the LSTM equations a layer runs.
enum class LstmKernel {
  fast,       ///< kernels/lstm_fast.hpp: hoisted input GEMM, fused per-step elementwise pass
  reference,  ///< kernels/lstm_reference.hpp: one sequence, one step at a time
};

template <class Scalar>
class LSTM {
 public:
  using scalar_type = Scalar;

  /// Everything a forward pass leaves for backward. Owned by the caller: one per thread.
  struct Workspace {
    kernels::LstmCache<Scalar> cache;
  };

  Param<Scalar> W;  ///< [4H x In] input weights
  Param<Scalar> U;  ///< [4H x H] recurrent weights
  Param<Scalar> b;  ///< [4H x 1] bias
  LstmKernel kernel = LstmKernel::fast;

  /// An empty layer; assign a constructed one before use.
  LSTM() = default;

  /// A layer with `input_size` inputs and `hidden_size` units, initialised from `rng`.
  LSTM(Index input_size, Index hidden_size, Rng& rng)
      : W("W", 4 * hidden_size, input_size),
        U("U", 4 * hidden_size, hidden_size),
        b("b", 4 * hidden_size, 1) {
    require(input_size >= 1 && hidden_size >= 1,
            "LSTM: input and hidden sizes must be at least 1 (got input_size " +
                std::to_string(input_size) + ", hidden_size " + std::to_string(hidden_size) + ")");
    init_glorot_uniform(W.value, rng);
    for (Index gate = 0; gate < 4; ++gate) {
      auto block = U.value.middleRows(gate * hidden_size, hidden_size);
      init_orthogonal(block, rng);
    }
    b.value.setZero();
    b.value.middleRows(hidden_size, hidden_size).setOnes();  // forget gate
  }

  Index input_size() const { return W.value.cols(); }
  Index hidden_size() const { return U.value.cols(); }
  Index output_size() const { return hidden_size(); }
  ParamList<Scalar> params() { return {&W, &U, &b}; }

  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& h,
               Workspace& ws) const {
    check_input(x, lengths, "forward");
    detail::require_lazily(&h != &x,
                           [] { return "LSTM: forward: h must not be the same tensor as x"; });
    if (kernel == LstmKernel::reference) {
      kernels::lstm_forward_reference(W.value, U.value, b.value, x, lengths, h, ws.cache);
    } else {
      kernels::lstm_forward_fast(W.value, U.value, b.value, x, lengths, h, ws.cache);
    }
  }

  void backward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, const Tensor3<Scalar>& dh,
                Tensor3<Scalar>& dx, Workspace& ws) {
    check_input(x, lengths, "backward");
    const Index H = hidden_size();
    detail::require_lazily(
        dh.dim(0) == H && dh.dim(1) == lengths.batch_size() && dh.dim(2) == lengths.max_length(),
        [&] {
          return "LSTM: backward: output gradient dh has shape " + shape_string(dh.shape()) +
                 ", expected (" + std::to_string(H) + ", " + std::to_string(lengths.batch_size()) +
                 ", " + std::to_string(lengths.max_length()) + ")";
        });
    detail::require_lazily(ws.cache.holds_forward_of(H, lengths), [] {
      return "LSTM: backward: the workspace holds no forward pass over this batch (call forward "
             "with the same input, lengths and workspace first)";
    });
    detail::require_lazily(&dx != &x && &dx != &dh,
                           [] { return "LSTM: backward: dx must be a tensor of its own"; });
    if (kernel == LstmKernel::reference) {
      kernels::lstm_backward_reference(W.value, U.value, x, lengths, dh, dx, W.grad, U.grad, b.grad,
                                       ws.cache);
    } else {
      kernels::lstm_backward_fast(W.value, U.value, x, lengths, dh, dx, W.grad, U.grad, b.grad,
                                  ws.cache);
    }
  }

 private:
  void check_input(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                   const char* pass) const {
    detail::check_sequence_input("LSTM", pass, hidden_size() >= 1, "sizes", input_size(), x,
                                 lengths);
  }
};

}  // namespace lstmner
