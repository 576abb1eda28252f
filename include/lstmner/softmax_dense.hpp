#pragma once
/// \file softmax_dense.hpp
/// The output layer of a tagger: an affine map to K class scores, a numerically stable softmax and
/// the masked cross-entropy loss, with the softmax and the loss differentiated together.
///
/// Parameters: `W` [K x D] (Glorot uniform), `b` [K x 1] (zero).
///
///   forward:       x (D,B,T), lengths → scores (K,B,T) = W·x + b, one GEMM over x.matrix();
///                  padded steps of scores are 0. Caches nothing.
///   loss_backward: x, scores (from forward), targets (B,T) int32 in [0, K) at real steps, lengths,
///                  scale → returns  scale · Σ_real −log softmax(scores)[target]  (accumulated in
///                  double), writes dx (D,B,T) and accumulates dW, db from
///                  d_scores = scale · (p − onehot(target)), which is 0 at padded steps.
///                  The tagger passes scale = 1 / num_tokens to get the mean loss per token.
///   backward:      the affine part alone, for callers that bring their own d_scores (e.g. a CRF):
///                  dx = Wᵀ·d_scores, dW += d_scores·xᵀ, db += Σ_steps d_scores. Padded steps of
///                  d_scores must be 0, as every layer's input gradient is at padded steps.
///
/// Softmax stability: exp is taken of s − max(s), so the largest term is exp(0) = 1 and
/// log Σ exp(s) = max + log Σ exp(s − max) stays finite for scores of any magnitude.
///
/// Forward and backward are const apart from the gradient accumulation; the only scratch,
/// d_scores, lives in the caller's Workspace.
///
/// forward and loss_backward can also be cut into ranges (parts.hpp) that threads run side by
/// side, with results that do not depend on the cut: forward_columns for a range of token columns
/// (after sizing `scores`); prepare_loss_backward, then loss_backward_columns per range of token
/// columns (d_scores, dx and each column's loss), then weight_gradients per range of the D input
/// features (dW's columns, each summing over every token in one product; db with the range that
/// starts at 0), then total_loss, which adds the columns' losses in column order.
#include <lstmner/kernels/gemm.hpp>
#include <lstmner/param.hpp>
#include <lstmner/parts.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lstmner {

template <class Scalar>
class SoftmaxDense {
 public:
  Param<Scalar> W;
  Param<Scalar> b;

  struct Workspace {
    /// scale · (p − y) at real steps, 0 at padded steps: (K,B,T).
    Tensor3<Scalar> d_scores;
    /// −log softmax(scores)[target] of every token column (0 at padded ones), unscaled.
    std::vector<double> column_loss;
    /// One set of GEMM packing buffers per part of a parallel stage (kept between passes).
    std::vector<kernels::gemm::GemmWorkspace<Scalar>> part_gemm;

    kernels::gemm::GemmWorkspace<Scalar>& gemm(int part) {
      return part_gemm[static_cast<std::size_t>(part)];
    }
    void reserve_parts(int parts) {
      if (part_gemm.size() < static_cast<std::size_t>(parts))
        part_gemm.resize(static_cast<std::size_t>(parts));
    }
  };

  SoftmaxDense() = default;
  SoftmaxDense(Index input_dim, Index num_classes, Rng& rng)
      : W("W", num_classes, input_dim), b("b", num_classes, 1) {
    require(input_dim >= 1 && num_classes >= 1,
            "SoftmaxDense: input dimension and number of classes must be at least 1 (got D = " +
                std::to_string(input_dim) + ", K = " + std::to_string(num_classes) + ")");
    init_glorot_uniform(W.value, rng);
  }

  /// A zero layer of the given shape without gradient buffers (see ShapesOnly in param.hpp).
  SoftmaxDense(Index input_dim, Index num_classes, ShapesOnly)
      : W("W", num_classes, input_dim, shapes_only), b("b", num_classes, 1, shapes_only) {
    require(input_dim >= 1 && num_classes >= 1,
            "SoftmaxDense: input dimension and number of classes must be at least 1 (got D = " +
                std::to_string(input_dim) + ", K = " + std::to_string(num_classes) + ")");
  }

  Index input_dim() const { return W.value.cols(); }
  Index num_classes() const { return W.value.rows(); }
  /// Slot order: W, b.
  ParamList<Scalar> params() { return {&W, &b}; }

  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& scores,
               Workspace& ws) const {
    check_input(x, lengths, "forward");
    scores.resize(num_classes(), x.dim(1), x.dim(2));
    ws.reserve_parts(1);
    forward_columns(x, lengths, scores, ws.gemm(0), Range{0, x.dim(1) * x.dim(2)});
  }

  /// The same with a workspace of its own (which allocates its packing buffers on every call).
  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
               Tensor3<Scalar>& scores) const {
    Workspace ws;
    forward(x, lengths, scores, ws);
  }

  /// The token `columns` of forward (x checked and scores sized by the caller).
  void forward_columns(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                       Tensor3<Scalar>& scores, kernels::gemm::GemmWorkspace<Scalar>& gemm_ws,
                       Range columns) const {
    using namespace kernels::gemm;
    gemm(W.value, Op::none, x.matrix().middleCols(columns.first, columns.size()), Op::none,
         scores.matrix().middleCols(columns.first, columns.size()), Update::overwrite, gemm_ws,
         {b.value.data(), nullptr});
    for_each_padded_step(lengths, columns,
                         [&](Index column) { scores.matrix().col(column).setZero(); });
  }

  /// The masked cross-entropy of `scores` against `targets`, times `scale` (no gradient).
  double loss(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& targets,
              const SequenceLengths& lengths, double scale = 1.0) const {
    check_scores_and_targets(scores, targets, lengths, "loss");
    double total = 0.0;
    for_each_real_step(lengths, [&](Index column, Index b, Index t) {
      const auto s = scores.matrix().col(column);
      const Scalar max = s.maxCoeff();
      const double log_sum = std::log(static_cast<double>((s.array() - max).exp().sum()));
      total += log_sum + static_cast<double>(max - s(targets(b, t)));
    });
    return scale * total;
  }

  /// Fused loss and gradient; see the file comment. Returns the scaled loss.
  double loss_backward(const Tensor3<Scalar>& x, const Tensor3<Scalar>& scores,
                       const Tensor2<std::int32_t>& targets, const SequenceLengths& lengths,
                       double scale, Tensor3<Scalar>& dx, Workspace& ws) {
    prepare_loss_backward(x, scores, targets, lengths, dx, ws);
    ws.reserve_parts(1);
    loss_backward_columns(x, scores, targets, lengths, scale, dx, ws, ws.gemm(0),
                          Range{0, x.dim(1) * x.dim(2)});
    weight_gradients(x, ws, ws.gemm(0), Range{0, input_dim()});
    return total_loss(ws, scale);
  }

  /// Checks the arguments of loss_backward and sizes dx and the Workspace, before the ranges run.
  void prepare_loss_backward(const Tensor3<Scalar>& x, const Tensor3<Scalar>& scores,
                             const Tensor2<std::int32_t>& targets, const SequenceLengths& lengths,
                             Tensor3<Scalar>& dx, Workspace& ws) const {
    check_input(x, lengths, "loss_backward");
    check_scores_and_targets(scores, targets, lengths, "loss_backward");
    check_gradients("loss_backward");
    ws.d_scores.resize(scores.shape());
    ws.column_loss.resize(static_cast<std::size_t>(x.dim(1) * x.dim(2)));
    dx.resize(x.shape());
  }

  /// The token `columns` of loss_backward: their d_scores, their losses (ws.column_loss) and
  /// their columns of dx = Wᵀ·d_scores.
  void loss_backward_columns(const Tensor3<Scalar>& x, const Tensor3<Scalar>& scores,
                             const Tensor2<std::int32_t>& targets, const SequenceLengths& lengths,
                             double scale, Tensor3<Scalar>& dx, Workspace& ws,
                             kernels::gemm::GemmWorkspace<Scalar>& gemm_ws, Range columns) const {
    (void)x;
    auto d_scores = ws.d_scores.matrix();
    d_scores.middleCols(columns.first, columns.size()).setZero();  // padded steps stay 0
    const auto scale_s = static_cast<Scalar>(scale);
    for_each_token_column(lengths, columns, [&](Index column, Index b, Index t, bool real) {
      double& loss = ws.column_loss[static_cast<std::size_t>(column)];
      if (!real) {
        loss = 0.0;
        return;
      }
      const auto s = scores.matrix().col(column);
      auto d = d_scores.col(column);
      const Scalar max = s.maxCoeff();
      d = (s.array() - max).exp();  // unnormalised p, the largest entry 1
      const Scalar sum = d.sum();
      const Index target = targets(b, t);
      loss = std::log(static_cast<double>(sum)) + static_cast<double>(max - s(target));
      d *= scale_s / sum;    // scale · p
      d(target) -= scale_s;  // scale · (p − y)
    });
    input_gradient_columns(ws, dx, gemm_ws, columns);
  }

  /// The affine part's input gradient dx = Wᵀ·d_scores for the token `columns`, from the
  /// d_scores in `ws` (0 at padded columns): what a head with its own loss (a CRF) calls after
  /// writing ws.d_scores (sized by prepare_affine_backward).
  void input_gradient_columns(const Workspace& ws, Tensor3<Scalar>& dx,
                              kernels::gemm::GemmWorkspace<Scalar>& gemm_ws, Range columns) const {
    using namespace kernels::gemm;
    gemm(W.value, Op::transpose, ws.d_scores.matrix().middleCols(columns.first, columns.size()),
         Op::none, dx.matrix().middleCols(columns.first, columns.size()), Update::overwrite,
         gemm_ws);
  }

  /// Sizes ws.d_scores and dx for a backward whose d_scores a caller brings (see
  /// input_gradient_columns and weight_gradients).
  void prepare_affine_backward(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                               Tensor3<Scalar>& dx, Workspace& ws) const {
    check_input(x, lengths, "backward");
    ws.d_scores.resize(num_classes(), x.dim(1), x.dim(2));
    dx.resize(x.shape());
  }

  /// dW(:, features) += d_scores·x(features, :)ᵀ over every token column, and db += d_scores·1
  /// with the range that starts at feature 0; after every loss_backward_columns.
  void weight_gradients(const Tensor3<Scalar>& x, Workspace& ws,
                        kernels::gemm::GemmWorkspace<Scalar>& gemm_ws, Range features) {
    using namespace kernels::gemm;
    const auto ds = ws.d_scores.matrix();
    Scalar* db = features.first == 0 && !b.frozen ? b.grad.data() : nullptr;
    if (!W.frozen && features.size() > 0) {
      gemm(ds, Op::none, x.matrix().middleRows(features.first, features.size()), Op::transpose,
           W.grad.middleCols(features.first, features.size()), Update::accumulate, gemm_ws,
           {nullptr, db});
    } else if (db != nullptr) {
      b.grad.col(0) += ds.rowwise().sum();
    }
  }

  /// scale · the sum of the columns' losses, added in column order.
  static double total_loss(const Workspace& ws, double scale) {
    double total = 0.0;
    for (double loss : ws.column_loss) total += loss;
    return scale * total;
  }

  /// The affine backward alone: dx = Wᵀ·d_scores (written), dW += d_scores·xᵀ, db += Σ d_scores.
  void backward(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                const Tensor3<Scalar>& d_scores, Tensor3<Scalar>& dx) {
    check_input(x, lengths, "backward");
    check_gradients("backward");
    lengths.check(d_scores, "SoftmaxDense: backward: d_scores");
    if (d_scores.dim(0) != num_classes()) {
      require(false, "SoftmaxDense: backward: d_scores has " + std::to_string(d_scores.dim(0)) +
                         " classes, expected K = " + std::to_string(num_classes()));
    }
    const auto ds = d_scores.matrix();
    if (!W.frozen) W.grad.noalias() += ds * x.matrix().transpose();
    if (!b.frozen) b.grad.col(0) += ds.rowwise().sum();
    dx.resize(x.shape());
    dx.matrix().noalias() = W.value.transpose() * ds;
  }

  /// Softmax probabilities of `scores` per step: probs (K,B,T), 0 at padded steps.
  void softmax(const Tensor3<Scalar>& scores, const SequenceLengths& lengths,
               Tensor3<Scalar>& probs) const {
    check_scores(scores, lengths, "softmax");
    probs.resize(scores.shape());
    probs.setZero();
    for_each_real_step(lengths, [&](Index column, Index, Index) {
      const auto s = scores.matrix().col(column);
      auto p = probs.matrix().col(column);
      p = (s.array() - s.maxCoeff()).exp();
      p /= p.sum();
    });
  }

  /// The best class per real step: best (B,T); padded steps get -1, so that a caller who forgets
  /// the lengths notices. Ties go to the lowest class index.
  void argmax(const Tensor3<Scalar>& scores, const SequenceLengths& lengths,
              Tensor2<std::int32_t>& best) const {
    check_scores(scores, lengths, "argmax");
    best.resize(lengths.batch_size(), lengths.max_length());
    best.setConstant(-1);
    for_each_real_step(lengths, [&](Index column, Index b, Index t) {
      Index k = 0;
      scores.matrix().col(column).maxCoeff(&k);
      best(b, t) = static_cast<std::int32_t>(k);
    });
  }

 private:
  void check_gradients(const char* pass) const {
    if ((!W.frozen && !W.has_grad()) || (!b.frozen && !b.has_grad())) {
      require(false, std::string("SoftmaxDense: ") + pass +
                         ": no gradient buffers (a layer made with shapes_only, e.g. a loaded "
                         "model's, has none until allocate_grad())");
    }
  }

  /// Calls f(column, b, t) for every real step, column = b + B*t of the (K, B*T) matrix.
  template <class F>
  static void for_each_real_step(const SequenceLengths& lengths, F&& f) {
    for_each_real_step(lengths, Range{0, lengths.batch_size() * lengths.max_length()}, f);
  }

  /// The same for the real steps among `columns`.
  template <class F>
  static void for_each_real_step(const SequenceLengths& lengths, Range columns, F&& f) {
    for_each_token_column(lengths, columns, [&](Index c, Index b, Index t, bool real) {
      if (real) f(c, b, t);
    });
  }

  /// Calls f(column) for every padded step among `columns`.
  template <class F>
  static void for_each_padded_step(const SequenceLengths& lengths, Range columns, F&& f) {
    for_each_token_column(lengths, columns, [&](Index c, Index, Index, bool real) {
      if (!real) f(c);
    });
  }

  // The checks below build their messages only on failure: they run in every training step,
  // which must not allocate (tests/test_allocation.cpp).
  void check_input(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                   const char* pass) const {
    const auto who = [pass] { return std::string("SoftmaxDense: ") + pass; };
    if (num_classes() < 1) require(false, who() + ": the layer is empty (default-constructed)");
    if (x.dim(1) != lengths.batch_size() || x.dim(2) != lengths.max_length()) {
      lengths.check(x, who() + ": x");
    }
    if (x.dim(0) != input_dim()) {
      require(false, who() + ": x has " + std::to_string(x.dim(0)) +
                         " features, expected D = " + std::to_string(input_dim()));
    }
  }

  void check_scores(const Tensor3<Scalar>& scores, const SequenceLengths& lengths,
                    const char* pass) const {
    const auto who = [pass] { return std::string("SoftmaxDense: ") + pass; };
    if (scores.dim(1) != lengths.batch_size() || scores.dim(2) != lengths.max_length()) {
      lengths.check(scores, who() + ": scores");
    }
    if (scores.dim(0) != num_classes()) {
      require(false, who() + ": scores have " + std::to_string(scores.dim(0)) +
                         " classes, expected K = " + std::to_string(num_classes()));
    }
  }

  void check_scores_and_targets(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& targets,
                                const SequenceLengths& lengths, const char* pass) const {
    check_scores(scores, lengths, pass);
    const auto who = [pass] { return std::string("SoftmaxDense: ") + pass; };
    if (targets.dim(0) != lengths.batch_size() || targets.dim(1) != lengths.max_length()) {
      require(false, who() + ": targets of shape " + shape_string(targets.shape()) +
                         " do not match a batch of " + std::to_string(lengths.batch_size()) +
                         " sequences of max length " + std::to_string(lengths.max_length()));
    }
    for (Index b = 0; b < lengths.batch_size(); ++b)
      for (Index t = 0; t < lengths[b]; ++t) {
        const Index target = targets(b, t);
        if (target >= 0 && target < num_classes()) continue;
        // Built only on failure: this loop runs once per token, so the message must cost nothing.
        require(false, who() + ": target " + std::to_string(target) + " at sequence " +
                           std::to_string(b) + ", step " + std::to_string(t) +
                           " is outside the classes [0, " + std::to_string(num_classes()) + ")");
      }
  }
};

}  // namespace lstmner
