#pragma once
/// \file network.hpp
/// The tagger's network, composed of three parts:
///
///   input blocks  → stacked per-token features (D,B,T)   input_block.hpp, blocks/
///   encoder       → 1..n BiLSTM layers with dropout       encoder.hpp
///   output head   → tag scores, loss, decoding            output_head.hpp, heads/
///
///   forward(batch, ws, context, rng):  ids of a Batch → ws.scores (K,B,T). With `rng`
///       (training) dropout is applied (masks drawn from seeds taken from rng); without it
///       (inference) the pass is deterministic and const, so threads may share one network,
///       each with its own Workspace.
///   loss_backward(batch, scale, ws, context):  after a forward on the same batch: returns the
///       head's loss times `scale` (the Trainer passes 1/tokens: the mean per token) and
///       accumulates every gradient.
///
/// The blocks' rows are stacked by a loop over the blocks (block k's rows follow block k−1's);
/// what the network is made of is decided in one place, make_network, from a NetworkShape.
///
/// A network to train is made with an Rng (weights drawn, gradient buffers allocated); one to
/// read a model file's weights into with `shapes_only` (zero weights, nothing drawn, no gradient
/// buffers: a loaded model predicts; allocate_gradients() before training it).
/// parameter_shapes(shape) lists every parameter's name and shape without making anything, so a
/// model file can be checked against it before anything of its declared sizes is allocated
/// (detail/model_file.hpp); tests/test_model_file.cpp checks that it lists exactly params().
///
/// Threads: every stage of every part runs on the ExecutionContext it is given, with results
/// that do not depend on the thread count (docs/architecture.md, "Threads").

#include <lstmner/batch.hpp>
#include <lstmner/blocks/char_block.hpp>
#include <lstmner/blocks/doc_context.hpp>
#include <lstmner/blocks/embedding_block.hpp>
#include <lstmner/char_bilstm.hpp>
#include <lstmner/char_cnn.hpp>
#include <lstmner/encoder.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/heads/crf_head.hpp>
#include <lstmner/heads/softmax_head.hpp>
#include <lstmner/input_block.hpp>
#include <lstmner/output_head.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/tagger_config.hpp>
#include <lstmner/tensor.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lstmner {

/// Everything that fixes a network's composition and parameter shapes.
struct NetworkShape {
  Index vocabulary_size = 0;  ///< word embedding table columns
  Index casing_classes = 0;   ///< casing embedding table columns
  Index num_tags = 0;         ///< K
  Index embedding_dim = 100;  ///< word embedding rows; 0 = no word block
  Index casing_dim = 0;       ///< casing embedding rows; 0 = no casing block
  Index doc_context_dim = 0;  ///< document-context embedding rows; 0 = no such block
  Index hidden_dim = 100;     ///< BiLSTM units per direction
  int lstm_layers = 1;        ///< stacked BiLSTM layers
  CharEncoderKind char_encoder = CharEncoderKind::none;
  Index char_vocabulary_size = 0;  ///< character ids (CharVocabulary::size())
  Index char_embedding_dim = 25;
  Index char_hidden_dim = 25;        ///< per direction (BiLSTM) or filters (CNN)
  Index vector_vocabulary_size = 0;  ///< pretrained-vector table columns; 0 = no vectors block
  Index vector_dim = 0;
  bool freeze_vectors = false;
  double dropout = 0.0;  ///< the encoder's dropout rate
  OutputKind output = OutputKind::softmax;
};

/// The name and shape of a parameter.
struct ParamShape {
  std::string name;
  Index rows = 0, cols = 0;

  bool operator==(const ParamShape& o) const {
    return name == o.name && rows == o.rows && cols == o.cols;
  }
};

/// Every parameter a TaggerNetwork of `shape` has, in slot order (the blocks', the encoder's,
/// the head's), without making one. A new block or head adds its lines here too (the test above
/// fails until it does).
inline std::vector<ParamShape> parameter_shapes(const NetworkShape& shape) {
  std::vector<ParamShape> list;
  Index input_rows = 0;
  if (shape.embedding_dim > 0) {
    list.push_back({"words.table", shape.embedding_dim, shape.vocabulary_size});
    input_rows += shape.embedding_dim;
  }
  if (shape.casing_dim > 0) {
    list.push_back({"casing.table", shape.casing_dim, shape.casing_classes});
    input_rows += shape.casing_dim;
  }
  if (shape.doc_context_dim > 0) {
    list.push_back({"doc_context.table", shape.doc_context_dim, num_doc_context_classes});
    input_rows += shape.doc_context_dim;
  }
  if (shape.vector_vocabulary_size > 0) {
    list.push_back({"vectors.table", shape.vector_dim, shape.vector_vocabulary_size});
    input_rows += shape.vector_dim;
  }
  if (shape.char_encoder == CharEncoderKind::bilstm) {
    const Index C = shape.char_embedding_dim, Hc = shape.char_hidden_dim;
    list.push_back({"chars.table", C, shape.char_vocabulary_size});
    for (const char* direction : {"chars.forward.", "chars.backward."}) {
      list.push_back({std::string(direction) + "W", 4 * Hc, C});
      list.push_back({std::string(direction) + "U", 4 * Hc, Hc});
      list.push_back({std::string(direction) + "b", 4 * Hc, 1});
    }
    input_rows += 2 * Hc;
  }
  if (shape.char_encoder == CharEncoderKind::cnn) {
    const Index C = shape.char_embedding_dim, F = shape.char_hidden_dim;
    list.push_back({"chars.table", C, shape.char_vocabulary_size});
    list.push_back({"chars.W", F, CharCNN<float>::width * C});
    list.push_back({"chars.b", F, 1});
    input_rows += F;
  }
  const Index H = shape.hidden_dim;
  for (int k = 0; k < shape.lstm_layers; ++k) {
    const std::string prefix = k == 0 ? "lstm." : "lstm" + std::to_string(k + 1) + ".";
    const Index in = k == 0 ? input_rows : 2 * H;
    for (const char* direction : {"forward.", "backward."}) {
      list.push_back({prefix + direction + "W", 4 * H, in});
      list.push_back({prefix + direction + "U", 4 * H, H});
      list.push_back({prefix + direction + "b", 4 * H, 1});
    }
  }
  const Index K = shape.num_tags;
  list.push_back({"output.W", K, 2 * H});
  list.push_back({"output.b", K, 1});
  if (shape.output == OutputKind::crf) {
    list.push_back({"crf.transitions", K, K});
    list.push_back({"crf.start", K, 1});
    list.push_back({"crf.end", K, 1});
  }
  return list;
}

template <class Scalar>
class TaggerNetwork {
 public:
  struct Workspace {
    std::vector<std::unique_ptr<typename InputBlock<Scalar>::State>> blocks;
    Tensor3<Scalar> inputs;  ///< (D,B,T) the stacked features
    typename Encoder<Scalar>::Workspace encoder;
    std::unique_ptr<typename OutputHead<Scalar>::State> head;
    Tensor3<Scalar> scores;  ///< (K,B,T)
    Tensor3<Scalar> d_encoder_output, d_inputs;

    Workspace() = default;
    /// A copy starts empty (its states are made on its first pass).
    Workspace(const Workspace&) {}
    Workspace& operator=(const Workspace&) { return *this; }
    Workspace(Workspace&&) noexcept = default;
    Workspace& operator=(Workspace&&) noexcept = default;
  };

  NetworkShape shape;
  std::vector<std::unique_ptr<InputBlock<Scalar>>> blocks;
  Encoder<Scalar> encoder;
  std::unique_ptr<OutputHead<Scalar>> head;

  TaggerNetwork() = default;
  /// The network of `shape`, its parameters drawn from `rng`: the blocks in order, then the
  /// encoder, then the head.
  TaggerNetwork(const NetworkShape& network_shape, Rng& rng) : shape(network_shape) { make(rng); }
  /// The network of `shape` with zero parameters, nothing drawn and no gradient buffers: what a
  /// model file's weights are read into.
  TaggerNetwork(const NetworkShape& network_shape, ShapesOnly) : shape(network_shape) {
    make(shapes_only);
    gradients_ = false;
  }

  TaggerNetwork(const TaggerNetwork& other)
      : shape(other.shape),
        encoder(other.encoder),
        head(other.head ? other.head->clone() : nullptr),
        gradients_(other.gradients_) {
    for (const auto& block : other.blocks) blocks.push_back(block->clone());
  }
  TaggerNetwork& operator=(const TaggerNetwork& other) {
    if (this != &other) *this = TaggerNetwork(other);
    return *this;
  }
  TaggerNetwork(TaggerNetwork&&) noexcept = default;
  TaggerNetwork& operator=(TaggerNetwork&&) noexcept = default;

  /// The block named `name` ("words", "casing", ...), or nullptr.
  InputBlock<Scalar>* block(const std::string& name) const {
    for (const auto& b : blocks)
      if (b->name() == name) return b.get();
    return nullptr;
  }

  /// Every parameter in slot order (the order of the model file): the blocks', the encoder's,
  /// the head's.
  ParamList<Scalar> params() {
    ParamList<Scalar> list;
    for (auto& b : blocks) append_params(list, b->params());
    append_params(list, encoder.params());
    append_params(list, head->params());
    return list;
  }

  /// Every parameter in slot order, read-only (for saving, counting, inspecting).
  std::vector<const Param<Scalar>*> params() const {
    // The non-const params() only takes addresses; it changes nothing.
    const ParamList<Scalar> list = const_cast<TaggerNetwork*>(this)->params();
    return {list.begin(), list.end()};
  }

  Index num_tags() const { return head->num_tags(); }

  /// Gives every parameter its gradient buffer (a Trainer does this; a loaded network has none).
  void allocate_gradients() {
    for (auto* p : params()) p->allocate_grad();
    gradients_ = true;
  }
  /// Frees every gradient buffer: the network then only predicts.
  void release_gradients() {
    for (auto* p : params()) p->release_grad();
    gradients_ = false;
  }
  /// Whether the parameters have their gradient buffers (made with an Rng, or after
  /// allocate_gradients(); allocates nothing: it runs in every training step).
  bool has_gradients() const { return gradients_; }

  /// Runs the network; scores end up in ws.scores. `rng` non-null = training (dropout on).
  void forward(const Batch& batch, Workspace& ws, ExecutionContext& context, Rng* rng) const {
    const auto& lengths = batch.lengths;
    const Index B = lengths.batch_size(), T = lengths.max_length();
    make_states(ws);
    ws.inputs.resize(encoder.input_size(), B, T);
    MatrixMap<Scalar> inputs = ws.inputs.matrix();
    Index row = 0;
    for (std::size_t k = 0; k < blocks.size(); ++k) {
      const Index rows = blocks[k]->rows();
      blocks[k]->forward(batch, inputs.middleRows(row, rows), *ws.blocks[k], context);
      row += rows;
    }
    std::optional<std::uint64_t> seed;
    if (rng != nullptr) seed = rng->next();
    encoder.forward(ws.inputs, lengths, ws.encoder, context, seed);
    head->forward(encoder.output(ws.encoder), lengths, ws.scores, *ws.head, context);
  }

  /// Loss of the last forward against batch.tags, times `scale`, and every gradient (accumulated).
  double loss_backward(const Batch& batch, double scale, Workspace& ws, ExecutionContext& context) {
    const auto& lengths = batch.lengths;
    if (!has_gradients()) {
      require(false,
              "TaggerNetwork: loss_backward: no gradient buffers (a network made with "
              "shapes_only, e.g. a loaded model's, has none until allocate_gradients())");
    }
    const double loss = head->loss_backward(encoder.output(ws.encoder), ws.scores, batch.tags,
                                            lengths, scale, ws.d_encoder_output, *ws.head, context);
    encoder.backward(ws.inputs, lengths, ws.d_encoder_output, ws.d_inputs, ws.encoder, context);
    const ConstMatrixMap<Scalar> d_inputs = std::as_const(ws.d_inputs).matrix();
    Index row = 0;
    for (std::size_t k = 0; k < blocks.size(); ++k) {
      const Index rows = blocks[k]->rows();
      blocks[k]->backward(batch, d_inputs.middleRows(row, rows), *ws.blocks[k], context);
      row += rows;
    }
    return loss;
  }

 private:
  bool gradients_ = true;  ///< see has_gradients()

  /// Makes the parts of `shape` from `init`: an Rng (drawn in a fixed order: the blocks, the
  /// encoder, the head) or shapes_only.
  template <class Init>
  void make(Init& init) {
    add_input_blocks(init);
    Index input_rows = 0;
    for (const auto& block : blocks) input_rows += block->rows();
    require(input_rows >= 1, "TaggerNetwork: no input features (every block has 0 rows)");
    encoder = Encoder<Scalar>(input_rows, shape.hidden_dim, shape.lstm_layers, shape.dropout, init);
    add_output_head(init);
  }

  /// The input blocks of `shape`, one line each, in the order their rows are stacked.
  template <class Init>
  void add_input_blocks(Init& rng) {
    if (shape.embedding_dim > 0)
      blocks.push_back(std::make_unique<EmbeddingBlock<Scalar>>(
          "words", &Batch::words,
          Embedding<Scalar>(shape.vocabulary_size, shape.embedding_dim, rng)));
    if (shape.casing_dim > 0)
      blocks.push_back(std::make_unique<EmbeddingBlock<Scalar>>(
          "casing", &Batch::casing,
          Embedding<Scalar>(shape.casing_classes, shape.casing_dim, rng)));
    if (shape.doc_context_dim > 0)
      blocks.push_back(make_doc_context_block<Scalar>(shape.doc_context_dim, rng));
    if (shape.vector_vocabulary_size > 0) {
      auto vectors = std::make_unique<EmbeddingBlock<Scalar>>(
          "vectors", &Batch::vectors,
          Embedding<Scalar>(shape.vector_vocabulary_size, shape.vector_dim, rng));
      vectors->embedding.set_frozen(shape.freeze_vectors);
      blocks.push_back(std::move(vectors));
    }
    if (shape.char_encoder == CharEncoderKind::bilstm)
      blocks.push_back(std::make_unique<CharBlock<Scalar, CharBiLSTM<Scalar>>>(CharBiLSTM<Scalar>(
          shape.char_vocabulary_size, shape.char_embedding_dim, shape.char_hidden_dim, rng)));
    if (shape.char_encoder == CharEncoderKind::cnn)
      blocks.push_back(std::make_unique<CharBlock<Scalar, CharCNN<Scalar>>>(CharCNN<Scalar>(
          shape.char_vocabulary_size, shape.char_embedding_dim, shape.char_hidden_dim, rng)));
  }

  /// The output head of `shape`.
  template <class Init>
  void add_output_head(Init& rng) {
    const Index d = encoder.output_size();
    switch (shape.output) {
      case OutputKind::softmax:
        head = std::make_unique<SoftmaxHead<Scalar>>(d, shape.num_tags, rng);
        break;
      case OutputKind::crf:
        head = std::make_unique<CrfHead<Scalar>>(d, shape.num_tags, rng);
        break;
    }
  }

  /// Makes the states of the blocks and the head the first time `ws` is used.
  void make_states(Workspace& ws) const {
    if (ws.blocks.size() != blocks.size()) {
      ws.blocks.clear();
      for (const auto& b : blocks) ws.blocks.push_back(b->make_state());
    }
    if (!ws.head) ws.head = head->make_state();
  }
};

}  // namespace lstmner
