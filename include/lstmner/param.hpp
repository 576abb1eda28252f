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
/// Sparse parameters (embedding tables) record which columns a batch touched, so that zeroing,
/// clipping and the optimizer step cost O(touched) instead of O(vocabulary).

#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace lstmner {

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

  Index size() const { return value.size(); }

  void zero_grad() {
    if (sparse) {
      for (Index c : touched_columns) grad.col(c).setZero();
      touched_columns.clear();
    } else {
      grad.setZero();
    }
  }

  /// Squared L2 norm of the gradient (only the touched columns when sparse).
  double grad_squared_norm() const {
    if (frozen) return 0.0;
    double total = 0.0;
    if (sparse) {
      for (Index c : touched_columns) total += static_cast<double>(grad.col(c).squaredNorm());
    } else {
      total = static_cast<double>(grad.squaredNorm());
    }
    return total;
  }

  void scale_grad(Scalar factor) {
    if (sparse) {
      for (Index c : touched_columns) grad.col(c) *= factor;
    } else {
      grad *= factor;
    }
  }
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

/// Global L2 norm of all gradients.
template <class Scalar>
double grad_norm(const ParamList<Scalar>& params) {
  double total = 0.0;
  for (const auto* p : params) total += p->grad_squared_norm();
  return std::sqrt(total);
}

/// Scales every gradient so that their global L2 norm is at most `max_norm` (Pascanu et al. 2013).
/// Returns the norm before clipping. max_norm <= 0 disables clipping.
template <class Scalar>
double clip_grad_norm(const ParamList<Scalar>& params, double max_norm) {
  const double norm = grad_norm(params);
  if (max_norm > 0 && norm > max_norm) {
    const auto factor = static_cast<Scalar>(max_norm / (norm + 1e-12));
    for (auto* p : params) p->scale_grad(factor);
  }
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
