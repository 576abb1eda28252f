// Tests of the bidirectional wrapper (bidirectional.hpp) around two LSTMs.

#include <lstmner/bidirectional.hpp>
#include <lstmner/gradcheck.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

// Cut stages for every thread count these tests ask for, beyond this machine's cores (they then
// run on the cores there are): results must not depend on the cut.
static const bool more_threads_than_cores =
    (lstmner::ExecutionContext::allow_more_threads_than_cores(true), true);

using namespace lstmner;

namespace {

template <class Scalar>
Tensor3<Scalar> random_tensor(Index d0, Index d1, Index d2, Rng& rng, double scale = 1.0) {
  Tensor3<Scalar> t(typename Tensor3<Scalar>::Shape{d0, d1, d2});
  for (Index i = 0; i < t.size(); ++i)
    t.data()[i] = static_cast<Scalar>(rng.uniform(-scale, scale));
  return t;
}

/// A BiLSTM whose biases are randomised as well, running the given kernels.
template <class Scalar>
BiLSTM<Scalar> random_bilstm(Index input_size, Index hidden, Rng& rng, LstmKernel kernel) {
  BiLSTM<Scalar> layer = make_bilstm<Scalar>(input_size, hidden, rng);
  for (LSTM<Scalar>* direction : {&layer.forward_layer, &layer.backward_layer}) {
    for (Index i = 0; i < direction->b.value.rows(); ++i)
      direction->b.value(i, 0) += static_cast<Scalar>(rng.uniform(-0.5, 0.5));
    direction->kernel = kernel;
  }
  return layer;
}

/// Sequence b of a batch, alone: (F, 1, lengths[b]), optionally reversed in time.
template <class Scalar>
Tensor3<Scalar> one_sequence(const Tensor3<Scalar>& batch, const SequenceLengths& lengths, Index b,
                             bool reversed) {
  const Index L = lengths[b];
  Tensor3<Scalar> out(typename Tensor3<Scalar>::Shape{batch.dim(0), 1, L});
  for (Index t = 0; t < L; ++t)
    for (Index k = 0; k < batch.dim(0); ++k) out(k, 0, t) = batch(k, b, reversed ? L - 1 - t : t);
  return out;
}

const char* kernel_name(LstmKernel k) {
  return k == LstmKernel::fast ? "fast" : "reference";
}

}  // namespace

TEST_CASE("reverse_within_lengths reverses each sequence in its own length, padding stays last") {
  const SequenceLengths lengths({3, 1, 2});
  Tensor3<int> x(Tensor3<int>::Shape{1, 3, 3});
  for (Index b = 0; b < 3; ++b)
    for (Index t = 0; t < 3; ++t) x(0, b, t) = static_cast<int>(10 * (b + 1) + t);
  Tensor3<int> r;
  reverse_within_lengths(x, lengths, r);
  // sequence 0: 10 11 12 → 12 11 10
  // sequence 1: 20 | pad pad → 20 | 0 0
  // sequence 2: 30 31 | pad → 31 30 | 0
  const int expected[3][3] = {{12, 11, 10}, {20, 0, 0}, {31, 30, 0}};
  for (Index b = 0; b < 3; ++b)
    for (Index t = 0; t < 3; ++t) REQUIRE(r(0, b, t) == expected[b][t]);
}

TEST_CASE("BiLSTM: each direction sees exactly its sequence, forwards and reversed") {
  const LstmKernel kernel = GENERATE(LstmKernel::reference, LstmKernel::fast);
  INFO("kernel " << kernel_name(kernel));
  const SequenceLengths lengths({5, 1, 3, 5});
  const Index In = 4, H = 3, B = 4, T = 5;
  Rng rng(31);
  const BiLSTM<double> bilstm = random_bilstm<double>(In, H, rng, kernel);
  REQUIRE(bilstm.output_size() == 2 * H);
  const Tensor3<double> x = random_tensor<double>(In, B, T, rng);
  BiLSTM<double>::Workspace ws;
  Tensor3<double> out;
  bilstm.forward(x, lengths, out, ws);
  REQUIRE(out.shape() == Tensor3<double>::Shape{2 * H, B, T});

  for (Index b = 0; b < B; ++b) {
    const Index L = lengths[b];
    const SequenceLengths alone({L});
    LSTM<double>::Workspace lws;
    Tensor3<double> h_fwd, h_bwd;
    bilstm.forward_layer.forward(one_sequence(x, lengths, b, false), alone, h_fwd, lws);
    bilstm.backward_layer.forward(one_sequence(x, lengths, b, true), alone, h_bwd, lws);
    for (Index t = 0; t < L; ++t) {
      for (Index j = 0; j < H; ++j) {
        REQUIRE(out(j, b, t) == Approx(h_fwd(j, 0, t)).margin(1e-13));
        // At step t the backward direction has read steps L-1 down to t: its step L-1-t.
        REQUIRE(out(H + j, b, t) == Approx(h_bwd(j, 0, L - 1 - t)).margin(1e-13));
      }
    }
    for (Index t = L; t < T; ++t)
      for (Index j = 0; j < 2 * H; ++j) REQUIRE(out(j, b, t) == 0.0);
  }
}

TEST_CASE("BiLSTM analytic gradients match central finite differences (double)") {
  const LstmKernel kernel = GENERATE(LstmKernel::reference, LstmKernel::fast);
  const std::vector<Index> batch = GENERATE(std::vector<Index>{5, 1, 3}, std::vector<Index>{1, 1});
  const SequenceLengths lengths(batch);
  const Index In = 3, H = 3, B = lengths.batch_size(), T = lengths.max_length();
  INFO("kernel " << kernel_name(kernel) << ", batch of " << B << ", T = " << T);

  Rng rng(77);
  BiLSTM<double> bilstm = random_bilstm<double>(In, H, rng, kernel);
  Tensor3<double> x = random_tensor<double>(In, B, T, rng);
  // dloss/dout = weights, nonzero at padded steps too: those must be ignored.
  const Tensor3<double> weights = random_tensor<double>(2 * H, B, T, rng);

  BiLSTM<double>::Workspace ws;
  Tensor3<double> out, dx;
  bilstm.forward(x, lengths, out, ws);
  zero_grad(bilstm.params());
  bilstm.backward(x, lengths, weights, dx, ws);

  BiLSTM<double>::Workspace loss_ws;
  Tensor3<double> loss_out;
  auto loss = [&] {
    bilstm.forward(x, lengths, loss_out, loss_ws);
    return loss_out.vec().dot(weights.vec());
  };
  auto r = check_gradient("x", x.data(), dx.data(), x.size(), loss);
  CHECK(r.max_relative_error <= 1e-6);
  for (Index b = 0; b < B; ++b)
    for (Index t = lengths[b]; t < T; ++t)
      for (Index k = 0; k < In; ++k) REQUIRE(dx(k, b, t) == 0.0);
  for (auto* p : bilstm.params()) {
    const Matrix<double> analytic = p->grad;
    auto rp = check_gradient(p->name, p->value, analytic, loss);
    INFO("parameter " << p->name << ": worst entry " << rp.worst_index << " analytic "
                      << rp.analytic_at_worst << " numeric " << rp.numeric_at_worst);
    CHECK(rp.max_relative_error <= 1e-6);
    // U gets no gradient when every sequence has one step (h_{-1} = 0); everything else does.
    const bool is_recurrent = p == &bilstm.forward_layer.U || p == &bilstm.backward_layer.U;
    if (T > 1 || !is_recurrent) CHECK(p->grad.cwiseAbs().maxCoeff() > 0.0);
  }
}

TEST_CASE("BiLSTM on any number of threads is bit-identical to one thread") {
  // 20 sequences of mixed lengths (a group of 8 or more per part, so 8 threads cut the batch
  // into 4 groups per direction), one of length 1; and a batch of one sequence (the
  // matrix-vector path).
  std::vector<Index> mixed;
  for (Index b = 0; b < 20; ++b) mixed.push_back(1 + (b * 7) % 13);
  for (const SequenceLengths& lengths : {SequenceLengths(mixed), SequenceLengths({6})}) {
    const Index In = 16, H = 40, B = lengths.batch_size(), T = lengths.max_length();
    Rng rng(4);
    const BiLSTM<float> reference = random_bilstm<float>(In, H, rng, LstmKernel::fast);
    const Tensor3<float> x = random_tensor<float>(In, B, T, rng);
    const Tensor3<float> dout = random_tensor<float>(2 * H, B, T, rng);
    auto run = [&](int threads, Tensor3<float>& out, Tensor3<float>& dx) {
      ExecutionContext context(threads);
      BiLSTM<float> layer = reference;
      zero_grad(layer.params());
      BiLSTM<float>::Workspace ws;
      for (int repeat = 0; repeat < 2; ++repeat) {
        layer.forward(x, lengths, out, ws, context);
        layer.backward(x, lengths, dout, dx, ws, context);
      }
      return layer;
    };
    Tensor3<float> out1, dx1;
    const BiLSTM<float> one = run(1, out1, dx1);
    for (int threads : {2, 3, 4, 8}) {
      CAPTURE(B, threads);
      Tensor3<float> out, dx;
      BiLSTM<float> many = run(threads, out, dx);
      REQUIRE(out.vec() == out1.vec());
      REQUIRE(dx.vec() == dx1.vec());
      const auto p1 = const_cast<BiLSTM<float>&>(one).params();
      const auto pn = many.params();
      REQUIRE(p1.size() == 6);
      for (std::size_t i = 0; i < p1.size(); ++i) {
        INFO(p1[i]->name);
        REQUIRE(p1[i]->grad == pn[i]->grad);
      }
    }
  }
}

TEST_CASE("BiLSTM names its parameters by direction, in slot order") {
  Rng rng(1);
  BiLSTM<float> bilstm = make_bilstm<float>(3, 2, rng);
  std::vector<std::string> names;
  for (auto* p : bilstm.params()) names.push_back(p->name);
  REQUIRE(names == std::vector<std::string>{"forward.W", "forward.U", "forward.b", "backward.W",
                                            "backward.U", "backward.b"});
  // The two directions are drawn one after the other: different weights.
  REQUIRE(bilstm.forward_layer.W.value != bilstm.backward_layer.W.value);
}

TEST_CASE("BiLSTM rejects bad arguments with clear messages") {
  Rng rng(2);
  BiLSTM<float> bilstm = make_bilstm<float>(4, 3, rng);
  BiLSTM<float>::Workspace ws;
  Tensor3<float> out, dx;
  const SequenceLengths lengths({2, 3});
  const Tensor3<float> x = random_tensor<float>(4, 2, 3, rng);
  REQUIRE_THROWS_WITH(bilstm.forward(random_tensor<float>(2, 2, 3, rng), lengths, out, ws),
                      Catch::StartsWith("lstmner: Bidirectional: forward: input x has 2 features "
                                        "per step, expected 4"));
  REQUIRE_THROWS_WITH(bilstm.forward(random_tensor<float>(4, 3, 3, rng), lengths, out, ws),
                      Catch::StartsWith("lstmner: Bidirectional: forward: input of shape (4, 3, 3) "
                                        "does not match a batch of 2 sequences"));
  REQUIRE_THROWS_WITH(bilstm.backward(x, lengths, random_tensor<float>(6, 2, 3, rng), dx, ws),
                      Catch::Contains("the workspace holds no forward pass"));
  bilstm.forward(x, lengths, out, ws);
  REQUIRE_THROWS_WITH(bilstm.backward(x, lengths, random_tensor<float>(3, 2, 3, rng), dx, ws),
                      Catch::StartsWith("lstmner: Bidirectional: backward: output gradient has "
                                        "shape (3, 2, 3), expected (6, 2, 3)"));
  REQUIRE_NOTHROW(bilstm.backward(x, lengths, out, dx, ws));

  LSTM<float> reads4(4, 3, rng), reads5(5, 3, rng);
  REQUIRE_THROWS_WITH(BiLSTM<float>(reads4, reads5),
                      Catch::StartsWith("lstmner: Bidirectional: the forward layer reads 4 "
                                        "features but the backward layer 5"));
  // A workspace whose direction caches no longer match the batch is refused, on any threads.
  ExecutionContext two(2);
  bilstm.forward(x, lengths, out, ws, two);
  ws.backward_ws.cache.lengths.clear();  // the backward direction's cache no longer matches
  REQUIRE_THROWS_WITH(bilstm.backward(x, lengths, out, dx, ws, two),
                      Catch::Contains("the workspace holds no forward pass"));
}
