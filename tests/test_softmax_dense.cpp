#include <lstmner/gradcheck.hpp>
#include <lstmner/softmax_dense.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

using namespace lstmner;

namespace {

template <class Scalar>
Tensor3<Scalar> random_sequence_batch(Index features, const SequenceLengths& lengths, Rng& rng) {
  Tensor3<Scalar> x(
      typename Tensor3<Scalar>::Shape{features, lengths.batch_size(), lengths.max_length()});
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<Scalar>(rng.uniform(-1, 1));
  for (Index t = 0; t < lengths.max_length(); ++t)
    for (Index b = 0; b < lengths.batch_size(); ++b)
      if (!lengths.active(t, b)) x.step(t).col(b).setZero();
  return x;
}

/// Random targets in [0, K) at real steps; padded steps get `pad` (never read).
Tensor2<std::int32_t> random_targets(Index classes, const SequenceLengths& lengths, Rng& rng,
                                     std::int32_t pad = -7) {
  Tensor2<std::int32_t> targets;
  targets.resize(lengths.batch_size(), lengths.max_length());
  targets.setConstant(pad);
  for (Index b = 0; b < lengths.batch_size(); ++b)
    for (Index t = 0; t < lengths[b]; ++t)
      targets(b, t) = static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(classes)));
  return targets;
}

/// A single-step batch of one sequence whose scores are exactly `logits`.
template <class Scalar>
Tensor3<Scalar> scores_of(const std::vector<double>& logits) {
  Tensor3<Scalar> scores(typename Tensor3<Scalar>::Shape{static_cast<Index>(logits.size()), 1, 1});
  for (std::size_t k = 0; k < logits.size(); ++k) scores.data()[k] = static_cast<Scalar>(logits[k]);
  return scores;
}

void check_all_gradients(const SequenceLengths& lengths, std::uint64_t seed) {
  const Index input_dim = 5, classes = 4;
  Rng rng(seed);
  SoftmaxDense<double> layer(input_dim, classes, rng);
  init_uniform(layer.b.value, 1.0, rng);  // a nonzero bias, so its gradient check means something
  Tensor3<double> x = random_sequence_batch<double>(input_dim, lengths, rng);
  const auto targets = random_targets(classes, lengths, rng);
  const double scale = 1.0 / static_cast<double>(lengths.num_tokens());

  auto loss = [&] {
    Tensor3<double> scores;
    layer.forward(x, lengths, scores);
    return layer.loss(scores, targets, lengths, scale);
  };
  Tensor3<double> scores, dx;
  SoftmaxDense<double>::Workspace ws;
  layer.forward(x, lengths, scores);
  const double value = layer.loss_backward(x, scores, targets, lengths, scale, dx, ws);
  REQUIRE(value == Approx(loss()).epsilon(1e-14));
  REQUIRE(value > 0);

  const auto check = [](const GradCheckResult& r) {
    INFO(r.name << ": worst entry " << r.worst_index << ", analytic " << r.analytic_at_worst
                << ", numeric " << r.numeric_at_worst);
    REQUIRE(r.max_relative_error <= 1e-6);
  };
  check(check_gradient("x", x.data(), dx.data(), x.size(), loss));
  const Matrix<double> dW = layer.W.grad, db = layer.b.grad;
  check(check_gradient("W", layer.W.value, dW, loss));
  check(check_gradient("b", layer.b.value, db, loss));
  // Padded steps receive no gradient.
  for (Index t = 0; t < lengths.max_length(); ++t)
    for (Index b = 0; b < lengths.batch_size(); ++b)
      if (!lengths.active(t, b)) REQUIRE(dx.step(t).col(b).isZero(0));
}

}  // namespace

TEST_CASE("softmax-dense forward is W x + b per real step and zero at padded steps") {
  Rng rng(8);
  SoftmaxDense<float> layer(3, 4, rng);
  REQUIRE(layer.W.value.rows() == 4);
  REQUIRE(layer.W.value.cols() == 3);
  REQUIRE(layer.b.value.isZero(0));
  const double limit = std::sqrt(6.0 / 7.0);
  REQUIRE(layer.W.value.cwiseAbs().maxCoeff() <= limit);
  layer.b.value << 0.5f, -1.0f, 0.0f, 2.0f;
  const SequenceLengths lengths({2, 1});
  const auto x = random_sequence_batch<float>(3, lengths, rng);
  Tensor3<float> scores;
  layer.forward(x, lengths, scores);
  REQUIRE(scores.shape() == Tensor3<float>::Shape{4, 2, 2});
  for (Index t = 0; t < 2; ++t)
    for (Index b = 0; b < 2; ++b) {
      if (!lengths.active(t, b)) {
        REQUIRE(scores.step(t).col(b).isZero(0));
        continue;
      }
      const Vector<float> expected = layer.W.value * x.step(t).col(b) + layer.b.value;
      REQUIRE(scores.step(t).col(b).isApprox(expected, 1e-6f));
    }
}

TEST_CASE("softmax of known logits, including logits of 1000, is exact and finite") {
  Rng rng(1);
  SoftmaxDense<double> layer(2, 3, rng);
  const SequenceLengths one({1});
  Tensor2<std::int32_t> target;
  target.resize(1, 1);

  // Small logits: p_k = e^{s_k} / Σ e^{s_j}.
  const auto small = scores_of<double>({1.0, 2.0, 3.0});
  Tensor3<double> probs;
  layer.softmax(small, one, probs);
  const double sum = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  REQUIRE(probs(0) == Approx(std::exp(1.0) / sum).epsilon(1e-14));
  REQUIRE(probs(1) == Approx(std::exp(2.0) / sum).epsilon(1e-14));
  REQUIRE(probs(2) == Approx(std::exp(3.0) / sum).epsilon(1e-14));
  target(0, 0) = 1;
  REQUIRE(layer.loss(small, target, one) == Approx(std::log(sum) - 2.0).epsilon(1e-14));
  REQUIRE(layer.loss(small, target, one, 0.25) == Approx(0.25 * (std::log(sum) - 2.0)));

  // Large logits: e^1000 overflows, but the shifted computation does not.
  // p = (1, e^-1, e^-1000) / (1 + e^-1 + e^-1000); the loss of class 1 is 1 + log(1 + e^-1).
  for (double offset : {1000.0, -1000.0}) {
    const auto large = scores_of<double>({offset, offset - 1.0, offset - 1000.0});
    layer.softmax(large, one, probs);
    const double denominator = 1.0 + std::exp(-1.0);
    REQUIRE(probs(0) == Approx(1.0 / denominator).epsilon(1e-14));
    REQUIRE(probs(1) == Approx(std::exp(-1.0) / denominator).epsilon(1e-14));
    REQUIRE(std::isfinite(probs(2)));
    REQUIRE(probs(2) < 1e-300);
    REQUIRE(layer.loss(large, target, one) == Approx(1.0 + std::log(denominator)).epsilon(1e-12));
  }

  // The same in float, through the fused backward: finite loss and a finite (p - y).
  SoftmaxDense<float> layer_f(2, 3, rng);
  const auto large_f = scores_of<float>({1000.0, 999.0, 0.0});
  Tensor3<float> x_f(Tensor3<float>::Shape{2, 1, 1}), dx_f;
  x_f.setConstant(1.0f);
  SoftmaxDense<float>::Workspace ws;
  const double loss_f = layer_f.loss_backward(x_f, large_f, target, one, 1.0, dx_f, ws);
  REQUIRE(loss_f == Approx(1.0 + std::log(1.0 + std::exp(-1.0))).epsilon(1e-6));
  const double p1 = std::exp(-1.0) / (1.0 + std::exp(-1.0));
  REQUIRE(ws.d_scores(0) == Approx(1.0 - p1).epsilon(1e-6));
  REQUIRE(ws.d_scores(1) == Approx(p1 - 1.0).epsilon(1e-6));
  REQUIRE(ws.d_scores(2) == 0.0f);  // e^-1000 underflows to 0 in float, as it should
  REQUIRE(dx_f.vec().allFinite());
  REQUIRE(layer_f.W.grad.allFinite());
}

TEST_CASE("softmax-dense gradients match finite differences with padding and length-1 sequences") {
  SECTION("mixed lengths with padding") {
    check_all_gradients(SequenceLengths({3, 1, 2}), 21);
  }
  SECTION("a single length-1 sequence") {
    check_all_gradients(SequenceLengths({1}), 22);
  }
  SECTION("several length-1 sequences") {
    check_all_gradients(SequenceLengths({1, 1, 1, 1}), 23);
  }
}

TEST_CASE("padded steps contribute nothing to the loss or the parameter gradients") {
  const SequenceLengths lengths({3, 1, 2});
  Rng rng(31);
  SoftmaxDense<double> layer(4, 5, rng);
  Tensor3<double> x = random_sequence_batch<double>(4, lengths, rng);
  const auto targets = random_targets(5, lengths, rng);
  Tensor3<double> scores, dx;
  SoftmaxDense<double>::Workspace ws;
  layer.forward(x, lengths, scores);
  const double clean_loss = layer.loss_backward(x, scores, targets, lengths, 0.5, dx, ws);
  const Matrix<double> clean_dW = layer.W.grad, clean_db = layer.b.grad;

  // Garbage at padded steps of x and of the targets changes nothing.
  for (Index t = 0; t < 3; ++t)
    for (Index b = 0; b < 3; ++b)
      if (!lengths.active(t, b)) x.step(t).col(b).setConstant(1e6);
  const auto other_pads = [&] {
    auto copy = targets;
    for (Index t = 0; t < 3; ++t)
      for (Index b = 0; b < 3; ++b)
        if (!lengths.active(t, b)) copy(b, t) = 1000;
    return copy;
  }();
  zero_grad(layer.params());
  layer.forward(x, lengths, scores);
  for (Index t = 0; t < 3; ++t)
    for (Index b = 0; b < 3; ++b)
      if (!lengths.active(t, b)) REQUIRE(scores.step(t).col(b).isZero(0));
  const double loss = layer.loss_backward(x, scores, other_pads, lengths, 0.5, dx, ws);
  REQUIRE(loss == clean_loss);
  REQUIRE(layer.W.grad.isApprox(clean_dW, 1e-12));
  REQUIRE(layer.b.grad == clean_db);

  // Gradients accumulate: a second pass doubles them.
  layer.loss_backward(x, scores, other_pads, lengths, 0.5, dx, ws);
  REQUIRE(layer.b.grad.isApprox(2.0 * clean_db, 1e-14));
}

TEST_CASE("argmax returns the best class per real step and -1 at padded steps") {
  Rng rng(9);
  SoftmaxDense<float> layer(3, 4, rng);
  const SequenceLengths lengths({2, 1});
  Tensor3<float> scores(Tensor3<float>::Shape{4, 2, 2});
  scores.setZero();
  scores.step(0).col(0) << 0.1f, 3.0f, -1.0f, 2.9f;
  scores.step(0).col(1) << -5.0f, -4.0f, -3.0f, -2.0f;
  scores.step(1).col(0) << 7.0f, 7.0f, 1.0f, 0.0f;  // a tie goes to the lower class
  scores.step(1).col(1) << 0.0f, 0.0f, 9.0f, 0.0f;  // padding: never read
  Tensor2<std::int32_t> best;
  layer.argmax(scores, lengths, best);
  REQUIRE(best(0, 0) == 1);
  REQUIRE(best(1, 0) == 3);
  REQUIRE(best(0, 1) == 0);
  REQUIRE(best(1, 1) == -1);

  Tensor3<float> probs;
  layer.softmax(scores, lengths, probs);
  REQUIRE(probs.step(0).col(0).sum() == Approx(1.0f));
  REQUIRE(probs.step(1).col(0)(0) == Approx(0.5f * probs.step(1).col(0).head(2).sum()));
  REQUIRE(probs.step(1).col(1).isZero(0));
}

TEST_CASE("softmax-dense rejects bad arguments with messages naming the problem") {
  Rng rng(2);
  REQUIRE_THROWS_WITH(SoftmaxDense<float>(0, 3, rng),
                      Catch::Contains("SoftmaxDense: input dimension and number of classes"));
  SoftmaxDense<float> layer(3, 4, rng);
  const SequenceLengths lengths({2, 1});
  auto x = random_sequence_batch<float>(3, lengths, rng);
  Tensor3<float> scores, dx;
  SoftmaxDense<float>::Workspace ws;

  const auto wrong_features = random_sequence_batch<float>(5, lengths, rng);
  REQUIRE_THROWS_WITH(layer.forward(wrong_features, lengths, scores),
                      Catch::Contains("SoftmaxDense: forward: x has 5 features, expected D = 3"));
  const auto wrong_batch = random_sequence_batch<float>(3, SequenceLengths({2, 2, 2}), rng);
  REQUIRE_THROWS_WITH(layer.forward(wrong_batch, lengths, scores),
                      Catch::Contains("SoftmaxDense: forward: x: input of shape (3, 3, 2)"));

  layer.forward(x, lengths, scores);
  auto targets = random_targets(4, lengths, rng);
  targets(0, 1) = 4;
  REQUIRE_THROWS_WITH(
      layer.loss_backward(x, scores, targets, lengths, 1.0, dx, ws),
      Catch::Contains(
          "SoftmaxDense: loss_backward: target 4 at sequence 0, step 1 is outside the classes "
          "[0, 4)"));
  targets(0, 1) = -1;
  REQUIRE_THROWS_WITH(layer.loss(scores, targets, lengths),
                      Catch::Contains("SoftmaxDense: loss: target -1 at sequence 0, step 1"));
  targets(0, 1) = 0;
  targets(1, 1) = 99;  // padding: fine
  REQUIRE_NOTHROW(layer.loss(scores, targets, lengths));

  Tensor2<std::int32_t> short_targets;
  short_targets.resize(2, 1);
  short_targets.setZero();
  REQUIRE_THROWS_WITH(layer.loss(scores, short_targets, lengths),
                      Catch::Contains("targets of shape (2, 1) do not match a batch of 2"));

  // K mismatch: scores of another layer.
  SoftmaxDense<float> other(3, 6, rng);
  Tensor3<float> other_scores;
  other.forward(x, lengths, other_scores);
  REQUIRE_THROWS_WITH(layer.loss(other_scores, targets, lengths),
                      Catch::Contains("SoftmaxDense: loss: scores have 6 classes, expected K = 4"));
  REQUIRE_THROWS_WITH(layer.argmax(other_scores, lengths, short_targets),
                      Catch::Contains("SoftmaxDense: argmax: scores have 6 classes"));
  REQUIRE_THROWS_WITH(layer.softmax(other_scores, lengths, dx),
                      Catch::Contains("SoftmaxDense: softmax: scores have 6 classes"));
  REQUIRE_THROWS_WITH(layer.backward(x, lengths, other_scores, dx),
                      Catch::Contains("SoftmaxDense: backward: d_scores has 6 classes"));
  // Nothing was accumulated by the failed calls.
  REQUIRE(layer.W.grad.isZero(0));
  REQUIRE(layer.b.grad.isZero(0));

  SoftmaxDense<float> empty;
  REQUIRE_THROWS_WITH(empty.forward(x, lengths, scores), Catch::Contains("the layer is empty"));
}
