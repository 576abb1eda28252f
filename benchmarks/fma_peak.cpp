/// fma_peak: the machine's single-core float32 FMA peak, the ceiling the "% of peak" figures of
/// benchmarks/compare.sh are measured against.
///
/// A register-only loop of independent FMA chains (acc[k] = acc[k] * a + b): no loads or stores,
/// and enough accumulators that the FMA latency (4 cycles on current x86) times the number of FMA
/// ports (2) is covered, so the loop runs at the FMA issue rate. One FMA = 2 FLOPs per lane.
///
/// The vector width comes from the compiler flags of this build (lstmner's own targets use
/// -march=native): AVX-512 if __AVX512F__, else AVX (256-bit) with FMA, else SSE, else scalar.
/// Every width up to the build target is registered, as `fma_peak/bits:N`; the custom context
/// `fma_peak_build_bits` names the build target's width, which compare.sh uses as "the peak".
/// Counter `gflops`: GFLOP/s, single thread, over the thread's CPU time (Google Benchmark's
/// default; time the scheduler gives to other processes on a shared machine is not counted).
///
/// Check the loop is real: `objdump -d --no-show-raw-insn fma_peak | grep -c vfmadd` shows the
/// unrolled vfmadd...ps instructions (one per accumulator) in each width's loop.
#include <immintrin.h>

#include <cstddef>
#include <string>
#include <utility>

#include <benchmark/benchmark.h>

namespace {

// One struct per vector width: the register type, its lane count, broadcast, multiply-add and a
// horizontal sum (only used once, after the loop, so the result is observable).

struct Scalar {
  using Reg = float;
  static constexpr int kLanes = 1;
  static constexpr int kAccumulators = 8;
  static constexpr const char* kName = "scalar";
  static Reg broadcast(float x) { return x; }
  static Reg multiply_add(Reg acc, Reg a, Reg b) { return acc * a + b; }
  static float sum(Reg x) { return x; }
};

#if defined(__SSE2__)
struct Sse {
  using Reg = __m128;
  static constexpr int kLanes = 4;
  static constexpr int kAccumulators = 12;
#if defined(__FMA__)
  static constexpr const char* kName = "sse+fma (128-bit vfmadd)";
  static Reg multiply_add(Reg acc, Reg a, Reg b) {
    return _mm_fmadd_ps(acc, a, b);
  }
#else
  static constexpr const char* kName = "sse2 (mulps+addps, no FMA)";
  static Reg multiply_add(Reg acc, Reg a, Reg b) {
    return _mm_add_ps(_mm_mul_ps(acc, a), b);
  }
#endif
  static Reg broadcast(float x) {
    return _mm_set1_ps(x);
  }
  static float sum(Reg x) {
    alignas(16) float lanes[kLanes];
    _mm_store_ps(lanes, x);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
  }
};
#endif

#if defined(__AVX__) && defined(__FMA__)
struct Avx2Fma {
  using Reg = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kAccumulators = 12;  // of 16 ymm registers (32 with AVX-512VL)
  static constexpr const char* kName = "avx2+fma (256-bit vfmadd)";
  static Reg broadcast(float x) { return _mm256_set1_ps(x); }
  static Reg multiply_add(Reg acc, Reg a, Reg b) { return _mm256_fmadd_ps(acc, a, b); }
  static float sum(Reg x) {
    return Sse::sum(_mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1)));
  }
};
#endif

#if defined(__AVX512F__)
struct Avx512 {
  using Reg = __m512;
  static constexpr int kLanes = 16;
  static constexpr int kAccumulators = 16;  // of 32 zmm registers
  static constexpr const char* kName = "avx512f (512-bit vfmadd)";
  static Reg broadcast(float x) { return _mm512_set1_ps(x); }
  static Reg multiply_add(Reg acc, Reg a, Reg b) { return _mm512_fmadd_ps(acc, a, b); }
  static float sum(Reg x) {
    // A plain store, not _mm512_reduce_add_ps: GCC 12 warns inside that intrinsic's own header.
    alignas(64) float lanes[kLanes];
    _mm512_store_ps(lanes, x);
    float total = 0.0f;
    for (float lane : lanes) total += lane;
    return total;
  }
};
#endif

#if defined(__AVX512F__)
using BuildTarget = Avx512;
#elif defined(__AVX__) && defined(__FMA__)
using BuildTarget = Avx2Fma;
#elif defined(__SSE2__)
using BuildTarget = Sse;
#else
using BuildTarget = Scalar;
#endif

/// One multiply-add on every accumulator, unrolled at compile time (a fold over the indices), so
/// the accumulators stay in registers with any compiler and any unrolling heuristics.
template <typename Vec, std::size_t... K>
inline void multiply_add_all(typename Vec::Reg* acc, typename Vec::Reg a, typename Vec::Reg b,
                             std::index_sequence<K...>) {
  ((acc[K] = Vec::multiply_add(acc[K], a, b)), ...);
}

template <typename Vec>
void fma_peak(benchmark::State& state) {
  constexpr int kInner = 256;  // multiply-adds per accumulator per benchmark iteration
  using Reg = typename Vec::Reg;
  // acc -> acc * a + b converges to b / (1 - a) = 10: no overflow, no denormals, ever.
  float a_value = 0.9999f, b_value = 0.001f;
  benchmark::DoNotOptimize(a_value);  // opaque to the compiler: nothing can be precomputed
  benchmark::DoNotOptimize(b_value);
  const Reg a = Vec::broadcast(a_value), b = Vec::broadcast(b_value);
  Reg acc[Vec::kAccumulators];
  for (int k = 0; k < Vec::kAccumulators; ++k) acc[k] = Vec::broadcast(0.01f * k);

  for (auto _ : state) {
    for (int r = 0; r < kInner; ++r) {
      multiply_add_all<Vec>(acc, a, b, std::make_index_sequence<Vec::kAccumulators>{});
    }
  }

  float total = 0.0f;
  for (int k = 0; k < Vec::kAccumulators; ++k) total += Vec::sum(acc[k]);
  benchmark::DoNotOptimize(total);  // the result is used: the loop cannot be dropped

  const double flops_per_iteration =
      2.0 * Vec::kLanes * Vec::kAccumulators * static_cast<double>(kInner);
  state.counters["gflops"] =
      benchmark::Counter(flops_per_iteration * static_cast<double>(state.iterations()) * 1e-9,
                         benchmark::Counter::kIsRate);
  std::string label = std::string(Vec::kName) + ", " + std::to_string(Vec::kAccumulators) +
                      " accumulators, 1 thread";
  if (Vec::kLanes == BuildTarget::kLanes) label += " (build target)";
  state.SetLabel(label);
}

void register_widths() {
  auto add = [](const char* name, void (*function)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, function);
  };
  add("fma_peak/bits:32", fma_peak<Scalar>);
#if defined(__SSE2__)
  add("fma_peak/bits:128", fma_peak<Sse>);
#endif
#if defined(__AVX__) && defined(__FMA__)
  add("fma_peak/bits:256", fma_peak<Avx2Fma>);
#endif
#if defined(__AVX512F__)
  add("fma_peak/bits:512", fma_peak<Avx512>);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::AddCustomContext("fma_peak_build_bits", std::to_string(32 * BuildTarget::kLanes));
  benchmark::AddCustomContext("fma_peak_build_isa", BuildTarget::kName);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_widths();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
