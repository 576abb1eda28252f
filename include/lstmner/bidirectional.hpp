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
/// `num_threads = 2` runs the two directions on two threads (forward on the calling thread). They
/// share nothing but read-only inputs, so the results are bit-identical to `num_threads = 1`.
/// A Workspace may override the layer's setting for its own passes (`Workspace::num_threads`).
/// The second thread is a persistent worker owned by the Workspace (started on first use, joined
/// when the Workspace is destroyed), so a training step or a prediction batch pays a hand-off
/// (parallel.hpp), not a thread creation. Since each caller brings its own
/// Workspace, concurrent const forward calls on one layer never share a worker. Copying a
/// Workspace copies its buffers but not its worker (the copy starts its own when it needs one).
///
/// `Layer` needs: `scalar_type`, a nested `Workspace`, `input_size()`, `output_size()`,
/// `params()`, and the layer contract's forward/backward (docs/architecture.md).
/// Bad arguments throw std::invalid_argument starting with "lstmner: Bidirectional:".

#include <lstmner/lstm.hpp>
#include <lstmner/param.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <lstmner/parallel.hpp>

#include <string>
#include <utility>

namespace lstmner {

/// dst(:,b,t) = src(:,b,lengths[b]-1-t) at real steps, 0 at padded steps. Applying it twice gives
/// back the real steps of `src`. `dst` must not be `src`.
template <class Scalar>
void reverse_within_lengths(const Tensor3<Scalar>& src, const SequenceLengths& lengths,
                            Tensor3<Scalar>& dst) {
  detail::require_lazily(
      &src != &dst, [] { return "reverse_within_lengths: source and destination must differ"; });
  detail::check_batch_shape(lengths, src, [] { return "reverse_within_lengths"; });
  const Index B = lengths.batch_size();
  const Index T = lengths.max_length();
  dst.resize(src.dim(0), B, T);
  for (Index t = 0; t < T; ++t) {
    auto out = dst.step(t);
    for (Index b = 0; b < B; ++b) {
      if (t < lengths[b]) {
        out.col(b) = src.step(lengths[b] - 1 - t).col(b);
      } else {
        out.col(b).setZero();
      }
    }
  }
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
    detail::WorkerSlot worker;    ///< runs the backward direction when num_threads >= 2
    /// Overrides the layer's num_threads for passes with this workspace when >= 1. A caller that
    /// already keeps every core busy (data-parallel prediction) sets 1.
    int num_threads = 0;
    /// When set, passes with this workspace run on that slot's worker instead of `worker`: a
    /// network hands every one of its stages to one thread, which then stays warm.
    detail::WorkerSlot* shared_worker = nullptr;
  };

  Layer forward_layer;
  Layer backward_layer;
  /// 1: the two directions run one after the other; 2: concurrently, on two threads.
  int num_threads = 1;

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
               Workspace& ws) const {
    check_input(x, lengths, "forward");
    detail::require_lazily(
        &out != &x, [] { return "Bidirectional: forward: out must not be the same tensor as x"; });
    const Index Hf = forward_layer.output_size();
    const Index Hb = backward_layer.output_size();
    out.resize(Hf + Hb, lengths.batch_size(), lengths.max_length());
    // Each direction also does its own share of the data movement: the backward one reverses its
    // input, each writes its own rows of `out`.
    run_both(
        ws,
        [&] {
          forward_layer.forward(x, lengths, ws.h_forward, ws.forward_ws);
          for_each_token_column(lengths, Part{}, [&](Index, Index b, Index t, bool real) {
            auto rows = out.step(t).col(b).head(Hf);
            if (real) {
              rows = ws.h_forward.step(t).col(b);
            } else {
              rows.setZero();
            }
          });
        },
        [&] {
          reverse_within_lengths(x, lengths, ws.x_reversed);
          backward_layer.forward(ws.x_reversed, lengths, ws.h_reversed, ws.backward_ws);
          for_each_token_column(lengths, Part{}, [&](Index, Index b, Index t, bool real) {
            auto rows = out.step(t).col(b).tail(Hb);
            if (real) {
              rows = ws.h_reversed.step(lengths[b] - 1 - t).col(b);
            } else {
              rows.setZero();
            }
          });
        });
  }

  void backward(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                const Tensor3<Scalar>& dout, Tensor3<Scalar>& dx, Workspace& ws) {
    check_input(x, lengths, "backward");
    const Index Hf = forward_layer.output_size();
    const Index Hb = backward_layer.output_size();
    const Index B = lengths.batch_size();
    const Index T = lengths.max_length();
    detail::require_lazily(dout.dim(0) == Hf + Hb && dout.dim(1) == B && dout.dim(2) == T, [&] {
      return "Bidirectional: backward: output gradient has shape " + shape_string(dout.shape()) +
             ", expected (" + std::to_string(Hf + Hb) + ", " + std::to_string(B) + ", " +
             std::to_string(T) + ")";
    });
    detail::require_lazily(
        ws.x_reversed.dim(0) == x.dim(0) && ws.x_reversed.dim(1) == B && ws.x_reversed.dim(2) == T,
        [] {
          return "Bidirectional: backward: the workspace holds no forward pass over this batch "
                 "(call forward with the same input, lengths and workspace first)";
        });
    detail::require_lazily(&dx != &x && &dx != &dout, [] {
      return "Bidirectional: backward: dx must be a tensor of its own";
    });

    ws.dh_forward.resize(Hf, B, T);
    ws.dh_reversed.resize(Hb, B, T);
    // Each direction takes its own rows of dout (padded steps receive no gradient, whatever dout
    // holds there).
    run_both(
        ws,
        [&] {
          for_each_token_column(lengths, Part{}, [&](Index, Index b, Index t, bool real) {
            auto dh = ws.dh_forward.step(t).col(b);
            if (real) {
              dh = dout.step(t).col(b).head(Hf);
            } else {
              dh.setZero();
            }
          });
          forward_layer.backward(x, lengths, ws.dh_forward, dx, ws.forward_ws);
        },
        [&] {
          for_each_token_column(lengths, Part{}, [&](Index, Index b, Index t, bool real) {
            if (real) {
              ws.dh_reversed.step(lengths[b] - 1 - t).col(b) = dout.step(t).col(b).tail(Hb);
            } else {
              ws.dh_reversed.step(t).col(b).setZero();
            }
          });
          backward_layer.backward(ws.x_reversed, lengths, ws.dh_reversed, ws.dx_reversed,
                                  ws.backward_ws);
        });

    // dx already holds the forward direction's gradient (0 at padded steps); add the other one,
    // half of the token columns on each thread.
    auto add_reversed = [&](Part part) {
      for_each_token_column(lengths, part, [&](Index, Index b, Index t, bool real) {
        if (real) dx.step(t).col(b) += ws.dx_reversed.step(lengths[b] - 1 - t).col(b);
      });
    };
    detail::run_parts(worker_slot(ws), concurrent(ws), add_reversed);
  }

 private:
  void check_input(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                   const char* pass) const {
    detail::check_sequence_input("Bidirectional", pass, output_size() >= 1, "layers", input_size(),
                                 x, lengths);
  }

  /// Runs both directions, concurrently when num_threads >= 2 (the backward one on the
  /// workspace's persistent worker).
  template <class ForwardJob, class BackwardJob>
  void run_both(Workspace& ws, ForwardJob&& forward_job, BackwardJob&& backward_job) const {
    detail::run_pair(worker_slot(ws), concurrent(ws), forward_job, backward_job);
  }

  static detail::WorkerSlot& worker_slot(Workspace& ws) {
    return ws.shared_worker != nullptr ? *ws.shared_worker : ws.worker;
  }

  /// Whether passes with `ws` use two threads: the workspace's override, else the layer's setting.
  bool concurrent(const Workspace& ws) const {
    return (ws.num_threads >= 1 ? ws.num_threads : num_threads) >= 2;
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

}  // namespace lstmner
