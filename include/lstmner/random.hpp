#pragma once
/// \file random.hpp
/// A seeded random number generator and the weight initialisers built on it.
///
/// Reproducibility: the standard library's distributions may differ between implementations, so
/// every number here is derived from the raw 64-bit stream of xoshiro256** by our own arithmetic.
/// The same seed gives the same weights with any compiler, on any platform.

#include <lstmner/tensor.hpp>

#include <Eigen/QR>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace lstmner {

/// xoshiro256** (Blackman & Vigna), seeded through splitmix64.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 1) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    for (auto& word : state_) {
      seed += 0x9E3779B97F4A7C15ull;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      word = z ^ (z >> 31);
    }
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias below 2^-32 for n < 2^32).
  std::uint64_t below(std::uint64_t n) {
    __extension__ using Wide =
        unsigned __int128;  // GCC and Clang both provide it on 64-bit targets
    return static_cast<std::uint64_t>((static_cast<Wide>(next()) * n) >> 64);
  }
  /// Standard normal (Box–Muller; one of the pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * 3.14159265358979323846 * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }
  /// Fisher–Yates shuffle.
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::swap(items[i - 1], items[static_cast<std::size_t>(below(i))]);
    }
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t state_[4] = {};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

/// Fills `m` with values uniform in [-limit, limit).
template <class Derived>
void init_uniform(Eigen::MatrixBase<Derived>& m, double limit, Rng& rng) {
  for (Index j = 0; j < m.cols(); ++j)
    for (Index i = 0; i < m.rows(); ++i)
      m(i, j) = static_cast<typename Derived::Scalar>(rng.uniform(-limit, limit));
}

/// Glorot/Xavier uniform for a [fan_out x fan_in] weight: limit sqrt(6 / (fan_in + fan_out)).
template <class Derived>
void init_glorot_uniform(Eigen::MatrixBase<Derived>& m, Rng& rng) {
  const double limit = std::sqrt(6.0 / static_cast<double>(m.rows() + m.cols()));
  init_uniform(m, limit, rng);
}

/// Orthogonal initialisation (Saxe et al. 2014) of a square block: Q of the QR decomposition of a
/// Gaussian matrix, with signs fixed so the result is unique for a given random draw.
template <class Derived>
void init_orthogonal(Eigen::MatrixBase<Derived>& m, Rng& rng) {
  require(m.rows() == m.cols(), "init_orthogonal: needs a square block");
  const Index n = m.rows();
  Matrix<double> gaussian(n, n);
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < n; ++i) gaussian(i, j) = rng.normal();
  Eigen::HouseholderQR<Matrix<double>> qr(gaussian);
  Matrix<double> q = qr.householderQ() * Matrix<double>::Identity(n, n);
  const Matrix<double> r = qr.matrixQR().template triangularView<Eigen::Upper>();
  for (Index j = 0; j < n; ++j)
    if (r(j, j) < 0) q.col(j) = -q.col(j);
  m = q.cast<typename Derived::Scalar>();
}

}  // namespace lstmner
