// No heap allocation inside a training step or a prediction forward once the buffers are sized.
//
// Every allocation of this executable is counted by tests/counting_allocator.cpp, Eigen's own
// std::malloc calls included.

#include <lstmner/network.hpp>
#include <lstmner/trainer.hpp>

#include "counting_allocator.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using lstmner_test::allocations_since;
using lstmner_test::start_measuring;
using namespace lstmner;

namespace {

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
    data.push_back(std::move(s));
  }
  return data;
}

/// The tagger's default shape, scaled down in vocabulary only.
NetworkShape default_shape() {
  NetworkShape shape;
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

// KNOWN OPEN (tagged [!mayfail] until fixed): the LSTM kernels (include/lstmner/kernels/, owned
// by the kernel rewrite) and SoftmaxDense's weight-gradient GEMM still reach Eigen's GEMM, whose
// packing buffers come from std::malloc once they exceed EIGEN_STACK_ALLOCATION_LIMIT (128 KB).
// Run with LSTMNER_TRACE_ALLOCATIONS=1 to see every remaining call stack. Drop the tag once the
// count is 0.
TEST_CASE("a training step allocates nothing once its buffers are sized", "[!mayfail]") {
  for (int threads : {1, 2}) {
    for (auto optimizer : {OptimizerKind::Adam, OptimizerKind::Sgd}) {
      CAPTURE(threads, to_string(optimizer));
      Rng rng(7);
      const NetworkShape shape = default_shape();
      TaggerNetwork<float> network(shape, 0.5, threads, rng);
      TaggerConfig config;
      config.threads = threads;
      config.optimizer = optimizer;
      config.word_dropout = 0.05;
      Trainer<float> trainer(network, config, 1);
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
      CHECK(allocations == 0);
      CHECK(std::isfinite(loss));
    }
  }
}

TEST_CASE("a prediction forward allocates nothing once its buffers are sized", "[!mayfail]") {
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    Rng rng(11);
    const NetworkShape shape = default_shape();
    const TaggerNetwork<float> network(shape, 0.5, threads, rng);
    const auto data = random_sentences({12, 30, 7, 19, 25, 4, 16, 9}, shape, rng);
    const std::vector<std::size_t> all{0, 1, 2, 3, 4, 5, 6, 7}, one{2};
    Batch batch;
    TaggerNetwork<float>::Workspace ws;
    for (int warmup = 0; warmup < 2; ++warmup) {
      fill_batch(data, all, batch);
      network.forward(batch, ws, nullptr);
      fill_batch(data, one, batch);
      network.forward(batch, ws, nullptr);
    }
    const long start = start_measuring();
    for (int step = 0; step < 5; ++step) {
      fill_batch(data, all, batch);
      network.forward(batch, ws, nullptr);
      fill_batch(data, one, batch);
      network.forward(batch, ws, nullptr);
    }
    const long allocations = allocations_since(start);
    CHECK(allocations == 0);
    CHECK(std::isfinite(ws.scores.matrix().sum()));
  }
}
