// The CRF output layer (crf.hpp), float, at a tagger's shapes: K = 17 tags (IOBES over 4 entity
// types, as CoNLL-2003), B = 32 sentences, T in {15, 40} steps, every sentence T long.
//
//   crf_loss_backward   prepare + loss_backward_sentences over the batch + add_gradients: the
//                       forward–backward of every sentence, its loss, d_scores and parameter
//                       gradients (what a training step adds for a CRF head)
//   crf_loss            the loss alone (forward algorithm)
//   crf_viterbi         CrfDecoder::viterbi of each sentence, with the IOBES rules
//   crf_nbest           CrfDecoder::nbest of each sentence, k = 5, with the rules
//   crf_confidences     CrfDecoder::viterbi + entity_confidences of each sentence (forward–backward
//                       and one span pass per entity; allocates its result)
//
// Counter: tokens_per_second (B·T tokens per iteration). For comparison, a training step of the
// BiLSTM tagger takes about 3 ms for 32 sentences of CoNLL-2003 (~450 tokens).
//
//   ./bench_crf --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <lstmner/crf.hpp>
#include <lstmner/random.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

using lstmner::CRF;
using lstmner::CrfDecoder;
using lstmner::Index;
using lstmner::Rng;
using lstmner::SequenceLengths;
using lstmner::Tensor2;
using lstmner::Tensor3;

/// IOBES over PER, LOC, ORG, MISC: 17 tags, O first (as the tagger orders them: O, then by name).
std::vector<std::string> iobes_tags() {
  std::vector<std::string> tags{"O"};
  for (const char* prefix : {"B-", "E-", "I-", "S-"})
    for (const char* type : {"LOC", "MISC", "ORG", "PER"})
      tags.push_back(prefix + std::string(type));
  return tags;
}

/// The benchmark arguments: k, b, t; scores, gold tags and a CRF with random values.
struct Case {
  Index tags, batch, time;
  SequenceLengths lengths;
  Tensor3<float> scores;
  Tensor2<std::int32_t> gold;
  CRF<float> crf;
  std::vector<std::string> names = iobes_tags();
  lstmner::TransitionRules rules;

  explicit Case(const benchmark::State& state)
      : tags(state.range(0)),
        batch(state.range(1)),
        time(state.range(2)),
        lengths(std::vector<Index>(static_cast<std::size_t>(batch), time)),
        crf(tags) {
    Rng rng(42);
    scores.resize(tags, batch, time);
    for (Index i = 0; i < scores.size(); ++i)
      scores.data()[i] = static_cast<float>(rng.uniform(-3.0, 3.0));
    gold.resize(batch, time);
    for (Index i = 0; i < gold.size(); ++i)
      gold.data()[i] = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(tags)));
    lstmner::init_uniform(crf.transitions.value, 1.0, rng);
    lstmner::init_uniform(crf.start.value, 1.0, rng);
    lstmner::init_uniform(crf.end.value, 1.0, rng);
    if (static_cast<Index>(names.size()) == tags)
      rules = lstmner::make_transition_rules(names, lstmner::TagScheme::IOBES);
  }

  double tokens() const { return static_cast<double>(batch * time); }

  /// The [K x T] scores of sentence b, as Tagger::predict_batch maps them.
  Eigen::Map<const lstmner::Matrix<float>, 0, Eigen::OuterStride<>> sentence(Index b) const {
    return {scores.data() + b * tags, tags, time, Eigen::OuterStride<>(batch * tags)};
  }
};

void set_counters(benchmark::State& state, const Case& c) {
  state.counters["tokens_per_second"] = benchmark::Counter(
      c.tokens() * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void crf_loss_backward(benchmark::State& state) {
  Case c(state);
  CRF<float>::Workspace ws;
  Tensor3<float> d_scores;
  c.crf.loss_backward(c.scores, c.gold, c.lengths, 1.0, d_scores, ws);  // sizes every buffer
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.crf.loss_backward(c.scores, c.gold, c.lengths, 1.0, d_scores, ws));
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

void crf_loss(benchmark::State& state) {
  Case c(state);
  CRF<float>::Workspace ws;
  c.crf.loss(c.scores, c.gold, c.lengths, 1.0, ws);
  for (auto _ : state) {
    benchmark::DoNotOptimize(c.crf.loss(c.scores, c.gold, c.lengths, 1.0, ws));
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

void crf_viterbi(benchmark::State& state) {
  Case c(state);
  CrfDecoder<float> decoder(c.rules);
  std::vector<std::int32_t> path;
  for (auto _ : state) {
    for (Index b = 0; b < c.batch; ++b) {
      benchmark::DoNotOptimize(decoder.viterbi(c.crf, c.sentence(b), c.time, path));
    }
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

void crf_nbest(benchmark::State& state) {
  Case c(state);
  CrfDecoder<float> decoder(c.rules);
  std::vector<lstmner::ScoredPath> paths;
  for (auto _ : state) {
    for (Index b = 0; b < c.batch; ++b) {
      decoder.nbest(c.crf, c.sentence(b), c.time, 5, paths);
      benchmark::DoNotOptimize(paths.data());
    }
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

void crf_confidences(benchmark::State& state) {
  Case c(state);
  CrfDecoder<float> decoder(c.rules);
  std::vector<std::int32_t> path;
  for (auto _ : state) {
    for (Index b = 0; b < c.batch; ++b) {
      decoder.viterbi(c.crf, c.sentence(b), c.time, path);
      auto confidences = decoder.entity_confidences(c.crf, c.sentence(b), c.time, path, c.names,
                                                    lstmner::TagScheme::IOBES);
      benchmark::DoNotOptimize(confidences.data());
    }
    benchmark::ClobberMemory();
  }
  set_counters(state, c);
}

void tagger_shapes(benchmark::internal::Benchmark* b) {
  for (const Index time : {15, 40}) b->Args({17, 32, time});
}

}  // namespace

BENCHMARK(crf_loss_backward)
    ->ArgNames({"k", "b", "t"})
    ->Apply(tagger_shapes)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(crf_loss)->ArgNames({"k", "b", "t"})->Apply(tagger_shapes)->Unit(benchmark::kMicrosecond);
BENCHMARK(crf_viterbi)
    ->ArgNames({"k", "b", "t"})
    ->Apply(tagger_shapes)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(crf_nbest)
    ->ArgNames({"k", "b", "t"})
    ->Apply(tagger_shapes)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(crf_confidences)
    ->ArgNames({"k", "b", "t"})
    ->Apply(tagger_shapes)
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
