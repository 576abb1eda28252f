#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <set>

using namespace lstmner;

TEST_CASE("tensor storage is aligned, column-major, and step(t) is the time-major slice") {
  Tensor3<float> x(Tensor3<float>::Shape{3, 2, 4});
  REQUIRE(x.size() == 24);
  REQUIRE(reinterpret_cast<std::uintptr_t>(x.data()) % tensor_alignment == 0);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(i);
  // element (f, b, t) at f + F*(b + B*t)
  REQUIRE(x(2, 1, 3) == Approx(2 + 3 * (1 + 2 * 3)));
  auto s = x.step(3);
  REQUIRE(s.rows() == 3);
  REQUIRE(s.cols() == 2);
  REQUIRE(s(2, 1) == x(2, 1, 3));
  auto all = x.matrix();
  REQUIRE(all.rows() == 3);
  REQUIRE(all.cols() == 8);
  REQUIRE(all(1, 1 + 2 * 2) == x(1, 1, 2));
}

TEST_CASE("tensor resize within capacity keeps the allocation") {
  Tensor2<double> m;
  m.resize(10, 10);
  const double* before = m.data();
  m.resize(5, 4);
  REQUIRE(m.data() == before);
  REQUIRE(m.matrix().rows() == 5);
  REQUIRE(m.matrix().cols() == 4);
  REQUIRE_THROWS_WITH(m.resize(-1, 2), Catch::Contains("negative dimension"));
}

TEST_CASE("tensor sizes that overflow are rejected before anything is allocated") {
  Tensor3<float> t;
  t.resize(2, 3, 4);
  const Index big = Index{1} << 22;  // big^3 = 2^66 elements: the product would wrap around
  CHECK_THROWS_WITH(t.resize(big, big, big), Catch::Contains("has too many elements"));
  CHECK_THROWS_WITH(t.resize(Index{1} << 31, Index{1} << 31, 2),
                    Catch::Contains("has too many elements"));
  CHECK(t.size() == 24);  // unchanged by the failed resizes
  t.resize(big, 0, big);  // zero elements, whatever the other dimensions
  CHECK(t.size() == 0);
  CHECK_THROWS_WITH(t.resize(1, -1, 1), Catch::Contains("negative dimension"));
}

TEST_CASE("sequence lengths reject empty batches and zero lengths") {
  REQUIRE_THROWS_WITH(SequenceLengths(std::vector<Index>{}),
                      Catch::Contains("at least one sequence"));
  REQUIRE_THROWS_WITH(SequenceLengths({3, 0, 2}), Catch::Contains("sequence 1 has length 0"));
  SequenceLengths lengths({3, 1, 2});
  REQUIRE(lengths.batch_size() == 3);
  REQUIRE(lengths.max_length() == 3);
  REQUIRE(lengths.num_tokens() == 6);
  REQUIRE(lengths.active(1, 2));
  REQUIRE_FALSE(lengths.active(1, 1));
  Tensor3<float> wrong(Tensor3<float>::Shape{4, 3, 2});
  REQUIRE_THROWS_WITH(lengths.check(wrong, "LSTM"),
                      Catch::Contains("LSTM: input of shape (4, 3, 2)"));
}

TEST_CASE("the random generator is reproducible and its initialisers have the right statistics") {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) REQUIRE(a.next() == b.next());
  REQUIRE(Rng(42).next() != c.next());

  Rng rng(1);
  double sum = 0, sum_sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = rng.normal();
    sum += z;
    sum_sq += z * z;
  }
  REQUIRE(std::abs(sum / n) < 0.01);
  REQUIRE(std::abs(sum_sq / n - 1.0) < 0.02);

  Matrix<double> w(40, 60);
  init_glorot_uniform(w, rng);
  const double limit = std::sqrt(6.0 / 100.0);
  REQUIRE(w.maxCoeff() < limit);
  REQUIRE(w.minCoeff() >= -limit);
  REQUIRE(w.maxCoeff() > 0.9 * limit);

  Matrix<double> q(16, 16);
  init_orthogonal(q, rng);
  REQUIRE((q.transpose() * q - Matrix<double>::Identity(16, 16)).cwiseAbs().maxCoeff() < 1e-12);

  std::vector<int> items{0, 1, 2, 3, 4, 5, 6, 7};
  rng.shuffle(items);
  REQUIRE(std::set<int>(items.begin(), items.end()).size() == 8);
}

TEST_CASE("gradient clipping scales to the requested global norm and sparse params stay sparse") {
  Param<double> dense("dense", 2, 2);
  dense.grad << 3, 0, 0, 0;
  Param<double> table("table", 2, 5);
  table.sparse = true;
  table.grad.col(3) << 0, 4;
  table.touched_columns = {3};
  ParamList<double> params{&dense, &table};
  REQUIRE(grad_norm(params) == Approx(5.0));
  REQUIRE(clip_grad_norm(params, 1.0) == Approx(5.0));
  REQUIRE(grad_norm(params) == Approx(1.0));
  REQUIRE(table.grad(1, 3) == Approx(0.8));
  zero_grad(params);
  REQUIRE(table.touched_columns.empty());
  REQUIRE(table.grad.isZero());
  REQUIRE(dense.grad.isZero());
}
