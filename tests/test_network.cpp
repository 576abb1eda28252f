// The whole stack (embedding → BiLSTM → softmax-dense) and its training loop: a gradient check
// through every layer, learning a task that needs both directions, and reproducibility.

#include <lstmner/gradcheck.hpp>
#include <lstmner/network.hpp>
#include <lstmner/trainer.hpp>

#include <catch2/catch.hpp>

#include <vector>

// Cut stages for every thread count these tests ask for, beyond this machine's cores (they then
// run on the cores there are): results must not depend on the cut.
static const bool more_threads_than_cores =
    (lstmner::ExecutionContext::allow_more_threads_than_cores(true), true);

using namespace lstmner;

namespace {

/// `shape` with the encoder's dropout rate set to `rate`.
NetworkShape with_dropout(NetworkShape shape, double rate) {
  shape.dropout = rate;
  return shape;
}

/// Sentences of random filler words with exactly one marker word somewhere; every token's tag is
/// the marker's kind (1 or 2). Tokens before the marker can only be tagged from the right
/// context, tokens after it only from the left: a one-directional LSTM cannot reach 95%.
std::vector<EncodedSentence> marker_task(std::size_t count, Rng& rng) {
  constexpr std::int32_t marker_a = 2, marker_b = 3, first_filler = 4, fillers = 12;
  std::vector<EncodedSentence> data;
  for (std::size_t i = 0; i < count; ++i) {
    EncodedSentence s;
    const auto length = static_cast<std::size_t>(2 + rng.below(9));
    const auto marker_at = static_cast<std::size_t>(rng.below(length));
    const bool kind_a = rng.uniform() < 0.5;
    for (std::size_t t = 0; t < length; ++t) {
      const std::int32_t word = t == marker_at
                                    ? (kind_a ? marker_a : marker_b)
                                    : first_filler + static_cast<std::int32_t>(rng.below(fillers));
      s.words.push_back(word);
      s.casing.push_back(static_cast<std::int32_t>(rng.below(3)));
      s.tags.push_back(kind_a ? 1 : 2);
    }
    data.push_back(std::move(s));
  }
  return data;
}

/// Gives every token of `data` characters: a spelling of 1..3 character ids (2..6) derived from
/// its word id, so equal words are spelled alike and the char encoder sees repeated spellings.
void add_characters(std::vector<EncodedSentence>& data) {
  for (auto& s : data) {
    s.chars.clear();
    s.char_offsets.assign(1, 0);
    for (std::int32_t word : s.words) {
      const int n = 1 + word % 3;
      for (int i = 0; i < n; ++i) s.chars.push_back(2 + (word * 7 + i * 3) % 5);
      s.char_offsets.push_back(static_cast<std::int32_t>(s.chars.size()));
    }
  }
}

NetworkShape small_shape() {
  NetworkShape shape;
  shape.vocabulary_size = 16;
  shape.casing_classes = 3;
  shape.num_tags = 3;
  shape.embedding_dim = 8;
  shape.casing_dim = 3;
  shape.hidden_dim = 12;
  return shape;
}

template <class Scalar>
double token_accuracy(const TaggerNetwork<Scalar>& net, const std::vector<EncodedSentence>& data) {
  Batch batch;
  typename TaggerNetwork<Scalar>::Workspace ws;
  std::size_t correct = 0, total = 0;
  for (const auto& indices : bucket_by_length(data, 64)) {
    fill_batch(data, indices, batch);
    net.forward(batch, ws, ExecutionContext::serial(), nullptr);
    for (Index b = 0; b < batch.batch_size(); ++b) {
      for (Index t = 0; t < batch.lengths[b]; ++t) {
        Index best = 0;
        ws.scores.step(t).col(b).maxCoeff(&best);
        correct += best == batch.tags(b, t);
        ++total;
      }
    }
  }
  return static_cast<double>(correct) / static_cast<double>(total);
}

TaggerConfig task_config() {
  TaggerConfig config;
  config.dropout = 0.0;
  config.singleton_unk = 0.0;
  config.learning_rate = 0.01;
  config.batch_size = 16;
  config.epochs = 8;
  config.patience = 0;
  config.seed = 11;
  config.threads = 1;
  return config;
}

}  // namespace

namespace {

/// One composition of the network for the whole-network gradient check.
struct Composition {
  const char* name;
  int lstm_layers;
  OutputKind output;
  CharEncoderKind chars;
  double dropout;
  int doc_context_dim = 0;
};

/// Checks every parameter's gradient of `shape`'s network against finite differences (double),
/// with dropout on: each loss evaluation reseeds the generator, so the masks stay fixed.
void check_network_gradients(const NetworkShape& shape, std::uint64_t seed) {
  Rng rng(seed);
  TaggerNetwork<double> net(shape, rng);
  // A padded batch of mixed lengths, including a sequence of length 1.
  std::vector<EncodedSentence> data = marker_task(3, rng);
  data[1].words.resize(1);
  data[1].casing.resize(1);
  data[1].tags = {0};
  data[2].tags.back() = 0;
  if (shape.char_encoder != CharEncoderKind::none) add_characters(data);
  if (shape.doc_context_dim > 0) {  // every class but padding, repeated within the batch
    for (auto& s : data) {
      s.doc_context.clear();
      for (std::size_t t = 0; t < s.size(); ++t)
        s.doc_context.push_back(1 + static_cast<std::int32_t>(rng.below(4)));
    }
  }
  Batch batch;
  fill_batch(data, {0, 1, 2}, batch);
  REQUIRE(batch.lengths[1] == 1);
  const double scale = 1.0 / static_cast<double>(batch.lengths.num_tokens());
  const bool dropout = shape.dropout > 0.0;

  // Every part of the composition is there (and so gets checked below).
  CHECK((net.block("chars") != nullptr) == (shape.char_encoder != CharEncoderKind::none));
  if (net.block("chars") != nullptr) {  // the table and a BiLSTM's 2 x (W, U, b), or W and b
    const std::size_t encoder_params = shape.char_encoder == CharEncoderKind::bilstm ? 7 : 3;
    CHECK(net.block("chars")->params().size() == encoder_params);
  }
  CHECK((net.block("doc_context") != nullptr) == (shape.doc_context_dim > 0));
  CHECK(net.encoder.layers.size() == static_cast<std::size_t>(shape.lstm_layers));
  CHECK(net.head->name() == to_string(shape.output));

  typename TaggerNetwork<double>::Workspace ws;
  auto params = net.params();
  zero_grad(params);
  Rng masks(seed + 1);
  net.forward(batch, ws, ExecutionContext::serial(), dropout ? &masks : nullptr);
  net.loss_backward(batch, scale, ws, ExecutionContext::serial());

  auto loss = [&] {
    typename TaggerNetwork<double>::Workspace fresh;
    Rng same_masks(seed + 1);
    net.forward(batch, fresh, ExecutionContext::serial(), dropout ? &same_masks : nullptr);
    auto state = net.head->make_state();
    return net.head->loss(fresh.scores, batch.tags, batch.lengths, scale, *state);
  };
  for (auto* p : params) {
    const Matrix<double> analytic = p->grad;
    GradCheckOptions options;
    options.max_entries = 40;
    const auto result = check_gradient(p->name, p->value, analytic, loss, options);
    INFO(p->name << ": worst entry " << result.worst_index << " analytic "
                 << result.analytic_at_worst << " numeric " << result.numeric_at_worst);
    CHECK(result.checked > 0);
    CHECK(result.max_relative_error <= 1e-6);  // false for NaN too
  }
}

}  // namespace

TEST_CASE("whole-network gradients match finite differences, dropout on, every composition") {
  const std::vector<Composition> compositions{
      {"1 layer, softmax, no dropout", 1, OutputKind::softmax, CharEncoderKind::none, 0.0},
      {"1 layer, softmax, dropout", 1, OutputKind::softmax, CharEncoderKind::none, 0.3},
      {"2 layers, softmax, char CNN, dropout", 2, OutputKind::softmax, CharEncoderKind::cnn, 0.3},
      {"1 layer, CRF, no dropout", 1, OutputKind::crf, CharEncoderKind::none, 0.0},
      {"2 layers, CRF, char CNN, dropout", 2, OutputKind::crf, CharEncoderKind::cnn, 0.3},
      {"1 layer, softmax, char BiLSTM, no dropout", 1, OutputKind::softmax, CharEncoderKind::bilstm,
       0.0},
      {"2 layers, softmax, char BiLSTM, dropout", 2, OutputKind::softmax, CharEncoderKind::bilstm,
       0.3},
      {"2 layers, CRF, char BiLSTM, dropout", 2, OutputKind::crf, CharEncoderKind::bilstm, 0.3},
      {"1 layer, softmax, document context, no dropout", 1, OutputKind::softmax,
       CharEncoderKind::none, 0.0, 3},
      {"2 layers, CRF, char CNN, document context, dropout", 2, OutputKind::crf,
       CharEncoderKind::cnn, 0.3, 4},
  };
  for (const Composition& c : compositions) {
    INFO(c.name);
    NetworkShape shape = small_shape();
    shape.lstm_layers = c.lstm_layers;
    shape.output = c.output;
    shape.dropout = c.dropout;
    shape.char_encoder = c.chars;
    shape.char_vocabulary_size = 7;
    shape.char_embedding_dim = 4;
    shape.char_hidden_dim = 5;
    shape.doc_context_dim = c.doc_context_dim;
    check_network_gradients(shape, 3);
  }
}

TEST_CASE("the stack learns a task that needs context from both directions") {
  Rng data_rng(5);
  const auto train = marker_task(600, data_rng);
  const auto test = marker_task(200, data_rng);
  Rng init(task_config().seed);
  TaggerNetwork<float> net(with_dropout(small_shape(), 0.0), init);
  const double before = token_accuracy(net, test);
  Trainer<float> trainer(net, task_config(), 1, ExecutionContext::serial());
  const auto history = trainer.fit(train, nullptr);
  const double after = token_accuracy(net, test);
  INFO("token accuracy before " << before << ", after " << after);
  REQUIRE(history.epochs.size() == 8);
  CHECK(history.epochs.back().train_loss < 0.5 * history.epochs.front().train_loss);
  CHECK(after >= 0.95);
}

TEST_CASE("the same seed gives bit-identical weights, with one thread or three") {
  Rng data_rng(9);
  const auto train = marker_task(120, data_rng);
  auto train_once = [&](std::uint64_t seed, int threads) {
    TaggerConfig config = task_config();
    config.seed = seed;
    config.threads = threads;
    config.epochs = 2;
    config.dropout = 0.3;
    config.singleton_unk = 0.2;
    Rng init(seed);
    TaggerNetwork<float> net(with_dropout(small_shape(), config.dropout), init);
    ExecutionContext context(threads);
    Trainer<float> trainer(net, config, 1, context);
    // Every sentence counts as a singleton so <unk> replacement draws from the generator too.
    auto data = train;
    for (auto& s : data) s.singleton.assign(s.size(), 1);
    trainer.fit(data, nullptr);
    std::vector<Matrix<float>> weights;
    for (auto* p : net.params()) weights.push_back(p->value);
    return weights;
  };
  const auto a = train_once(21, 1);
  const auto b = train_once(21, 1);
  const auto c = train_once(22, 1);
  const auto d = train_once(21, 3);
  const auto e = train_once(21, 3);
  REQUIRE(a.size() == b.size());
  bool all_equal = true, threads_agree = true, any_differs_with_seed = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    all_equal = all_equal && a[i] == b[i] && d[i] == e[i];
    // No stage's arithmetic depends on how its work is cut (tests/test_determinism.cpp tries
    // more thread counts on a real corpus).
    threads_agree = threads_agree && a[i] == d[i];
    any_differs_with_seed = any_differs_with_seed || a[i] != c[i];
  }
  CHECK(all_equal);
  CHECK(threads_agree);
  CHECK(any_differs_with_seed);
}

TEST_CASE("training stops with a clear error instead of writing NaN weights") {
  Rng data_rng(1);
  auto train = marker_task(40, data_rng);
  Rng init(1);
  TaggerNetwork<float> net(with_dropout(small_shape(), 0.0), init);
  net.head->params().front()->value(0, 0) = std::numeric_limits<float>::quiet_NaN();
  const Matrix<float> lstm_weights_before = net.encoder.layers[0].forward_layer.W.value;
  Trainer<float> trainer(net, task_config(), 1, ExecutionContext::serial());
  REQUIRE_THROWS_WITH(trainer.fit(train, nullptr),
                      Catch::Contains("non-finite") && Catch::Contains("epoch 1, batch 1"));
  CHECK(net.encoder.layers[0].forward_layer.W.value == lstm_weights_before);
}

TEST_CASE("early stopping waits for a first nonzero dev F1, then keeps the best epoch's weights") {
  Rng data_rng(2);
  const auto train = marker_task(60, data_rng);
  Rng init(4);
  TaggerNetwork<float> net(with_dropout(small_shape(), 0.0), init);
  TaggerConfig config = task_config();
  config.epochs = 20;
  config.patience = 2;
  Trainer<float> trainer(net, config, 1, ExecutionContext::serial());
  // Scripted dev scores: three cold-start epochs at 0, a best at epoch 5, then no progress.
  const std::vector<double> dev_f1{0, 0, 0, 50, 60, 55, 60, 58, 70};
  std::size_t calls = 0;
  std::vector<std::vector<Matrix<float>>> weights_after_epoch;
  TrainingCallbacks callbacks;
  callbacks.on_epoch = [&](const EpochSummary&) {
    std::vector<Matrix<float>> w;
    for (auto* p : net.params()) w.push_back(p->value);
    weights_after_epoch.push_back(std::move(w));
  };
  const auto history = trainer.fit(
      train,
      [&] {
        return DevScores{0, 0, dev_f1.at(calls++)};
      },
      callbacks);
  CHECK(history.epochs.size() == 7);  // epochs 6 and 7 bring nothing better than 60
  CHECK(history.stopped_early);
  CHECK(history.best_epoch == 5);
  CHECK(history.best_dev_f1 == 60);
  CHECK(history.epochs[4].best);
  CHECK_FALSE(history.epochs[6].best);  // equal is not better
  auto params = net.params();
  for (std::size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i]->value == weights_after_epoch[4][i]);
    CHECK(params[i]->value != weights_after_epoch[6][i]);
  }
}
