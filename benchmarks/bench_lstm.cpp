// The LSTM cell-throughput suite: one LSTM layer over a full batch of B sequences of T steps,
// float, forward and forward+backward, for (In, H) in {(100,100), (256,256), (512,512)},
// B in {1, 32}, T = 32.
//
// Counters: tokens_per_second (B·T tokens per iteration) and GFLOP/s, counting only the matrix
// products: 2·4H·(In+H) FLOPs per token per direction for forward, three times that for
// forward+backward (forward, the input/recurrent gradients, the weight gradients).
//
// Also: the reference kernels on one shape (what the fast path buys); the batch sizes between 1
// and 32 on the tagger's shape (how fast a group of sentences runs alone: what the smallest part
// of the data-parallel BiLSTM may be); and the bidirectional layer on an ExecutionContext of
// 1, 2, 4 and 8 threads (threads:N; wall-clock rates, since the workers' CPU time is not ours).
//
//   ./bench_lstm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <lstmner/bidirectional.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <benchmark/benchmark.h>

#include <vector>

namespace {

using lstmner::Index;
using lstmner::LSTM;
using lstmner::LstmKernel;
using lstmner::Rng;
using lstmner::SequenceLengths;
using lstmner::Tensor3;

/// The benchmark arguments: in, h, b, t (and threads for the bidirectional case).
struct Shape {
  Index in, hidden, batch, time;
  explicit Shape(const benchmark::State& state)
      : in(state.range(0)), hidden(state.range(1)), batch(state.range(2)), time(state.range(3)) {}
  double tokens() const { return static_cast<double>(batch * time); }
  /// Matrix-product FLOPs of one forward pass of one direction over the whole batch.
  double forward_flops() const {
    return 2.0 * 4.0 * static_cast<double>(hidden) * static_cast<double>(in + hidden) * tokens();
  }
};

Tensor3<float> random_tensor(Index d0, Index d1, Index d2, Rng& rng) {
  Tensor3<float> t(Tensor3<float>::Shape{d0, d1, d2});
  for (Index i = 0; i < t.size(); ++i) t.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
  return t;
}

void set_counters(benchmark::State& state, const Shape& shape, double flops_per_iteration) {
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["tokens_per_second"] =
      benchmark::Counter(shape.tokens() * iterations, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * iterations * 1e-9, benchmark::Counter::kIsRate);
}

void run_lstm(benchmark::State& state, bool with_backward, LstmKernel kernel) {
  const Shape shape(state);
  Rng rng(42);
  LSTM<float> layer(shape.in, shape.hidden, rng);
  layer.kernel = kernel;
  const SequenceLengths lengths(
      std::vector<Index>(static_cast<std::size_t>(shape.batch), shape.time));
  const Tensor3<float> x = random_tensor(shape.in, shape.batch, shape.time, rng);
  const Tensor3<float> dh = random_tensor(shape.hidden, shape.batch, shape.time, rng);
  LSTM<float>::Workspace ws;
  Tensor3<float> h, dx;
  // One untimed pass sizes every buffer: the timed loop then allocates nothing of ours.
  layer.forward(x, lengths, h, ws);
  if (with_backward) layer.backward(x, lengths, dh, dx, ws);

  for (auto _ : state) {
    layer.forward(x, lengths, h, ws);
    if (with_backward) {
      layer.backward(x, lengths, dh, dx, ws);
      benchmark::DoNotOptimize(dx.data());
    }
    benchmark::DoNotOptimize(h.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, shape, shape.forward_flops() * (with_backward ? 3.0 : 1.0));
}

void lstm_forward(benchmark::State& state) {
  run_lstm(state, false, LstmKernel::fast);
}
void lstm_forward_backward(benchmark::State& state) {
  run_lstm(state, true, LstmKernel::fast);
}
void lstm_forward_backward_reference(benchmark::State& state) {
  run_lstm(state, true, LstmKernel::reference);
}

void run_bilstm(benchmark::State& state, bool with_backward) {
  const Shape shape(state);
  Rng rng(42);
  auto layer = lstmner::make_bilstm<float>(shape.in, shape.hidden, rng);
  lstmner::ExecutionContext context(static_cast<int>(state.range(4)));
  const SequenceLengths lengths(
      std::vector<Index>(static_cast<std::size_t>(shape.batch), shape.time));
  const Tensor3<float> x = random_tensor(shape.in, shape.batch, shape.time, rng);
  const Tensor3<float> dout = random_tensor(2 * shape.hidden, shape.batch, shape.time, rng);
  lstmner::BiLSTM<float>::Workspace ws;
  Tensor3<float> out, dx;
  layer.forward(x, lengths, out, ws, context);
  if (with_backward) layer.backward(x, lengths, dout, dx, ws, context);
  for (auto _ : state) {
    layer.forward(x, lengths, out, ws, context);
    if (with_backward) {
      layer.backward(x, lengths, dout, dx, ws, context);
      benchmark::DoNotOptimize(dx.data());
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, shape, 2.0 * shape.forward_flops() * (with_backward ? 3.0 : 1.0));
}

void bilstm_forward(benchmark::State& state) {
  run_bilstm(state, false);
}
void bilstm_forward_backward(benchmark::State& state) {
  run_bilstm(state, true);
}

/// The tagger's BiLSTM (In = 116: word 100 + casing 16; H = 100; batch 32, T = 16, about a
/// CoNLL-2003 batch) on 1, 2, 4 and 8 threads.
void tagger_bilstm_threads(benchmark::internal::Benchmark* b) {
  for (const Index threads : {1, 2, 4, 8}) b->Args({116, 100, 32, 16, threads});
}

/// The grid: (In, H) in {(100,100), (256,256), (512,512)}, B in {1, 32}, T = 32.
void cell_throughput_shapes(benchmark::internal::Benchmark* b) {
  for (const Index size : {100, 256, 512})
    for (const Index batch : {1, 32}) b->Args({size, size, batch, 32});
}

}  // namespace

BENCHMARK(lstm_forward)
    ->ArgNames({"in", "h", "b", "t"})
    ->Apply(cell_throughput_shapes)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(lstm_forward_backward)
    ->ArgNames({"in", "h", "b", "t"})
    ->Apply(cell_throughput_shapes)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(lstm_forward_backward_reference)
    ->ArgNames({"in", "h", "b", "t"})
    ->Args({256, 256, 32, 32})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(lstm_forward_backward)
    ->Name("lstm_forward_backward_batch_scan")
    ->ArgNames({"in", "h", "b", "t"})
    ->Args({116, 100, 2, 16})
    ->Args({116, 100, 4, 16})
    ->Args({116, 100, 8, 16})
    ->Args({116, 100, 16, 16})
    ->Args({116, 100, 32, 16})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(bilstm_forward)
    ->ArgNames({"in", "h", "b", "t", "threads"})
    ->Apply(tagger_bilstm_threads)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(bilstm_forward_backward)
    ->ArgNames({"in", "h", "b", "t", "threads"})
    ->Apply(tagger_bilstm_threads)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
