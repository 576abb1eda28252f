// The character-level word encoders, float, over a batch of W words with a character vocabulary
// of 90:
//   - the char CNN (char_cnn.hpp) forward and forward+backward, one thread, Ma & Hovy's sizes
//     (C = 30, F = 30), lengths uniform in 1..11 (mean 6);
//   - the char BiLSTM (char_bilstm.hpp) forward and forward+backward on 1 and 2 threads,
//     Lample et al.'s sizes (C = 25, H = 25 per direction), lengths drawn like the unique words of
//     a batch of 32 CoNLL-2003 training sentences (mean 5.6, a longest word of ~15);
//   - char_bilstm_plan: the BiLSTM's forward+backward at 300 words, one thread, under other
//     bucket plans (max_buckets, bucket_overhead), and `padded`: the same words through
//     Bidirectional<LSTM> as one batch padded to the longest word, in the order given (what the
//     layer would cost without sorting and buckets).
//
// Counters: words_per_second and chars_per_second (W words, their characters per iteration),
// and GFLOP/s counting only the useful products: for the CNN 2·F·3C FLOPs per character for
// forward, forward+backward adding the scatter of the argmax positions (2·F·3C per word, twice);
// for the BiLSTM, per real character and direction, 2·4H·(C + H) forward (W·x and U·h) and
// 2·4H·(2C + 2H) more backward (dW, dU, Wᵀ·δ, Uᵀ·δ). steps_per_char: the LSTM columns computed
// (padding included) per real character; buckets: how many the plan made.
//
//   ./bench_char --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <lstmner/bidirectional.hpp>
#include <lstmner/char_bilstm.hpp>
#include <lstmner/char_cnn.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <benchmark/benchmark.h>

#include <vector>

namespace {

using lstmner::CharBiLSTM;
using lstmner::CharCNN;
using lstmner::ExecutionContext;
using lstmner::Index;
using lstmner::Rng;
using lstmner::SequenceLengths;
using lstmner::Tensor2;

constexpr Index vocab = 90;

/// How word lengths are drawn.
enum class Lengths {
  uniform,  ///< uniform in 1..11 (mean 6)
  conll,    ///< like the unique words of a batch of 32 CoNLL-2003 training sentences
};

/// A length drawn like the unique words of a batch of 32 CoNLL-2003 training sentences
/// (measured on train.txt; per mille for lengths 1, 2, ..., 15, the rest 16..23).
Index conll_length(Rng& rng) {
  static const int per_mille[] = {44, 81, 101, 147, 142, 135, 127, 86, 61, 38, 17, 10, 6, 3, 2};
  auto u = static_cast<int>(rng.below(1000));
  Index length = 1;
  for (int p : per_mille) {
    if (u < p) return length;
    u -= p;
    ++length;
  }
  return 16 + static_cast<Index>(rng.below(8));
}

/// W words with lengths drawn as `kind` says and random character ids.
struct Words {
  Tensor2<std::int32_t> ids;
  SequenceLengths lengths;
  explicit Words(Index count, Rng& rng, Lengths kind = Lengths::uniform) {
    std::vector<Index> n;
    for (Index w = 0; w < count; ++w)
      n.push_back(kind == Lengths::conll ? conll_length(rng)
                                         : 1 + static_cast<Index>(rng.below(11)));
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

void set_bilstm_counters(benchmark::State& state, const Words& words,
                         const CharBiLSTM<float>& layer, bool with_backward, Index columns,
                         Index buckets) {
  const auto iterations = static_cast<double>(state.iterations());
  const auto W = static_cast<double>(words.lengths.batch_size());
  const auto chars = static_cast<double>(words.lengths.num_tokens());
  const auto C = static_cast<double>(layer.char_dim()),
             H = static_cast<double>(layer.hidden_size());
  const double per_char = 2.0 * 2.0 * 4.0 * H * ((C + H) + (with_backward ? 2.0 * (C + H) : 0.0));
  state.counters["words_per_second"] =
      benchmark::Counter(W * iterations, benchmark::Counter::kIsRate);
  state.counters["chars_per_second"] =
      benchmark::Counter(chars * iterations, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(per_char * chars * iterations * 1e-9, benchmark::Counter::kIsRate);
  state.counters["mean_chars"] = chars / W;
  state.counters["steps_per_char"] = static_cast<double>(columns) / chars;
  state.counters["buckets"] = static_cast<double>(buckets);
}

/// The char BiLSTM over `words` words on `threads` threads, with the given bucket plan.
void run_char_bilstm(benchmark::State& state, Index word_count, int threads, bool with_backward,
                     Index max_buckets = CharBiLSTM<float>::default_max_buckets,
                     Index bucket_overhead = CharBiLSTM<float>::default_bucket_overhead) {
  Rng rng(42);
  CharBiLSTM<float> layer(vocab, CharBiLSTM<float>::default_char_dim,
                          CharBiLSTM<float>::default_hidden, rng);
  layer.max_buckets = max_buckets;
  layer.bucket_overhead = bucket_overhead;
  const Words words(word_count, rng, Lengths::conll);
  Tensor2<float> d_out(Tensor2<float>::Shape{layer.output_size(), words.lengths.batch_size()});
  for (Index i = 0; i < d_out.size(); ++i) d_out.data()[i] = static_cast<float>(rng.uniform(-1, 1));
  ExecutionContext context(threads);
  CharBiLSTM<float>::Workspace ws;
  Tensor2<float> out;
  const auto params = layer.params();
  // One untimed pass sizes every buffer: the timed loop then allocates nothing of ours.
  layer.forward(words.ids, words.lengths, out, ws, context);
  if (with_backward) layer.backward(words.ids, words.lengths, d_out, ws, context);

  for (auto _ : state) {
    layer.forward(words.ids, words.lengths, out, ws, context);
    if (with_backward) {
      lstmner::zero_grad(params);
      layer.backward(words.ids, words.lengths, d_out, ws, context);
      benchmark::DoNotOptimize(layer.table.grad.data());
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_bilstm_counters(state, words, layer, with_backward, ws.columns, ws.bucket_count());
}

void char_bilstm_forward(benchmark::State& state) {
  run_char_bilstm(state, state.range(0), static_cast<int>(state.range(1)), false);
}
void char_bilstm_forward_backward(benchmark::State& state) {
  run_char_bilstm(state, state.range(0), static_cast<int>(state.range(1)), true);
}
/// Forward+backward at 300 words, one thread, under the plan (max_buckets, bucket_overhead).
void char_bilstm_plan(benchmark::State& state) {
  run_char_bilstm(state, 300, 1, true, state.range(0), state.range(1));
}

/// The same words as one batch padded to the longest, in the order given, through
/// Bidirectional<LSTM> (the table lookup into x included; the table gradient not).
void char_bilstm_padded(benchmark::State& state) {
  Rng rng(42);
  CharBiLSTM<float> layer(vocab, CharBiLSTM<float>::default_char_dim,
                          CharBiLSTM<float>::default_hidden, rng);
  const Words words(300, rng, Lengths::conll);
  const Index W = words.lengths.batch_size(), T = words.lengths.max_length();
  const Index C = layer.char_dim(), H = layer.hidden_size();
  lstmner::Tensor3<float> x(lstmner::Tensor3<float>::Shape{C, W, T}), out, dx, dout;
  dout.resize(2 * H, W, T);
  for (Index i = 0; i < dout.size(); ++i) dout.data()[i] = static_cast<float>(rng.uniform(-1, 1));
  lstmner::BiLSTM<float>::Workspace ws;
  const auto params = layer.bilstm.params();
  const auto pass = [&] {
    for (Index t = 0; t < T; ++t)
      for (Index w = 0; w < W; ++w) {
        if (t < words.lengths[w]) {
          x.step(t).col(w) = layer.table.value.col(words.ids(w, t));
        } else {
          x.step(t).col(w).setZero();
        }
      }
    layer.bilstm.forward(x, words.lengths, out, ws);
    lstmner::zero_grad(params);
    layer.bilstm.backward(x, words.lengths, dout, dx, ws);
  };
  pass();
  for (auto _ : state) {
    pass();
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  set_bilstm_counters(state, words, layer, true, W * T, 1);
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

// The char BiLSTM: ~450 words (a batch's tokens) and 32, on 1 and 2 threads.
BENCHMARK(char_bilstm_forward)
    ->ArgNames({"words", "threads"})
    ->ArgsProduct({{450, 32}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(char_bilstm_forward_backward)
    ->ArgNames({"words", "threads"})
    ->ArgsProduct({{450, 32}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
// Bucket plans: one padded batch of the sorted words; the defaults; more or fewer buckets; a
// bucket per length (no padding at all).
BENCHMARK(char_bilstm_plan)
    ->ArgNames({"max_buckets", "overhead"})
    ->Args({1, 0})
    ->Args({2, 32})
    ->Args({4, 32})
    ->Args({8, 0})
    ->Args({8, 32})
    ->Args({8, 128})
    ->Args({16, 32})
    ->Args({64, 0})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(char_bilstm_padded)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
