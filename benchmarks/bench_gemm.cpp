// The hoisted products of the LSTM layer, ours (kernels/gemm.hpp) against Eigen's GEMM, float,
// at the shapes of bench_lstm's B = 32, T = 32 cases (N = B·T = 1024 tokens):
//   input        Z = W·X + b        M = 4H, N = 1024, K = In     (Op::none, Op::none)
//   weights      dW += δZ·Xᵀ        M = 4H, N = In,   K = 1024   (Op::none, Op::transpose)
//   inputs       dX = Wᵀ·δZ         M = In, N = 1024, K = 4H     (Op::transpose, Op::none)
// (dU += δZ·H_prevᵀ has the weights shape with In = H.) Counter: GFLOP/s (2·M·N·K per call).
//
//   ./bench_gemm --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <lstmner/kernels/gemm.hpp>
#include <lstmner/random.hpp>
#include <lstmner/tensor.hpp>

#include <benchmark/benchmark.h>

namespace {

using lstmner::Index;
using lstmner::Matrix;
using lstmner::kernels::gemm::Extras;
using lstmner::kernels::gemm::GemmWorkspace;
using lstmner::kernels::gemm::Op;
using lstmner::kernels::gemm::Update;

enum Product { input = 0, weights = 1, inputs_grad = 2 };

Matrix<float> random_matrix(Index rows, Index cols, lstmner::Rng& rng) {
  Matrix<float> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(rng.uniform(-1.0, 1.0));
  return m;
}

/// Arguments: product, size (In = H), ours (1) or Eigen (0).
void hoisted_product(benchmark::State& state) {
  const auto product = static_cast<Product>(state.range(0));
  const Index size = state.range(1), tokens = 1024;
  const bool ours = state.range(2) == 1;
  lstmner::Rng rng(3);
  const Matrix<float> W = random_matrix(4 * size, size, rng);
  const Matrix<float> X = random_matrix(size, tokens, rng);
  const Matrix<float> dZ = random_matrix(4 * size, tokens, rng);
  const Matrix<float> bias = random_matrix(4 * size, 1, rng);
  Matrix<float> Z(4 * size, tokens), dW = Matrix<float>::Zero(4 * size, size), dX(size, tokens);
  GemmWorkspace<float> ws;
  const auto run = [&] {
    switch (product) {
      case input:
        if (ours) {
          lstmner::kernels::gemm::gemm(W, Op::none, X, Op::none, Z, Update::overwrite, ws,
                                       Extras<float>{bias.data(), nullptr});
        } else {
          Z.noalias() = W * X;
          Z.colwise() += bias.col(0);
        }
        benchmark::DoNotOptimize(Z.data());
        break;
      case weights:
        if (ours) {
          lstmner::kernels::gemm::gemm(dZ, Op::none, X, Op::transpose, dW, Update::accumulate, ws);
        } else {
          dW.noalias() += dZ * X.transpose();
        }
        benchmark::DoNotOptimize(dW.data());
        break;
      case inputs_grad:
        if (ours) {
          lstmner::kernels::gemm::gemm(W, Op::transpose, dZ, Op::none, dX, Update::overwrite, ws);
        } else {
          dX.noalias() = W.transpose() * dZ;
        }
        benchmark::DoNotOptimize(dX.data());
        break;
    }
  };
  run();  // sizes the workspace
  for (auto _ : state) {
    run();
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * 4.0 * static_cast<double>(size) * static_cast<double>(size) *
                       static_cast<double>(tokens);
  state.counters["GFLOP/s"] = benchmark::Counter(
      flops * static_cast<double>(state.iterations()) * 1e-9, benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(hoisted_product)
    ->ArgNames({"product", "size", "ours"})
    ->ArgsProduct({{input, weights, inputs_grad}, {100, 256, 512}, {1, 0}})
    ->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
