#pragma once
/// \file gradcheck.hpp
/// A finite-difference gradient checker for tests and users (central differences, double).
///
/// Usage: compute the analytic gradient of a scalar loss with respect to some values, then
///   auto r = check_gradient("W", W.data(), analytic.data(), W.size(), [&] { return loss(); });
///   REQUIRE(r.passed(1e-6));   // or REQUIRE(r.max_relative_error <= 1e-6)
/// A check fails however it is read when it checked nothing (max_relative_error is +infinity)
/// or when any entry's error is NaN (a NaN gradient or loss: max_relative_error is NaN, which
/// compares false with every tolerance).
/// `loss` must recompute the loss from the current contents of `values` (the checker perturbs
/// each entry in place and restores it exactly).
///
/// Relative error of one entry: |a - n| / max(|a|, |n|, floor). The floor keeps entries whose true
/// gradient is zero (up to rounding) from dividing rounding noise by ~0; with double precision,
/// step 1e-5 and losses of order 1, finite differences are accurate to ~1e-10 absolute, so a floor
/// of 1e-4 still resolves errors well below the 1e-6 the tests demand.

#include <lstmner/random.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace lstmner {

struct GradCheckResult {
  std::string name;
  double max_relative_error = 0.0;
  Index worst_index = -1;
  double analytic_at_worst = 0.0;
  double numeric_at_worst = 0.0;
  Index checked = 0;

  /// At least one entry checked, and every relative error at most `tolerance` (none NaN).
  bool passed(double tolerance) const { return checked > 0 && max_relative_error <= tolerance; }
};

struct GradCheckOptions {
  double step = 1e-5;
  double floor = 1e-4;
  /// Check at most this many entries (a seeded random subset when there are more); 0 = all.
  Index max_entries = 0;
  std::uint64_t seed = 7;
};

template <class Scalar, class LossFn>
GradCheckResult check_gradient(const std::string& name, Scalar* values, const Scalar* analytic,
                               Index n, LossFn&& loss, const GradCheckOptions& options = {}) {
  GradCheckResult result;
  result.name = name;
  std::vector<Index> entries(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) entries[static_cast<std::size_t>(i)] = i;
  if (options.max_entries > 0 && n > options.max_entries) {
    Rng rng(options.seed);
    rng.shuffle(entries);
    entries.resize(static_cast<std::size_t>(options.max_entries));
  }
  for (Index i : entries) {
    const Scalar saved = values[i];
    values[i] = static_cast<Scalar>(saved + options.step);
    const double plus = static_cast<double>(loss());
    values[i] = static_cast<Scalar>(saved - options.step);
    const double minus = static_cast<double>(loss());
    values[i] = saved;
    const double numeric = (plus - minus) / (2.0 * options.step);
    const double a = static_cast<double>(analytic[i]);
    const double denom = std::max({std::abs(a), std::abs(numeric), options.floor});
    const double rel = std::abs(a - numeric) / denom;
    // A NaN error is the worst there is and stays the result (`rel > max` is false for NaN).
    if (std::isnan(result.max_relative_error)) {
      ++result.checked;
      continue;
    }
    if (std::isnan(rel) || rel > result.max_relative_error || result.worst_index < 0) {
      result.max_relative_error = rel;
      result.worst_index = i;
      result.analytic_at_worst = a;
      result.numeric_at_worst = numeric;
    }
    ++result.checked;
  }
  if (result.checked == 0) result.max_relative_error = std::numeric_limits<double>::infinity();
  return result;
}

/// Convenience overload for Eigen matrices of equal shape.
template <class Scalar, class LossFn>
GradCheckResult check_gradient(const std::string& name, Matrix<Scalar>& values,
                               const Matrix<Scalar>& analytic, LossFn&& loss,
                               const GradCheckOptions& options = {}) {
  require(values.rows() == analytic.rows() && values.cols() == analytic.cols(),
          "check_gradient: values and analytic gradient of '" + name + "' differ in shape");
  return check_gradient(name, values.data(), analytic.data(), values.size(),
                        std::forward<LossFn>(loss), options);
}

}  // namespace lstmner
