// Tests of the LSTM layer (lstm.hpp) and its two kernel families (kernels/lstm_*.hpp).

// This file runs with Eigen's assertions on, even in Release, turned into exceptions that Catch
// reports (so Tensor's bounds checks are live too), and with Eigen's runtime heap check: together
// with the allocation counter of counting_allocator.cpp they prove that a pass over a sized
// workspace allocates nothing. Both macros must precede every Eigen header; no other translation
// unit of this test executable includes Eigen.
#include <stdexcept>
#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(condition)                        \
  (static_cast<bool>(condition) ? static_cast<void>(0) \
                                : throw std::logic_error("Eigen assertion failed: " #condition))

#include <lstmner/bidirectional.hpp>
#include <lstmner/gradcheck.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include "counting_allocator.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>
#include <utility>
#include <vector>

using namespace lstmner;

namespace {

/// While alive: Eigen may not touch the heap (it throws through eigen_assert if it tries), and
/// operator new calls are counted.
class HeapWatch {
 public:
  HeapWatch() : start_(lstmner_test::start_measuring()) {
    Eigen::internal::set_is_malloc_allowed(false);
  }
  ~HeapWatch() { Eigen::internal::set_is_malloc_allowed(true); }
  HeapWatch(const HeapWatch&) = delete;
  HeapWatch& operator=(const HeapWatch&) = delete;
  long operator_new_calls_since_start() const { return lstmner_test::allocations_since(start_); }

 private:
  long start_;
};

template <class Scalar>
Tensor3<Scalar> random_tensor(Index d0, Index d1, Index d2, Rng& rng, double scale = 1.0) {
  Tensor3<Scalar> t(typename Tensor3<Scalar>::Shape{d0, d1, d2});
  for (Index i = 0; i < t.size(); ++i)
    t.data()[i] = static_cast<Scalar>(rng.uniform(-scale, scale));
  return t;
}

/// A freshly initialised layer whose bias is randomised too, so that every gate works in a
/// different regime and db is checked on non-trivial values.
template <class Scalar>
LSTM<Scalar> random_lstm(Index input_size, Index hidden_size, Rng& rng, LstmKernel kernel) {
  LSTM<Scalar> layer(input_size, hidden_size, rng);
  for (Index i = 0; i < layer.b.value.rows(); ++i)
    layer.b.value(i, 0) += static_cast<Scalar>(rng.uniform(-0.5, 0.5));
  layer.kernel = kernel;
  return layer;
}

/// Largest absolute difference, relative to the largest magnitude of the reference.
template <class A, class B>
double relative_error(const A& reference, const B& other) {
  const double scale = std::max(1e-30, static_cast<double>(reference.cwiseAbs().maxCoeff()));
  return static_cast<double>((reference - other).cwiseAbs().maxCoeff()) / scale;
}

const char* kernel_name(LstmKernel k) {
  return k == LstmKernel::fast ? "fast" : "reference";
}

}  // namespace

TEST_CASE("LSTM initialisation: Glorot W, orthogonal U blocks, forget bias 1, reproducible") {
  Rng rng(11);
  LSTM<double> layer(5, 6, rng);
  REQUIRE(layer.input_size() == 5);
  REQUIRE(layer.hidden_size() == 6);
  REQUIRE(layer.W.value.rows() == 24);
  REQUIRE(layer.W.value.cols() == 5);
  REQUIRE(layer.U.value.rows() == 24);
  REQUIRE(layer.U.value.cols() == 6);
  REQUIRE(layer.b.value.rows() == 24);
  REQUIRE(layer.b.value.cols() == 1);
  const double limit = std::sqrt(6.0 / (24 + 5));
  REQUIRE(layer.W.value.cwiseAbs().maxCoeff() <= limit);
  for (Index gate = 0; gate < 4; ++gate) {
    const Matrix<double> block = layer.U.value.middleRows(gate * 6, 6);
    REQUIRE((block.transpose() * block - Matrix<double>::Identity(6, 6)).cwiseAbs().maxCoeff() <
            1e-12);
  }
  for (Index j = 0; j < 24; ++j) REQUIRE(layer.b.value(j, 0) == (j >= 6 && j < 12 ? 1.0 : 0.0));
  auto params = layer.params();
  REQUIRE(params.size() == 3);
  REQUIRE(params[0]->name == "W");
  REQUIRE(params[1]->name == "U");
  REQUIRE(params[2]->name == "b");

  Rng again(11);
  LSTM<double> same(5, 6, again);
  REQUIRE(same.W.value == layer.W.value);
  REQUIRE(same.U.value == layer.U.value);
}

TEST_CASE("LSTM forward matches a hand-computed one-unit sequence") {
  // One unit, one input feature: every matrix is a column of the four gate weights (i, f, g, o).
  Rng rng(1);
  LSTM<double> layer(1, 1, rng);
  layer.W.value << 0.5, -0.3, 0.8, 0.1;
  layer.U.value << 0.2, 0.4, -0.6, 0.7;
  layer.b.value << 0.1, 1.0, -0.2, 0.3;
  const double xs[3] = {1.0, -2.0, 0.5};

  auto sigmoid = [](double z) { return 1.0 / (1.0 + std::exp(-z)); };
  double h = 0, c = 0, expected[3];
  for (int t = 0; t < 3; ++t) {
    const double i = sigmoid(0.5 * xs[t] + 0.2 * h + 0.1);
    const double f = sigmoid(-0.3 * xs[t] + 0.4 * h + 1.0);
    const double g = std::tanh(0.8 * xs[t] - 0.6 * h - 0.2);
    const double o = sigmoid(0.1 * xs[t] + 0.7 * h + 0.3);
    c = f * c + i * g;
    h = o * std::tanh(c);
    expected[t] = h;
  }

  Tensor3<double> x(Tensor3<double>::Shape{1, 1, 3});
  for (int t = 0; t < 3; ++t) x(0, 0, t) = xs[t];
  SequenceLengths lengths({3});
  for (LstmKernel kernel : {LstmKernel::reference, LstmKernel::fast}) {
    INFO("kernel " << kernel_name(kernel));
    layer.kernel = kernel;
    LSTM<double>::Workspace ws;
    Tensor3<double> out;
    layer.forward(x, lengths, out, ws);
    for (int t = 0; t < 3; ++t) REQUIRE(out(0, 0, t) == Approx(expected[t]).epsilon(1e-14));
  }
}

TEST_CASE("LSTM analytic gradients match central finite differences (double)") {
  const LstmKernel kernel = GENERATE(LstmKernel::reference, LstmKernel::fast);
  const std::vector<Index> batch =
      GENERATE(std::vector<Index>{5, 1, 3}, std::vector<Index>{1, 1, 1}, std::vector<Index>{4});
  const SequenceLengths lengths(batch);
  const Index In = 3, H = 4, B = lengths.batch_size(), T = lengths.max_length();
  INFO("kernel " << kernel_name(kernel) << ", batch of " << B << ", T = " << T);

  Rng rng(2024);
  LSTM<double> layer = random_lstm<double>(In, H, rng, kernel);
  Tensor3<double> x = random_tensor<double>(In, B, T, rng);
  // Loss = sum of (fixed random weights ⊙ h), so dloss/dh = weights. The weights are nonzero at
  // padded steps too: the layer must ignore dh there (h is 0 there whatever the parameters).
  const Tensor3<double> weights = random_tensor<double>(H, B, T, rng);

  LSTM<double>::Workspace ws;
  Tensor3<double> h, dx;
  layer.forward(x, lengths, h, ws);
  zero_grad(layer.params());
  layer.backward(x, lengths, weights, dx, ws);

  LSTM<double>::Workspace loss_ws;
  Tensor3<double> loss_h;
  auto loss = [&] {
    layer.forward(x, lengths, loss_h, loss_ws);
    return loss_h.vec().dot(weights.vec());
  };

  auto r = check_gradient("x", x.data(), dx.data(), x.size(), loss);
  CHECK(r.max_relative_error <= 1e-6);
  for (auto* p : layer.params()) {
    // Copy the analytic gradient: the loss closure never touches grad, but be explicit.
    const Matrix<double> analytic = p->grad;
    auto rp = check_gradient(p->name, p->value, analytic, loss);
    INFO("parameter " << p->name << ": worst entry " << rp.worst_index << " analytic "
                      << rp.analytic_at_worst << " numeric " << rp.numeric_at_worst);
    CHECK(rp.max_relative_error <= 1e-6);
    if (T > 1 || p != &layer.U) CHECK(p->grad.cwiseAbs().maxCoeff() > 0.0);
  }
}

TEMPLATE_TEST_CASE("fast LSTM kernels agree with the reference kernels", "", float, double) {
  using Scalar = TestType;
  const double tolerance = std::is_same<Scalar, float>::value ? 1e-4 : 1e-12;
  // Sizes that are not multiples of any SIMD width, mixed lengths with padding, and batch 1.
  // Batches of 9 and 5 cover the packed micro-kernel's full 4-column blocks and its 1-column
  // remainder, with padded columns in any order (not sorted by length).
  const std::vector<Index> batch =
      GENERATE(std::vector<Index>{7, 3, 7, 1, 5}, std::vector<Index>{6}, std::vector<Index>{1, 1},
               std::vector<Index>{4, 9, 2, 6, 1, 8, 3, 5, 7});
  // H = 37 crosses packet and 4-packet panel boundaries at every SIMD width; H = 260 takes the
  // panel-outer order the forward step uses when packed U does not fit in L2.
  const std::pair<Index, Index> in_hidden =
      GENERATE(std::make_pair(Index{13}, Index{17}), std::make_pair(Index{5}, Index{37}),
               std::make_pair(Index{3}, Index{260}));
  if (in_hidden.second == 260 && batch.size() == 9) return;  // keep the test fast
  const SequenceLengths lengths(batch);
  const Index In = in_hidden.first, H = in_hidden.second, B = lengths.batch_size(),
              T = lengths.max_length();
  INFO("In " << In << ", H " << H << ", B " << B << ", T " << T);

  Rng rng(99);
  LSTM<Scalar> reference = random_lstm<Scalar>(In, H, rng, LstmKernel::reference);
  LSTM<Scalar> fast = reference;
  fast.kernel = LstmKernel::fast;
  const Tensor3<Scalar> x = random_tensor<Scalar>(In, B, T, rng);
  const Tensor3<Scalar> dh = random_tensor<Scalar>(H, B, T, rng);

  typename LSTM<Scalar>::Workspace ws_ref, ws_fast;
  Tensor3<Scalar> h_ref, h_fast, dx_ref, dx_fast;
  reference.forward(x, lengths, h_ref, ws_ref);
  fast.forward(x, lengths, h_fast, ws_fast);
  zero_grad(reference.params());
  zero_grad(fast.params());
  reference.backward(x, lengths, dh, dx_ref, ws_ref);
  fast.backward(x, lengths, dh, dx_fast, ws_fast);

  CHECK(relative_error(h_ref.vec(), h_fast.vec()) <= tolerance);
  CHECK(relative_error(ws_ref.cache.gates.vec(), ws_fast.cache.gates.vec()) <= tolerance);
  CHECK(relative_error(ws_ref.cache.cell.vec(), ws_fast.cache.cell.vec()) <= tolerance);
  CHECK(relative_error(ws_ref.cache.hidden.vec(), ws_fast.cache.hidden.vec()) <= tolerance);
  CHECK(relative_error(dx_ref.vec(), dx_fast.vec()) <= tolerance);
  CHECK(relative_error(reference.W.grad, fast.W.grad) <= tolerance);
  CHECK(relative_error(reference.U.grad, fast.U.grad) <= tolerance);
  CHECK(relative_error(reference.b.grad, fast.b.grad) <= tolerance);
  // The gradients must be real numbers of a real size, not zeros that trivially agree (U gets
  // none when every sequence has one step: h_{-1} = 0).
  CHECK(reference.W.grad.cwiseAbs().maxCoeff() > 1e-3);
  if (T > 1) CHECK(reference.U.grad.cwiseAbs().maxCoeff() > 1e-3);

  // Either backward can follow either forward: the caches mean the same thing.
  LSTM<Scalar> fast_after_reference = fast;
  zero_grad(fast_after_reference.params());
  Tensor3<Scalar> dx_mixed;
  fast_after_reference.backward(x, lengths, dh, dx_mixed, ws_ref);
  CHECK(relative_error(dx_ref.vec(), dx_mixed.vec()) <= tolerance);
  CHECK(relative_error(reference.W.grad, fast_after_reference.W.grad) <= tolerance);
}

TEST_CASE("LSTM padded steps output zero, get zero gradient and do not matter") {
  const LstmKernel kernel = GENERATE(LstmKernel::reference, LstmKernel::fast);
  INFO("kernel " << kernel_name(kernel));
  const SequenceLengths lengths({5, 1, 3});
  const Index In = 4, H = 3, B = 3, T = 5;
  Rng rng(5);
  LSTM<float> layer = random_lstm<float>(In, H, rng, kernel);
  Tensor3<float> x = random_tensor<float>(In, B, T, rng);
  Tensor3<float> dh = random_tensor<float>(H, B, T, rng);

  LSTM<float>::Workspace ws;
  Tensor3<float> h, dx;
  layer.forward(x, lengths, h, ws);
  zero_grad(layer.params());
  layer.backward(x, lengths, dh, dx, ws);
  for (Index b = 0; b < B; ++b) {
    for (Index t = lengths[b]; t < T; ++t) {
      for (Index j = 0; j < H; ++j) REQUIRE(h(j, b, t) == 0.0f);
      for (Index k = 0; k < In; ++k) REQUIRE(dx(k, b, t) == 0.0f);
    }
  }
  const Matrix<float> dW = layer.W.grad, dU = layer.U.grad, db = layer.b.grad;

  // New values at every padded step of x and dh: nothing may change, not even in the last bit.
  for (Index b = 0; b < B; ++b) {
    for (Index t = lengths[b]; t < T; ++t) {
      for (Index k = 0; k < In; ++k) x(k, b, t) = static_cast<float>(rng.uniform(-50, 50));
      for (Index j = 0; j < H; ++j) dh(j, b, t) = static_cast<float>(rng.uniform(-50, 50));
    }
  }
  Tensor3<float> h2, dx2;
  layer.forward(x, lengths, h2, ws);
  zero_grad(layer.params());
  layer.backward(x, lengths, dh, dx2, ws);
  REQUIRE(h2.vec() == h.vec());
  REQUIRE(dx2.vec() == dx.vec());
  REQUIRE(layer.W.grad == dW);
  REQUIRE(layer.U.grad == dU);
  REQUIRE(layer.b.grad == db);
}

TEST_CASE("LSTM over a padded batch equals the LSTM over each sequence alone") {
  const LstmKernel kernel = GENERATE(LstmKernel::reference, LstmKernel::fast);
  INFO("kernel " << kernel_name(kernel));
  const SequenceLengths lengths({2, 6, 1, 4});
  const Index In = 5, H = 6, B = 4, T = 6;
  Rng rng(17);
  LSTM<double> layer = random_lstm<double>(In, H, rng, kernel);
  const Tensor3<double> x = random_tensor<double>(In, B, T, rng);
  const Tensor3<double> dh = random_tensor<double>(H, B, T, rng);
  LSTM<double>::Workspace ws;
  Tensor3<double> h, dx;
  layer.forward(x, lengths, h, ws);
  zero_grad(layer.params());
  layer.backward(x, lengths, dh, dx, ws);
  const Matrix<double> dU_batch = layer.U.grad;

  Matrix<double> dU_sum = Matrix<double>::Zero(4 * H, H);
  for (Index b = 0; b < B; ++b) {
    const Index L = lengths[b];
    Tensor3<double> xb(Tensor3<double>::Shape{In, 1, L}), dhb(Tensor3<double>::Shape{H, 1, L});
    for (Index t = 0; t < L; ++t) {
      for (Index k = 0; k < In; ++k) xb(k, 0, t) = x(k, b, t);
      for (Index j = 0; j < H; ++j) dhb(j, 0, t) = dh(j, b, t);
    }
    const SequenceLengths alone({L});
    Tensor3<double> hb, dxb;
    layer.forward(xb, alone, hb, ws);
    zero_grad(layer.params());
    layer.backward(xb, alone, dhb, dxb, ws);
    dU_sum += layer.U.grad;
    for (Index t = 0; t < L; ++t) {
      for (Index j = 0; j < H; ++j) REQUIRE(hb(j, 0, t) == Approx(h(j, b, t)).margin(1e-13));
      for (Index k = 0; k < In; ++k) REQUIRE(dxb(k, 0, t) == Approx(dx(k, b, t)).margin(1e-13));
    }
  }
  REQUIRE(relative_error(dU_batch, dU_sum) <= 1e-12);
}

TEST_CASE("LSTM workspaces keep their allocation for a batch that fits") {
  Rng rng(3);
  LSTM<float> layer(4, 8, rng);
  LSTM<float>::Workspace ws;
  Tensor3<float> h, dx;
  const Tensor3<float> x_big = random_tensor<float>(4, 6, 9, rng);
  const Tensor3<float> dh_big = random_tensor<float>(8, 6, 9, rng);
  const SequenceLengths big({9, 9, 4, 9, 1, 9});
  layer.forward(x_big, big, h, ws);
  layer.backward(x_big, big, dh_big, dx, ws);
  const float* gates = ws.cache.gates.data();
  const float* gate_grad = ws.cache.gate_grad.data();
  const float* h_data = h.data();
  const float* dx_data = dx.data();

  const Tensor3<float> x_small = random_tensor<float>(4, 3, 5, rng);
  const Tensor3<float> dh_small = random_tensor<float>(8, 3, 5, rng);
  const SequenceLengths small({5, 2, 3});
  layer.forward(x_small, small, h, ws);
  layer.backward(x_small, small, dh_small, dx, ws);
  REQUIRE(ws.cache.gates.data() == gates);
  REQUIRE(ws.cache.gate_grad.data() == gate_grad);
  REQUIRE(h.data() == h_data);
  REQUIRE(dx.data() == dx_data);
  REQUIRE(h.shape() == Tensor3<float>::Shape{8, 3, 5});
  REQUIRE(dx.shape() == Tensor3<float>::Shape{4, 3, 5});
}

TEST_CASE("LSTM rejects bad arguments with clear messages") {
  Rng rng(8);
  LSTM<float> layer(4, 3, rng);
  LSTM<float>::Workspace ws;
  Tensor3<float> h, dx;
  const SequenceLengths lengths({3, 2});
  const Tensor3<float> x = random_tensor<float>(4, 2, 3, rng);

  const Tensor3<float> wrong_features = random_tensor<float>(5, 2, 3, rng);
  REQUIRE_THROWS_WITH(
      layer.forward(wrong_features, lengths, h, ws),
      Catch::StartsWith("lstmner: LSTM: forward: input x has 5 features per step, expected 4"));
  const Tensor3<float> wrong_time = random_tensor<float>(4, 2, 4, rng);
  REQUIRE_THROWS_WITH(layer.forward(wrong_time, lengths, h, ws),
                      Catch::StartsWith("lstmner: LSTM: forward: input of shape (4, 2, 4) does "
                                        "not match a batch of 2 sequences of max length 3"));
  const Tensor3<float> wrong_batch = random_tensor<float>(4, 3, 3, rng);
  REQUIRE_THROWS_AS(layer.forward(wrong_batch, lengths, h, ws), std::invalid_argument);
  REQUIRE_THROWS_WITH(layer.forward(x, SequenceLengths(), h, ws),
                      Catch::Contains("no sequence lengths given"));

  REQUIRE_THROWS_WITH(layer.backward(x, lengths, random_tensor<float>(3, 2, 3, rng), dx, ws),
                      Catch::Contains("LSTM: backward: the workspace holds no forward pass"));
  layer.forward(x, lengths, h, ws);
  REQUIRE_THROWS_WITH(layer.backward(x, lengths, random_tensor<float>(3, 2, 2, rng), dx, ws),
                      Catch::StartsWith("lstmner: LSTM: backward: output gradient dh has shape "
                                        "(3, 2, 2), expected (3, 2, 3)"));
  REQUIRE_THROWS_WITH(layer.backward(x, SequenceLengths({3, 1}), h, dx, ws),
                      Catch::Contains("the workspace holds no forward pass over this batch"));
  REQUIRE_NOTHROW(layer.backward(x, lengths, h, dx, ws));

  REQUIRE_THROWS_WITH(
      LSTM<float>(0, 3, rng),
      Catch::StartsWith("lstmner: LSTM: input and hidden sizes must be at least 1"));
  LSTM<float> empty;
  REQUIRE_THROWS_WITH(empty.forward(x, lengths, h, ws), Catch::Contains("the layer is empty"));
}

namespace {

/// A forward and a backward pass over a batch smaller than the one the buffers were sized for,
/// with the heap watched: Eigen may not allocate (it throws if it tries), and the operator new
/// calls are returned. The fast kernels only: the reference kernels allocate small vectors per
/// step by design. Small sizes keep this fast under the sanitizers; test_allocation repeats the
/// check at the tagger's sizes (batch 32, H = 100), where Eigen's GEMM would take heap blocks.
long operator_new_calls_in_a_sized_pass(bool bidirectional) {
  Rng rng(12);
  const Index In = 16, H = 24;
  const SequenceLengths big({8, 8, 3, 8, 1}), small({6, 2, 6});
  const Tensor3<float> x_big = random_tensor<float>(In, 5, 8, rng);
  const Tensor3<float> x_small = random_tensor<float>(In, 3, 6, rng);
  Tensor3<float> out, dx;
  if (!bidirectional) {
    LSTM<float> layer(In, H, rng);
    const Tensor3<float> dh_big = random_tensor<float>(H, 5, 8, rng);
    const Tensor3<float> dh_small = random_tensor<float>(H, 3, 6, rng);
    LSTM<float>::Workspace ws;
    layer.forward(x_big, big, out, ws);
    layer.backward(x_big, big, dh_big, dx, ws);
    HeapWatch watch;
    layer.forward(x_small, small, out, ws);
    layer.backward(x_small, small, dh_small, dx, ws);
    return watch.operator_new_calls_since_start();
  }
  // On one thread: a second thread would allocate its own stack.
  BiLSTM<float> layer = make_bilstm<float>(In, H, rng);
  const Tensor3<float> dout_big = random_tensor<float>(2 * H, 5, 8, rng);
  const Tensor3<float> dout_small = random_tensor<float>(2 * H, 3, 6, rng);
  BiLSTM<float>::Workspace ws;
  layer.forward(x_big, big, out, ws);
  layer.backward(x_big, big, dout_big, dx, ws);
  HeapWatch watch;
  layer.forward(x_small, small, out, ws);
  layer.backward(x_small, small, dout_small, dx, ws);
  return watch.operator_new_calls_since_start();
}

}  // namespace

TEST_CASE("a pass over a workspace sized for a larger batch asks Eigen for no heap memory") {
  REQUIRE_NOTHROW(operator_new_calls_in_a_sized_pass(false));
  REQUIRE_NOTHROW(operator_new_calls_in_a_sized_pass(true));
}

TEST_CASE("a pass over a workspace sized for a larger batch makes no operator new call") {
  CHECK(operator_new_calls_in_a_sized_pass(false) == 0);
  CHECK(operator_new_calls_in_a_sized_pass(true) == 0);
}
