#include <lstmner/optimizer.hpp>
#include <lstmner/random.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

using namespace lstmner;

namespace {

template <class Scalar>
bool bit_identical(const Matrix<Scalar>& a, const Matrix<Scalar>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(Scalar) * static_cast<std::size_t>(a.size())) == 0;
}

template <class Scalar>
Param<Scalar> vector_param(std::initializer_list<Scalar> values) {
  Param<Scalar> p("w", static_cast<Index>(values.size()), 1);
  Index i = 0;
  for (Scalar v : values) p.value(i++, 0) = v;
  return p;
}

}  // namespace

TEST_CASE("Adam's first two steps on a 2-element parameter match a hand computation") {
  const double lr = 0.01, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  Adam<double> adam({lr, beta1, beta2, eps});
  auto w = vector_param<double>({1.0, -1.0});
  ParamList<double> params{&w};

  // Step 1, g = (0.5, -2): m = 0.1 g, v = 0.001 g², m̂ = m / 0.1 = g, v̂ = v / 0.001 = g², so each
  // entry moves by lr · g / (|g| + eps): almost exactly lr against the sign of its gradient.
  w.grad << 0.5, -2.0;
  adam.step(params);
  REQUIRE(adam.steps() == 1);
  const double w1_0 = 1.0 - lr * 0.5 / (0.5 + eps);
  const double w1_1 = -1.0 + lr * 2.0 / (2.0 + eps);
  REQUIRE(w.value(0) == Approx(w1_0).epsilon(1e-14));
  REQUIRE(w.value(1) == Approx(w1_1).epsilon(1e-14));

  // Step 2, g = (-0.25, 1): m = 0.9 m1 + 0.1 g, v = 0.999 v1 + 0.001 g², corrections 1 − 0.9² and
  // 1 − 0.999².
  w.grad << -0.25, 1.0;
  adam.step(params);
  const double m0 = 0.9 * 0.05 + 0.1 * -0.25, m1 = 0.9 * -0.2 + 0.1 * 1.0;
  const double v0 = 0.999 * 0.00025 + 0.001 * 0.0625, v1 = 0.999 * 0.004 + 0.001 * 1.0;
  const double c1 = 1.0 - 0.81, c2 = 1.0 - 0.998001;
  REQUIRE(w.value(0) == Approx(w1_0 - lr * (m0 / c1) / (std::sqrt(v0 / c2) + eps)).epsilon(1e-14));
  REQUIRE(w.value(1) == Approx(w1_1 - lr * (m1 / c1) / (std::sqrt(v1 / c2) + eps)).epsilon(1e-14));

  // The same in float agrees to float precision.
  Adam<float> adam_f({lr, beta1, beta2, eps});
  auto w_f = vector_param<float>({1.0f, -1.0f});
  ParamList<float> params_f{&w_f};
  w_f.grad << 0.5f, -2.0f;
  adam_f.step(params_f);
  w_f.grad << -0.25f, 1.0f;
  adam_f.step(params_f);
  REQUIRE(w_f.value(0) == Approx(w.value(0)).epsilon(1e-6));
  REQUIRE(w_f.value(1) == Approx(w.value(1)).epsilon(1e-6));
}

TEST_CASE("SGD: plain, with momentum, and with weight decay, by hand") {
  SECTION("plain") {
    Sgd<double> sgd({0.5, 0.0, 0.0});
    auto w = vector_param<double>({1.0, 2.0});
    w.grad << 0.2, -0.4;
    sgd.step({&w});
    REQUIRE(w.value(0) == Approx(1.0 - 0.5 * 0.2));
    REQUIRE(w.value(1) == Approx(2.0 + 0.5 * 0.4));
  }
  SECTION("momentum: v1 = g1, v2 = mu v1 + g2") {
    Sgd<double> sgd({0.1, 0.9, 0.0});
    auto w = vector_param<double>({1.0, 2.0});
    w.grad << 1.0, -2.0;
    sgd.step({&w});
    REQUIRE(w.value(0) == Approx(1.0 - 0.1 * 1.0));
    REQUIRE(w.value(1) == Approx(2.0 + 0.1 * 2.0));
    w.grad << 0.5, 0.5;
    sgd.step({&w});
    REQUIRE(w.value(0) == Approx(0.9 - 0.1 * (0.9 * 1.0 + 0.5)).epsilon(1e-14));
    REQUIRE(w.value(1) == Approx(2.2 - 0.1 * (0.9 * -2.0 + 0.5)).epsilon(1e-14));
    REQUIRE(sgd.steps() == 2);
  }
  SECTION("weight decay adds lambda w to the gradient") {
    Sgd<double> sgd({0.1, 0.5, 0.2});
    auto w = vector_param<double>({1.0, -3.0});
    w.grad << 0.0, 1.0;
    sgd.step({&w});
    const double v0 = 0.0 + 0.2 * 1.0, v1 = 1.0 + 0.2 * -3.0;
    REQUIRE(w.value(0) == Approx(1.0 - 0.1 * v0).epsilon(1e-14));
    REQUIRE(w.value(1) == Approx(-3.0 - 0.1 * v1).epsilon(1e-14));
    const double w0 = w.value(0), w1 = w.value(1);
    w.grad << 0.0, 0.0;
    sgd.step({&w});
    REQUIRE(w.value(0) == Approx(w0 - 0.1 * (0.5 * v0 + 0.2 * w0)).epsilon(1e-14));
    REQUIRE(w.value(1) == Approx(w1 - 0.1 * (0.5 * v1 + 0.2 * w1)).epsilon(1e-14));
  }
}

TEST_CASE("sparse parameters are updated only on touched columns (lazy Adam and SGD)") {
  Rng rng(6);
  Param<double> table("table", 3, 6);
  table.sparse = true;
  init_uniform(table.value, 1.0, rng);
  Param<double> dense("dense", 2, 2);
  init_uniform(dense.value, 1.0, rng);
  ParamList<double> params{&table, &dense};
  Adam<double> adam({0.1, 0.9, 0.999, 1e-8});

  // The gradient of untouched columns is never read: poison it.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  table.grad.setConstant(nan);
  table.grad.col(1) << 0.3, -0.1, 0.2;
  table.grad.col(4) << -1.0, 0.5, 0.0;
  table.touched_columns = {1, 4};
  dense.grad.setConstant(0.5);
  const Matrix<double> before = table.value;
  adam.step(params);
  REQUIRE(table.value.allFinite());
  for (Index c : {0, 2, 3, 5}) REQUIRE(bit_identical<double>(table.value.col(c), before.col(c)));
  REQUIRE(table.value(0, 1) == Approx(before(0, 1) - 0.1 * 0.3 / (0.3 + 1e-8)));
  REQUIRE(table.value(1, 4) == Approx(before(1, 4) - 0.1 * 0.5 / (0.5 + 1e-8)));
  REQUIRE(table.value(2, 4) == before(2, 4));  // zero gradient: m = v = 0, no move

  // Step 2 touches only column 2 (for the first time). Column 1 has momentum, but lazy Adam leaves
  // it where it is; column 2 is corrected with the global step count t = 2.
  zero_grad(params);
  REQUIRE(table.touched_columns.empty());
  table.grad.col(2) << 2.0, 0.0, -4.0;
  table.touched_columns = {2};
  const Matrix<double> after_first = table.value;
  adam.step(params);
  for (Index c : {0, 1, 3, 4, 5})
    REQUIRE(bit_identical<double>(table.value.col(c), after_first.col(c)));
  const double c1 = 1.0 - 0.81, c2 = 1.0 - 0.998001;
  const double m = 0.1 * 2.0, v = 0.001 * 4.0;
  REQUIRE(table.value(0, 2) ==
          Approx(before(0, 2) - 0.1 * (m / c1) / (std::sqrt(v / c2) + 1e-8)).epsilon(1e-14));
  // The dense parameter (zero gradient now) still moves on its momentum.
  REQUIRE(dense.value(0, 0) != Approx(after_first(0, 0)));

  // SGD with momentum is lazy the same way.
  Sgd<double> sgd({0.1, 0.9, 0.0});
  zero_grad(params);
  table.grad.setZero();  // clear the poison
  table.grad.col(3) << 1.0, 1.0, 1.0;
  table.touched_columns = {3};
  sgd.step(params);
  const Matrix<double> after_sgd = table.value;
  zero_grad(params);
  table.touched_columns = {5};
  sgd.step(params);
  REQUIRE(bit_identical<double>(table.value.col(3), after_sgd.col(3)));
  REQUIRE(
      bit_identical<double>(table.value.col(5), after_sgd.col(5)));  // zero gradient, no velocity
}

TEST_CASE("frozen parameters are never updated") {
  auto frozen = vector_param<float>({1.0f, 2.0f});
  frozen.frozen = true;
  frozen.grad << 5.0f, 5.0f;
  auto trained = vector_param<float>({1.0f, 2.0f});
  trained.grad << 5.0f, 5.0f;
  ParamList<float> params{&frozen, &trained};
  Adam<float> adam;
  Sgd<float> sgd({0.1, 0.9, 0.01});
  adam.step(params);
  sgd.step(params);
  REQUIRE(frozen.value == Eigen::Vector2f(1.0f, 2.0f));
  REQUIRE(trained.value(0) < 1.0f);
}

TEST_CASE("optimizers are deterministic") {
  auto run = [] {
    Rng rng(77);
    Param<float> a("a", 4, 3), b("b", 3, 5);
    b.sparse = true;
    init_uniform(a.value, 1.0, rng);
    init_uniform(b.value, 1.0, rng);
    Adam<float> adam;
    for (int step = 0; step < 5; ++step) {
      zero_grad<float>({&a, &b});
      init_uniform(a.grad, 1.0, rng);
      const Index c = static_cast<Index>(rng.below(5));
      for (Index i = 0; i < 3; ++i) b.grad(i, c) = static_cast<float>(rng.uniform(-1, 1));
      b.touched_columns = {c};
      adam.step({&a, &b});
    }
    return std::make_pair(a.value, b.value);
  };
  const auto first = run(), second = run();
  REQUIRE(bit_identical<float>(first.first, second.first));
  REQUIRE(bit_identical<float>(first.second, second.second));
}

TEST_CASE("optimizers reject a changed parameter list and bad options") {
  Param<double> a("a", 2, 1), b("b", 3, 3), c("c", 3, 2);
  Adam<double> adam;
  adam.step({&a, &b});
  REQUIRE_THROWS_WITH(adam.step({&a, &c}),
                      Catch::Contains("Adam: step: parameter slot 1 ('c') has shape 3 x 2 but had "
                                      "shape 3 x 3 in earlier steps"));
  REQUIRE_THROWS_WITH(
      adam.step({&a}),
      Catch::Contains("Adam: step: got 1 parameter slots, but earlier steps had 2"));
  REQUIRE(adam.steps() == 1);  // the failed calls changed nothing
  REQUIRE_NOTHROW(adam.step({&a, &b}));

  Sgd<double> sgd({0.1, 0.9, 0.0});
  sgd.step({&a});
  REQUIRE_THROWS_WITH(sgd.step({&b}), Catch::Contains("Sgd: step: parameter slot 0 ('b') has "
                                                      "shape 3 x 3 but had shape 2 x 1"));
  Param<double> bad_grad("bad", 2, 2);
  bad_grad.grad.resize(1, 2);
  REQUIRE_THROWS_WITH(Sgd<double>().step({&bad_grad}),
                      Catch::Contains("Sgd: step: parameter slot 0 ('bad') has a gradient of "
                                      "shape 1 x 2 but a value of shape 2 x 2"));
  Param<double> bad_touched("emb", 2, 4);
  bad_touched.sparse = true;
  bad_touched.touched_columns = {1, 4};
  REQUIRE_THROWS_WITH(Adam<double>().step({&bad_touched}),
                      Catch::Contains("('emb') lists touched column 4, outside [0, 4)"));
  REQUIRE_THROWS_WITH(Adam<double>().step({nullptr}), Catch::Contains("slot 0 is null"));

  REQUIRE_THROWS_WITH(Sgd<float>({-1.0, 0.0, 0.0}), Catch::Contains("Sgd: learning_rate"));
  REQUIRE_THROWS_WITH(Sgd<float>({0.1, 1.0, 0.0}),
                      Catch::Contains("Sgd: momentum must be in [0, 1)"));
  REQUIRE_THROWS_WITH(Sgd<float>({0.1, 0.0, -0.5}), Catch::Contains("Sgd: weight_decay"));
  REQUIRE_THROWS_WITH(Adam<float>({0.1, 1.0, 0.999, 1e-8}), Catch::Contains("Adam: beta1"));
  REQUIRE_THROWS_WITH(Adam<float>({0.1, 0.9, -0.1, 1e-8}), Catch::Contains("Adam: beta2"));
  REQUIRE_THROWS_WITH(Adam<float>({0.1, 0.9, 0.999, 0.0}), Catch::Contains("Adam: epsilon"));
  Adam<float> schedule;
  schedule.set_learning_rate(0.5);
  REQUIRE(schedule.options().learning_rate == 0.5);
  REQUIRE_THROWS_WITH(schedule.set_learning_rate(-1), Catch::Contains("Adam: learning_rate"));
}
