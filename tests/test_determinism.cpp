// The same seed gives the same model on any number of threads: a Tagger trained on the sample
// corpus with 1, 2, 3, 4 and 8 threads (more threads than this machine's cores included) ends
// with bit-identical weights, and tags identically. The batches are large enough (32 sentences,
// hidden size 100) that more threads cut every stage differently: the BiLSTM into groups of
// sentences, the products into ranges of rows and columns, the per-token stages into ranges of
// columns (execution_context.hpp says why none of that may change a bit).

#include <lstmner/tagger.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

// Cut stages for every thread count these tests ask for, beyond this machine's cores (they then
// run on the cores there are): results must not depend on the cut.
static const bool more_threads_than_cores =
    (lstmner::ExecutionContext::allow_more_threads_than_cores(true), true);

using namespace lstmner;

namespace {

std::filesystem::path sample_dir() {
  const char* env = std::getenv("LSTMNER_SAMPLE_DATA");
  return std::filesystem::path(env ? env : "examples/data/sample");
}

struct Run {
  std::vector<Matrix<float>> weights;
  std::vector<std::vector<std::string>> tags;
  double last_loss = 0.0;
};

/// `config` (by default the default model's shape and regularisation) trained for one epoch.
Run train_with(int threads, OptimizerKind optimizer, const ConllDocument& train,
               const ConllDocument& test, TaggerConfig config = TaggerConfig()) {
  config.epochs = 1;  // 13 steps of 32 sentences (and its predictions) show any difference
  config.patience = 0;
  config.seed = 17;
  config.word_dropout = 0.05;
  config.optimizer = optimizer;
  config.learning_rate = optimizer == OptimizerKind::Adam ? 1e-3 : 0.05;
  config.threads = threads;
  TrainingHistory history;
  const Tagger<float> tagger = Tagger<float>::train(train, nullptr, config, {}, &history);
  REQUIRE(tagger.threads() == threads);
  Run run;
  for (const auto* p : tagger.network().params()) run.weights.push_back(p->value);
  std::vector<std::vector<std::string>> words;
  for (const auto& s : test.sentences) words.push_back(s.words);
  run.tags = tagger.predict(words, Tagger<float>::document_starts(test));
  run.last_loss = history.epochs.back().train_loss;
  return run;
}

}  // namespace

TEST_CASE("the same seed gives bit-identical weights and tags on 1, 2, 3, 4 and 8 threads") {
  const ConllDocument train = read_conll((sample_dir() / "train.txt").string());
  const ConllDocument test = read_conll((sample_dir() / "test.txt").string());
  for (auto optimizer : {OptimizerKind::Adam, OptimizerKind::Sgd}) {
    CAPTURE(to_string(optimizer));
    const Run one = train_with(1, optimizer, train, test);
    REQUIRE(one.weights.size() == 10);  // words, casing, 2 x (W, U, b), output W and b
    for (int threads : {2, 3, 4, 8}) {
      CAPTURE(threads);
      const Run many = train_with(threads, optimizer, train, test);
      REQUIRE(many.weights.size() == one.weights.size());
      for (std::size_t i = 0; i < one.weights.size(); ++i) {
        CAPTURE(i);
        // Every bit: == on floats would also pass for +0 against -0.
        REQUIRE(std::memcmp(many.weights[i].data(), one.weights[i].data(),
                            sizeof(float) * static_cast<std::size_t>(one.weights[i].size())) == 0);
      }
      CHECK(many.tags == one.tags);
      CHECK(many.last_loss == one.last_loss);
    }
  }
}

/// Whether every weight of `a` is bit for bit that of `b`.
bool same_bits(const Run& a, const Run& b) {
  if (a.weights.size() != b.weights.size()) return false;
  for (std::size_t i = 0; i < a.weights.size(); ++i) {
    if (a.weights[i].size() != b.weights[i].size() ||
        std::memcmp(a.weights[i].data(), b.weights[i].data(),
                    sizeof(float) * static_cast<std::size_t>(a.weights[i].size())) != 0)
      return false;
  }
  return true;
}

// The character encoders add stages of their own: the char BiLSTM cuts its words by length
// buckets and groups of words, its gate rows and its distinct characters; the char CNN its
// words. With the CRF head, 2 layers and every other input block (with the char CNN also the
// document-context block).
TEST_CASE("with a character encoder and a CRF, the same seed gives the same bits on any threads") {
  const ConllDocument train = read_conll((sample_dir() / "train.txt").string());
  const ConllDocument test = read_conll((sample_dir() / "test.txt").string());
  for (auto chars : {CharEncoderKind::bilstm, CharEncoderKind::cnn}) {
    CAPTURE(to_string(chars));
    TaggerConfig config;
    config.char_encoder = chars;
    config.output = OutputKind::crf;
    config.lstm_layers = 2;
    config.doc_context_dim = chars == CharEncoderKind::cnn ? 8 : 0;
    const Run one = train_with(1, OptimizerKind::Adam, train, test, config);
    // words, casing, (doc_context), the char encoder's (table + BiLSTM: 7; CNN: 3), 2 BiLSTM
    // layers, the CRF's
    REQUIRE(one.weights.size() == (chars == CharEncoderKind::bilstm ? 26 : 23));
    for (int threads : {2, 3, 4, 8}) {
      CAPTURE(threads);
      const Run many = train_with(threads, OptimizerKind::Adam, train, test, config);
      CHECK(same_bits(many, one));
      CHECK(many.tags == one.tags);
      CHECK(many.last_loss == one.last_loss);
    }
  }
}

TEST_CASE("a different seed gives different weights (the comparison above can fail)") {
  const ConllDocument train = read_conll((sample_dir() / "train.txt").string());
  TaggerConfig config;
  config.epochs = 1;
  config.patience = 0;
  config.threads = 2;
  config.seed = 1;
  const auto a = Tagger<float>::train(train, nullptr, config);
  config.seed = 2;
  const auto b = Tagger<float>::train(train, nullptr, config);
  CHECK(a.network().params().back()->value != b.network().params().back()->value);
}
