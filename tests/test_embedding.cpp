#include <lstmner/embedding.hpp>
#include <lstmner/gradcheck.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

using namespace lstmner;

namespace {

/// ids (B,T) from rows of per-sequence ids; steps past a row's end are padding and get `pad`.
Tensor2<std::int32_t> make_ids(const std::vector<std::vector<std::int32_t>>& rows, Index steps,
                               std::int32_t pad = -1) {
  Tensor2<std::int32_t> ids;
  ids.resize(static_cast<Index>(rows.size()), steps);
  ids.setConstant(pad);
  for (std::size_t b = 0; b < rows.size(); ++b)
    for (std::size_t t = 0; t < rows[b].size(); ++t)
      ids(static_cast<Index>(b), static_cast<Index>(t)) = rows[b][t];
  return ids;
}

/// A nonlinear loss of the embedding output: Σ w ⊙ y + ½ y², so dL/dy = w + y.
double output_loss(const Tensor3<double>& y, const Tensor3<double>& weights) {
  return (weights.vec().array() * y.vec().array() + 0.5 * y.vec().array().square()).sum();
}

}  // namespace

TEST_CASE("embedding forward copies the table column of each id and zeroes padded steps") {
  Rng rng(3);
  Embedding<float> emb(7, 4, rng);
  REQUIRE(emb.vocab_size() == 7);
  REQUIRE(emb.dim() == 4);
  REQUIRE(emb.table.sparse);
  const SequenceLengths lengths({3, 1, 2});
  const auto ids = make_ids({{1, 6, 1}, {0}, {5, 2}}, 3, /*pad=*/1234567);  // padding never read
  Tensor3<float> out;
  emb.forward(ids, lengths, out);
  REQUIRE(out.shape() == Tensor3<float>::Shape{4, 3, 3});
  for (Index b = 0; b < 3; ++b)
    for (Index t = 0; t < 3; ++t) {
      if (lengths.active(t, b)) {
        REQUIRE(out.step(t).col(b) == emb.table.value.col(ids(b, t)));
      } else {
        REQUIRE(out.step(t).col(b).isZero(0));
      }
    }
}

TEST_CASE("embedding initialisers are seeded and have the requested spread") {
  Rng a(11), b(11);
  Embedding<double> uniform_a(500, 16, a);
  Embedding<double> uniform_b(500, 16, b);
  REQUIRE(uniform_a.table.value == uniform_b.table.value);
  const double limit = std::sqrt(3.0 / 16.0);
  REQUIRE(uniform_a.table.value.maxCoeff() < limit);
  REQUIRE(uniform_a.table.value.minCoeff() >= -limit);
  REQUIRE(uniform_a.table.value.maxCoeff() > 0.95 * limit);

  Rng c(12);
  Embedding<double> normal(2000, 25, c, EmbeddingInit::normal, 0.5);
  const auto& v = normal.table.value;
  const double mean = v.mean();
  const double variance = (v.array() - mean).square().mean();
  REQUIRE(std::abs(mean) < 0.01);
  REQUIRE(std::abs(std::sqrt(variance) - 0.5) < 0.01);
}

TEST_CASE("embedding gradients match finite differences through the used columns") {
  Rng rng(5);
  Embedding<double> emb(9, 3, rng, EmbeddingInit::normal, 1.0);
  // Mixed lengths with padding, a length-1 sequence, and a repeated id (5 at two places).
  const SequenceLengths lengths({4, 1, 2});
  const auto ids = make_ids({{5, 2, 8, 5}, {0}, {3, 2}}, 4);
  Tensor3<double> weights(Tensor3<double>::Shape{3, 3, 4});
  for (Index i = 0; i < weights.size(); ++i) weights.data()[i] = rng.uniform(-1, 1);

  Tensor3<double> out;
  emb.forward(ids, lengths, out);
  // dL/dy = w + y; padded entries of d_out are deliberately nonzero: backward must ignore them.
  Tensor3<double> d_out(out.shape());
  d_out.vec() = weights.vec() + out.vec();
  emb.backward(ids, lengths, d_out);

  REQUIRE(emb.table.touched_columns == std::vector<Index>{0, 2, 3, 5, 8});
  // Columns never used have no gradient at all.
  for (Index c : {1, 4, 6, 7}) REQUIRE(emb.table.grad.col(c).isZero(0));

  const Matrix<double> analytic = emb.table.grad;
  const auto result = check_gradient("table", emb.table.value, analytic, [&] {
    Tensor3<double> y;
    emb.forward(ids, lengths, y);
    return output_loss(y, weights);
  });
  INFO("worst entry " << result.worst_index << ": analytic " << result.analytic_at_worst
                      << ", numeric " << result.numeric_at_worst);
  REQUIRE(result.checked == emb.table.value.size());
  REQUIRE(result.max_relative_error <= 1e-6);
}

TEST_CASE("embedding backward accumulates across calls and keeps the touched list sorted, unique") {
  Rng rng(2);
  Embedding<double> emb(10, 2, rng);
  const SequenceLengths lengths({2, 2});
  Tensor3<double> ones(Tensor3<double>::Shape{2, 2, 2});
  ones.setConstant(1.0);

  // Poison the gradient of columns no batch uses: a dense pass over the table would be visible.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (Index c : {0, 1, 2, 5, 8}) emb.table.grad.col(c).setConstant(nan);

  emb.backward(make_ids({{7, 3}, {9, 3}}, 2), lengths, ones);
  REQUIRE(emb.table.touched_columns == std::vector<Index>{3, 7, 9});
  emb.backward(make_ids({{4, 9}, {6, 4}}, 2), lengths, ones);
  REQUIRE(emb.table.touched_columns == std::vector<Index>{3, 4, 6, 7, 9});
  // Each column's gradient counts how often its id appeared, over both calls.
  REQUIRE(emb.table.grad(0, 3) == 2.0);
  REQUIRE(emb.table.grad(1, 4) == 2.0);
  REQUIRE(emb.table.grad(0, 6) == 1.0);
  REQUIRE(emb.table.grad(1, 7) == 1.0);
  REQUIRE(emb.table.grad(0, 9) == 2.0);
  for (Index c : {0, 1, 2, 5, 8}) REQUIRE(emb.table.grad.col(c).array().isNaN().all());

  emb.table.zero_grad();
  REQUIRE(emb.table.touched_columns.empty());
  for (Index c : {3, 4, 6, 7, 9}) REQUIRE(emb.table.grad.col(c).isZero(0));
}

TEST_CASE("embedding vectors can be set from pretrained values and the table frozen") {
  Rng rng(4);
  Embedding<float> emb(5, 3, rng);
  const Matrix<float> before = emb.table.value;
  Eigen::Vector3f pretrained(0.25f, -1.5f, 2.0f);
  emb.set_vector(2, pretrained);
  REQUIRE(emb.vector(2) == pretrained);
  emb.set_vector(4, Eigen::RowVector3d(1.0, 2.0, 3.0));  // any scalar type, row or column
  REQUIRE(emb.vector(4) == Eigen::Vector3f(1.0f, 2.0f, 3.0f));
  for (Index c : {0, 1, 3}) REQUIRE(emb.table.value.col(c) == before.col(c));

  REQUIRE_THROWS_WITH(
      emb.set_vector(5, pretrained),
      Catch::Contains("Embedding: set_vector: id 5 is outside the vocabulary [0, 5)"));
  REQUIRE_THROWS_WITH(emb.set_vector(-1, pretrained), Catch::Contains("id -1 is outside"));
  REQUIRE_THROWS_WITH(emb.set_vector(0, Eigen::Vector4f::Zero()),
                      Catch::Contains("expected a vector of 3 values for id 0, got a 4 x 1"));
  REQUIRE_THROWS_WITH(emb.set_vector(0, Eigen::Matrix3f::Zero()),
                      Catch::Contains("got a 3 x 3 matrix"));

  // A gradient accumulated before freezing is dropped; a frozen table gets none afterwards.
  const SequenceLengths lengths({2});
  const auto ids = make_ids({{1, 2}}, 2);
  Tensor3<float> d_out(Tensor3<float>::Shape{3, 1, 2});
  d_out.setConstant(1.0f);
  emb.backward(ids, lengths, d_out);
  REQUIRE(emb.table.touched_columns.size() == 2);
  emb.set_frozen(true);
  REQUIRE(emb.frozen());
  REQUIRE(emb.table.touched_columns.empty());
  REQUIRE(emb.table.grad.isZero(0));
  emb.backward(ids, lengths, d_out);
  REQUIRE(emb.table.touched_columns.empty());
  REQUIRE(emb.table.grad.isZero(0));
  // Frozen still validates its arguments.
  REQUIRE_THROWS_WITH(emb.backward(make_ids({{1, 9}}, 2), lengths, d_out),
                      Catch::Contains("id 9 at sequence 0, step 1"));
  emb.set_frozen(false);
  emb.backward(ids, lengths, d_out);
  REQUIRE(emb.table.touched_columns == std::vector<Index>{1, 2});
}

TEST_CASE("embedding rejects bad arguments with messages naming the problem") {
  Rng rng(1);
  REQUIRE_THROWS_WITH(
      Embedding<float>(0, 3, rng),
      Catch::Contains("Embedding: vocabulary size and dimension must be at least 1"));
  REQUIRE_THROWS_WITH(Embedding<float>(4, 0, rng), Catch::Contains("dim 0"));

  Embedding<float> emb(6, 2, rng);
  const SequenceLengths lengths({2, 3});
  Tensor3<float> out;
  REQUIRE_THROWS_WITH(
      emb.forward(make_ids({{1, 6}, {0, 1, 2}}, 3), lengths, out),
      Catch::Contains(
          "Embedding: forward: id 6 at sequence 0, step 1 is outside the vocabulary [0, 6)"));
  REQUIRE_THROWS_WITH(emb.forward(make_ids({{1, 2}, {0, 1, -3}}, 3), lengths, out),
                      Catch::Contains("id -3 at sequence 1, step 2"));
  REQUIRE_THROWS_WITH(
      emb.forward(make_ids({{1, 2}, {0, 1}}, 2), lengths, out),
      Catch::Contains("ids of shape (2, 2) do not match a batch of 2 sequences of max length 3"));
  REQUIRE_THROWS_WITH(emb.forward(make_ids({{1, 2}, {0, 1, 2}, {3}}, 3), lengths, out),
                      Catch::Contains("expected (2, 3)"));

  const auto ids = make_ids({{1, 2}, {0, 1, 2}}, 3);
  Tensor3<float> wrong_features(Tensor3<float>::Shape{3, 2, 3});
  wrong_features.setZero();
  REQUIRE_THROWS_WITH(emb.backward(ids, lengths, wrong_features),
                      Catch::Contains("Embedding: backward: d_out has 3 features, expected 2"));
  Tensor3<float> wrong_batch(Tensor3<float>::Shape{2, 2, 2});
  wrong_batch.setZero();
  REQUIRE_THROWS_WITH(emb.backward(ids, lengths, wrong_batch),
                      Catch::Contains("Embedding: backward: d_out: input of shape (2, 2, 2)"));
  REQUIRE(emb.table.touched_columns.empty());

  Embedding<float> empty;
  REQUIRE_THROWS_WITH(empty.forward(ids, lengths, out), Catch::Contains("the table is empty"));
}
