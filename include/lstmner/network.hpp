#pragma once
/// \file network.hpp
/// The tagger's layer stack: word and casing embeddings → dropout → BiLSTM → dropout →
/// softmax-dense. It maps a `Batch` of ids to per-token tag scores and back-propagates the loss.
///
///   forward(batch, ws, context, rng):  ids (B,T) → ws.scores (K,B,T). With `rng` (training)
///                              dropout is applied; without it (inference) the pass is
///                              deterministic and const, so threads may share one network, each
///                              with a Workspace.
///   loss_backward(batch, scale, ws, context):  after a forward on the same batch: returns the
///                              mean cross-entropy (scale = 1/tokens) and accumulates every
///                              gradient.
///
/// Token features are stacked into one input column per token:
///     rows [0, E)        word embedding
///     rows [E, E + C)    casing embedding (C = casing_dim, 0 = absent)
/// Threads: every stage runs on the ExecutionContext it is given (execution_context.hpp): the
/// embedding lookups with the input dropout, and the output dropout with the dense layer, by token
/// columns; the BiLSTM in its own stages (bidirectional.hpp); the loss gradient by token columns;
/// the dense layer's weight gradient by input features; the embedding gradients by table rows.
/// Every stage writes only its own outputs with the same arithmetic in any cut, dropout masks are
/// drawn per token column from a seed (dropout.hpp), and the loss is added in column order, so the
/// result is bit-identical on any number of threads.

#include <lstmner/batch.hpp>
#include <lstmner/bidirectional.hpp>
#include <lstmner/dropout.hpp>
#include <lstmner/embedding.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/softmax_dense.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
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

/// The name and shape of a parameter.
struct ParamShape {
  std::string name;
  Index rows = 0, cols = 0;

  bool operator==(const ParamShape& o) const {
    return name == o.name && rows == o.rows && cols == o.cols;
  }
};

/// Every parameter a TaggerNetwork of `shape` has, in slot order, without making one: what a
/// model file must hold, checked before anything of that size is allocated
/// (detail/model_file.hpp). tests/test_network.cpp checks it against the network's params().
inline std::vector<ParamShape> parameter_shapes(const NetworkShape& shape) {
  const Index E = shape.embedding_dim, C = shape.casing_dim, H = shape.hidden_dim;
  const Index K = shape.num_tags, In = shape.input_dim();
  std::vector<ParamShape> list{{"words.table", E, shape.vocabulary_size}};
  if (C > 0) list.push_back({"casing.table", C, shape.casing_classes});
  for (const char* direction : {"forward", "backward"}) {
    const std::string lstm = std::string("lstm.") + direction + ".";
    list.push_back({lstm + "W", 4 * H, In});
    list.push_back({lstm + "U", 4 * H, H});
    list.push_back({lstm + "b", 4 * H, 1});
  }
  list.push_back({"output.W", K, 2 * H});
  list.push_back({"output.b", K, 1});
  return list;
}

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
    Tensor3<Scalar> d_dropped_lstm_out, d_lstm_out, d_dropped_inputs, d_inputs;
    bool dropout_applied = false;
    std::uint64_t input_dropout_seed = 0, output_dropout_seed = 0;
  };

  NetworkShape shape;
  Embedding<Scalar> words;
  Embedding<Scalar> casing;  ///< empty when shape.casing_dim == 0
  BiLSTM lstm;
  SoftmaxDense<Scalar> output;
  Dropout<Scalar> dropout;

  TaggerNetwork() = default;
  /// A network to train: weights drawn from `rng`, gradient buffers allocated.
  TaggerNetwork(const NetworkShape& network_shape, double dropout_rate, Rng& rng)
      : shape(network_shape),
        words(network_shape.vocabulary_size, network_shape.embedding_dim, rng),
        // Members are initialised in declaration order, so the draws from `rng` are in a fixed
        // order: words, the forward then the backward LSTM (make_bilstm), output, casing.
        lstm(make_bilstm<Scalar>(network_shape.input_dim(), network_shape.hidden_dim, rng)),
        output(2 * network_shape.hidden_dim, network_shape.num_tags, rng),
        dropout(dropout_rate) {
    if (shape.casing_dim > 0)
      casing = Embedding<Scalar>(shape.casing_classes, shape.casing_dim, rng);
    name_params();
  }

  /// A network to read weights into: zero weights, nothing drawn, no gradient buffers (a loaded
  /// model predicts; allocate_gradients() before training it).
  TaggerNetwork(const NetworkShape& network_shape, double dropout_rate, ShapesOnly)
      : shape(network_shape),
        words(network_shape.vocabulary_size, network_shape.embedding_dim, shapes_only),
        lstm(make_bilstm<Scalar>(network_shape.input_dim(), network_shape.hidden_dim, shapes_only)),
        output(2 * network_shape.hidden_dim, network_shape.num_tags, shapes_only),
        dropout(dropout_rate) {
    if (shape.casing_dim > 0)
      casing = Embedding<Scalar>(shape.casing_classes, shape.casing_dim, shapes_only);
    name_params();
  }

  /// Gives every parameter its gradient buffer (a trainer does this; a loaded network has none).
  void allocate_gradients() {
    for (auto* p : params()) p->allocate_grad();
  }
  /// Frees every gradient buffer: the network then only predicts.
  void release_gradients() {
    for (auto* p : params()) p->release_grad();
  }
  /// Whether every trainable parameter has its gradient buffer (allocates nothing: it runs in
  /// every training step).
  bool has_gradients() const {
    auto ok = [](const Param<Scalar>& p) { return p.frozen || p.has_grad(); };
    return ok(words.table) && (shape.casing_dim == 0 || ok(casing.table)) &&
           lstm.forward_layer.has_gradients() && lstm.backward_layer.has_gradients() &&
           ok(output.W) && ok(output.b);
  }

 private:
  void name_params() {
    words.table.name = "words.table";
    casing.table.name = "casing.table";
    for (auto* p : lstm.params()) p->name = "lstm." + p->name;  // lstm.forward.W, ...
    output.W.name = "output.W";
    output.b.name = "output.b";
  }

 public:
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
  void forward(const Batch& batch, Workspace& ws, ExecutionContext& context, Rng* rng) const {
    const auto& lengths = batch.lengths;
    const Index E = shape.embedding_dim, C = shape.casing_dim;
    const Index B = lengths.batch_size(), T = lengths.max_length(), N = B * T;
    words.check_ids(batch.words, lengths, "forward");
    if (C > 0) casing.check_ids(batch.casing, lengths, "forward");
    const bool drop = ws.dropout_applied = rng != nullptr && dropout.rate() > 0.0;
    if (drop) {
      ws.input_dropout_seed = rng->next();
      ws.output_dropout_seed = rng->next();
    }

    // Token features, stacked (and dropped out), by token columns.
    ws.inputs.resize(E + C, B, T);
    if (drop) dropout.resize_for(ws.inputs, ws.dropped_inputs, ws.input_dropout);
    context.for_ranges(N, columns_per_part, [&](Range columns) {
      words.forward_columns(batch.words, lengths, ws.inputs.matrix().topRows(E), columns);
      if (C > 0)
        casing.forward_columns(batch.casing, lengths, ws.inputs.matrix().bottomRows(C), columns);
      if (drop) {
        dropout.forward_columns(ws.inputs, lengths, ws.dropped_inputs, ws.input_dropout_seed,
                                ws.input_dropout, columns);
      }
    });

    lstm.forward(drop ? ws.dropped_inputs : ws.inputs, lengths, ws.lstm_out, ws.lstm, context);

    // Output dropout and the dense layer, by token columns.
    if (drop) dropout.resize_for(ws.lstm_out, ws.dropped_lstm_out, ws.output_dropout);
    ws.scores.resize(shape.num_tags, B, T);
    const int parts = context.parts_for(N, columns_per_part);
    ws.output.reserve_parts(parts);
    context.run(parts, [&](Part part) {
      const Range columns = Range{0, N}.share(part);
      if (drop) {
        dropout.forward_columns(ws.lstm_out, lengths, ws.dropped_lstm_out, ws.output_dropout_seed,
                                ws.output_dropout, columns);
      }
      output.forward_columns(drop ? ws.dropped_lstm_out : ws.lstm_out, lengths, ws.scores,
                             ws.output.gemm(part.index), columns);
    });
  }

  /// Loss of the last forward against batch.tags, times `scale`, and every gradient (accumulated).
  double loss_backward(const Batch& batch, double scale, Workspace& ws, ExecutionContext& context) {
    const auto& lengths = batch.lengths;
    const Index E = shape.embedding_dim, C = shape.casing_dim;
    const Index N = lengths.batch_size() * lengths.max_length();
    const bool drop = ws.dropout_applied;
    if (!has_gradients()) {
      require(false,
              "TaggerNetwork: loss_backward: no gradient buffers (a network made with "
              "shapes_only, e.g. a loaded model's, has none until allocate_gradients())");
    }

    // Loss gradient, dense layer's input gradient and output dropout, by token columns.
    const Tensor3<Scalar>& dense_in = drop ? ws.dropped_lstm_out : ws.lstm_out;
    output.prepare_loss_backward(dense_in, ws.scores, batch.tags, lengths, ws.d_dropped_lstm_out,
                                 ws.output);
    if (drop) ws.d_lstm_out.resize(ws.d_dropped_lstm_out.shape());
    const int column_parts = context.parts_for(N, columns_per_part);
    const int feature_parts = context.parts_for(output.input_dim(), features_per_part);
    ws.output.reserve_parts(std::max(column_parts, feature_parts));
    context.run(column_parts, [&](Part part) {
      const Range columns = Range{0, N}.share(part);
      output.loss_backward_columns(dense_in, ws.scores, batch.tags, lengths, scale,
                                   ws.d_dropped_lstm_out, ws.output, ws.output.gemm(part.index),
                                   columns);
      if (drop) {
        dropout.backward_columns(ws.d_dropped_lstm_out, lengths, ws.d_lstm_out, ws.output_dropout,
                                 columns);
      }
    });
    // The dense layer's weight gradient, by input features.
    context.run(feature_parts, [&](Part part) {
      output.weight_gradients(dense_in, ws.output, ws.output.gemm(part.index),
                              Range{0, output.input_dim()}.share(part));
    });

    const Tensor3<Scalar>& lstm_in = drop ? ws.dropped_inputs : ws.inputs;
    lstm.backward(lstm_in, lengths, drop ? ws.d_lstm_out : ws.d_dropped_lstm_out,
                  ws.d_dropped_inputs, ws.lstm, context);

    // The input dropout's backward by token columns, then the embedding gradients by table rows
    // (both tables' rows in one stage) and the touched-column lists of the two tables.
    const Tensor3<Scalar>* d_inputs = &ws.d_dropped_inputs;
    if (drop) {
      ws.d_inputs.resize(ws.d_dropped_inputs.shape());
      context.for_ranges(N, columns_per_part, [&](Range columns) {
        dropout.backward_columns(ws.d_dropped_inputs, lengths, ws.d_inputs, ws.input_dropout,
                                 columns);
      });
      d_inputs = &ws.d_inputs;
    }
    words.check_grad("backward");
    casing.check_grad("backward");
    const auto d_in = d_inputs->matrix();
    const int word_parts = context.parts_for(E, rows_per_part);
    const int casing_parts = C > 0 ? context.parts_for(C, rows_per_part) : 0;
    context.run_kinds({word_parts, casing_parts, 1, C > 0 ? 1 : 0}, [&](int kind, Part part) {
      switch (kind) {
        case 0:
          words.backward_rows(batch.words, lengths, d_in.topRows(E), Range{0, E}.share(part));
          break;
        case 1:
          casing.backward_rows(batch.casing, lengths, d_in.bottomRows(C), Range{0, C}.share(part));
          break;
        case 2:
          words.record_touched(batch.words, lengths);
          break;
        default:
          casing.record_touched(batch.casing, lengths);
          break;
      }
    });
    return SoftmaxDense<Scalar>::total_loss(ws.output, scale);
  }

  /// Token columns per part of the per-token stages, at least.
  static constexpr Index columns_per_part = 32;
  /// Input features per part of the dense layer's weight gradient, at least.
  static constexpr Index features_per_part = 32;
  /// Embedding-table rows per part of the embedding gradients, at least.
  static constexpr Index rows_per_part = 8;
};

}  // namespace lstmner
