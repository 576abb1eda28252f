#pragma once
/// \file metrics/detail/numpy_sum.hpp
/// numpy's pairwise summation, so that seqeval's averages are reproduced to the last bit.

#include <cstddef>

namespace lstmner {

namespace detail {

/// numpy's pairwise summation (what np.add.reduce, np.mean and np.average use on a contiguous
/// float64 array), reproduced so that averages agree with seqeval to the last bit.
inline double numpy_sum(const double* a, std::size_t n) {
  if (n < 8) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += a[i];
    return sum;
  }
  if (n <= 128) {
    double r[8];
    for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
    double sum = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) sum += a[i];
    return sum;
  }
  std::size_t half = n / 2;
  half -= half % 8;
  return numpy_sum(a, half) + numpy_sum(a + half, n - half);
}

}  // namespace detail

}  // namespace lstmner
