#pragma once
/// \file optimizer.hpp
/// Gradient-descent optimizers: SGD with momentum and weight decay, and Adam.
///
/// `step(params)` updates every parameter from its accumulated gradient; it does not zero the
/// gradients (the training loop calls zero_grad) and does not clip them (clip_grad_norm in
/// param.hpp does, before the step). A step may also be run in two halves, `begin_step(params)`
/// once and then `update(params, part)` for each Part (parts.hpp) of the elements, the parts
/// on different threads if wanted: the update is element-wise, so the result is the same.
///
/// State per slot: momentum buffers (SGD) and moments m, v (Adam) are kept by the parameter's index
/// in the list, never by its address, so a model that is copied or reloaded keeps training with the
/// same optimizer. The first step records every slot's shape; a later call whose list has a
/// different number of slots or a slot of a different shape throws std::invalid_argument. State
/// for a slot is allocated (zero) the first time that slot is updated.
///
/// Frozen parameters are skipped (their state is never allocated).
///
/// Sparse parameters (embedding tables) are updated only on their `touched_columns`: the
/// optimizer never reads the gradient of other columns and leaves their value and state exactly as
/// they are. For Adam this is the "lazy Adam" of TensorFlow's LazyAdamOptimizer / PyTorch's
/// SparseAdam: m and v of an untouched column do not decay, so a rare word's moments are those of
/// the last batch it appeared in; the bias correction uses the global step count. For SGD with
/// momentum likewise, the velocity of an untouched column neither decays nor moves its word, and
/// weight decay applies to touched columns only.
///
/// Deterministic: the same gradients in the same order give bit-identical updates.

#include <lstmner/param.hpp>
#include <lstmner/tensor.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lstmner {

namespace detail {

/// The shapes of an optimizer's parameter slots, recorded on the first step and checked on every
/// later one.
class SlotShapes {
 public:
  /// Runs once per step over every slot (and touched column): the checks are plain comparisons,
  /// and an error message is built only when one fails.
  template <class Scalar>
  void check(const ParamList<Scalar>& params, const char* who) {
    for (std::size_t slot = 0; slot < params.size(); ++slot) {
      const Param<Scalar>* p = params[slot];
      if (p == nullptr) fail<Scalar>(who, slot, nullptr, "is null");
      if (!p->frozen && (p->grad.rows() != p->value.rows() || p->grad.cols() != p->value.cols())) {
        fail(who, slot, p,
             "has a gradient of shape " + shape(p->grad.rows(), p->grad.cols()) +
                 " but a value of shape " + shape(p->value.rows(), p->value.cols()));
      }
      if (p->sparse && !p->frozen) {
        for (Index c : p->touched_columns) {
          if (c < 0 || c >= p->value.cols()) {
            fail(who, slot, p,
                 "lists touched column " + std::to_string(c) + ", outside [0, " +
                     std::to_string(p->value.cols()) + ")");
          }
        }
      }
    }
    if (!recorded_) {
      shapes_.clear();
      for (const auto* p : params) shapes_.emplace_back(p->value.rows(), p->value.cols());
      recorded_ = true;
      return;
    }
    if (params.size() != shapes_.size()) {
      require(false, std::string(who) + ": got " + std::to_string(params.size()) +
                         " parameter slots, but earlier steps had " +
                         std::to_string(shapes_.size()) + "; " + same_list_advice);
    }
    for (std::size_t slot = 0; slot < params.size(); ++slot) {
      const auto& p = *params[slot];
      const auto& expected = shapes_[slot];
      if (p.value.rows() != expected.first || p.value.cols() != expected.second) {
        fail(who, slot, &p,
             "has shape " + shape(p.value.rows(), p.value.cols()) + " but had shape " +
                 shape(expected.first, expected.second) + " in earlier steps; " + same_list_advice);
      }
    }
  }

 private:
  static constexpr const char* same_list_advice =
      "optimizer state is kept per slot, so pass the same parameter list every step";

  static std::string shape(Index rows, Index cols) {
    return std::to_string(rows) + " x " + std::to_string(cols);
  }

  /// Throws "<who>: parameter slot <slot> ('<name>') <what>".
  template <class Scalar>
  [[noreturn]] static void fail(const char* who, std::size_t slot, const Param<Scalar>* p,
                                const std::string& what) {
    const std::string name = p != nullptr ? " ('" + p->name + "')" : "";
    throw std::invalid_argument("lstmner: " + std::string(who) + ": parameter slot " +
                                std::to_string(slot) + name + " " + what);
  }

  bool recorded_ = false;
  std::vector<std::pair<Index, Index>> shapes_;
};

/// The state matrix of one slot, allocated (zero, same shape as the parameter) on first use.
template <class Scalar>
Matrix<Scalar>& slot_state(std::vector<Matrix<Scalar>>& states, std::size_t slot,
                           const Param<Scalar>& p) {
  if (states.size() <= slot) states.resize(slot + 1);
  Matrix<Scalar>& state = states[slot];
  if (state.size() == 0 && p.value.size() != 0) {
    state = Matrix<Scalar>::Zero(p.value.rows(), p.value.cols());
  }
  return state;
}

}  // namespace detail

struct SgdOptions {
  double learning_rate = 0.1;
  /// Heavy-ball momentum μ in [0, 1): v ← μ·v + g, w ← w − lr·v (0 = plain SGD, no state).
  double momentum = 0.0;
  /// L2 penalty λ ≥ 0 added to the gradient: g ← g + λ·w.
  double weight_decay = 0.0;
};

/// Stochastic gradient descent: w ← w − lr·(g + λ·w), or with momentum v ← μ·v + (g + λ·w),
/// w ← w − lr·v.
template <class Scalar>
class Sgd {
 public:
  explicit Sgd(SgdOptions options = {}) : options_(options) {
    require(options.learning_rate >= 0,
            "Sgd: learning_rate must be >= 0, got " + std::to_string(options.learning_rate));
    require(options.momentum >= 0 && options.momentum < 1,
            "Sgd: momentum must be in [0, 1), got " + std::to_string(options.momentum));
    require(options.weight_decay >= 0,
            "Sgd: weight_decay must be >= 0, got " + std::to_string(options.weight_decay));
  }

  const SgdOptions& options() const { return options_; }
  /// For learning-rate schedules.
  void set_learning_rate(double learning_rate) {
    require(learning_rate >= 0,
            "Sgd: learning_rate must be >= 0, got " + std::to_string(learning_rate));
    options_.learning_rate = learning_rate;
  }
  /// Number of step() calls so far.
  std::int64_t steps() const { return steps_; }

  void step(const ParamList<Scalar>& params) {
    begin_step(params);
    update(params);
  }

  /// Checks the list, allocates state, counts the step. Once per step, before update().
  void begin_step(const ParamList<Scalar>& params) {
    shapes_.check(params, "Sgd: step");
    ++steps_;
    if (options_.momentum > 0) {
      for (std::size_t slot = 0; slot < params.size(); ++slot)
        if (!params[slot]->frozen) detail::slot_state(velocity_, slot, *params[slot]);
    }
  }

  /// Updates `part` of every parameter's elements (see the file comment).
  void update(const ParamList<Scalar>& params, Part part = {}) {
    const auto lr = static_cast<Scalar>(options_.learning_rate);
    const auto mu = static_cast<Scalar>(options_.momentum);
    const auto decay = static_cast<Scalar>(options_.weight_decay);
    for (std::size_t slot = 0; slot < params.size(); ++slot) {
      Param<Scalar>& p = *params[slot];
      if (p.frozen) continue;
      Scalar* velocity = options_.momentum > 0 ? velocity_[slot].data() : nullptr;
      p.for_each_gradient_range(part, [&](Index first, Index count) {
        auto w = p.value_range(first, count);
        const auto g = p.grad_range(first, count);
        if (velocity != nullptr) {
          ArrayMap<Scalar> v(velocity + first, count);
          if (options_.weight_decay > 0) {
            v = mu * v + g + decay * w;
          } else {
            v = mu * v + g;
          }
          w -= lr * v;
        } else if (options_.weight_decay > 0) {
          w -= lr * (g + decay * w);
        } else {
          w -= lr * g;
        }
      });
    }
  }

 private:
  SgdOptions options_;
  std::int64_t steps_ = 0;
  detail::SlotShapes shapes_;
  std::vector<Matrix<Scalar>> velocity_;
};

struct AdamOptions {
  double learning_rate = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
};

/// Adam (Kingma & Ba 2015), step t = 1, 2, ...:
///   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²,
///   w ← w − lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + ε).
/// Sparse parameters: lazy Adam (see the file comment).
template <class Scalar>
class Adam {
 public:
  explicit Adam(AdamOptions options = {}) : options_(options) {
    require(options.learning_rate >= 0,
            "Adam: learning_rate must be >= 0, got " + std::to_string(options.learning_rate));
    require(options.beta1 >= 0 && options.beta1 < 1,
            "Adam: beta1 must be in [0, 1), got " + std::to_string(options.beta1));
    require(options.beta2 >= 0 && options.beta2 < 1,
            "Adam: beta2 must be in [0, 1), got " + std::to_string(options.beta2));
    require(options.epsilon > 0,
            "Adam: epsilon must be > 0, got " + std::to_string(options.epsilon));
  }

  const AdamOptions& options() const { return options_; }
  void set_learning_rate(double learning_rate) {
    require(learning_rate >= 0,
            "Adam: learning_rate must be >= 0, got " + std::to_string(learning_rate));
    options_.learning_rate = learning_rate;
  }
  /// Number of step() calls so far: the t of the bias correction.
  std::int64_t steps() const { return steps_; }

  void step(const ParamList<Scalar>& params) {
    begin_step(params);
    update(params);
  }

  /// Checks the list, allocates state, counts the step (t). Once per step, before update().
  void begin_step(const ParamList<Scalar>& params) {
    shapes_.check(params, "Adam: step");
    ++steps_;
    for (std::size_t slot = 0; slot < params.size(); ++slot) {
      if (params[slot]->frozen) continue;
      detail::slot_state(first_moment_, slot, *params[slot]);
      detail::slot_state(second_moment_, slot, *params[slot]);
    }
  }

  /// Updates `part` of every parameter's elements (see the file comment).
  void update(const ParamList<Scalar>& params, Part part = {}) {
    const double t = static_cast<double>(steps_);
    const auto beta1 = static_cast<Scalar>(options_.beta1);
    const auto beta2 = static_cast<Scalar>(options_.beta2);
    const auto one_minus_beta1 = static_cast<Scalar>(1.0 - options_.beta1);
    const auto one_minus_beta2 = static_cast<Scalar>(1.0 - options_.beta2);
    // Bias corrections in double: 1 − β^t loses digits in float when β is close to 1. They are
    // folded into two per-step constants, lr·(m/c1)/(sqrt(v/c2)+ε) = step·m/(sqrt(v)·r + ε) with
    // step = lr/c1 and r = 1/sqrt(c2), so each element costs one division and one square root.
    const double correction1 = 1.0 - std::pow(options_.beta1, t);
    const double correction2 = 1.0 - std::pow(options_.beta2, t);
    const auto step_size = static_cast<Scalar>(options_.learning_rate / correction1);
    const auto root_scale = static_cast<Scalar>(1.0 / std::sqrt(correction2));
    const auto eps = static_cast<Scalar>(options_.epsilon);
    for (std::size_t slot = 0; slot < params.size(); ++slot) {
      Param<Scalar>& p = *params[slot];
      if (p.frozen) continue;
      Scalar* m_slot = first_moment_[slot].data();
      Scalar* v_slot = second_moment_[slot].data();
      p.for_each_gradient_range(part, [&](Index first, Index count) {
        auto w = p.value_range(first, count);
        const auto g = p.grad_range(first, count);
        ArrayMap<Scalar> m(m_slot + first, count);
        ArrayMap<Scalar> v(v_slot + first, count);
        m = beta1 * m + one_minus_beta1 * g;
        v = beta2 * v + one_minus_beta2 * g.square();
        w -= step_size * m / (v.sqrt() * root_scale + eps);
      });
    }
  }

 private:
  AdamOptions options_;
  std::int64_t steps_ = 0;
  detail::SlotShapes shapes_;
  std::vector<Matrix<Scalar>> first_moment_;
  std::vector<Matrix<Scalar>> second_moment_;
};

}  // namespace lstmner
