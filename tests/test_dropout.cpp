#include <lstmner/dropout.hpp>
#include <lstmner/gradcheck.hpp>

#include <catch2/catch.hpp>

#include <cmath>

using namespace lstmner;

TEST_CASE("dropout keeps the mean, zeroes about `rate` of the elements and scales the rest") {
  const double rate = 0.3;
  Dropout<float> dropout(rate);
  Tensor2<float> x(Tensor2<float>::Shape{200, 500});
  x.setConstant(2.0f);
  Tensor2<float> y;
  Dropout<float>::Workspace ws;
  Rng rng(17);
  dropout.forward(x, y, rng, ws);
  REQUIRE(y.shape() == x.shape());
  const float kept_value = static_cast<float>(2.0 / (1.0 - rate));
  Index dropped = 0;
  for (Index i = 0; i < y.size(); ++i) {
    if (y.data()[i] == 0.0f) {
      ++dropped;
    } else {
      REQUIRE(y.data()[i] == kept_value);
    }
  }
  // 100000 Bernoulli draws: the dropped fraction is within 1% of the rate (about 7 sigma).
  const double fraction = static_cast<double>(dropped) / static_cast<double>(y.size());
  REQUIRE(std::abs(fraction - rate) < 0.01);
  REQUIRE(std::abs(static_cast<double>(y.vec().template cast<double>().mean()) - 2.0) < 0.03);
}

TEST_CASE("dropout masks are reproducible with the same seed and differ with another") {
  Dropout<double> dropout(0.5);
  Tensor3<double> x(Tensor3<double>::Shape{8, 3, 5});
  x.setConstant(1.0);
  Tensor3<double> y1, y2, y3;
  Dropout<double>::Workspace ws1, ws2, ws3;
  Rng a(99), b(99), c(100);
  dropout.forward(x, y1, a, ws1);
  dropout.forward(x, y2, b, ws2);
  dropout.forward(x, y3, c, ws3);
  REQUIRE(y1.vec() == y2.vec());
  REQUIRE(y1.vec() != y3.vec());
  // The generator advances: a second draw from the same Rng gives a new mask.
  Tensor3<double> y4;
  dropout.forward(x, y4, a, ws1);
  REQUIRE(y4.vec() != y1.vec());

  // An odd element count: the last element gets a mask value too.
  Tensor1<double> odd(Tensor1<double>::Shape{7}), odd_y;
  odd.setConstant(1.0);
  Rng d(5);
  Index kept = 0;
  for (int draw = 0; draw < 50; ++draw) {
    dropout.forward(odd, odd_y, d, ws1);
    REQUIRE((odd_y.vec().array() == 0.0 || odd_y.vec().array() == 2.0).all());
    if (odd_y(6) == 2.0) ++kept;
  }
  REQUIRE(kept > 5);
  REQUIRE(kept < 45);
}

TEST_CASE(
    "dropout backward passes gradient only through kept elements, matching finite "
    "differences") {
  Dropout<double> dropout(0.4);
  const SequenceLengths lengths({3, 1, 2});
  Tensor3<double> x(Tensor3<double>::Shape{4, 3, 3});
  Tensor3<double> weights(x.shape());
  Rng data_rng(1);
  for (Index i = 0; i < x.size(); ++i) {
    x.data()[i] = data_rng.uniform(-1, 1);
    weights.data()[i] = data_rng.uniform(-1, 1);
  }
  // Loss Σ w ⊙ y + ½ y²; every evaluation redraws the mask from the same seed, so it is fixed.
  const std::uint64_t seed = 123;
  Dropout<double>::Workspace ws;
  auto loss = [&] {
    Rng rng(seed);
    Tensor3<double> y;
    Dropout<double>::Workspace scratch;
    dropout.forward(x, lengths, y, rng, scratch);
    return (weights.vec().array() * y.vec().array() + 0.5 * y.vec().array().square()).sum();
  };
  Rng rng(seed);
  Tensor3<double> y;
  dropout.forward(x, lengths, y, rng, ws);
  Tensor3<double> dy(y.shape());
  dy.vec() = weights.vec() + y.vec();
  Tensor3<double> dx;
  dropout.backward(dy, lengths, dx, ws);

  Index kept = 0, dropped = 0;
  const double scale = 1.0 / (1.0 - 0.4);
  for (Index t = 0; t < 3; ++t)
    for (Index b = 0; b < 3; ++b)
      for (Index f = 0; f < 4; ++f) {
        if (!lengths.active(t, b)) {
          REQUIRE(y(f, b, t) == 0.0);  // padded output and padded gradient are exactly zero
          REQUIRE(dx(f, b, t) == 0.0);
        } else if (y(f, b, t) == 0.0) {
          ++dropped;
          REQUIRE(dx(f, b, t) == 0.0);
        } else {
          ++kept;
          REQUIRE(y(f, b, t) == Approx(scale * x(f, b, t)).epsilon(1e-15));
          REQUIRE(dx(f, b, t) == Approx(scale * dy(f, b, t)).epsilon(1e-15));
        }
      }
  REQUIRE(kept > 0);
  REQUIRE(dropped > 0);

  const auto result = check_gradient("x", x.data(), dx.data(), x.size(), loss);
  INFO("worst entry " << result.worst_index << ": analytic " << result.analytic_at_worst
                      << ", numeric " << result.numeric_at_worst);
  REQUIRE(result.max_relative_error <= 1e-6);
}

TEST_CASE("dropout with rate 0 is the identity and draws nothing from the generator") {
  Dropout<float> dropout(0.0);
  Tensor3<float> x(Tensor3<float>::Shape{3, 2, 2});
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i) - 5.5f;
  Tensor3<float> y, dx;
  Dropout<float>::Workspace ws;
  Rng rng(5), untouched(5);
  dropout.forward(x, y, rng, ws);
  REQUIRE(y.vec() == x.vec());
  dropout.backward(x, dx, ws);
  REQUIRE(dx.vec() == x.vec());
  REQUIRE(rng.next() == untouched.next());

  // The sequence form still zeroes padded steps.
  const SequenceLengths lengths({2, 1});
  dropout.forward(x, lengths, y, rng, ws);
  REQUIRE(y.step(0) == x.step(0));
  REQUIRE(y.step(1).col(0) == x.step(1).col(0));
  REQUIRE(y.step(1).col(1).isZero(0));
  dropout.backward(x, lengths, dx, ws);
  REQUIRE(dx.step(1).col(1).isZero(0));
  REQUIRE(dx.step(1).col(0) == x.step(1).col(0));
}

TEST_CASE("dropout rejects bad rates and mismatched shapes") {
  REQUIRE_THROWS_WITH(Dropout<float>(1.0), Catch::Contains("Dropout: rate must be in [0, 1)"));
  REQUIRE_THROWS_WITH(Dropout<float>(-0.1), Catch::Contains("Dropout: rate must be in [0, 1)"));
  Dropout<float> dropout(0.5);
  const SequenceLengths lengths({2, 2});
  Tensor3<float> x(Tensor3<float>::Shape{3, 2, 2}), y, dx;
  x.setZero();
  Dropout<float>::Workspace ws;
  Rng rng(1);
  Tensor3<float> wrong(Tensor3<float>::Shape{3, 3, 2});
  wrong.setZero();
  REQUIRE_THROWS_WITH(dropout.forward(wrong, lengths, y, rng, ws),
                      Catch::Contains("Dropout: forward: x: input of shape (3, 3, 2)"));
  dropout.forward(x, lengths, y, rng, ws);
  REQUIRE_THROWS_WITH(dropout.backward(wrong, dx, ws),
                      Catch::Contains("Dropout: backward: dy has 18 elements but the forward "
                                      "pass masked 12"));
  REQUIRE_THROWS_WITH(dropout.backward(wrong, lengths, dx, ws),
                      Catch::Contains("Dropout: backward: dy: input of shape (3, 3, 2)"));
}
