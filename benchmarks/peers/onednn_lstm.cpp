/// bench_onednn_lstm: oneDNN's LSTM primitive (oneDNN 2.x, f32, CPU), timed on exactly the cases
/// of benchmarks/bench_lstm.cpp so that benchmarks/compare.sh can put them side by side.
///
/// Cases (T = 32, float32, one unidirectional layer unless said):
///   onednn_lstm_forward/in:I/h:H/b:B/t:32            forward inference
///   onednn_lstm_forward_backward/in:I/h:H/b:B/t:32   forward training (with workspace) + backward
///   onednn_lstm_forward_training/in:I/h:H/b:B/t:32   forward training alone (writes the
///   workspace):
///       oneDNN 2.6 runs inference with its brgemm RNN kernel but training with its gemm-based
///       one, and at B = 1 the training forward can be the faster of the two, so a fair "oneDNN
///       forward" figure is the better of both (compare.sh takes it).
///   onednn_bilstm_forward/in:100/h:100/b:32/t:32     bidirectional_concat forward inference
///   onednn_bilstm_forward/.../threads:2              the same with 2 OpenMP threads
/// for (I,H) in {(100,100), (256,256), (512,512)} and B in {1, 32}.
///
/// Counters: tokens_per_second = T*B per iteration; GFLOP/s with 2*4H*(In+H) FLOPs per token per
/// direction, times 3 for forward+backward (the convention). With 1 thread the rates are
/// over the benchmark thread's CPU time (Google Benchmark's default, as in our own benchmarks);
/// a case run with more threads uses wall-clock time instead (UseRealTime: the CPU time of the
/// calling thread would miss the other OpenMP threads' work), and its name ends in /real_time.
///
/// Fair to oneDNN: weights are reordered to the layouts its primitives prefer (format_tag::any)
/// once, before the timed loop, and the primitives are created before the loop too. The timed
/// forward+backward iteration is: forward_training, zeroing of the weight gradients (oneDNN's RNN
/// backward accumulates into them, like our layers do after zero_grad), backward.
///
/// Threads: this oneDNN build uses OpenMP. If OMP_NUM_THREADS is set, its value is used; otherwise
/// the benchmark sets 1 thread (omp_set_num_threads, looked up in the OpenMP runtime oneDNN
/// loaded). The `.../threads:2` case sets 2 threads itself. The context line `onednn_threads` and
/// each benchmark's label say which.
///
/// Before timing, a self-check compares oneDNN on tiny cases with a naive LSTM (double precision,
/// forward and backward-through-time) written below; a mismatch exits with status 1.
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.hpp>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using DataType = memory::data_type;

constexpr int kGates = 4;  // oneDNN's gate order: i, f, c~ (g), o

// ---------------------------------------------------------------------------------------------
// OpenMP thread control without linking an OpenMP runtime of our own: with clang++ the compiler's
// OpenMP would be LLVM's libomp while Debian's oneDNN uses GCC's libgomp, and setting the thread
// count in the wrong runtime would silently do nothing. So look the functions up in the process.

using OmpSetNumThreads = void (*)(int);
using OmpGetMaxThreads = int (*)();

template <typename Function>
Function omp_function(const char* name) {
  void* symbol = dlsym(RTLD_DEFAULT, name);
  Function function = nullptr;
  static_assert(sizeof(function) == sizeof(symbol), "function and object pointers differ");
  std::memcpy(&function, &symbol, sizeof(function));
  return function;
}

/// Sets oneDNN's OpenMP thread count; returns false when no OpenMP runtime is loaded.
bool set_omp_threads(int threads) {
  const auto set = omp_function<OmpSetNumThreads>("omp_set_num_threads");
  if (set == nullptr) return false;
  set(threads);
  return true;
}

int omp_max_threads() {
  const auto get = omp_function<OmpGetMaxThreads>("omp_get_max_threads");
  return get == nullptr ? 1 : get();
}

int g_default_threads = 1;  // threads of every case without an explicit threads:N
std::string g_threads_how;  // how g_default_threads was chosen, for labels

// ---------------------------------------------------------------------------------------------
// Shapes and plain (user-layout) data.

struct Shape {
  int input = 0;       // In
  int hidden = 0;      // H
  int batch = 0;       // B
  int steps = 0;       // T
  int directions = 1;  // 1, or 2 for bidirectional_concat
};

std::vector<float> random_vector(std::size_t size, float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> uniform(-scale, scale);
  std::vector<float> values(size);
  for (float& value : values) value = uniform(rng);
  return values;
}

/// User data in oneDNN's plain layouts: src tnc, weights ldigo, bias ldgo, dst tnc.
struct PlainLstm {
  Shape shape;
  std::vector<float> src;            // [T][B][In]
  std::vector<float> weights_layer;  // [1][D][In][4][H]
  std::vector<float> weights_iter;   // [1][D][H][4][H]
  std::vector<float> bias;           // [1][D][4][H]
  std::vector<float> diff_dst;       // [T][B][D*H]

  explicit PlainLstm(const Shape& s, unsigned seed) : shape(s) {
    std::mt19937 rng(seed);
    const float scale = 1.0f / std::sqrt(static_cast<float>(s.hidden));
    const std::size_t d = static_cast<std::size_t>(s.directions);
    const std::size_t gh = static_cast<std::size_t>(kGates) * s.hidden;
    src = random_vector(static_cast<std::size_t>(s.steps) * s.batch * s.input, 1.0f, rng);
    weights_layer = random_vector(d * s.input * gh, scale, rng);
    weights_iter = random_vector(d * s.hidden * gh, scale, rng);
    bias = random_vector(d * gh, scale, rng);
    diff_dst = random_vector(static_cast<std::size_t>(s.steps) * s.batch * d * s.hidden, 1.0f, rng);
  }
};

memory::dims dims_src(const Shape& s) {
  return {s.steps, s.batch, s.input};
}
memory::dims dims_dst(const Shape& s) {
  return {s.steps, s.batch, s.directions * s.hidden};
}
memory::dims dims_weights_layer(const Shape& s) {
  return {1, s.directions, s.input, kGates, s.hidden};
}
memory::dims dims_weights_iter(const Shape& s) {
  return {1, s.directions, s.hidden, kGates, s.hidden};
}
memory::dims dims_bias(const Shape& s) {
  return {1, s.directions, kGates, s.hidden};
}

dnnl::rnn_direction direction_of(const Shape& s) {
  return s.directions == 2 ? dnnl::rnn_direction::bidirectional_concat
                           : dnnl::rnn_direction::unidirectional_left2right;
}

void write_to(const memory& mem, const std::vector<float>& values) {
  if (mem.get_desc().get_size() != values.size() * sizeof(float)) {
    throw std::runtime_error("bench_onednn_lstm: size mismatch writing a plain oneDNN memory");
  }
  std::memcpy(mem.get_data_handle(), values.data(), mem.get_desc().get_size());
}

std::vector<float> read_from(const memory& mem) {
  std::vector<float> values(mem.get_desc().get_size() / sizeof(float));
  std::memcpy(values.data(), mem.get_data_handle(), mem.get_desc().get_size());
  return values;
}

/// A memory in `wanted` layout holding `plain`; reorders only when the layouts differ.
memory to_layout(memory plain, const memory::desc& wanted, const dnnl::engine& engine,
                 dnnl::stream& stream) {
  if (plain.get_desc() == wanted) return plain;
  memory converted(wanted, engine);
  dnnl::reorder(plain, converted).execute(stream, plain, converted);
  stream.wait();
  return converted;
}

// ---------------------------------------------------------------------------------------------
// oneDNN primitives for one shape, created and weight-reordered once.

class OneDnnLstm {
 public:
  OneDnnLstm(const PlainLstm& plain, bool training)
      : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_), shape_(plain.shape) {
    const Shape& s = shape_;
    const memory::desc src_md(dims_src(s), DataType::f32, Tag::tnc);
    const memory::desc dst_md(dims_dst(s), DataType::f32, Tag::tnc);
    const memory::desc bias_md(dims_bias(s), DataType::f32, Tag::ldgo);
    const memory::desc weights_layer_any(dims_weights_layer(s), DataType::f32, Tag::any);
    const memory::desc weights_iter_any(dims_weights_iter(s), DataType::f32, Tag::any);
    // Initial states are passed explicitly as zeros. Leaving them out (a zero memory::desc, which
    // oneDNN documents as "zero initial state") gives a WRONG diff_weights_iter from oneDNN 2.6's
    // unidirectional lstm_backward (found by the self-check below; bidirectional was right).
    const memory::desc state_md({1, s.directions, s.batch, s.hidden}, DataType::f32, Tag::ldnc);
    const memory::desc none;  // final states and their gradients are not wanted

    const auto prop =
        training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
    const dnnl::lstm_forward::desc forward_desc(prop, direction_of(s), src_md, state_md, state_md,
                                                weights_layer_any, weights_iter_any, bias_md,
                                                dst_md, none, none);
    forward_pd_ = dnnl::lstm_forward::primitive_desc(forward_desc, engine_);
    forward_ = dnnl::lstm_forward(forward_pd_);

    // Plain user memories, then reordered once to what the primitive wants.
    weights_layer_plain_ = memory({dims_weights_layer(s), DataType::f32, Tag::ldigo}, engine_);
    weights_iter_plain_ = memory({dims_weights_iter(s), DataType::f32, Tag::ldigo}, engine_);
    write_to(weights_layer_plain_, plain.weights_layer);
    write_to(weights_iter_plain_, plain.weights_iter);
    src_ = memory(src_md, engine_);
    write_to(src_, plain.src);
    bias_ = memory(bias_md, engine_);
    write_to(bias_, plain.bias);
    dst_ = memory(forward_pd_.dst_layer_desc(), engine_);
    weights_layer_ =
        to_layout(weights_layer_plain_, forward_pd_.weights_layer_desc(), engine_, stream_);
    weights_iter_ =
        to_layout(weights_iter_plain_, forward_pd_.weights_iter_desc(), engine_, stream_);
    zero_state_ = zeros(state_md);
    forward_args_ = {{DNNL_ARG_SRC_LAYER, src_},
                     {DNNL_ARG_SRC_ITER, zero_state_},
                     {DNNL_ARG_SRC_ITER_C, zero_state_},
                     {DNNL_ARG_WEIGHTS_LAYER, weights_layer_},
                     {DNNL_ARG_WEIGHTS_ITER, weights_iter_},
                     {DNNL_ARG_BIAS, bias_},
                     {DNNL_ARG_DST_LAYER, dst_}};
    if (!training) return;

    workspace_ = memory(forward_pd_.workspace_desc(), engine_);
    forward_args_.insert({DNNL_ARG_WORKSPACE, workspace_});

    const memory::desc diff_weights_layer_any(dims_weights_layer(s), DataType::f32, Tag::any);
    const memory::desc diff_weights_iter_any(dims_weights_iter(s), DataType::f32, Tag::any);
    const dnnl::lstm_backward::desc backward_desc(
        dnnl::prop_kind::backward, direction_of(s), src_md, state_md, state_md, weights_layer_any,
        weights_iter_any, bias_md, dst_md, none, none, src_md, state_md, state_md,
        diff_weights_layer_any, diff_weights_iter_any, bias_md, dst_md, none, none);
    backward_pd_ = dnnl::lstm_backward::primitive_desc(backward_desc, engine_, forward_pd_);
    backward_ = dnnl::lstm_backward(backward_pd_);

    // The backward primitive may want the weights in another layout than the forward one.
    backward_weights_layer_ =
        to_layout(weights_layer_plain_, backward_pd_.weights_layer_desc(), engine_, stream_);
    backward_weights_iter_ =
        to_layout(weights_iter_plain_, backward_pd_.weights_iter_desc(), engine_, stream_);
    diff_dst_ = memory(backward_pd_.diff_dst_layer_desc(), engine_);
    write_to(diff_dst_, plain.diff_dst);
    diff_src_ = memory(backward_pd_.diff_src_layer_desc(), engine_);
    diff_weights_layer_ = memory(backward_pd_.diff_weights_layer_desc(), engine_);
    diff_weights_iter_ = memory(backward_pd_.diff_weights_iter_desc(), engine_);
    diff_bias_ = memory(backward_pd_.diff_bias_desc(), engine_);
    diff_src_iter_ = memory(state_md, engine_);
    diff_src_iter_c_ = memory(state_md, engine_);
    backward_args_ = {{DNNL_ARG_SRC_LAYER, src_},
                      {DNNL_ARG_SRC_ITER, zero_state_},
                      {DNNL_ARG_SRC_ITER_C, zero_state_},
                      {DNNL_ARG_DIFF_SRC_ITER, diff_src_iter_},
                      {DNNL_ARG_DIFF_SRC_ITER_C, diff_src_iter_c_},
                      {DNNL_ARG_WEIGHTS_LAYER, backward_weights_layer_},
                      {DNNL_ARG_WEIGHTS_ITER, backward_weights_iter_},
                      {DNNL_ARG_BIAS, bias_},
                      {DNNL_ARG_DST_LAYER, dst_},
                      {DNNL_ARG_WORKSPACE, workspace_},
                      {DNNL_ARG_DIFF_DST_LAYER, diff_dst_},
                      {DNNL_ARG_DIFF_SRC_LAYER, diff_src_},
                      {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_weights_layer_},
                      {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_weights_iter_},
                      {DNNL_ARG_DIFF_BIAS, diff_bias_}};
  }

  void forward() {
    forward_.execute(stream_, forward_args_);
    stream_.wait();
  }

  /// One training step of the layer: forward with workspace, zeroed weight gradients, backward.
  void forward_backward() {
    forward_.execute(stream_, forward_args_);
    for (const memory* diff : {&diff_weights_layer_, &diff_weights_iter_, &diff_bias_}) {
      std::memset(diff->get_data_handle(), 0, diff->get_desc().get_size());
    }
    backward_.execute(stream_, backward_args_);
    stream_.wait();
  }

  std::vector<float> dst() const { return read_from(dst_); }
  std::vector<float> diff_src() const { return read_from(diff_src_); }
  std::vector<float> diff_bias() const { return read_from(diff_bias_); }
  /// Weight gradients reordered to the plain ldigo layout.
  std::vector<float> diff_weights_layer() { return plain_copy(diff_weights_layer_, true); }
  std::vector<float> diff_weights_iter() { return plain_copy(diff_weights_iter_, false); }

  /// oneDNN's implementation names ("brgemm", "ref" = its gemm-based RNN), for the label.
  std::string implementation() const {
    std::string name = forward_pd_.impl_info_str();
    if (backward_) name += " / " + std::string(backward_pd_.impl_info_str());
    return name;
  }

 private:
  memory zeros(const memory::desc& desc) {
    memory mem(desc, engine_);
    std::memset(mem.get_data_handle(), 0, desc.get_size());
    return mem;
  }

  std::vector<float> plain_copy(memory source, bool layer) {
    const memory::dims dims = layer ? dims_weights_layer(shape_) : dims_weights_iter(shape_);
    memory plain({dims, DataType::f32, Tag::ldigo}, engine_);
    dnnl::reorder(source, plain).execute(stream_, source, plain);
    stream_.wait();
    return read_from(plain);
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  Shape shape_;
  dnnl::lstm_forward::primitive_desc forward_pd_;
  dnnl::lstm_forward forward_;
  dnnl::lstm_backward::primitive_desc backward_pd_;
  dnnl::lstm_backward backward_;
  memory zero_state_;  // [1][D][B][H] zeros: initial h and c, read-only for oneDNN
  memory src_, bias_, dst_, workspace_;
  memory weights_layer_plain_, weights_iter_plain_, weights_layer_, weights_iter_;
  memory backward_weights_layer_, backward_weights_iter_;
  memory diff_dst_, diff_src_, diff_weights_layer_, diff_weights_iter_, diff_bias_;
  memory diff_src_iter_, diff_src_iter_c_;
  std::unordered_map<int, memory> forward_args_, backward_args_;
};

// ---------------------------------------------------------------------------------------------
// Naive LSTM in double, oneDNN's plain layouts and gate order, for the self-check.

struct NaiveResult {
  std::vector<double> dst, diff_src, diff_weights_layer, diff_weights_iter, diff_bias;
};

double sigmoid(double x) {
  return 1.0 / (1.0 + std::exp(-x));
}

/// Forward and backward through time of one direction; direction 1 runs from t = T-1 down to 0.
/// Equations: a = Wl^T x_t + Wi^T h_{t-1} + b; i,f,o = sigmoid(a_i,a_f,a_o); g = tanh(a_g);
/// c_t = f c_{t-1} + i g; h_t = o tanh(c_t).
void naive_direction(const PlainLstm& p, int direction, NaiveResult& out) {
  const Shape& s = p.shape;
  const int In = s.input, H = s.hidden, B = s.batch, T = s.steps, D = s.directions;
  const std::size_t G = static_cast<std::size_t>(kGates) * H;
  const float* Wl = p.weights_layer.data() + static_cast<std::size_t>(direction) * In * G;
  const float* Wi = p.weights_iter.data() + static_cast<std::size_t>(direction) * H * G;
  const float* bias = p.bias.data() + static_cast<std::size_t>(direction) * G;
  auto step_at = [&](int k) { return direction == 0 ? k : T - 1 - k; };
  auto x_at = [&](int t, int b, int i) { return static_cast<double>(p.src[(t * B + b) * In + i]); };
  // Per processing step k (0..T-1), per batch row: gate activations, c and h.
  std::vector<double> gates(static_cast<std::size_t>(T) * B * G), c(T * B * H), h(T * B * H);
  auto prev = [&](const std::vector<double>& state, int k, int b, int j) {
    return k == 0 ? 0.0 : state[((k - 1) * B + b) * H + j];
  };
  for (int k = 0; k < T; ++k) {
    const int t = step_at(k);
    for (int b = 0; b < B; ++b) {
      for (int gate = 0; gate < kGates; ++gate) {
        for (int j = 0; j < H; ++j) {
          double a = bias[gate * H + j];
          for (int i = 0; i < In; ++i) a += x_at(t, b, i) * Wl[i * G + gate * H + j];
          for (int i = 0; i < H; ++i) a += prev(h, k, b, i) * Wi[i * G + gate * H + j];
          gates[(k * B + b) * G + gate * H + j] = gate == 2 ? std::tanh(a) : sigmoid(a);
        }
      }
      for (int j = 0; j < H; ++j) {
        const double* g = &gates[(k * B + b) * G];
        const double cell = g[H + j] * prev(c, k, b, j) + g[j] * g[2 * H + j];
        c[(k * B + b) * H + j] = cell;
        h[(k * B + b) * H + j] = g[3 * H + j] * std::tanh(cell);
        out.dst[(t * B + b) * D * H + direction * H + j] = h[(k * B + b) * H + j];
      }
    }
  }
  // Backward through time.
  std::vector<double> dh_next(B * H, 0.0), dc_next(B * H, 0.0), da(G);
  double* dWl = out.diff_weights_layer.data() + static_cast<std::size_t>(direction) * In * G;
  double* dWi = out.diff_weights_iter.data() + static_cast<std::size_t>(direction) * H * G;
  double* db = out.diff_bias.data() + static_cast<std::size_t>(direction) * G;
  for (int k = T - 1; k >= 0; --k) {
    const int t = step_at(k);
    for (int b = 0; b < B; ++b) {
      const double* g = &gates[(k * B + b) * G];
      for (int j = 0; j < H; ++j) {
        const double dh = p.diff_dst[(t * B + b) * D * H + direction * H + j] + dh_next[b * H + j];
        const double tanh_c = std::tanh(c[(k * B + b) * H + j]);
        const double i = g[j], f = g[H + j], cand = g[2 * H + j], o = g[3 * H + j];
        const double dc = dc_next[b * H + j] + dh * o * (1.0 - tanh_c * tanh_c);
        da[j] = dc * cand * i * (1.0 - i);
        da[H + j] = dc * prev(c, k, b, j) * f * (1.0 - f);
        da[2 * H + j] = dc * i * (1.0 - cand * cand);
        da[3 * H + j] = dh * tanh_c * o * (1.0 - o);
        dc_next[b * H + j] = dc * f;
      }
      for (std::size_t q = 0; q < G; ++q) db[q] += da[q];
      for (int i = 0; i < In; ++i) {
        double dx = 0.0;
        for (std::size_t q = 0; q < G; ++q) {
          dWl[i * G + q] += x_at(t, b, i) * da[q];
          dx += Wl[i * G + q] * da[q];
        }
        out.diff_src[(t * B + b) * In + i] += dx;
      }
      for (int i = 0; i < H; ++i) {
        double dh_prev = 0.0;
        for (std::size_t q = 0; q < G; ++q) {
          dWi[i * G + q] += prev(h, k, b, i) * da[q];
          dh_prev += Wi[i * G + q] * da[q];
        }
        dh_next[b * H + i] = dh_prev;
      }
    }
  }
}

NaiveResult naive_lstm(const PlainLstm& p) {
  const Shape& s = p.shape;
  NaiveResult out;
  out.dst.assign(p.diff_dst.size(), 0.0);
  out.diff_src.assign(p.src.size(), 0.0);
  out.diff_weights_layer.assign(p.weights_layer.size(), 0.0);
  out.diff_weights_iter.assign(p.weights_iter.size(), 0.0);
  out.diff_bias.assign(p.bias.size(), 0.0);
  for (int d = 0; d < s.directions; ++d) naive_direction(p, d, out);
  return out;
}

/// Largest |a - b| / max(1, |b|) over the elements; sizes must match.
double max_error(const std::vector<float>& got, const std::vector<double>& expected) {
  if (got.size() != expected.size()) return INFINITY;
  double worst = 0.0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    worst = std::max(worst, std::abs(got[k] - expected[k]) / std::max(1.0, std::abs(expected[k])));
  }
  return worst;
}

/// Compares oneDNN with the naive LSTM on tiny shapes; returns false (and says why) on mismatch.
bool self_check() {
  const double tolerance = 1e-4;  // float32 against double on sums of at most ~20 terms
  // In < H, In > H, In = H; unidirectional and bidirectional; batch 1 and more.
  const Shape shapes[] = {{3, 4, 2, 5, 1}, {5, 3, 3, 4, 2}, {7, 8, 1, 6, 1}, {6, 6, 2, 3, 2}};
  bool ok = true;
  for (const Shape& s : shapes) {
    const PlainLstm plain(s, 7);
    const NaiveResult expected = naive_lstm(plain);
    OneDnnLstm inference(plain, false);
    inference.forward();
    OneDnnLstm training(plain, true);
    training.forward_backward();
    const struct {
      const char* what;
      double error;
    } checks[] = {
        {"dst (inference)", max_error(inference.dst(), expected.dst)},
        {"dst (training)", max_error(training.dst(), expected.dst)},
        {"diff_src", max_error(training.diff_src(), expected.diff_src)},
        {"diff_weights_layer",
         max_error(training.diff_weights_layer(), expected.diff_weights_layer)},
        {"diff_weights_iter", max_error(training.diff_weights_iter(), expected.diff_weights_iter)},
        {"diff_bias", max_error(training.diff_bias(), expected.diff_bias)},
    };
    for (const auto& check : checks) {
      if (!(check.error <= tolerance)) {
        std::fprintf(stderr,
                     "bench_onednn_lstm: self-check FAILED for %s, In=%d H=%d B=%d T=%d D=%d: "
                     "max relative error %.3g > %.1g\n",
                     check.what, s.input, s.hidden, s.batch, s.steps, s.directions, check.error,
                     tolerance);
        ok = false;
      }
    }
  }
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Benchmarks.

enum class Mode { kForward, kForwardTraining, kForwardBackward };

void set_counters(benchmark::State& state, const Shape& s, Mode mode) {
  const double tokens = static_cast<double>(s.steps) * s.batch;
  const double flops_per_token = 2.0 * kGates * s.hidden * (s.input + s.hidden) * s.directions *
                                 (mode == Mode::kForwardBackward ? 3.0 : 1.0);
  const double iterations = static_cast<double>(state.iterations());
  state.counters["tokens_per_second"] =
      benchmark::Counter(tokens * iterations, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(tokens * flops_per_token * iterations * 1e-9, benchmark::Counter::kIsRate);
}

/// threads == 0: the process default (OMP_NUM_THREADS or 1); otherwise exactly `threads`.
void run_case(benchmark::State& state, Shape shape, Mode mode, int threads) {
  const int used_threads = threads == 0 ? g_default_threads : threads;
  set_omp_threads(used_threads);  // before creating the primitives, which may size scratch by it
  const PlainLstm plain(shape, 42);
  OneDnnLstm lstm(plain, mode != Mode::kForward);
  auto run_once = [&] {
    mode == Mode::kForwardBackward ? lstm.forward_backward() : lstm.forward();
  };
  run_once();  // untimed: first-touch page faults and lazy JIT are not in the measurement
  for (auto _ : state) run_once();
  set_counters(state, shape, mode);
  state.SetLabel("threads=" + std::to_string(used_threads) + " (" +
                 (threads == 0 ? g_threads_how : std::string("set by this case")) + ") " +
                 "impl=" + lstm.implementation());
  set_omp_threads(g_default_threads);
}

std::string case_name(const char* prefix, const Shape& s) {
  return std::string(prefix) + "/in:" + std::to_string(s.input) + "/h:" + std::to_string(s.hidden) +
         "/b:" + std::to_string(s.batch) + "/t:" + std::to_string(s.steps);
}

void register_case(const std::string& name, const Shape& shape, Mode mode, int threads) {
  auto* benchmark = benchmark::RegisterBenchmark(name.c_str(), run_case, shape, mode, threads)
                        ->Unit(benchmark::kMicrosecond);
  if ((threads == 0 ? g_default_threads : threads) > 1) benchmark->UseRealTime();
}

void register_cases() {
  const int steps = 32;
  const int sizes[][2] = {{100, 100}, {256, 256}, {512, 512}};
  for (const Mode mode : {Mode::kForward, Mode::kForwardTraining, Mode::kForwardBackward}) {
    const char* prefix = mode == Mode::kForward           ? "onednn_lstm_forward"
                         : mode == Mode::kForwardTraining ? "onednn_lstm_forward_training"
                                                          : "onednn_lstm_forward_backward";
    for (const auto& size : sizes) {
      for (const int batch : {1, 32}) {
        const Shape shape{size[0], size[1], batch, steps, 1};
        register_case(case_name(prefix, shape), shape, mode, 0);
      }
    }
  }
  const Shape bidirectional{100, 100, 32, steps, 2};
  const std::string name = case_name("onednn_bilstm_forward", bidirectional);
  register_case(name, bidirectional, Mode::kForward, 0);
  register_case(name + "/threads:2", bidirectional, Mode::kForward, 2);
}

}  // namespace

int main(int argc, char** argv) {
  const char* env_threads = std::getenv("OMP_NUM_THREADS");
  if (env_threads != nullptr && *env_threads != '\0') {
    g_default_threads = omp_max_threads();
    g_threads_how = std::string("OMP_NUM_THREADS=") + env_threads;
  } else {
    g_default_threads = 1;
    g_threads_how = "default 1, OMP_NUM_THREADS unset";
    if (!set_omp_threads(1)) g_threads_how += "; no OpenMP runtime found, threads not set";
  }
  benchmark::AddCustomContext("onednn_threads",
                              std::to_string(g_default_threads) + " (" + g_threads_how + ")");
  const dnnl_version_t* version = dnnl_version();
  benchmark::AddCustomContext(
      "onednn_version", std::to_string(version->major) + "." + std::to_string(version->minor) +
                            "." + std::to_string(version->patch) +
                            " cpu_runtime=" + std::to_string(version->cpu_runtime));

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    if (!self_check()) return 1;
    register_cases();
    benchmark::RunSpecifiedBenchmarks();
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "bench_onednn_lstm: oneDNN error %d: %s\n", static_cast<int>(e.status),
                 e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_onednn_lstm: %s\n", e.what());
    return 1;
  }
  benchmark::Shutdown();
  return 0;
}
