#pragma once
/// \file network.hpp
/// The tagger's layer stack: word and casing embeddings → dropout → BiLSTM → dropout →
/// softmax-dense. It maps a `Batch` of ids to per-token tag scores and back-propagates the loss.
///
///   forward(batch, ws, rng):   ids (B,T) → ws.scores (K,B,T). With `rng` (training) dropout is
///                              applied; without it (inference) the pass is deterministic and
///                              const, so threads may share one network, each with a Workspace.
///   loss_backward(batch, scale, ws):  after a forward on the same batch: returns the mean
///                              cross-entropy (scale = 1/tokens) and accumulates every gradient.
///
/// Token features are stacked into one input column per token:
///     rows [0, E)        word embedding
///     rows [E, E + C)    casing embedding (C = casing_dim, 0 = absent)
/// Threads: with num_threads = 2 every stage of a training step runs on two threads. The BiLSTM
/// runs its two directions side by side (bidirectional.hpp); the stages around it are cut into two
/// Parts (parallel.hpp) on the workspace's worker thread — the embedding lookups and the input
/// dropout by token columns, the output dropout, dense layer and loss by token columns, the
/// embedding gradients by table rows. Each part draws its dropout masks from its own Rng (seeded
/// from the caller's at every forward) and partial sums are added in part order, so one thread
/// and two threads compute bit-identical results.
///
/// Room to grow: a character-level word encoder or extra per-token features append further row
/// blocks here (and a slice in the backward split), and a CRF would replace `output`'s loss while
/// keeping its scores; nothing else in the stack changes.

#include <lstmner/batch.hpp>
#include <lstmner/bidirectional.hpp>
#include <lstmner/dropout.hpp>
#include <lstmner/embedding.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/parallel.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/softmax_dense.hpp>

#include <array>
#include <vector>

namespace lstmner {

/// The sizes that fix a network's parameter shapes.
struct NetworkShape {
  Index vocabulary_size = 0;
  Index casing_classes = 0;
  Index num_tags = 0;
  Index embedding_dim = 100;
  Index casing_dim = 0;
  Index hidden_dim = 100;

  Index input_dim() const { return embedding_dim + casing_dim; }
};

template <class Scalar>
class TaggerNetwork {
 public:
  using BiLSTM = lstmner::BiLSTM<Scalar>;

  struct Workspace {
    Tensor3<Scalar> inputs, dropped_inputs;      // (E+C,B,T)
    Tensor3<Scalar> lstm_out, dropped_lstm_out;  // (2H,B,T)
    Tensor3<Scalar> scores;                      // (K,B,T)
    typename Dropout<Scalar>::Workspace input_dropout, output_dropout;
    typename BiLSTM::Workspace lstm;
    typename SoftmaxDense<Scalar>::Workspace output;
    // gradients
    Tensor3<Scalar> d_dropped_lstm_out, d_lstm_out, d_dropped_inputs;
    bool dropout_applied = false;
    std::array<Rng, 2> part_rngs;  ///< each part's dropout masks
    std::array<double, 2> part_losses{};
    detail::WorkerSlot worker;  ///< runs part 1 of each stage when num_threads >= 2
    /// Run every stage on the calling thread whatever num_threads says: for callers that already
    /// run several workspaces side by side (data-parallel prediction).
    bool single_threaded = false;
  };

  NetworkShape shape;
  Embedding<Scalar> words;
  Embedding<Scalar> casing;  ///< empty when shape.casing_dim == 0
  BiLSTM lstm;
  SoftmaxDense<Scalar> output;
  Dropout<Scalar> dropout;
  /// 1, or 2: every stage of a pass on two threads (see the file comment).
  int num_threads = 1;

  TaggerNetwork() = default;
  TaggerNetwork(const NetworkShape& network_shape, double dropout_rate, int threads, Rng& rng)
      : shape(network_shape),
        words(network_shape.vocabulary_size, network_shape.embedding_dim, rng),
        // Members are initialised in declaration order, so the draws from `rng` are in a fixed
        // order: words, the forward then the backward LSTM (make_bilstm), output, casing.
        lstm(make_bilstm<Scalar>(network_shape.input_dim(), network_shape.hidden_dim, rng)),
        output(2 * network_shape.hidden_dim, network_shape.num_tags, rng),
        dropout(dropout_rate) {
    num_threads = threads >= 2 ? 2 : 1;
    lstm.num_threads = num_threads;
    if (shape.casing_dim > 0)
      casing = Embedding<Scalar>(shape.casing_classes, shape.casing_dim, rng);
    words.table.name = "words.table";
    casing.table.name = "casing.table";
    for (auto* p : lstm.params()) p->name = "lstm." + p->name;  // lstm.forward.W, ...
    output.W.name = "output.W";
    output.b.name = "output.b";
  }

  /// Every parameter in slot order (the order of the model file).
  ParamList<Scalar> params() {
    ParamList<Scalar> list = words.params();
    if (shape.casing_dim > 0) append_params(list, casing.params());
    append_params(list, lstm.params());
    append_params(list, output.params());
    return list;
  }

  /// Every parameter in slot order, read-only (for saving, counting, inspecting).
  std::vector<const Param<Scalar>*> params() const {
    // The non-const params() only takes addresses; it changes nothing.
    const ParamList<Scalar> list = const_cast<TaggerNetwork*>(this)->params();
    return {list.begin(), list.end()};
  }

  /// Runs the stack; scores end up in ws.scores. `rng` non-null = training (dropout on).
  void forward(const Batch& batch, Workspace& ws, Rng* rng) const {
    const auto& lengths = batch.lengths;
    const Index E = shape.embedding_dim, C = shape.casing_dim;
    const Index B = lengths.batch_size(), T = lengths.max_length();
    words.check_ids(batch.words, lengths, "forward");
    if (C > 0) casing.check_ids(batch.casing, lengths, "forward");
    const bool drop = ws.dropout_applied = rng != nullptr && dropout.rate() > 0.0;
    ws.lstm.num_threads = ws.single_threaded ? 1 : 0;  // 0: the layer's own setting
    ws.lstm.shared_worker = &ws.worker;                // one worker for every stage
    if (drop)
      for (Rng& part_rng : ws.part_rngs) part_rng.reseed(rng->next());

    // Token features, stacked (and dropped out), by token columns.
    ws.inputs.resize(E + C, B, T);
    if (drop) dropout.resize_for(ws.inputs, ws.dropped_inputs, ws.input_dropout);
    run_parts(ws, [&](Part part) {
      words.forward_part(batch.words, lengths, ws.inputs.matrix().topRows(E), part);
      if (C > 0) casing.forward_part(batch.casing, lengths, ws.inputs.matrix().bottomRows(C), part);
      if (drop) {
        dropout.forward_part(ws.inputs, lengths, ws.dropped_inputs, ws.part_rngs[part.index],
                             ws.input_dropout, part);
      }
    });

    lstm.forward(drop ? ws.dropped_inputs : ws.inputs, lengths, ws.lstm_out, ws.lstm);

    // Output dropout and the dense layer, by token columns.
    if (drop) dropout.resize_for(ws.lstm_out, ws.dropped_lstm_out, ws.output_dropout);
    ws.scores.resize(shape.num_tags, B, T);
    run_parts(ws, [&](Part part) {
      if (drop) {
        dropout.forward_part(ws.lstm_out, lengths, ws.dropped_lstm_out, ws.part_rngs[part.index],
                             ws.output_dropout, part);
      }
      output.forward_part(drop ? ws.dropped_lstm_out : ws.lstm_out, lengths, ws.scores, ws.output,
                          part);
    });
  }

  /// Loss of the last forward against batch.tags, times `scale`, and every gradient (accumulated).
  double loss_backward(const Batch& batch, double scale, Workspace& ws) {
    const auto& lengths = batch.lengths;
    const Index E = shape.embedding_dim, C = shape.casing_dim;
    const bool drop = ws.dropout_applied;
    ws.lstm.shared_worker = &ws.worker;

    // Loss, dense layer and output dropout, by token columns.
    const Tensor3<Scalar>& dense_in = drop ? ws.dropped_lstm_out : ws.lstm_out;
    output.prepare_loss_backward(dense_in, ws.scores, batch.tags, lengths, ws.d_dropped_lstm_out,
                                 ws.output);
    if (drop) ws.d_lstm_out.resize(ws.d_dropped_lstm_out.shape());
    run_parts(ws, [&](Part part) {
      ws.part_losses[static_cast<std::size_t>(part.index)] = output.loss_backward_part(
          dense_in, ws.scores, batch.tags, lengths, scale, ws.d_dropped_lstm_out, ws.output, part);
      if (drop) {
        dropout.backward_part(ws.d_dropped_lstm_out, lengths, ws.d_lstm_out, ws.output_dropout,
                              part);
      }
    });
    output.add_part_gradients(ws.output, 2);

    lstm.backward(drop ? ws.dropped_inputs : ws.inputs, lengths,
                  drop ? ws.d_lstm_out : ws.d_dropped_lstm_out, ws.d_dropped_inputs, ws.lstm);

    // Embedding gradients by table rows, the input dropout's backward (dx = dy ⊙ mask) read
    // where they need it; the touched-column lists of the two tables on one part each.
    words.check_grad("backward");
    casing.check_grad("backward");
    const auto d_inputs = ws.d_dropped_inputs.matrix();
    const ConstMatrixMap<Scalar> mask(ws.input_dropout.mask.data(), drop ? E + C : 0,
                                      drop ? d_inputs.cols() : 0);
    run_parts(ws, [&](Part part) {
      if (drop) {
        words.backward_rows(batch.words, lengths, d_inputs.topRows(E).cwiseProduct(mask.topRows(E)),
                            part);
      } else {
        words.backward_rows(batch.words, lengths, d_inputs.topRows(E), part);
      }
      if (C > 0 && drop) {
        casing.backward_rows(batch.casing, lengths,
                             d_inputs.bottomRows(C).cwiseProduct(mask.bottomRows(C)), part);
      } else if (C > 0) {
        casing.backward_rows(batch.casing, lengths, d_inputs.bottomRows(C), part);
      }
      if (part.index == 0) words.record_touched(batch.words, lengths);
      if (part.index == 1 && C > 0) casing.record_touched(batch.casing, lengths);
    });
    return ws.part_losses[0] + ws.part_losses[1];
  }

  /// Runs job(part) for the two parts of a stage, on two threads when num_threads >= 2.
  template <class Job>
  void run_parts(Workspace& ws, Job&& job) const {
    detail::run_parts(ws.worker, num_threads >= 2 && !ws.single_threaded, job);
  }
};

}  // namespace lstmner
