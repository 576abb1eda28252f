// No heap allocation inside a training step or a prediction forward once the buffers are sized.
//
// Every allocation of this executable is counted by tests/counting_allocator.cpp, Eigen's own
// std::malloc calls included.

#include <lstmner/bidirectional.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/network.hpp>
#include <lstmner/trainer.hpp>

#include "counting_allocator.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

// Cut stages for every thread count these tests ask for, beyond this machine's cores (they then
// run on the cores there are): results must not depend on the cut.
static const bool more_threads_than_cores =
    (lstmner::ExecutionContext::allow_more_threads_than_cores(true), true);

using lstmner_test::allocations_since;
using lstmner_test::start_measuring;
using namespace lstmner;

namespace {

/// `shape` with the encoder's dropout rate set to `rate`.
NetworkShape with_dropout(NetworkShape shape, double rate) {
  shape.dropout = rate;
  return shape;
}

/// `count` sentences of the given lengths with words, casing classes and tags drawn from `rng`.
std::vector<EncodedSentence> random_sentences(const std::vector<std::size_t>& lengths,
                                              const NetworkShape& shape, Rng& rng) {
  std::vector<EncodedSentence> data;
  for (std::size_t length : lengths) {
    EncodedSentence s;
    for (std::size_t t = 0; t < length; ++t) {
      s.words.push_back(
          static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(shape.vocabulary_size))));
      s.casing.push_back(
          static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(shape.casing_classes))));
      s.tags.push_back(
          static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(shape.num_tags))));
      s.singleton.push_back(static_cast<std::uint8_t>(t % 3 == 0));
    }
    for (std::size_t t = 0; t < length && shape.doc_context_dim > 0; ++t)
      s.doc_context.push_back(static_cast<std::int32_t>(
          rng.below(static_cast<std::uint64_t>(num_doc_context_classes))));
    if (shape.char_encoder != CharEncoderKind::none) {
      // A spelling of 1..12 characters per word id: repeated words are spelled alike.
      s.char_offsets.assign(1, 0);
      for (std::int32_t word : s.words) {
        for (std::int32_t i = 0; i < 1 + word % 12; ++i)
          s.chars.push_back(static_cast<std::int32_t>(
              1 +
              (word * 13 + i * 5) % (static_cast<std::int32_t>(shape.char_vocabulary_size) - 1)));
        s.char_offsets.push_back(static_cast<std::int32_t>(s.chars.size()));
      }
    }
    data.push_back(std::move(s));
  }
  return data;
}

/// The tagger's default shape, scaled down in vocabulary only; with `chars`, a character
/// encoder of the default size over 80 characters; with the char CNN also a document-context
/// block of 8 rows (the composition measured in docs/accuracy.md).
NetworkShape default_shape(CharEncoderKind chars = CharEncoderKind::none) {
  NetworkShape shape;
  shape.doc_context_dim = chars == CharEncoderKind::cnn ? 8 : 0;
  shape.char_encoder = chars;
  shape.char_vocabulary_size = 80;
  shape.vocabulary_size = 500;
  shape.casing_classes = 6;
  shape.num_tags = 17;
  shape.embedding_dim = 100;
  shape.casing_dim = 16;
  shape.hidden_dim = 100;
  return shape;
}

}  // namespace

TEST_CASE("the counting allocator sees allocations") {
  const long start = start_measuring();
  auto* v = new std::vector<int>(100);
  Matrix<float> m(37, 41);  // Eigen's own allocation path
  m.setZero();
  const long allocations = allocations_since(start);
  delete v;
  CHECK(allocations >= 2);
}

namespace {

template <class Scalar>
Tensor3<Scalar> random_tensor(Index d0, Index d1, Index d2, Rng& rng) {
  Tensor3<Scalar> t(typename Tensor3<Scalar>::Shape{d0, d1, d2});
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<Scalar>(rng.uniform(-1.0, 1.0));
  return t;
}

/// Forward and backward passes of `layer` (an LSTM or a BiLSTM) over the tagger's sizes: a
/// batch of 32 mixed lengths, then a smaller, shorter one and a single sentence, after warm-up
/// passes over the same batches. Returns the allocations of the measured passes.
template <class Layer>
long allocations_of_sized_passes(Layer& layer, Index input_size, Index output_size, Rng& rng,
                                 ExecutionContext& context) {
  std::vector<Index> big_lengths;
  for (Index i = 0; i < 32; ++i) big_lengths.push_back(3 + (i * 7) % 30);
  const std::vector<SequenceLengths> batches{SequenceLengths(big_lengths),
                                             SequenceLengths({5, 13, 8, 2}), SequenceLengths({9})};
  std::vector<Tensor3<float>> xs, dys;
  for (const auto& lengths : batches) {
    xs.push_back(random_tensor<float>(input_size, lengths.batch_size(), lengths.max_length(), rng));
    dys.push_back(
        random_tensor<float>(output_size, lengths.batch_size(), lengths.max_length(), rng));
  }
  typename Layer::Workspace ws;
  Tensor3<float> y, dx;
  const auto passes = [&] {
    for (std::size_t i = 0; i < batches.size(); ++i) {
      layer.forward(xs[i], batches[i], y, ws, context);
      layer.backward(xs[i], batches[i], dys[i], dx, ws, context);
    }
  };
  passes();
  passes();
  const long start = start_measuring();
  for (int repeat = 0; repeat < 3; ++repeat) passes();
  return allocations_since(start);
}

}  // namespace

// The LSTM layers at the tagger's sizes (In = 116, H = 100, batch 32): large enough that Eigen's
// GEMM would take heap blocks for its packing buffers; the fast kernels use their own
// (kernels/gemm.hpp, buffers in the workspace).
TEST_CASE("LSTM and BiLSTM passes allocate nothing once their workspace is sized") {
  Rng rng(13);
  const Index In = 116, H = 100;
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    ExecutionContext context(threads);
    LSTM<float> lstm(In, H, rng);
    CHECK(allocations_of_sized_passes(lstm, In, H, rng, context) == 0);
    BiLSTM<float> bilstm = make_bilstm<float>(In, H, rng);
    CHECK(allocations_of_sized_passes(bilstm, In, 2 * H, rng, context) == 0);
  }
}

// The whole training step: every large product (the LSTM's and the dense layer's) goes through
// kernels/gemm.hpp with packing buffers kept in the workspaces, and every stage reuses its
// tensors. Run with LSTMNER_TRACE_ALLOCATIONS=1 to see the call stack of any allocation.
TEST_CASE("a training step allocates nothing once its buffers are sized") {
  for (auto chars : {CharEncoderKind::none, CharEncoderKind::bilstm, CharEncoderKind::cnn}) {
    for (int threads : {1, 2, 4}) {
      for (auto optimizer : {OptimizerKind::Adam, OptimizerKind::Sgd}) {
        if (chars != CharEncoderKind::none && optimizer != OptimizerKind::Adam) continue;
        CAPTURE(to_string(chars), threads, to_string(optimizer));
        Rng rng(7);
        const NetworkShape shape = default_shape(chars);
        TaggerNetwork<float> network(with_dropout(shape, 0.5), rng);
        REQUIRE((network.block("chars") != nullptr) == (chars != CharEncoderKind::none));
        REQUIRE((network.block("doc_context") != nullptr) == (chars == CharEncoderKind::cnn));
        TaggerConfig config;
        config.threads = threads;
        config.optimizer = optimizer;
        config.word_dropout = 0.05;
        ExecutionContext context(threads);
        Trainer<float> trainer(network, config, 1, context);
        // 32 sentences of mixed lengths: the largest batch; then a smaller, shorter one.
        std::vector<std::size_t> lengths;
        for (std::size_t i = 0; i < 32; ++i) lengths.push_back(3 + (i * 7) % 30);
        const auto data = random_sentences(lengths, shape, rng);
        std::vector<std::size_t> big(32), small{3, 5, 8, 13};
        for (std::size_t i = 0; i < big.size(); ++i) big[i] = i;
        const ParamList<float> params = network.params();
        double loss = 0.0;
        for (int warmup = 0; warmup < 3; ++warmup) {
          REQUIRE(trainer.train_step(data, big, params, &loss) > 0);
          REQUIRE(trainer.train_step(data, small, params, &loss) > 0);
        }
        const long start = start_measuring();
        for (int step = 0; step < 5; ++step) {
          trainer.train_step(data, big, params, &loss);
          trainer.train_step(data, small, params, &loss);
        }
        const long allocations = allocations_since(start);
        INFO("training steps (" << threads << " thread(s), " << to_string(optimizer)
                                << "): " << allocations << " heap allocations in 10 steps");
        CHECK(allocations == 0);
        CHECK(std::isfinite(loss));
      }
    }
  }
}

TEST_CASE("a prediction forward allocates nothing once its buffers are sized") {
  for (auto chars : {CharEncoderKind::none, CharEncoderKind::bilstm, CharEncoderKind::cnn}) {
    for (int threads : {1, 2, 4}) {
      CAPTURE(to_string(chars), threads);
      Rng rng(11);
      const NetworkShape shape = default_shape(chars);
      const TaggerNetwork<float> network(with_dropout(shape, 0.5), rng);
      ExecutionContext context(threads);
      const auto data = random_sentences({12, 30, 7, 19, 25, 4, 16, 9}, shape, rng);
      const std::vector<std::size_t> all{0, 1, 2, 3, 4, 5, 6, 7}, one{2};
      Batch batch;
      TaggerNetwork<float>::Workspace ws;
      for (int warmup = 0; warmup < 2; ++warmup) {
        fill_batch(data, all, batch);
        network.forward(batch, ws, context, nullptr);
        fill_batch(data, one, batch);
        network.forward(batch, ws, context, nullptr);
      }
      const long start = start_measuring();
      for (int step = 0; step < 5; ++step) {
        fill_batch(data, all, batch);
        network.forward(batch, ws, context, nullptr);
        fill_batch(data, one, batch);
        network.forward(batch, ws, context, nullptr);
      }
      const long allocations = allocations_since(start);
      INFO("prediction forwards (" << threads << " thread(s)): " << allocations
                                   << " heap allocations in 10 forwards");
      CHECK(allocations == 0);
      CHECK(std::isfinite(ws.scores.matrix().sum()));
    }
  }
}
