// Tests of the packed matrix product kernels/gemm.hpp against Eigen's product: odd sizes (every
// remainder of the register tile and of the cache blocks), every transpose case, float and
// double, overwrite and accumulate, bias and row sums, leading dimensions larger than the rows,
// reproducibility, and no allocation once the workspace has room.

#include <lstmner/kernels/gemm.hpp>
#include <lstmner/random.hpp>
#include <lstmner/tensor.hpp>

#include "counting_allocator.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>
#include <vector>

using namespace lstmner;
using kernels::gemm::Extras;
using kernels::gemm::GemmWorkspace;
using kernels::gemm::Op;
using kernels::gemm::Update;

namespace {

template <class Scalar>
Matrix<Scalar> random_matrix(Index rows, Index cols, Rng& rng) {
  Matrix<Scalar> m(rows, cols);
  for (Index i = 0; i < m.size(); ++i) m.data()[i] = static_cast<Scalar>(rng.uniform(-1.0, 1.0));
  return m;
}

/// op(X) as a plain matrix.
template <class Scalar>
Matrix<Scalar> apply(const Matrix<Scalar>& x, Op op) {
  return op == Op::none ? x : Matrix<Scalar>(x.transpose());
}

/// The largest |got - want| relative to the sum of |products| behind each element (the scale
/// of the rounding error of any summation order), over all elements.
template <class Scalar>
double worst_error(const Matrix<Scalar>& got, const Matrix<double>& want,
                   const Matrix<double>& scale) {
  double worst = 0.0;
  for (Index j = 0; j < want.cols(); ++j)
    for (Index i = 0; i < want.rows(); ++i)
      worst = std::max(
          worst, std::abs(static_cast<double>(got(i, j)) - want(i, j)) / (scale(i, j) + 1e-30));
  return worst;
}

template <class Scalar>
constexpr double tolerance() {
  return sizeof(Scalar) == 4 ? 1e-5 : 1e-13;
}

const char* op_name(Op op) {
  return op == Op::none ? "N" : "T";
}

}  // namespace

TEMPLATE_TEST_CASE("gemm agrees with Eigen's product for odd sizes and every transpose case",
                   "[gemm]", float, double) {
  using Scalar = TestType;
  Rng rng(21);
  GemmWorkspace<Scalar> ws;
  const std::vector<Index> sizes{1, 3, 17, 33, 100, 257};
  for (const Op op_a : {Op::none, Op::transpose})
    for (const Op op_b : {Op::none, Op::transpose})
      for (const Index M : sizes)
        for (const Index N : sizes)
          for (const Index K : sizes) {
            CAPTURE(op_name(op_a), op_name(op_b), M, N, K);
            const Matrix<Scalar> A =
                random_matrix<Scalar>(op_a == Op::none ? M : K, op_a == Op::none ? K : M, rng);
            const Matrix<Scalar> B =
                random_matrix<Scalar>(op_b == Op::none ? K : N, op_b == Op::none ? N : K, rng);
            const Matrix<Scalar> C0 = random_matrix<Scalar>(M, N, rng);
            const Matrix<double> a = apply(A, op_a).template cast<double>();
            const Matrix<double> b = apply(B, op_b).template cast<double>();
            const Matrix<double> product = a * b;
            const Matrix<double> scale = a.cwiseAbs() * b.cwiseAbs();

            Matrix<Scalar> C = C0;
            kernels::gemm::gemm(A, op_a, B, op_b, C, Update::overwrite, ws);
            REQUIRE(worst_error(C, product, scale) <= tolerance<Scalar>());

            C = C0;
            kernels::gemm::gemm(A, op_a, B, op_b, C, Update::accumulate, ws);
            const Matrix<double> accumulated = C0.template cast<double>() + product;
            REQUIRE(worst_error(C, accumulated, scale + C0.template cast<double>().cwiseAbs()) <=
                    tolerance<Scalar>());
          }
}

TEMPLATE_TEST_CASE("gemm adds the bias and takes op(A)'s row sums", "[gemm]", float, double) {
  using Scalar = TestType;
  Rng rng(5);
  GemmWorkspace<Scalar> ws;
  for (const Op op_a : {Op::none, Op::transpose}) {
    for (const Index M : {1, 17, 100, 257}) {
      // K over one block: the bias must be added once, the sums taken once.
      const Index N = 33, K = kernels::gemm::Blocking<Scalar>::kc + 44;
      CAPTURE(op_name(op_a), M);
      const Matrix<Scalar> A =
          random_matrix<Scalar>(op_a == Op::none ? M : K, op_a == Op::none ? K : M, rng);
      const Matrix<Scalar> B = random_matrix<Scalar>(K, N, rng);
      const Matrix<Scalar> bias = random_matrix<Scalar>(M, 1, rng);
      const Matrix<Scalar> sums0 = random_matrix<Scalar>(M, 1, rng);
      const Matrix<Scalar> C0 = random_matrix<Scalar>(M, N, rng);
      const Matrix<double> a = apply(A, op_a).template cast<double>();
      const Matrix<double> product = a * B.template cast<double>();
      const Matrix<double> scale =
          a.cwiseAbs() * B.template cast<double>().cwiseAbs() + Matrix<double>::Ones(M, N);
      const Matrix<double> bias_d = bias.template cast<double>();

      Matrix<Scalar> C = C0;
      Matrix<Scalar> sums = sums0;
      kernels::gemm::gemm(A, op_a, B, Op::none, C, Update::overwrite, ws,
                          Extras<Scalar>{bias.data(), sums.data()});
      REQUIRE(worst_error(C, Matrix<double>(product.colwise() + bias_d.col(0)), scale) <=
              tolerance<Scalar>());
      const Matrix<double> want_sums =
          sums0.template cast<double>() + a.rowwise().sum();  // a·1, added once
      const Matrix<double> sums_scale = a.cwiseAbs().rowwise().sum() + Matrix<double>::Ones(M, 1);
      REQUIRE(worst_error(sums, want_sums, sums_scale) <= tolerance<Scalar>());

      C = C0;
      kernels::gemm::gemm(A, op_a, B, Op::none, C, Update::accumulate, ws,
                          Extras<Scalar>{bias.data(), nullptr});
      const Matrix<double> want = (C0.template cast<double>() + product).colwise() + bias_d.col(0);
      REQUIRE(worst_error(C, want, scale + C0.template cast<double>().cwiseAbs()) <=
              tolerance<Scalar>());
    }
  }
}

TEST_CASE("gemm reads and writes blocks with leading dimensions larger than their rows", "[gemm]") {
  Rng rng(9);
  GemmWorkspace<double> ws;
  const Index M = 37, N = 29, K = 45;
  for (const Op op_a : {Op::none, Op::transpose})
    for (const Op op_b : {Op::none, Op::transpose}) {
      CAPTURE(op_name(op_a), op_name(op_b));
      const Matrix<double> A_big = random_matrix<double>(70, 80, rng);
      const Matrix<double> B_big = random_matrix<double>(60, 90, rng);
      Matrix<double> C_big = random_matrix<double>(50, 40, rng);
      const Matrix<double> C_before = C_big;
      const auto A = A_big.block(3, 5, op_a == Op::none ? M : K, op_a == Op::none ? K : M);
      const auto B = B_big.block(2, 7, op_b == Op::none ? K : N, op_b == Op::none ? N : K);
      kernels::gemm::gemm(A, op_a, B, op_b, C_big.block(4, 6, M, N), Update::accumulate, ws);
      const Matrix<double> want =
          C_before.block(4, 6, M, N) + apply<double>(A, op_a) * apply<double>(B, op_b);
      REQUIRE((C_big.block(4, 6, M, N) - want).cwiseAbs().maxCoeff() <= 1e-12);
      // Everything around the block is untouched.
      Matrix<double> outside = C_big;
      outside.block(4, 6, M, N) = C_before.block(4, 6, M, N);
      REQUIRE(outside == C_before);
    }
}

TEST_CASE("gemm with an empty sum writes the bias or leaves C", "[gemm]") {
  GemmWorkspace<float> ws;
  const Matrix<float> A(5, 0), B(0, 3);
  Matrix<float> C = Matrix<float>::Constant(5, 3, 2.0f);
  const Matrix<float> bias = Matrix<float>::Constant(5, 1, 0.5f);
  kernels::gemm::gemm(A, Op::none, B, Op::none, C, Update::accumulate, ws);
  REQUIRE(C == Matrix<float>::Constant(5, 3, 2.0f));
  kernels::gemm::gemm(A, Op::none, B, Op::none, C, Update::overwrite, ws);
  REQUIRE(C == Matrix<float>::Zero(5, 3));
  kernels::gemm::gemm(A, Op::none, B, Op::none, C, Update::overwrite, ws,
                      Extras<float>{bias.data(), nullptr});
  REQUIRE(C == Matrix<float>::Constant(5, 3, 0.5f));
}

TEST_CASE("gemm rejects operands whose shapes do not agree", "[gemm]") {
  GemmWorkspace<float> ws;
  const Matrix<float> A(4, 5), B(6, 3);
  Matrix<float> C(4, 3);
  REQUIRE_THROWS_AS(kernels::gemm::gemm(A, Op::none, B, Op::none, C, Update::overwrite, ws),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(kernels::gemm::gemm(A, Op::none, B, Op::none, C, Update::overwrite, ws),
                      Catch::Contains("gemm: op(A) is 4 x 5, op(B) is 6 x 3, C is 4 x 3"));
  Matrix<float> C_wrong(5, 3);
  const Matrix<float> B_ok(5, 3);
  REQUIRE_THROWS_AS(
      kernels::gemm::gemm(A, Op::none, B_ok, Op::none, C_wrong, Update::overwrite, ws),
      std::invalid_argument);
}

TEST_CASE("gemm is reproducible and allocates nothing once the workspace has room", "[gemm]") {
  Rng rng(17);
  const Matrix<float> X = random_matrix<float>(300, 700, rng);   // In x N
  const Matrix<float> dZ = random_matrix<float>(520, 700, rng);  // 4H x N
  const Matrix<float> W = random_matrix<float>(520, 300, rng);
  Matrix<float> dW = Matrix<float>::Zero(520, 300), dX(300, 700), Z(520, 700);
  GemmWorkspace<float> ws;
  ws.reserve(520, 700, 700);  // the largest of the three products below, by every dimension
  const auto run = [&] {
    kernels::gemm::gemm(W, Op::none, X, Op::none, Z, Update::overwrite, ws);
    kernels::gemm::gemm(dZ, Op::none, X, Op::transpose, dW, Update::accumulate, ws);
    kernels::gemm::gemm(W, Op::transpose, dZ, Op::none, dX, Update::overwrite, ws);
  };
  const long start = lstmner_test::start_measuring();
  run();
  const long allocations = lstmner_test::allocations_since(start);
  CHECK(allocations == 0);

  const Matrix<float> Z1 = Z, dX1 = dX, dW1 = dW;
  GemmWorkspace<float> fresh;  // another workspace: same sums, bit for bit
  dW.setZero();
  kernels::gemm::gemm(W, Op::none, X, Op::none, Z, Update::overwrite, fresh);
  kernels::gemm::gemm(dZ, Op::none, X, Op::transpose, dW, Update::accumulate, fresh);
  kernels::gemm::gemm(W, Op::transpose, dZ, Op::none, dX, Update::overwrite, fresh);
  REQUIRE(Z == Z1);
  REQUIRE(dX == dX1);
  REQUIRE(dW == dW1);
}

TEST_CASE("gemm cuts wide products into column blocks and takes the row sums once", "[gemm]") {
  Rng rng(4);
  GemmWorkspace<double> ws;
  const Index M = 19, N = 9000, K = 7;  // N over two column blocks of the packed A
  const Matrix<double> A = random_matrix<double>(M, K, rng);
  const Matrix<double> B = random_matrix<double>(N, K, rng);
  Matrix<double> C(M, N);
  Matrix<double> sums = Matrix<double>::Zero(M, 1);
  kernels::gemm::gemm(A, Op::none, B, Op::transpose, C, Update::overwrite, ws,
                      Extras<double>{nullptr, sums.data()});
  REQUIRE((C - A * B.transpose()).cwiseAbs().maxCoeff() <= 1e-12);
  REQUIRE((sums - A.rowwise().sum()).cwiseAbs().maxCoeff() <= 1e-12);
}
