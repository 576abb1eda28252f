// The character-level word encoders: the char CNN (char_cnn.hpp) forward and forward+backward
// over a batch of W words of CoNLL-like lengths (1..11 characters, mean 6), float, one thread,
// with Ma & Hovy's sizes (C = 30, F = 30) and a character vocabulary of 90.
//
// Counters: words_per_second and chars_per_second (W words, their characters per iteration),
// and GFLOP/s counting only the convolution's product: 2·F·3C FLOPs per character for forward;
// forward+backward adds the scatter of the argmax positions (2·F·3C per word, twice), counted
// with the same per-word FLOPs.
//
//   ./bench_char --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <lstmner/char_cnn.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <benchmark/benchmark.h>

#include <vector>

namespace {

using lstmner::CharCNN;
using lstmner::Index;
using lstmner::Rng;
using lstmner::SequenceLengths;
using lstmner::Tensor2;

constexpr Index vocab = 90;

/// W words with lengths uniform in 1..11 (mean 6) and random character ids.
struct Words {
  Tensor2<std::int32_t> ids;
  SequenceLengths lengths;
  explicit Words(Index count, Rng& rng) {
    std::vector<Index> n;
    for (Index w = 0; w < count; ++w) n.push_back(1 + static_cast<Index>(rng.below(11)));
    lengths = SequenceLengths(n);
    ids.resize(count, lengths.max_length());
    ids.setConstant(0);
    for (Index w = 0; w < count; ++w)
      for (Index p = 0; p < lengths[w]; ++p)
        ids(w, p) = static_cast<std::int32_t>(2 + rng.below(vocab - 2));
  }
};

void set_counters(benchmark::State& state, const Words& words, const CharCNN<float>& cnn,
                  bool with_backward) {
  const auto iterations = static_cast<double>(state.iterations());
  const auto W = static_cast<double>(words.lengths.batch_size());
  const auto chars = static_cast<double>(words.lengths.num_tokens());
  const double per_char = 2.0 * static_cast<double>(cnn.filters() * 3 * cnn.char_dim());
  const double flops = per_char * chars + (with_backward ? 2.0 * per_char * W : 0.0);
  state.counters["words_per_second"] =
      benchmark::Counter(W * iterations, benchmark::Counter::kIsRate);
  state.counters["chars_per_second"] =
      benchmark::Counter(chars * iterations, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * iterations * 1e-9, benchmark::Counter::kIsRate);
  state.counters["mean_chars"] = chars / W;
}

void run_char_cnn(benchmark::State& state, bool with_backward) {
  Rng rng(42);
  CharCNN<float> cnn(vocab, CharCNN<float>::default_char_dim, CharCNN<float>::default_filters, rng);
  const Words words(state.range(0), rng);
  Tensor2<float> d_out(Tensor2<float>::Shape{cnn.filters(), words.lengths.batch_size()});
  for (Index i = 0; i < d_out.size(); ++i) d_out.data()[i] = static_cast<float>(rng.uniform(-1, 1));
  CharCNN<float>::Workspace ws;
  Tensor2<float> out;
  const auto params = cnn.params();
  // One untimed pass sizes every buffer: the timed loop then allocates nothing of ours.
  cnn.forward(words.ids, words.lengths, out, ws);
  if (with_backward) cnn.backward(words.ids, words.lengths, d_out, ws);

  for (auto _ : state) {
    cnn.forward(words.ids, words.lengths, out, ws);
    if (with_backward) {
      lstmner::zero_grad(params);
      cnn.backward(words.ids, words.lengths, d_out, ws);
      benchmark::DoNotOptimize(cnn.W.grad.data());
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, words, cnn, with_backward);
}

void char_cnn_forward(benchmark::State& state) {
  run_char_cnn(state, false);
}
void char_cnn_forward_backward(benchmark::State& state) {
  run_char_cnn(state, true);
}

}  // namespace

// ~450 words: the tokens of a training batch of 32 CoNLL sentences (about 14 tokens each); 32:
// a small batch, or one sentence's unique words.
BENCHMARK(char_cnn_forward)->ArgNames({"words"})->Arg(450)->Arg(32)->Unit(benchmark::kMicrosecond);
BENCHMARK(char_cnn_forward_backward)
    ->ArgNames({"words"})
    ->Arg(450)
    ->Arg(32)
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
