#pragma once
/// \file tensor.hpp
/// Owning, contiguous, 64-byte-aligned storage with a shape, and the Eigen views the layers use.
///
/// Layout convention (column-major, like Eigen): the first dimension varies fastest.
/// A time-major sequence batch is a rank-3 tensor of shape (features, batch, time):
/// element (f, b, t) lives at f + F * (b + B * t), so
///   - `step(t)` is the [F x B] matrix of time step t (contiguous), and
///   - `matrix()` is the [F x (B*T)] matrix of all steps, column b + B*t,
/// which is what lets an LSTM compute its input projection for every step in one GEMM.

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lstmner {

using Index = Eigen::Index;

template <class Scalar>
using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
template <class Scalar>
using MatrixMap = Eigen::Map<Matrix<Scalar>>;
template <class Scalar>
using ConstMatrixMap = Eigen::Map<const Matrix<Scalar>>;
template <class Scalar>
using VectorMap = Eigen::Map<Vector<Scalar>>;
template <class Scalar>
using ConstVectorMap = Eigen::Map<const Vector<Scalar>>;
/// Flat element-wise views (of a range of a matrix's storage, for instance).
template <class Scalar>
using ArrayMap = Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>>;
template <class Scalar>
using ConstArrayMap = Eigen::Map<const Eigen::Array<Scalar, Eigen::Dynamic, 1>>;

/// Alignment of every tensor's storage: one cache line, and the widest SIMD register (AVX-512).
inline constexpr std::size_t tensor_alignment = 64;

namespace detail {

/// A std::allocator that aligns to `Alignment` bytes (C++17 aligned operator new).
template <class T, std::size_t Alignment>
struct AlignedAllocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, Alignment>;
  };
  AlignedAllocator() noexcept = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, Alignment>&) noexcept {}  // NOLINT: allocator rebind
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{Alignment}));
  }
  void deallocate(T* p, std::size_t) noexcept {
    ::operator delete (p, std::align_val_t{Alignment});
  }
  template <class U>
  bool operator==(const AlignedAllocator<U, Alignment>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const AlignedAllocator<U, Alignment>&) const noexcept {
    return false;
  }
};

}  // namespace detail

/// A contiguous vector with 64-byte-aligned storage.
template <class T>
using AlignedVector = std::vector<T, detail::AlignedAllocator<T, tensor_alignment>>;

/// Throws std::invalid_argument with `what` when `ok` is false. The one way layers report bad
/// arguments, so that every message starts with the component that rejected them.
inline void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("lstmner: " + what);
}

namespace detail {

/// `require` with a message built only when the check fails: a passing check must not touch the
/// heap, since a training step allocates nothing once its buffers are sized.
template <class MessageFn>
void require_lazily(bool ok, MessageFn&& message) {
  if (!ok) require(false, std::string(message()));
}

}  // namespace detail

/// Formats a shape as "(a, b, c)" for error messages.
template <std::size_t Rank>
std::string shape_string(const std::array<Index, Rank>& shape) {
  std::ostringstream out;
  out << '(';
  for (std::size_t i = 0; i < Rank; ++i) out << (i ? ", " : "") << shape[i];
  out << ')';
  return out.str();
}

/// Owning tensor of rank 1 to 3 (`matrix()` needs rank 2 or 3, `step()` rank 3).
/// `resize` keeps the allocation when the new size fits, so buffers sized once for the largest
/// batch are reused without touching the heap.
template <class Scalar, int Rank>
class Tensor {
  static_assert(Rank >= 1 && Rank <= 3, "tensors have rank 1, 2 or 3");

 public:
  using Shape = std::array<Index, Rank>;

  Tensor() { shape_.fill(0); }
  explicit Tensor(const Shape& shape) { resize(shape); }

  /// Sets the shape; the contents are unspecified afterwards (call setZero() when it matters).
  /// Throws std::invalid_argument for a negative dimension, or a shape whose size in bytes does
  /// not fit in an Index (the product is checked before it can overflow).
  void resize(const Shape& shape) {
    constexpr Index max_elements = std::numeric_limits<Index>::max() / Index(sizeof(Scalar));
    Index n = 1;
    for (Index d : shape) {
      // The message is built only on failure: resize runs in every training step.
      if (d < 0) require(false, "Tensor: negative dimension in shape " + shape_string(shape));
      if (d != 0 && n > max_elements / d)
        require(false, "Tensor: the shape " + shape_string(shape) + " has too many elements");
      n *= d;
    }
    shape_ = shape;
    data_.resize(static_cast<std::size_t>(n));
  }
  template <class... Dims>
  void resize(Dims... dims) {
    static_assert(sizeof...(Dims) == Rank, "resize takes one size per dimension");
    resize(Shape{static_cast<Index>(dims)...});
  }

  const Shape& shape() const { return shape_; }
  Index dim(int i) const { return shape_[static_cast<std::size_t>(i)]; }
  Index size() const { return static_cast<Index>(data_.size()); }
  bool empty() const { return data_.empty(); }
  Scalar* data() { return data_.data(); }
  const Scalar* data() const { return data_.data(); }

  void setZero() { std::fill(data_.begin(), data_.end(), Scalar(0)); }
  void setConstant(Scalar v) { std::fill(data_.begin(), data_.end(), v); }

  /// Element access, column-major; checked only in debug builds (eigen_assert).
  Scalar& operator()(Index i0, Index i1 = 0, Index i2 = 0) { return data_[offset(i0, i1, i2)]; }
  const Scalar& operator()(Index i0, Index i1 = 0, Index i2 = 0) const {
    return data_[offset(i0, i1, i2)];
  }

  /// All elements as one column vector.
  VectorMap<Scalar> vec() { return VectorMap<Scalar>(data(), size()); }
  ConstVectorMap<Scalar> vec() const { return ConstVectorMap<Scalar>(data(), size()); }

  /// Rank 2: the [d0 x d1] matrix. Rank 3: the [d0 x (d1*d2)] matrix of all time steps.
  MatrixMap<Scalar> matrix() { return MatrixMap<Scalar>(data(), dim(0), size() / nonzero(dim(0))); }
  ConstMatrixMap<Scalar> matrix() const {
    return ConstMatrixMap<Scalar>(data(), dim(0), size() / nonzero(dim(0)));
  }

  /// Rank 3 only: the [features x batch] slice of time step t.
  MatrixMap<Scalar> step(Index t) {
    static_assert(Rank == 3, "step(t) needs a (features, batch, time) tensor");
    eigen_assert(t >= 0 && t < dim(2));
    return MatrixMap<Scalar>(data() + t * dim(0) * dim(1), dim(0), dim(1));
  }
  ConstMatrixMap<Scalar> step(Index t) const {
    static_assert(Rank == 3, "step(t) needs a (features, batch, time) tensor");
    eigen_assert(t >= 0 && t < dim(2));
    return ConstMatrixMap<Scalar>(data() + t * dim(0) * dim(1), dim(0), dim(1));
  }

 private:
  static Index nonzero(Index d) { return d == 0 ? 1 : d; }
  std::size_t offset(Index i0, Index i1, Index i2) const {
    eigen_assert(i0 >= 0 && i0 < shape_[0]);
    Index off = i0;
    if constexpr (Rank >= 2) {
      eigen_assert(i1 >= 0 && i1 < shape_[1]);
      off += shape_[0] * i1;
    }
    if constexpr (Rank >= 3) {
      eigen_assert(i2 >= 0 && i2 < shape_[2]);
      off += shape_[0] * shape_[1] * i2;
    }
    return static_cast<std::size_t>(off);
  }

  Shape shape_;
  AlignedVector<Scalar> data_;
};

template <class Scalar>
using Tensor1 = Tensor<Scalar, 1>;
template <class Scalar>
using Tensor2 = Tensor<Scalar, 2>;
template <class Scalar>
using Tensor3 = Tensor<Scalar, 3>;

}  // namespace lstmner
