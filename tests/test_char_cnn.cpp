// The character CNN (char_cnn.hpp): hand-computed cases, a plain reference, finite-difference
// gradients (double), results that do not depend on how the work is cut, and no heap allocation
// in a sized training step (this executable links tests/counting_allocator.cpp).

#include <lstmner/char_cnn.hpp>
#include <lstmner/gradcheck.hpp>

#include "char_batch.hpp"
#include "counting_allocator.hpp"

#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <thread>
#include <vector>

using namespace lstmner;
using lstmner_test::allocations_since;
using lstmner_test::CharBatch;
using lstmner_test::random_char_batch;
using lstmner_test::random_matrix;
using lstmner_test::require_char_id_checks;
using lstmner_test::start_measuring;

namespace {

/// The layer's output straight from its definition: for every word, filter and position the sum
/// over the three offsets and the character dimensions, zero past the word's ends; then the max.
template <class Scalar>
Matrix<double> reference_forward(const CharCNN<Scalar>& cnn, const CharBatch& batch) {
  const Index C = cnn.char_dim(), F = cnn.filters(), words = batch.lengths.batch_size();
  Matrix<double> out(F, words);
  for (Index w = 0; w < words; ++w) {
    const Index n = batch.lengths[w];
    for (Index f = 0; f < F; ++f) {
      double best = -std::numeric_limits<double>::infinity();
      for (Index p = 0; p < n; ++p) {
        double z = static_cast<double>(cnn.b.value(f, 0));
        for (Index k = 0; k < 3; ++k) {
          const Index q = p + k - 1;
          if (q < 0 || q >= n) continue;
          for (Index c = 0; c < C; ++c)
            z += static_cast<double>(cnn.W.value(f, k * C + c)) *
                 static_cast<double>(cnn.table.value(c, batch.ids(w, q)));
        }
        best = std::max(best, z);
      }
      out(f, w) = cnn.activation == CharCnnActivation::tanh ? std::tanh(best) : best;
    }
  }
  return out;
}

template <class Scalar>
bool bitwise_equal(const Matrix<Scalar>& a, const Matrix<Scalar>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(Scalar) * static_cast<std::size_t>(a.size())) == 0;
}

template <class Scalar>
Matrix<Scalar> as_matrix(const Tensor2<Scalar>& t) {
  return t.matrix();
}

}  // namespace

TEST_CASE("char CNN: a hand-computed case, forward and backward") {
  Rng rng(1);
  CharCNN<double> cnn(4, 1, 1, rng);  // C = 1, F = 1, V = 4
  cnn.table.value << 0.0, 1.0, 2.0, -1.0;
  cnn.W.value << 0.5, 1.0, -2.0;  // left, centre, right
  cnn.b.value << 0.25;
  CharBatch batch;
  batch.lengths = SequenceLengths({3, 1});
  batch.ids.resize(2, 3);
  batch.ids.setConstant(0);
  batch.ids(0, 0) = 1;
  batch.ids(0, 1) = 2;
  batch.ids(0, 2) = 3;
  batch.ids(1, 0) = 2;
  // Word 0: z = (0.5·0 + 1·1 − 2·2 + 0.25, 0.5·1 + 1·2 − 2·(−1) + 0.25, 0.5·2 + 1·(−1) + 0.25)
  //           = (−2.75, 4.75, 0.25): max 4.75 at position 1. Word 1: 1·2 + 0.25 = 2.25.
  CharCNN<double>::Workspace ws;
  Tensor2<double> out;
  cnn.forward(batch.ids, batch.lengths, out, ws);
  REQUIRE(out.dim(0) == 1);
  REQUIRE(out.dim(1) == 2);
  REQUIRE(out(0, 0) == 4.75);
  REQUIRE(out(0, 1) == 2.25);
  REQUIRE(ws.argmax(0, 0) == 1);
  REQUIRE(ws.argmax(0, 1) == 0);

  // d_out = (1, 10): dW = 1·[1, 2, −1] + 10·[0, 2, 0], db = 11; the character gradients are the
  // filter's weights at the maxima: id 1 (left of the max) 0.5, id 2 (centre) 1 + 10, id 3
  // (right) −2.
  Tensor2<double> d_out(Tensor2<double>::Shape{1, 2});
  d_out(0, 0) = 1.0;
  d_out(0, 1) = 10.0;
  zero_grad(cnn.params());
  cnn.backward(batch.ids, batch.lengths, d_out, ws);
  REQUIRE(cnn.W.grad(0, 0) == 1.0);
  REQUIRE(cnn.W.grad(0, 1) == 22.0);
  REQUIRE(cnn.W.grad(0, 2) == -1.0);
  REQUIRE(cnn.b.grad(0, 0) == 11.0);
  REQUIRE(cnn.table.grad(0, 0) == 0.0);
  REQUIRE(cnn.table.grad(0, 1) == 0.5);
  REQUIRE(cnn.table.grad(0, 2) == 11.0);
  REQUIRE(cnn.table.grad(0, 3) == -2.0);
  REQUIRE(cnn.table.touched_columns == std::vector<Index>{1, 2, 3});

  // Gradients accumulate over backward passes.
  cnn.backward(batch.ids, batch.lengths, d_out, ws);
  REQUIRE(cnn.b.grad(0, 0) == 22.0);
  REQUIRE(cnn.table.grad(0, 2) == 22.0);

  // tanh: the pooled maxima through tanh, their gradients through 1 − tanh².
  cnn.activation = CharCnnActivation::tanh;
  cnn.forward(batch.ids, batch.lengths, out, ws);
  REQUIRE(out(0, 0) == std::tanh(4.75));
  REQUIRE(out(0, 1) == std::tanh(2.25));
  zero_grad(cnn.params());
  cnn.backward(batch.ids, batch.lengths, d_out, ws);
  const double g0 = 1 - std::tanh(4.75) * std::tanh(4.75);
  const double g1 = 10 * (1 - std::tanh(2.25) * std::tanh(2.25));
  REQUIRE(cnn.b.grad(0, 0) == Approx(g0 + g1).epsilon(1e-14));
  REQUIRE(cnn.table.grad(0, 2) == Approx(g0 * 1.0 + g1 * 1.0).epsilon(1e-14));
}

TEST_CASE("char CNN: a tie goes to the first position") {
  Rng rng(2);
  CharCNN<double> cnn(3, 1, 1, rng);
  cnn.table.value << 0.0, 1.0, 1.0;  // ids 1 and 2 have the same vector
  cnn.W.value << 0.0, 1.0, 0.0;      // the centre only: z_p = e_p
  cnn.b.value << 0.0;
  CharBatch batch;
  batch.lengths = SequenceLengths({2});
  batch.ids.resize(1, 2);
  batch.ids(0, 0) = 1;
  batch.ids(0, 1) = 2;
  CharCNN<double>::Workspace ws;
  Tensor2<double> out, d_out(Tensor2<double>::Shape{1, 1});
  d_out(0, 0) = 1.0;
  cnn.forward(batch.ids, batch.lengths, out, ws);
  REQUIRE(ws.argmax(0, 0) == 0);
  zero_grad(cnn.params());
  cnn.backward(batch.ids, batch.lengths, d_out, ws);
  REQUIRE(cnn.table.grad(0, 1) == 1.0);
  REQUIRE(cnn.table.grad(0, 2) == 0.0);
}

TEST_CASE("char CNN: forward agrees with the definition; padding is never read") {
  Rng rng(3);
  for (const auto activation : {CharCnnActivation::none, CharCnnActivation::tanh}) {
    CharCNN<float> cnn(40, CharCNN<float>::default_char_dim, CharCNN<float>::default_filters, rng);
    cnn.activation = activation;
    init_uniform(cnn.b.value, 0.5, rng);
    std::vector<Index> lengths;
    for (int w = 0; w < 37; ++w) lengths.push_back(1 + static_cast<Index>(rng.below(14)));
    lengths[5] = 1;
    Rng ids_rng(9), same_ids_rng(9);
    const CharBatch zero_padded = random_char_batch(lengths, 40, ids_rng, 0);
    const CharBatch other_padded = random_char_batch(lengths, 40, same_ids_rng, 39);
    CharCNN<float>::Workspace ws;
    Tensor2<float> out, out2;
    cnn.forward(zero_padded.ids, zero_padded.lengths, out, ws);
    const Matrix<double> expected = reference_forward(cnn, zero_padded);
    REQUIRE((out.matrix().cast<double>() - expected).cwiseAbs().maxCoeff() < 1e-5);
    cnn.forward(other_padded.ids, other_padded.lengths, out2, ws);
    REQUIRE(bitwise_equal(as_matrix(out), as_matrix(out2)));
  }
}

TEST_CASE("char CNN: gradients match finite differences (double)") {
  struct Case {
    const char* what;
    std::vector<Index> lengths;
  };
  const std::vector<Case> cases = {
      {"padded batch with words of length 1", {1, 7, 3, 1, 4}},
      {"a batch of one word of one character", {1}},
      {"a batch of one word", {5}},
      {"two characters", {2, 2}},
  };
  for (const auto activation : {CharCnnActivation::none, CharCnnActivation::tanh}) {
    for (const Case& c : cases) {
      CAPTURE(c.what, activation == CharCnnActivation::tanh);
      Rng rng(17);
      CharCNN<double> cnn(6, 3, 4, rng);
      cnn.activation = activation;
      init_uniform(cnn.b.value, 0.5, rng);
      const CharBatch batch = random_char_batch(c.lengths, 6, rng, 5);
      const Tensor2<double> R = random_matrix<double>(4, batch.lengths.batch_size(), rng);
      CharCNN<double>::Workspace ws;
      Tensor2<double> out;
      const auto loss = [&] {
        cnn.forward(batch.ids, batch.lengths, out, ws);
        return (out.matrix().array() * R.matrix().array()).sum();
      };
      loss();
      zero_grad(cnn.params());
      cnn.backward(batch.ids, batch.lengths, R, ws);
      const Matrix<double> dW = cnn.W.grad, db = cnn.b.grad, dtable = cnn.table.grad;
      for (const auto& r :
           {check_gradient("W", cnn.W.value, dW, loss), check_gradient("b", cnn.b.value, db, loss),
            check_gradient("table", cnn.table.value, dtable, loss)}) {
        CAPTURE(r.name, r.worst_index, r.analytic_at_worst, r.numeric_at_worst);
        REQUIRE(r.max_relative_error < 1e-6);
      }
      // The touched columns are the ids of the batch's characters, and only they have gradient.
      std::vector<Index> used;
      for (Index w = 0; w < batch.lengths.batch_size(); ++w)
        for (Index p = 0; p < batch.lengths[w]; ++p) used.push_back(batch.ids(w, p));
      std::sort(used.begin(), used.end());
      used.erase(std::unique(used.begin(), used.end()), used.end());
      REQUIRE(cnn.table.touched_columns == used);
      for (Index col = 0; col < cnn.vocab_size(); ++col)
        if (!std::binary_search(used.begin(), used.end(), col))
          REQUIRE(dtable.col(col).isZero(0.0));
    }
  }
}

TEST_CASE("char CNN: results are bit-identical however the work is cut") {
  Rng rng(21);
  CharCNN<float> cnn(50, 30, 30, rng);
  init_uniform(cnn.b.value, 0.5, rng);
  std::vector<Index> lengths;
  for (int w = 0; w < 61; ++w) lengths.push_back(1 + static_cast<Index>(rng.below(12)));
  const CharBatch batch = random_char_batch(lengths, 50, rng);
  const Tensor2<float> d_out = random_matrix<float>(30, 61, rng);

  // The whole batch at once.
  CharCNN<float>::Workspace ws;
  Tensor2<float> out;
  cnn.forward(batch.ids, batch.lengths, out, ws);
  zero_grad(cnn.params());
  cnn.backward(batch.ids, batch.lengths, d_out, ws);
  const Matrix<float> out_whole = out.matrix(), dW = cnn.W.grad, db = cnn.b.grad,
                      dtable = cnn.table.grad;

  // Word ranges run in a scrambled order with their own GEMM buffers, parameter rows in parts.
  const std::vector<std::vector<Index>> cuts = {
      {0, 61}, {0, 30, 61}, {0, 1, 2, 3, 60, 61}, {0, 17, 18, 45, 61}};
  for (const auto& cut : cuts) {
    for (int parts : {1, 2, 3, 7}) {
      CAPTURE(cut, parts);
      CharCNN<float>::Workspace ws2;
      std::vector<kernels::gemm::GemmWorkspace<float>> gemms(cut.size());
      Tensor2<float> out2;
      cnn.prepare_forward(batch.ids, batch.lengths, out2, ws2);
      for (std::size_t i = cut.size() - 1; i-- > 0;)  // last range first
        cnn.forward_words(batch.ids, batch.lengths, cut[i], cut[i + 1], out2, ws2, gemms[i]);
      REQUIRE(bitwise_equal(out_whole, as_matrix(out2)));

      zero_grad(cnn.params());
      cnn.prepare_backward(batch.ids, batch.lengths, d_out, ws2);
      for (std::size_t i = 0; i + 1 < cut.size(); ++i)
        cnn.backward_words(batch.ids, batch.lengths, cut[i], cut[i + 1], d_out, ws2);
      for (int p = parts - 1; p >= 0; --p)
        cnn.backward_params(batch.ids, batch.lengths, Part{p, parts}, ws2);
      REQUIRE(bitwise_equal(dW, cnn.W.grad));
      REQUIRE(bitwise_equal(db, cnn.b.grad));
      REQUIRE(bitwise_equal(dtable, cnn.table.grad));
    }
  }
}

TEST_CASE("char CNN: the parts of each stage can run on two threads at once") {
  Rng rng(22);
  CharCNN<float> cnn(50, 30, 30, rng);
  std::vector<Index> lengths;
  for (int w = 0; w < 200; ++w) lengths.push_back(1 + static_cast<Index>(rng.below(12)));
  const CharBatch batch = random_char_batch(lengths, 50, rng);
  const Tensor2<float> d_out = random_matrix<float>(30, 200, rng);
  CharCNN<float>::Workspace ws;
  Tensor2<float> out;
  cnn.forward(batch.ids, batch.lengths, out, ws);
  zero_grad(cnn.params());
  cnn.backward(batch.ids, batch.lengths, d_out, ws);
  const Matrix<float> out_serial = out.matrix(), dW = cnn.W.grad, dtable = cnn.table.grad;

  CharCNN<float>::Workspace ws2;
  kernels::gemm::GemmWorkspace<float> gemm0, gemm1;
  Tensor2<float> out2;
  const auto both = [](auto&& first, auto&& second) {
    std::thread worker(second);
    first();
    worker.join();
  };
  cnn.prepare_forward(batch.ids, batch.lengths, out2, ws2);
  both([&] { cnn.forward_words(batch.ids, batch.lengths, 0, 90, out2, ws2, gemm0); },
       [&] { cnn.forward_words(batch.ids, batch.lengths, 90, 200, out2, ws2, gemm1); });
  zero_grad(cnn.params());
  cnn.prepare_backward(batch.ids, batch.lengths, d_out, ws2);
  both([&] { cnn.backward_words(batch.ids, batch.lengths, 0, 120, d_out, ws2); },
       [&] { cnn.backward_words(batch.ids, batch.lengths, 120, 200, d_out, ws2); });
  both(
      [&] {
        cnn.backward_params(batch.ids, batch.lengths, Part{0, 2}, ws2);
      },
      [&] {
        cnn.backward_params(batch.ids, batch.lengths, Part{1, 2}, ws2);
      });
  REQUIRE(bitwise_equal(out_serial, as_matrix(out2)));
  REQUIRE(bitwise_equal(dW, cnn.W.grad));
  REQUIRE(bitwise_equal(dtable, cnn.table.grad));
}

TEST_CASE("char CNN: a frozen table gets no gradient; the filters still learn") {
  Rng rng(4);
  CharCNN<double> cnn(8, 3, 5, rng);
  cnn.table.frozen = true;
  const CharBatch batch = random_char_batch({3, 1, 6}, 8, rng);
  const Tensor2<double> d_out = random_matrix<double>(5, 3, rng);
  CharCNN<double>::Workspace ws;
  Tensor2<double> out;
  cnn.forward(batch.ids, batch.lengths, out, ws);
  zero_grad(cnn.params());
  cnn.backward(batch.ids, batch.lengths, d_out, ws);
  REQUIRE(cnn.table.grad.isZero(0.0));
  REQUIRE(cnn.table.touched_columns.empty());
  REQUIRE_FALSE(cnn.W.grad.isZero(0.0));
}

TEST_CASE("char CNN: bad arguments are named") {
  Rng rng(5);
  CharCNN<float> cnn(4, 2, 3, rng);
  CharCNN<float>::Workspace ws;
  const CharBatch batch = require_char_id_checks(cnn, ws, "CharCNN", rng);
  Tensor2<float> out;
  Tensor2<float> d_out(Tensor2<float>::Shape{3, 2});
  d_out.setZero();
  REQUIRE_THROWS_WITH(cnn.backward(batch.ids, batch.lengths, d_out, ws),
                      Catch::Contains("the workspace holds no forward pass over this batch"));
  cnn.forward(batch.ids, batch.lengths, out, ws);
  Tensor2<float> wrong(Tensor2<float>::Shape{2, 2});
  REQUIRE_THROWS_WITH(cnn.backward(batch.ids, batch.lengths, wrong, ws),
                      Catch::Contains("d_out has shape (2, 2), expected (3, 2)"));
  REQUIRE_THROWS_WITH(cnn.forward_words(batch.ids, batch.lengths, 1, 3, out, ws, ws.gemm),
                      Catch::Contains("forward_words: words [1, 3) are not within the batch of 2"));
  const CharCNN<float> empty;
  REQUIRE_THROWS_WITH(empty.forward(batch.ids, batch.lengths, out, ws),
                      Catch::Contains("CharCNN: forward: the layer is empty"));
  REQUIRE_THROWS_WITH(CharCNN<float>(4, 0, 3, rng), Catch::Contains("must be at least 1"));
}

TEST_CASE("char CNN: a sized training step allocates nothing") {
  Rng rng(6);
  CharCNN<float> cnn(90, 30, 30, rng);
  // A CoNLL-sized batch of ~450 words, then smaller and shorter ones, then one word.
  std::vector<std::vector<Index>> shapes(3);
  for (int w = 0; w < 450; ++w) shapes[0].push_back(1 + static_cast<Index>(rng.below(11)));
  for (int w = 0; w < 37; ++w) shapes[1].push_back(1 + static_cast<Index>(rng.below(5)));
  shapes[2] = {4};
  std::vector<CharBatch> batches;
  std::vector<Tensor2<float>> grads;
  for (const auto& lengths : shapes) {
    batches.push_back(random_char_batch(lengths, 90, rng));
    grads.push_back(random_matrix<float>(30, static_cast<Index>(lengths.size()), rng));
  }
  CharCNN<float>::Workspace ws;
  Tensor2<float> out;
  const ParamList<float> params = cnn.params();  // (params() makes a vector: not in the step)
  const auto step = [&] {
    for (std::size_t i = 0; i < batches.size(); ++i) {
      zero_grad(params);
      cnn.forward(batches[i].ids, batches[i].lengths, out, ws);
      cnn.backward(batches[i].ids, batches[i].lengths, grads[i], ws);
    }
  };
  step();
  step();
  const long start = start_measuring();
  for (int repeat = 0; repeat < 3; ++repeat) step();
  REQUIRE(allocations_since(start) == 0);
}
