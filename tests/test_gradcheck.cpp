// The gradient checker itself: it passes a right gradient, and fails a wrong one, a NaN one (in
// any entry, not just the first), a NaN loss, and a check of nothing.

#include <lstmner/gradcheck.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

using namespace lstmner;

namespace {

/// loss(x) = sum_i c_i x_i^2, gradient 2 c_i x_i.
struct Quadratic {
  std::vector<double> x{0.5, -1.25, 2.0, 0.75};
  std::vector<double> c{1.0, 3.0, -0.5, 2.0};
  double loss() const {
    double s = 0;
    for (std::size_t i = 0; i < x.size(); ++i) s += c[i] * x[i] * x[i];
    return s;
  }
  std::vector<double> gradient() const {
    std::vector<double> g(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) g[i] = 2 * c[i] * x[i];
    return g;
  }
};

GradCheckResult check(Quadratic& q, const std::vector<double>& analytic, Index n = 4) {
  return check_gradient("x", q.x.data(), analytic.data(), n, [&] { return q.loss(); });
}

}  // namespace

TEST_CASE("gradcheck: a right gradient passes, a wrong one fails") {
  Quadratic q;
  const GradCheckResult right = check(q, q.gradient());
  CHECK(right.checked == 4);
  CHECK(right.max_relative_error < 1e-8);
  CHECK(right.passed(1e-6));
  std::vector<double> wrong = q.gradient();
  wrong[3] *= 1.01;
  const GradCheckResult r = check(q, wrong);
  CHECK_FALSE(r.passed(1e-6));
  CHECK(r.worst_index == 3);
  CHECK(r.max_relative_error == Approx(0.01 / 1.01).epsilon(1e-6));
}

TEST_CASE("gradcheck: a NaN anywhere fails the check") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t at = 0; at < 4; ++at) {
    INFO("NaN analytic gradient at entry " << at);
    Quadratic q;
    std::vector<double> g = q.gradient();
    g[at] = nan;
    const GradCheckResult r = check(q, g);
    CHECK(r.checked == 4);
    CHECK(std::isnan(r.max_relative_error));
    CHECK(r.worst_index == static_cast<Index>(at));
    CHECK_FALSE(r.max_relative_error <= 1e-6);  // how the layer tests read it
    CHECK_FALSE(r.passed(1e-6));
  }
  Quadratic q;
  const GradCheckResult r = check_gradient("x", q.x.data(), q.gradient().data(), 4, [&] {
    return q.x[2] > 2.0 ? nan : q.loss();  // the loss itself is NaN on one side of entry 2
  });
  CHECK_FALSE(r.passed(1e-6));
  CHECK_FALSE(r.max_relative_error <= 1e-6);
}

TEST_CASE("gradcheck: checking nothing fails") {
  Quadratic q;
  const GradCheckResult none = check(q, q.gradient(), 0);
  CHECK(none.checked == 0);
  CHECK_FALSE(none.passed(1e-6));
  CHECK_FALSE(none.max_relative_error <= 1e-6);
  Matrix<double> empty(0, 3), empty_grad(0, 3);
  const GradCheckResult m = check_gradient("empty", empty, empty_grad, [] { return 0.0; });
  CHECK_FALSE(m.max_relative_error <= 1e-6);
}
