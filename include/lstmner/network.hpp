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
/// Room to grow: a character-level word encoder or extra per-token features append further row
/// blocks here (and a slice in the backward split), and a CRF would replace `output`'s loss while
/// keeping its scores; nothing else in the stack changes.

#include <lstmner/batch.hpp>
#include <lstmner/bidirectional.hpp>
#include <lstmner/dropout.hpp>
#include <lstmner/embedding.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/param.hpp>
#include <lstmner/softmax_dense.hpp>

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
    Tensor3<Scalar> word_vectors, casing_vectors;  // (E,B,T), (C,B,T)
    Tensor3<Scalar> inputs, dropped_inputs;        // (E+C,B,T)
    Tensor3<Scalar> lstm_out, dropped_lstm_out;    // (2H,B,T)
    Tensor3<Scalar> scores;                        // (K,B,T)
    typename Dropout<Scalar>::Workspace input_dropout, output_dropout;
    typename BiLSTM::Workspace lstm;
    typename SoftmaxDense<Scalar>::Workspace output;
    // gradients
    Tensor3<Scalar> d_dropped_lstm_out, d_lstm_out, d_dropped_inputs, d_inputs;
    Tensor3<Scalar> d_word_vectors, d_casing_vectors;
    bool dropout_applied = false;
  };

  NetworkShape shape;
  Embedding<Scalar> words;
  Embedding<Scalar> casing;  ///< empty when shape.casing_dim == 0
  BiLSTM lstm;
  SoftmaxDense<Scalar> output;
  Dropout<Scalar> dropout;

  TaggerNetwork() = default;
  TaggerNetwork(const NetworkShape& network_shape, double dropout_rate, int threads, Rng& rng)
      : shape(network_shape),
        words(network_shape.vocabulary_size, network_shape.embedding_dim, rng),
        // Members are initialised in declaration order, so the draws from `rng` are in a fixed
        // order: words, the forward then the backward LSTM (make_bilstm), output, casing.
        lstm(make_bilstm<Scalar>(network_shape.input_dim(), network_shape.hidden_dim, rng)),
        output(2 * network_shape.hidden_dim, network_shape.num_tags, rng),
        dropout(dropout_rate) {
    lstm.num_threads = threads >= 2 ? 2 : 1;
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

  /// Runs the stack; scores end up in ws.scores. `rng` non-null = training (dropout on).
  void forward(const Batch& batch, Workspace& ws, Rng* rng) const {
    const auto& lengths = batch.lengths;
    const Index E = shape.embedding_dim, C = shape.casing_dim;
    words.forward(batch.words, lengths, ws.word_vectors);
    ws.inputs.resize(E + C, lengths.batch_size(), lengths.max_length());
    ws.inputs.matrix().topRows(E) = ws.word_vectors.matrix();
    if (C > 0) {
      casing.forward(batch.casing, lengths, ws.casing_vectors);
      ws.inputs.matrix().bottomRows(C) = ws.casing_vectors.matrix();
    }
    ws.dropout_applied = rng != nullptr && dropout.rate() > 0.0;
    const Tensor3<Scalar>* lstm_in = &ws.inputs;
    if (ws.dropout_applied) {
      dropout.forward(ws.inputs, lengths, ws.dropped_inputs, *rng, ws.input_dropout);
      lstm_in = &ws.dropped_inputs;
    }
    lstm.forward(*lstm_in, lengths, ws.lstm_out, ws.lstm);
    const Tensor3<Scalar>* dense_in = &ws.lstm_out;
    if (ws.dropout_applied) {
      dropout.forward(ws.lstm_out, lengths, ws.dropped_lstm_out, *rng, ws.output_dropout);
      dense_in = &ws.dropped_lstm_out;
    }
    output.forward(*dense_in, lengths, ws.scores);
  }

  /// Loss of the last forward against batch.tags, times `scale`, and every gradient (accumulated).
  double loss_backward(const Batch& batch, double scale, Workspace& ws) {
    const auto& lengths = batch.lengths;
    const Index E = shape.embedding_dim, C = shape.casing_dim;
    const Tensor3<Scalar>& dense_in = ws.dropout_applied ? ws.dropped_lstm_out : ws.lstm_out;
    const double loss = output.loss_backward(dense_in, ws.scores, batch.tags, lengths, scale,
                                             ws.d_dropped_lstm_out, ws.output);
    const Tensor3<Scalar>* d_lstm_out = &ws.d_dropped_lstm_out;
    if (ws.dropout_applied) {
      dropout.backward(ws.d_dropped_lstm_out, lengths, ws.d_lstm_out, ws.output_dropout);
      d_lstm_out = &ws.d_lstm_out;
    }
    const Tensor3<Scalar>& lstm_in = ws.dropout_applied ? ws.dropped_inputs : ws.inputs;
    lstm.backward(lstm_in, lengths, *d_lstm_out, ws.d_dropped_inputs, ws.lstm);
    const Tensor3<Scalar>* d_inputs = &ws.d_dropped_inputs;
    if (ws.dropout_applied) {
      dropout.backward(ws.d_dropped_inputs, lengths, ws.d_inputs, ws.input_dropout);
      d_inputs = &ws.d_inputs;
    }
    ws.d_word_vectors.resize(E, lengths.batch_size(), lengths.max_length());
    ws.d_word_vectors.matrix() = d_inputs->matrix().topRows(E);
    words.backward(batch.words, lengths, ws.d_word_vectors);
    if (C > 0) {
      ws.d_casing_vectors.resize(C, lengths.batch_size(), lengths.max_length());
      ws.d_casing_vectors.matrix() = d_inputs->matrix().bottomRows(C);
      casing.backward(batch.casing, lengths, ws.d_casing_vectors);
    }
    return loss;
  }
};

}  // namespace lstmner
