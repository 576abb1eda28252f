#pragma once
/// \file param.hpp
/// A trainable parameter: its value and its gradient, and the helpers optimizers share.
///
/// Each layer owns its parameters as plain members and lists them in `params()`, always in the
/// same order. That order is the parameter's *slot*: optimizers keep their state per slot, and the
/// model file stores parameters by name in slot order. (Nothing is keyed by a pointer's address, so
/// layers stay copyable and movable.)
///
/// Gradients accumulate: a layer's backward adds into `grad`; whoever runs the training step
/// calls `zero_grad` before the next one.
///
/// Gradient buffers exist only where training needs them: a layer made to be trained (with an
/// Rng) has them; a layer made with `shapes_only` (a model about to be read from a file) has zero
/// values, was never randomly initialised, and has an empty `grad` until `allocate_grad()`. A
/// layer's backward throws std::invalid_argument, never writes out of bounds, when it is asked to
/// accumulate into a gradient that is not there.
///
/// Sparse parameters (embedding tables) record which columns a batch touched, so that zeroing,
/// clipping and the optimizer step cost O(touched) instead of O(vocabulary).
///
/// Element-wise work on gradients (zeroing, norms, scaling, optimizer updates) can be cut into
/// `Part`s (parts.hpp) that threads run side by side: `for_each_gradient_range` gives each part
/// a disjoint share of the elements.

#include <lstmner/parts.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace lstmner {

/// Tag for the constructors that make a layer of the given shape with zero values, no random
/// initialisation and no gradient buffers: what a model file's weights are then read into.
struct ShapesOnly {};
inline constexpr ShapesOnly shapes_only{};

template <class Scalar>
struct Param {
  std::string name;
  Matrix<Scalar> value;
  Matrix<Scalar> grad;
  /// Frozen parameters receive no gradient and are never updated.
  bool frozen = false;
  /// When true, only the columns listed in `touched_columns` have a nonzero gradient.
  bool sparse = false;
  /// Columns with a gradient since the last zero_grad (sorted, unique), for sparse parameters.
  std::vector<Index> touched_columns;

  Param() = default;
  Param(std::string param_name, Index rows, Index cols)
      : name(std::move(param_name)),
        value(Matrix<Scalar>::Zero(rows, cols)),
        grad(Matrix<Scalar>::Zero(rows, cols)) {}

  /// Zero values and no gradient buffer (see ShapesOnly).
  Param(std::string param_name, Index rows, Index cols, ShapesOnly)
      : name(std::move(param_name)), value(Matrix<Scalar>::Zero(rows, cols)) {}

  Index size() const { return value.size(); }

  /// Whether `grad` has the shape of `value` (a frozen parameter needs none).
  bool has_grad() const { return grad.rows() == value.rows() && grad.cols() == value.cols(); }
  /// Gives the parameter a zero gradient of its shape, unless it has one.
  void allocate_grad() {
    if (!has_grad()) grad = Matrix<Scalar>::Zero(value.rows(), value.cols());
  }
  /// Frees the gradient buffer (an inference model needs none).
  void release_grad() {
    grad = Matrix<Scalar>();
    touched_columns.clear();
    touched_columns.shrink_to_fit();
  }

  /// Zeroes the gradient (only the touched columns when sparse) and clears the touched list.
  void zero_grad() {
    zero_grad_values();
    touched_columns.clear();
  }

  /// Zeroes `part` of the gradient and leaves the touched list as it is (parts of one parameter
  /// may run on different threads; zero_grad clears the list afterwards).
  void zero_grad_values(Part part = {}) {
    for_each_gradient_range(part, [&](Index first, Index count) { grad_range(first, count) = 0; });
  }

  /// Squared L2 norm of `part` of the gradient (only the touched columns when sparse).
  double grad_squared_norm(Part part = {}) const {
    if (frozen) return 0.0;
    double total = 0.0;
    for_each_gradient_range(part, [&](Index first, Index count) {
      total += static_cast<double>(grad_range(first, count).matrix().squaredNorm());
    });
    return total;
  }

  void scale_grad(Scalar factor, Part part = {}) {
    for_each_gradient_range(part,
                            [&](Index first, Index count) { grad_range(first, count) *= factor; });
  }

  /// Elements per block of a dense parameter's shares: 64 bytes, a multiple of every SIMD width.
  static constexpr Index block_elements = 64 / static_cast<Index>(sizeof(Scalar));

  /// Calls f(first, count) for the elements of `part` of the parameter that may carry a gradient,
  /// as ranges of the column-major storage: a contiguous share of all elements (dense), or the
  /// whole columns of a share of the touched columns (sparse). Parts never overlap.
  ///
  /// A dense share is made of whole blocks of block_elements, so that however the elements are
  /// cut, each one is updated by the same code: Eigen runs a range's whole packets with SIMD
  /// instructions and the rest one scalar at a time, and a compiler may fuse a·b + c·d into an
  /// FMA differently in the two (an optimizer's update would then depend on the thread count).
  /// The storage is aligned to the SIMD width (Eigen's allocator), so a share starting at a
  /// block boundary has no scalar head, and only the parameter's last share a scalar tail.
  template <class F>
  void for_each_gradient_range(Part part, F&& f) const {
    if (sparse) {
      const auto n = static_cast<std::ptrdiff_t>(touched_columns.size());
      for (std::ptrdiff_t k = part.first(n); k < part.last(n); ++k)
        f(touched_columns[static_cast<std::size_t>(k)] * value.rows(), value.rows());
    } else {
      const Index blocks = (value.size() + block_elements - 1) / block_elements;
      const Index first = std::min(value.size(), part.first(blocks) * block_elements);
      const Index last = std::min(value.size(), part.last(blocks) * block_elements);
      if (last > first) f(first, last - first);
    }
  }

  /// Flat views of `count` elements of the storage from `first` (as for_each_gradient_range
  /// gives them).
  ArrayMap<Scalar> grad_range(Index first, Index count) { return {grad.data() + first, count}; }
  ConstArrayMap<Scalar> grad_range(Index first, Index count) const {
    return {grad.data() + first, count};
  }
  ArrayMap<Scalar> value_range(Index first, Index count) { return {value.data() + first, count}; }
};

template <class Scalar>
using ParamList = std::vector<Param<Scalar>*>;

/// Appends the parameters of `more` to `list` (layers compose their params() this way).
template <class Scalar>
void append_params(ParamList<Scalar>& list, const ParamList<Scalar>& more) {
  list.insert(list.end(), more.begin(), more.end());
}

template <class Scalar>
void zero_grad(const ParamList<Scalar>& params) {
  for (auto* p : params) p->zero_grad();
}

/// Zeroes `part` of every gradient; the touched lists are left for forget_touched_columns.
template <class Scalar>
void zero_grad_values(const ParamList<Scalar>& params, Part part) {
  for (auto* p : params) p->zero_grad_values(part);
}

/// Clears the touched lists, once every part's gradient values have been zeroed.
template <class Scalar>
void forget_touched_columns(const ParamList<Scalar>& params) {
  for (auto* p : params) p->touched_columns.clear();
}

/// Sum of the squared L2 norms of `part` of every gradient.
template <class Scalar>
double grad_squared_norm(const ParamList<Scalar>& params, Part part = {}) {
  double total = 0.0;
  for (const auto* p : params) total += p->grad_squared_norm(part);
  return total;
}

/// Global L2 norm of all gradients.
template <class Scalar>
double grad_norm(const ParamList<Scalar>& params) {
  return std::sqrt(grad_squared_norm(params));
}

/// The factor clip_grad_norm scales gradients of global norm `norm` by: min(1, max_norm / norm);
/// exactly 1 (no scaling) when clipping is disabled (max_norm <= 0) or not needed.
inline double clip_factor(double norm, double max_norm) {
  return max_norm > 0 && norm > max_norm ? max_norm / (norm + 1e-12) : 1.0;
}

/// Scales every gradient so that their global L2 norm is at most `max_norm` (Pascanu et al. 2013).
/// Returns the norm before clipping. max_norm <= 0 disables clipping.
template <class Scalar>
double clip_grad_norm(const ParamList<Scalar>& params, double max_norm) {
  const double norm = grad_norm(params);
  const double factor = clip_factor(norm, max_norm);
  if (factor != 1.0)
    for (auto* p : params) p->scale_grad(static_cast<Scalar>(factor));
  return norm;
}

/// Total number of scalars in a parameter list.
template <class Scalar>
Index count_parameters(const ParamList<Scalar>& params) {
  Index n = 0;
  for (const auto* p : params) n += p->size();
  return n;
}

}  // namespace lstmner
