#pragma once
/// \file kernels/lstm_reference.hpp
/// The LSTM equations, and a plain reference implementation of the forward and
/// backward-through-time passes over a padded, time-major batch.
///
/// This version is written to be obviously correct, not fast: it walks one sequence at a time
/// and one real step at a time with small Eigen vectors and the standard library's exp/tanh.
/// The fast kernels (lstm_fast.hpp) must agree with it; tests compare the two.
///
/// Shapes (H hidden units, In input features, B sequences, T = longest length):
///   W [4H x In], U [4H x H], bias [4H x 1], gate blocks in the order i, f, g, o;
///   x (In,B,T) → h (H,B,T); dh (H,B,T) → dx (In,B,T), dW, dU, dbias (accumulated, +=).
///
/// Forward, for each sequence b and each real step t < lengths[b], with h_{-1} = c_{-1} = 0:
///   z_t = W x_t + U h_{t-1} + bias                     (4H pre-activations)
///   i_t = σ(z_i)   f_t = σ(z_f)   g_t = tanh(z_g)   o_t = σ(z_o)
///   c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
///   h_t = o_t ⊙ tanh(c_t)
/// At a padded step t >= lengths[b] the state (h, c) is carried unchanged, the output h is 0.
///
/// Backward, for each sequence from its last real step down to 0, with dh_next = dc_next = 0:
///   δh   = dh_t + dh_next                              (external + recurrent)
///   δc   = dc_next + δh ⊙ o_t ⊙ (1 − tanh²(c_t))
///   δz_o = δh ⊙ tanh(c_t) ⊙ o_t (1 − o_t)
///   δz_i = δc ⊙ g_t ⊙ i_t (1 − i_t)
///   δz_f = δc ⊙ c_{t-1} ⊙ f_t (1 − f_t)
///   δz_g = δc ⊙ i_t ⊙ (1 − g_t²)
///   dW += δz x_tᵀ   dU += δz h_{t-1}ᵀ   dbias += δz   dx_t = Wᵀ δz
///   dh_next = Uᵀ δz   dc_next = δc ⊙ f_t
/// Padded steps get no gradient: dh there is ignored and dx there is 0.
///
/// What forward stores for backward (LstmCache, shared by both kernel families so that either
/// backward can follow either forward):
///   gates      (4H,B,T)   the activations i, f, g, o of every step (0 at padded steps)
///   cell       (H,B,T+1)  step 0 is c_{-1} = 0, step t+1 is c_t (carried through padding)
///   cell_tanh  (H,B,T)    tanh(c_t) (0 at padded steps)
///   hidden     (H,B,T+1)  step 0 is h_{-1} = 0, step t+1 is h_t (carried through padding), so
///                         the first T steps are "h_{t-1} for every t" — one matrix for dU
///   lengths               the lengths forward ran with, so backward can check it has a match
/// The backward scratch buffers (gate_grad, dh_next, dc_next) live in the cache too, so that a
/// workspace sized once for the largest batch makes every later pass allocation-free.

#include <lstmner/kernels/gemm.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <cmath>
#include <vector>

namespace lstmner {
namespace kernels {

/// Everything one LSTM forward pass leaves for its backward pass (see the file comment).
template <class Scalar>
struct LstmCache {
  Tensor3<Scalar> gates;      ///< (4H,B,T) activations i, f, g, o
  Tensor3<Scalar> cell;       ///< (H,B,T+1) c_{t-1} at step t
  Tensor3<Scalar> cell_tanh;  ///< (H,B,T) tanh(c_t)
  Tensor3<Scalar> hidden;     ///< (H,B,T+1) h_{t-1} at step t
  std::vector<Index> lengths;
  // Backward scratch (the fast kernel's; the reference keeps its own small vectors).
  Tensor3<Scalar> gate_grad;  ///< (4H,B,T) δz of every step
  Tensor2<Scalar> dh_next;    ///< (H,B) recurrent gradient flowing into step t
  Tensor2<Scalar> dc_next;    ///< (H,B) cell gradient flowing into step t
  // The fast kernel's packed recurrent weights (kernels/packed_gemm.hpp), repacked every call.
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> packed_u;   ///< U, gate-interleaved panels
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> packed_ut;  ///< Uᵀ, row panels
  gemm::GemmWorkspace<Scalar>
      gemm_workspace;  ///< packing buffers of the fast kernel's hoisted products

  /// Sizes the forward part of the cache; keeps the allocations when the batch fits.
  void resize_forward(Index hidden_size, const SequenceLengths& batch) {
    const Index b = batch.batch_size(), t = batch.max_length();
    gates.resize(4 * hidden_size, b, t);
    cell.resize(hidden_size, b, t + 1);
    cell_tanh.resize(hidden_size, b, t);
    hidden.resize(hidden_size, b, t + 1);
    lengths.assign(batch.lengths().begin(), batch.lengths().end());
  }

  /// True when this cache holds a forward pass of a layer with `hidden_size` units over `batch`.
  bool holds_forward_of(Index hidden_size, const SequenceLengths& batch) const {
    return gates.dim(0) == 4 * hidden_size && hidden.dim(0) == hidden_size &&
           lengths == batch.lengths();
  }
};

namespace detail {

template <class Scalar>
Scalar sigmoid(Scalar z) {
  return Scalar(1) / (Scalar(1) + std::exp(-z));
}

}  // namespace detail

/// Reference forward pass. `x` is (In,B,T), `h` becomes (H,B,T). Arguments are assumed valid
/// (the LSTM layer checks them).
template <class Scalar>
void lstm_forward_reference(const Matrix<Scalar>& W, const Matrix<Scalar>& U,
                            const Matrix<Scalar>& bias, const Tensor3<Scalar>& x,
                            const SequenceLengths& lengths, Tensor3<Scalar>& h,
                            LstmCache<Scalar>& cache) {
  const Index H = U.cols();
  const Index B = lengths.batch_size();
  const Index T = lengths.max_length();
  cache.resize_forward(H, lengths);
  h.resize(H, B, T);

  for (Index b = 0; b < B; ++b) {
    Vector<Scalar> h_prev = Vector<Scalar>::Zero(H);
    Vector<Scalar> c_prev = Vector<Scalar>::Zero(H);
    for (Index t = 0; t < T; ++t) {
      for (Index j = 0; j < H; ++j) {
        cache.cell(j, b, t) = c_prev(j);
        cache.hidden(j, b, t) = h_prev(j);
      }
      if (t >= lengths[b]) {  // padding: state carried, no output
        for (Index j = 0; j < 4 * H; ++j) cache.gates(j, b, t) = 0;
        for (Index j = 0; j < H; ++j) {
          cache.cell_tanh(j, b, t) = 0;
          h(j, b, t) = 0;
        }
        continue;
      }
      Vector<Scalar> x_t(W.cols());
      for (Index k = 0; k < W.cols(); ++k) x_t(k) = x(k, b, t);
      const Vector<Scalar> z = W * x_t + U * h_prev + bias.col(0);
      for (Index j = 0; j < H; ++j) {
        const Scalar i = detail::sigmoid(z(j));
        const Scalar f = detail::sigmoid(z(H + j));
        const Scalar g = std::tanh(z(2 * H + j));
        const Scalar o = detail::sigmoid(z(3 * H + j));
        const Scalar c = f * c_prev(j) + i * g;
        const Scalar tanh_c = std::tanh(c);
        cache.gates(j, b, t) = i;
        cache.gates(H + j, b, t) = f;
        cache.gates(2 * H + j, b, t) = g;
        cache.gates(3 * H + j, b, t) = o;
        cache.cell_tanh(j, b, t) = tanh_c;
        c_prev(j) = c;
        h_prev(j) = o * tanh_c;
        h(j, b, t) = h_prev(j);
      }
    }
    for (Index j = 0; j < H; ++j) {
      cache.cell(j, b, T) = c_prev(j);
      cache.hidden(j, b, T) = h_prev(j);
    }
  }
}

/// Reference backward pass through time. Reads the cache of the matching forward pass; writes
/// `dx` (In,B,T) and adds into dW, dU, dbias. Arguments are assumed valid.
template <class Scalar>
void lstm_backward_reference(const Matrix<Scalar>& W, const Matrix<Scalar>& U,
                             const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                             const Tensor3<Scalar>& dh, Tensor3<Scalar>& dx, Matrix<Scalar>& dW,
                             Matrix<Scalar>& dU, Matrix<Scalar>& dbias,
                             const LstmCache<Scalar>& cache) {
  const Index H = U.cols();
  const Index In = W.cols();
  const Index B = lengths.batch_size();
  const Index T = lengths.max_length();
  dx.resize(In, B, T);
  dx.setZero();  // padded steps stay 0

  for (Index b = 0; b < B; ++b) {
    Vector<Scalar> dh_next = Vector<Scalar>::Zero(H);
    Vector<Scalar> dc_next = Vector<Scalar>::Zero(H);
    for (Index t = lengths[b] - 1; t >= 0; --t) {
      Vector<Scalar> dz(4 * H);
      for (Index j = 0; j < H; ++j) {
        const Scalar i = cache.gates(j, b, t);
        const Scalar f = cache.gates(H + j, b, t);
        const Scalar g = cache.gates(2 * H + j, b, t);
        const Scalar o = cache.gates(3 * H + j, b, t);
        const Scalar c_prev = cache.cell(j, b, t);
        const Scalar tanh_c = std::tanh(cache.cell(j, b, t + 1));
        const Scalar dh_total = dh(j, b, t) + dh_next(j);
        const Scalar dc = dc_next(j) + dh_total * o * (1 - tanh_c * tanh_c);
        dz(j) = dc * g * i * (1 - i);
        dz(H + j) = dc * c_prev * f * (1 - f);
        dz(2 * H + j) = dc * i * (1 - g * g);
        dz(3 * H + j) = dh_total * tanh_c * o * (1 - o);
        dc_next(j) = dc * f;
      }
      Vector<Scalar> x_t(In), h_prev(H);
      for (Index k = 0; k < In; ++k) x_t(k) = x(k, b, t);
      for (Index j = 0; j < H; ++j) h_prev(j) = cache.hidden(j, b, t);
      dW += dz * x_t.transpose();
      dU += dz * h_prev.transpose();
      dbias.col(0) += dz;
      const Vector<Scalar> dx_t = W.transpose() * dz;
      for (Index k = 0; k < In; ++k) dx(k, b, t) = dx_t(k);
      dh_next = U.transpose() * dz;
    }
  }
}

}  // namespace kernels
}  // namespace lstmner
