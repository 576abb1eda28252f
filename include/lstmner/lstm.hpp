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
/// Threads: both passes take an ExecutionContext (execution_context.hpp; the default runs on the
/// calling thread alone). The fast passes run as stages — the input projection by token columns
/// (with the packing of U beside it), the recurrence by groups of sequences, the weight gradients
/// by rows of W and U and the input gradient by token columns — and a column's (or a row's)
/// arithmetic is the same in every cut, so the results are bit-identical on any number of
/// threads. The stages are public too, for layers that run several LSTMs in the same stages
/// (bidirectional.hpp). The reference kernel always runs on the calling thread.
///
/// Bad arguments throw std::invalid_argument starting with "lstmner: LSTM:".

#include <lstmner/execution_context.hpp>
#include <lstmner/kernels/lstm_fast.hpp>
#include <lstmner/kernels/lstm_reference.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <string>
#include <vector>

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
    /// One set of GEMM packing buffers per part of a parallel stage (kept between passes).
    std::vector<kernels::gemm::GemmWorkspace<Scalar>> part_gemm;

    kernels::gemm::GemmWorkspace<Scalar>& gemm(int part) {
      return part_gemm[static_cast<std::size_t>(part)];
    }
    /// Makes room for `parts` parts' GEMM buffers (before a stage runs).
    void reserve_parts(int parts) {
      if (part_gemm.size() < static_cast<std::size_t>(parts))
        part_gemm.resize(static_cast<std::size_t>(parts));
    }
  };

  /// Token columns per part of the input projection and the input gradient, at least: a part is
  /// then a product of a few MFLOP, far above the cost of handing it to a thread.
  static constexpr Index columns_per_part = 32;
  /// Sequences per part of the recurrence, at least: the per-step products of fewer columns run
  /// far below the micro-kernel's rate (docs/performance.md has the measurements).
  static constexpr Index sequences_per_part = 8;
  /// Gate rows per item of the weight-gradient stage: one register tile of the GEMM (mr packets).
  static constexpr Index rows_per_tile =
      kernels::gemm::Blocking<Scalar>::mr * kernels::gemm::Blocking<Scalar>::P;

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

  /// A zero layer of the given shape without gradient buffers (see ShapesOnly in param.hpp).
  LSTM(Index input_size, Index hidden_size, ShapesOnly)
      : W("W", 4 * check_sizes(input_size, hidden_size), input_size, shapes_only),
        U("U", 4 * hidden_size, hidden_size, shapes_only),
        b("b", 4 * hidden_size, 1, shapes_only) {}

  Index input_size() const { return W.value.cols(); }
  Index hidden_size() const { return U.value.cols(); }
  Index output_size() const { return hidden_size(); }
  ParamList<Scalar> params() { return {&W, &U, &b}; }
  /// Whether backward has gradient buffers to accumulate into.
  bool has_gradients() const {
    return (W.frozen || W.has_grad()) && (U.frozen || U.has_grad()) && (b.frozen || b.has_grad());
  }

  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& h,
               Workspace& ws, ExecutionContext& context = ExecutionContext::serial()) const {
    check_input(x, lengths, "forward");
    detail::require_lazily(&h != &x,
                           [] { return "LSTM: forward: h must not be the same tensor as x"; });
    if (kernel == LstmKernel::reference) {
      kernels::lstm_forward_reference(W.value, U.value, b.value, x, lengths, h, ws.cache);
      return;
    }
    forward_prepare(lengths, h, ws);
    const Index columns = lengths.batch_size() * lengths.max_length();
    const int column_parts = context.parts_for(columns, columns_per_part);
    ws.reserve_parts(column_parts);
    context.run_kinds({column_parts, 1}, [&](int kind, Part part) {
      if (kind == 0) {
        forward_project(x, ws, Range{0, columns}.share(part), ws.gemm(part.index));
      } else {
        forward_pack(lengths, ws);
      }
    });
    context.for_ranges(lengths.batch_size(), sequences_per_part,
                       [&](Range sequences) { forward_sequences(lengths, h, ws, sequences); });
  }

  void backward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, const Tensor3<Scalar>& dh,
                Tensor3<Scalar>& dx, Workspace& ws,
                ExecutionContext& context = ExecutionContext::serial()) {
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
    detail::require_lazily(has_gradients(), [] {
      return "LSTM: backward: no gradient buffers (a layer made with shapes_only, e.g. a loaded "
             "model's, has none until allocate_grad())";
    });
    if (kernel == LstmKernel::reference) {
      kernels::lstm_backward_reference(W.value, U.value, x, lengths, dh, dx, W.grad, U.grad, b.grad,
                                       ws.cache);
      return;
    }
    backward_prepare(lengths, dx, ws);
    backward_pack(lengths, ws);
    context.for_ranges(lengths.batch_size(), sequences_per_part,
                       [&](Range sequences) { backward_sequences(lengths, dh, ws, sequences); });
    const Index columns = lengths.batch_size() * lengths.max_length();
    const int row_parts = context.parts_for(row_tiles(), 1);
    const int column_parts = context.parts_for(columns, columns_per_part);
    ws.reserve_parts(row_parts + column_parts);
    context.run_kinds({row_parts, column_parts}, [&](int kind, Part part) {
      if (kind == 0) {
        backward_weights(x, ws, tile_rows(Range{0, row_tiles()}.share(part)), ws.gemm(part.index));
      } else {
        backward_inputs(ws, dx, Range{0, columns}.share(part), ws.gemm(row_parts + part.index));
      }
    });
  }

  // ---- the stages of the fast passes (kernels/lstm_fast.hpp), in the order a pass runs them;
  // arguments are assumed checked by the caller.

  /// Sizes the cache and h (one thread, before the other forward stages).
  void forward_prepare(const SequenceLengths& lengths, Tensor3<Scalar>& h, Workspace& ws) const {
    kernels::lstm_forward_prepare(hidden_size(), lengths, h, ws.cache);
  }
  /// W·x + b for `columns` of the batch.
  void forward_project(const Tensor3<Scalar>& x, Workspace& ws, Range columns,
                       kernels::gemm::GemmWorkspace<Scalar>& gemm) const {
    kernels::lstm_project_inputs(W.value, b.value, x, ws.cache, columns, gemm);
  }
  /// Packs U (beside forward_project, before forward_sequences).
  void forward_pack(const SequenceLengths& lengths, Workspace& ws) const {
    kernels::lstm_pack_forward(U.value, lengths, ws.cache);
  }
  /// The recurrence of `sequences`, after the projection of their columns and the packing.
  void forward_sequences(const SequenceLengths& lengths, Tensor3<Scalar>& h, Workspace& ws,
                         Range sequences) const {
    kernels::lstm_forward_sequences(U.value, lengths, h, ws.cache, sequences);
  }
  /// Sizes the backward scratch and dx (one thread, first).
  void backward_prepare(const SequenceLengths& lengths, Tensor3<Scalar>& dx, Workspace& ws) const {
    kernels::lstm_backward_prepare(hidden_size(), input_size(), lengths, dx, ws.cache);
  }
  /// Packs Uᵀ (before backward_sequences).
  void backward_pack(const SequenceLengths& lengths, Workspace& ws) const {
    kernels::lstm_pack_backward(U.value, lengths, ws.cache);
  }
  /// The recurrence back through time of `sequences` (δZ of their columns).
  void backward_sequences(const SequenceLengths& lengths, const Tensor3<Scalar>& dh, Workspace& ws,
                          Range sequences) const {
    kernels::lstm_backward_sequences(U.value, lengths, dh, ws.cache, sequences);
  }
  /// dW, dU, db for the gate `rows`, after every sequence's backward recurrence.
  void backward_weights(const Tensor3<Scalar>& x, Workspace& ws, Range rows,
                        kernels::gemm::GemmWorkspace<Scalar>& gemm) {
    kernels::lstm_weight_gradients(x, ws.cache, W.grad, U.grad, b.grad, rows, gemm);
  }
  /// dU alone for the gate `rows` (backward_weights without dW and db), after every sequence's
  /// backward recurrence: for layers that get dW and db another way (char_bilstm.hpp).
  void backward_recurrent_weights(Workspace& ws, Range rows,
                                  kernels::gemm::GemmWorkspace<Scalar>& gemm) {
    kernels::lstm_recurrent_weight_gradient(ws.cache, U.grad, rows, gemm);
  }
  /// dx for `columns`, after every sequence's backward recurrence.
  void backward_inputs(Workspace& ws, Tensor3<Scalar>& dx, Range columns,
                       kernels::gemm::GemmWorkspace<Scalar>& gemm) const {
    kernels::lstm_input_gradient(W.value, ws.cache, dx, columns, gemm);
  }

  /// Whether `ws` holds a forward pass of this layer over `lengths` (what backward needs).
  bool holds_forward_of(const Workspace& ws, const SequenceLengths& lengths) const {
    return ws.cache.holds_forward_of(hidden_size(), lengths);
  }

  /// The 4H gate rows in tiles of rows_per_tile (the items of the weight-gradient stage).
  Index row_tiles() const { return (4 * hidden_size() + rows_per_tile - 1) / rows_per_tile; }
  /// The gate rows of the tiles `tiles`.
  Range tile_rows(Range tiles) const {
    const Index rows = 4 * hidden_size();
    return {std::min(rows, tiles.first * rows_per_tile),
            std::min(rows, tiles.last * rows_per_tile)};
  }

 private:
  static Index check_sizes(Index input_size, Index hidden_size) {
    require(input_size >= 1 && hidden_size >= 1,
            "LSTM: input and hidden sizes must be at least 1 (got input_size " +
                std::to_string(input_size) + ", hidden_size " + std::to_string(hidden_size) + ")");
    return hidden_size;
  }

  void check_input(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                   const char* pass) const {
    detail::check_sequence_input("LSTM", pass, hidden_size() >= 1, "sizes", input_size(), x,
                                 lengths);
  }
};

}  // namespace lstmner
