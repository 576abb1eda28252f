#pragma once
/// \file bidirectional.hpp
/// A bidirectional wrapper: one recurrent layer reads each sequence forwards, another reads it
/// backwards, and their outputs are stacked.
///
///   forward(x, lengths, out, ws) const:  x (In,B,T) → out (Hf+Hb,B,T)
///       rows 0..Hf-1 of step t: the forward layer's output at step t;
///       rows Hf..Hf+Hb-1 of step t: the backward layer's output after it has read the sequence
///       from its last real step down to step t.
///       The backward layer runs on each sequence reversed *within its own length*
///       (x_rev(:,b,t) = x(:,b,lengths[b]-1-t)), so its padding stays at the end, where the layer
///       contract expects it, and its first step is the sequence's last real token.
///       Padded steps of `out` are 0. Caches in `ws`: both layers' workspaces and the reversed
///       input (the backward layer's backward needs it again).
///   backward(x, lengths, dout, dx, ws):  splits dout into the two directions (reversing the
///       backward half), runs both layers' backward, writes dx = dx_forward + reverse(dx_backward)
///       (0 at padded steps) and accumulates both layers' parameter gradients.
///
/// Parameters, in slot order: the forward layer's, then the backward layer's; their names get the
/// prefixes "forward." and "backward.".
///
/// Threads: both passes take an ExecutionContext (execution_context.hpp; the default runs on the
/// calling thread alone) and run as stages in which the two directions work side by side:
///   forward:  1. the input projection of both directions by token columns (the backward one
///                reversing its columns of x first), and the packing of both U;
///             2. the recurrence of both directions by groups of sequences, each group writing
///                its own columns of `out` — both directions and, with more threads than two,
///                several groups of sentences at once (data-parallel over the batch);
///   backward: 1. each direction's share of dout, by token columns, and the packing of both Uᵀ;
///             2. the recurrences back through time, by groups of sequences;
///             3. the weight gradients (rows of W, U) and the input gradients (token columns) of
///                both directions;
///             4. dx = dx_forward + reverse(dx_backward), by token columns.
/// Every stage writes only its own columns, sequences or rows with the same arithmetic in any cut
/// (lstm.hpp), so the results are bit-identical on any number of threads. Layers running the
/// reference kernel take a plain path on the calling thread.
///
/// `Layer` needs: `scalar_type`, a nested `Workspace`, `input_size()`, `output_size()`,
/// `params()`, the layer contract's forward/backward (docs/architecture.md), and the stages of
/// LSTM's fast passes (lstm.hpp).
/// Bad arguments throw std::invalid_argument starting with "lstmner: Bidirectional:".

#include <lstmner/execution_context.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/param.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace lstmner {

/// dst(:,c) = src(:,b,lengths[b]-1-t) for the token columns c = b + B·t in `columns` that are
/// real, 0 at padded ones (dst already sized like src).
template <class Scalar>
void reverse_columns(const Tensor3<Scalar>& src, const SequenceLengths& lengths,
                     Tensor3<Scalar>& dst, Range columns) {
  for_each_token_column(lengths, columns, [&](Index c, Index b, Index t, bool real) {
    auto out = dst.matrix().col(c);
    if (real) {
      out = src.step(lengths[b] - 1 - t).col(b);
    } else {
      out.setZero();
    }
  });
}

/// dst(:,b,t) = src(:,b,lengths[b]-1-t) at real steps, 0 at padded steps. Applying it twice gives
/// back the real steps of `src`. `dst` must not be `src`.
template <class Scalar>
void reverse_within_lengths(const Tensor3<Scalar>& src, const SequenceLengths& lengths,
                            Tensor3<Scalar>& dst) {
  detail::require_lazily(
      &src != &dst, [] { return "reverse_within_lengths: source and destination must differ"; });
  detail::check_batch_shape(lengths, src, [] { return "reverse_within_lengths"; });
  dst.resize(src.dim(0), lengths.batch_size(), lengths.max_length());
  reverse_columns(src, lengths, dst, Range{0, lengths.batch_size() * lengths.max_length()});
}

template <class Layer>
class Bidirectional {
 public:
  using scalar_type = typename Layer::scalar_type;
  using Scalar = scalar_type;

  struct Workspace {
    typename Layer::Workspace forward_ws;
    typename Layer::Workspace backward_ws;
    Tensor3<Scalar> x_reversed;   ///< (In,B,T) the input, each sequence reversed in its length
    Tensor3<Scalar> h_forward;    ///< (Hf,B,T) forward layer's output
    Tensor3<Scalar> h_reversed;   ///< (Hb,B,T) backward layer's output, in reversed time
    Tensor3<Scalar> dh_forward;   ///< (Hf,B,T)
    Tensor3<Scalar> dh_reversed;  ///< (Hb,B,T) in reversed time
    Tensor3<Scalar> dx_reversed;  ///< (In,B,T) in reversed time
    /// One set of GEMM packing buffers per part of a parallel stage (kept between passes).
    std::vector<kernels::gemm::GemmWorkspace<Scalar>> part_gemm;

    kernels::gemm::GemmWorkspace<Scalar>& gemm(int part) {
      return part_gemm[static_cast<std::size_t>(part)];
    }
    void reserve_parts(int parts) {
      if (part_gemm.size() < static_cast<std::size_t>(parts))
        part_gemm.resize(static_cast<std::size_t>(parts));
    }
  };

  Layer forward_layer;
  Layer backward_layer;

  /// An empty layer; assign a constructed one before use.
  Bidirectional() = default;

  Bidirectional(Layer forward, Layer backward)
      : forward_layer(std::move(forward)), backward_layer(std::move(backward)) {
    require(forward_layer.input_size() == backward_layer.input_size(),
            "Bidirectional: the forward layer reads " + std::to_string(forward_layer.input_size()) +
                " features but the backward layer " + std::to_string(backward_layer.input_size()));
    for (auto* p : forward_layer.params()) p->name = "forward." + p->name;
    for (auto* p : backward_layer.params()) p->name = "backward." + p->name;
  }

  Index input_size() const { return forward_layer.input_size(); }
  Index output_size() const { return forward_layer.output_size() + backward_layer.output_size(); }

  ParamList<Scalar> params() {
    ParamList<Scalar> list = forward_layer.params();
    append_params(list, backward_layer.params());
    return list;
  }

  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& out,
               Workspace& ws, ExecutionContext& context = ExecutionContext::serial()) const {
    check_input(x, lengths, "forward");
    detail::require_lazily(
        &out != &x, [] { return "Bidirectional: forward: out must not be the same tensor as x"; });
    const Index B = lengths.batch_size(), T = lengths.max_length(), N = B * T;
    out.resize(output_size(), B, T);
    if (!fast()) {
      forward_plain(x, lengths, out, ws);
      return;
    }
    forward_layer.forward_prepare(lengths, ws.h_forward, ws.forward_ws);
    backward_layer.forward_prepare(lengths, ws.h_reversed, ws.backward_ws);
    ws.x_reversed.resize(x.shape());
    const int groups = context.parts_per_copy(B, Layer::sequences_per_part, 2);
    if (groups == 1) {
      // One or two threads: each direction whole on one thread, from its input projection to
      // its outputs, so the projected gates stay in that core's cache for the recurrence (cut
      // into stages, half of them would come from the other core's; 10% of a training step).
      ws.reserve_parts(2);
      const Range all_columns{0, N}, all_sequences{0, B};
      context.run(2, [&](Part part) {
        const int d = part.index;
        project(d, x, lengths, ws, all_columns, ws.gemm(d));
        layer(d).forward_pack(lengths, layer_ws(ws, d));
        forward_recurrence(d, lengths, ws, out, all_sequences);
      });
      return;
    }
    const int column_parts = context.parts_for(N, Layer::columns_per_part);
    ws.reserve_parts(2 * column_parts);
    // Kinds 0, 1: each direction's projection, by token columns; 2, 3: each one's packing.
    context.run_kinds({column_parts, column_parts, 1, 1}, [&](int kind, Part part) {
      if (kind < 2) {
        project(kind, x, lengths, ws, Range{0, N}.share(part),
                ws.gemm(kind * column_parts + part.index));
      } else {
        layer(kind - 2).forward_pack(lengths, layer_ws(ws, kind - 2));
      }
    });
    context.run_kinds({groups, groups}, [&](int kind, Part part) {
      forward_recurrence(kind, lengths, ws, out, Range{0, B}.share(part));
    });
  }

  void backward(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                const Tensor3<Scalar>& dout, Tensor3<Scalar>& dx, Workspace& ws,
                ExecutionContext& context = ExecutionContext::serial()) {
    check_input(x, lengths, "backward");
    detail::require_lazily(forward_layer.has_gradients() && backward_layer.has_gradients(), [] {
      return "Bidirectional: backward: no gradient buffers (a layer made with shapes_only, e.g. a "
             "loaded model's, has none until allocate_grad())";
    });
    const Index Hf = forward_layer.output_size();
    const Index Hb = backward_layer.output_size();
    const Index B = lengths.batch_size();
    const Index T = lengths.max_length();
    const Index N = B * T;
    detail::require_lazily(dout.dim(0) == Hf + Hb && dout.dim(1) == B && dout.dim(2) == T, [&] {
      return "Bidirectional: backward: output gradient has shape " + shape_string(dout.shape()) +
             ", expected (" + std::to_string(Hf + Hb) + ", " + std::to_string(B) + ", " +
             std::to_string(T) + ")";
    });
    detail::require_lazily(
        ws.x_reversed.dim(0) == x.dim(0) && ws.x_reversed.dim(1) == B &&
            ws.x_reversed.dim(2) == T && forward_layer.holds_forward_of(ws.forward_ws, lengths) &&
            backward_layer.holds_forward_of(ws.backward_ws, lengths),
        [] {
          return "Bidirectional: backward: the workspace holds no forward pass over this batch "
                 "(call forward with the same input, lengths and workspace first)";
        });
    detail::require_lazily(&dx != &x && &dx != &dout, [] {
      return "Bidirectional: backward: dx must be a tensor of its own";
    });

    ws.dh_forward.resize(Hf, B, T);
    ws.dh_reversed.resize(Hb, B, T);
    if (!fast()) {
      backward_plain(x, lengths, dout, dx, ws);
      return;
    }
    forward_layer.backward_prepare(lengths, dx, ws.forward_ws);
    backward_layer.backward_prepare(lengths, ws.dx_reversed, ws.backward_ws);
    const int column_parts = context.parts_for(N, Layer::columns_per_part);
    const int groups = context.parts_per_copy(B, Layer::sequences_per_part, 2);
    if (groups == 1) {
      // One or two threads: each direction whole on one thread (see forward), then the sum.
      ws.reserve_parts(2);
      const Range all_columns{0, N}, all_sequences{0, B};
      context.run(2, [&](Part part) {
        const int d = part.index;
        split_output_gradient(lengths, dout, ws, all_columns,
                              d == 0 ? Direction::forward : Direction::backward);
        layer(d).backward_pack(lengths, layer_ws(ws, d));
        backward_recurrence(d, lengths, ws, all_sequences);
        weight_gradients(d, x, ws, Range{0, layer(d).row_tiles()}, ws.gemm(d));
        input_gradient(d, ws, dx, all_columns, ws.gemm(d));
      });
      context.for_ranges(N, Layer::columns_per_part, [&](Range columns) {
        add_reversed_input_gradient(lengths, ws, dx, columns);
      });
      return;
    }
    // 1. Each direction's rows of dout (padded steps receive no gradient, whatever dout holds
    //    there), and the packing of both Uᵀ.
    context.run_kinds({column_parts, 1, 1}, [&](int kind, Part part) {
      if (kind == 0) {
        split_output_gradient(lengths, dout, ws, Range{0, N}.share(part));
      } else {
        layer(kind - 1).backward_pack(lengths, layer_ws(ws, kind - 1));
      }
    });
    // 2. The recurrences back through time.
    context.run_kinds({groups, groups}, [&](int kind, Part part) {
      backward_recurrence(kind, lengths, ws, Range{0, B}.share(part));
    });
    // 3. The products over all steps: each direction's weight gradients by rows (kinds 0, 1)
    //    and input gradients by columns (kinds 2, 3).
    const Index tiles_f = forward_layer.row_tiles(), tiles_b = backward_layer.row_tiles();
    const int row_parts = context.parts_per_copy(std::max(tiles_f, tiles_b), 1, 2);
    ws.reserve_parts(2 * row_parts + 2 * column_parts);
    context.run_kinds({row_parts, row_parts, column_parts, column_parts}, [&](int kind, Part part) {
      if (kind < 2) {
        weight_gradients(kind, x, ws, Range{0, kind == 0 ? tiles_f : tiles_b}.share(part),
                         ws.gemm(kind * row_parts + part.index));
      } else {
        const int d = kind - 2;
        input_gradient(d, ws, dx, Range{0, N}.share(part),
                       ws.gemm(2 * row_parts + d * column_parts + part.index));
      }
    });
    // 4. dx (the forward direction's, 0 at padded steps) += the backward one's, in natural time.
    context.for_ranges(N, Layer::columns_per_part, [&](Range columns) {
      add_reversed_input_gradient(lengths, ws, dx, columns);
    });
  }

 private:
  bool fast() const {
    return forward_layer.kernel == LstmKernel::fast && backward_layer.kernel == LstmKernel::fast;
  }

  // ---- One direction's stages of the fast passes, which both the one-or-two-thread path (each
  // direction whole on one thread) and the staged path run. Direction d = 0 is the forward
  // layer, reading x; d = 1 the backward layer, reading x reversed within each sequence's length.

  const Layer& layer(int d) const { return d == 0 ? forward_layer : backward_layer; }
  Layer& layer(int d) { return d == 0 ? forward_layer : backward_layer; }
  static typename Layer::Workspace& layer_ws(Workspace& ws, int d) {
    return d == 0 ? ws.forward_ws : ws.backward_ws;
  }
  /// What direction d reads: x, or ws.x_reversed (written by project).
  static const Tensor3<Scalar>& input(int d, const Tensor3<Scalar>& x, const Workspace& ws) {
    return d == 0 ? x : ws.x_reversed;
  }

  /// W·x + b for `columns` (the backward direction reverses its columns of x first).
  void project(int d, const Tensor3<Scalar>& x, const SequenceLengths& lengths, Workspace& ws,
               Range columns, kernels::gemm::GemmWorkspace<Scalar>& gemm) const {
    if (d == 1) reverse_columns(x, lengths, ws.x_reversed, columns);
    layer(d).forward_project(input(d, x, ws), layer_ws(ws, d), columns, gemm);
  }

  /// The recurrence of `sequences` (after their columns' projection and the packing), then
  /// their rows of out.
  void forward_recurrence(int d, const SequenceLengths& lengths, Workspace& ws,
                          Tensor3<Scalar>& out, Range sequences) const {
    layer(d).forward_sequences(lengths, d == 0 ? ws.h_forward : ws.h_reversed, layer_ws(ws, d),
                               sequences);
    if (d == 0) {
      write_forward_rows(lengths, ws, out, sequences);
    } else {
      write_backward_rows(lengths, ws, out, sequences);
    }
  }

  /// The recurrence back through time of `sequences` (after the split of dout and the packing).
  void backward_recurrence(int d, const SequenceLengths& lengths, Workspace& ws,
                           Range sequences) const {
    layer(d).backward_sequences(lengths, d == 0 ? ws.dh_forward : ws.dh_reversed, layer_ws(ws, d),
                                sequences);
  }

  /// dW, dU, db for the gate rows of the row `tiles`, after every sequence's recurrence.
  void weight_gradients(int d, const Tensor3<Scalar>& x, Workspace& ws, Range tiles,
                        kernels::gemm::GemmWorkspace<Scalar>& gemm) {
    layer(d).backward_weights(input(d, x, ws), layer_ws(ws, d), layer(d).tile_rows(tiles), gemm);
  }

  /// The input gradient of `columns` (the backward direction's in reversed time, into
  /// ws.dx_reversed), after every sequence's recurrence.
  void input_gradient(int d, Workspace& ws, Tensor3<Scalar>& dx, Range columns,
                      kernels::gemm::GemmWorkspace<Scalar>& gemm) const {
    layer(d).backward_inputs(layer_ws(ws, d), d == 0 ? dx : ws.dx_reversed, columns, gemm);
  }

  /// out's forward rows for `sequences`: the forward layer's output (0 at padded steps).
  void write_forward_rows(const SequenceLengths& lengths, const Workspace& ws, Tensor3<Scalar>& out,
                          Range sequences) const {
    const Index Hf = forward_layer.output_size();
    for (Index t = 0; t < lengths.max_length(); ++t)
      for (Index b = sequences.first; b < sequences.last; ++b) {
        auto rows = out.step(t).col(b).head(Hf);
        if (t < lengths[b]) {
          rows = ws.h_forward.step(t).col(b);
        } else {
          rows.setZero();
        }
      }
  }

  /// out's backward rows for `sequences`: the backward layer's output, back in natural time.
  void write_backward_rows(const SequenceLengths& lengths, const Workspace& ws,
                           Tensor3<Scalar>& out, Range sequences) const {
    const Index Hb = backward_layer.output_size();
    for (Index t = 0; t < lengths.max_length(); ++t)
      for (Index b = sequences.first; b < sequences.last; ++b) {
        auto rows = out.step(t).col(b).tail(Hb);
        if (t < lengths[b]) {
          rows = ws.h_reversed.step(lengths[b] - 1 - t).col(b);
        } else {
          rows.setZero();
        }
      }
  }

  /// The columns `columns` of each direction's output gradient: dout's forward rows as they are,
  /// its backward rows reversed in time; 0 at padded steps.
  enum class Direction { forward, backward, both };
  void split_output_gradient(const SequenceLengths& lengths, const Tensor3<Scalar>& dout,
                             Workspace& ws, Range columns,
                             Direction direction = Direction::both) const {
    const Index Hf = forward_layer.output_size(), Hb = backward_layer.output_size();
    const bool forward_rows = direction != Direction::backward;
    const bool backward_rows = direction != Direction::forward;
    for_each_token_column(lengths, columns, [&](Index c, Index b, Index t, bool real) {
      auto dh = ws.dh_forward.matrix().col(c);
      auto dh_reversed = ws.dh_reversed.matrix().col(c);
      if (real) {
        if (forward_rows) dh = dout.matrix().col(c).head(Hf);
        if (backward_rows) dh_reversed = dout.step(lengths[b] - 1 - t).col(b).tail(Hb);
      } else {
        if (forward_rows) dh.setZero();
        if (backward_rows) dh_reversed.setZero();
      }
    });
  }

  /// dx(:,c) += dx_reversed(:, b, lengths[b]-1-t) for the real columns among `columns`.
  void add_reversed_input_gradient(const SequenceLengths& lengths, const Workspace& ws,
                                   Tensor3<Scalar>& dx, Range columns) const {
    for_each_token_column(lengths, columns, [&](Index c, Index b, Index t, bool real) {
      if (real) dx.matrix().col(c) += ws.dx_reversed.step(lengths[b] - 1 - t).col(b);
    });
  }

  /// The whole forward pass on the calling thread through the layers' own passes (any kernel).
  void forward_plain(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& out,
                     Workspace& ws) const {
    const Range all{0, lengths.batch_size()};
    forward_layer.forward(x, lengths, ws.h_forward, ws.forward_ws);
    reverse_within_lengths(x, lengths, ws.x_reversed);
    backward_layer.forward(ws.x_reversed, lengths, ws.h_reversed, ws.backward_ws);
    write_forward_rows(lengths, ws, out, all);
    write_backward_rows(lengths, ws, out, all);
  }

  /// The whole backward pass on the calling thread through the layers' own passes.
  void backward_plain(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                      const Tensor3<Scalar>& dout, Tensor3<Scalar>& dx, Workspace& ws) {
    const Range columns{0, lengths.batch_size() * lengths.max_length()};
    split_output_gradient(lengths, dout, ws, columns);
    forward_layer.backward(x, lengths, ws.dh_forward, dx, ws.forward_ws);
    backward_layer.backward(ws.x_reversed, lengths, ws.dh_reversed, ws.dx_reversed, ws.backward_ws);
    add_reversed_input_gradient(lengths, ws, dx, columns);
  }

  void check_input(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                   const char* pass) const {
    detail::check_sequence_input("Bidirectional", pass, output_size() >= 1, "layers", input_size(),
                                 x, lengths);
  }
};

/// A bidirectional LSTM: output (2H,B,T), rows 0..H-1 forward, H..2H-1 backward.
template <class Scalar>
using BiLSTM = Bidirectional<LSTM<Scalar>>;

/// A BiLSTM with `hidden_per_direction` units in each direction; the forward layer is drawn from
/// `rng` first, then the backward one.
template <class Scalar>
BiLSTM<Scalar> make_bilstm(Index input_size, Index hidden_per_direction, Rng& rng) {
  LSTM<Scalar> forward(input_size, hidden_per_direction, rng);
  LSTM<Scalar> backward(input_size, hidden_per_direction, rng);
  return BiLSTM<Scalar>(std::move(forward), std::move(backward));
}

/// The same shape with zero weights and no gradient buffers (see ShapesOnly in param.hpp).
template <class Scalar>
BiLSTM<Scalar> make_bilstm(Index input_size, Index hidden_per_direction, ShapesOnly) {
  return BiLSTM<Scalar>(LSTM<Scalar>(input_size, hidden_per_direction, shapes_only),
                        LSTM<Scalar>(input_size, hidden_per_direction, shapes_only));
}

}  // namespace lstmner
