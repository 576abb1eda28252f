#pragma once
/// \file kernels/lstm_fast.hpp
/// The fast LSTM forward and backward-through-time kernels. Same equations, same cache, same
/// results as lstm_reference.hpp (read the equations there); only the order of the work differs.
///
/// Forward:
///   1. the input projection of every step at once, one GEMM over x.matrix():
///        Z = W · X + bias                 [4H x In]·[In x (B·T)], written into cache.gates
///   2. per step, only the recurrent product, added in place (no temporary):
///        Z_t += U · h_{t-1}               [4H x H]·[H x B]
///   3. then one fused elementwise pass per sequence column: the column's 4H pre-activations are
///      turned into i, f, g, o in place and c_t, tanh(c_t), h_t are written — the column is a few
///      KB, so it stays in L1 across the handful of vectorised statements of the pass.
/// Backward (t from T-1 down to 0):
///   1. one fused elementwise pass per column computes δz_t from the cache, dh_t + dh_next and
///      dc_next, and carries dc to step t-1;
///   2. dh_next = Uᵀ · δZ_t                [H x 4H]·[4H x B]
///   after the time loop, the big products over all steps at once:
///      dW += δZ · Xᵀ     dU += δZ · H_prevᵀ (H_prev = cache.hidden's first T steps, h_{t-1}
///      for every t)     dbias += row sums of δZ     dX = Wᵀ · δZ.
/// Padded columns get δz = 0, which makes all four products ignore them; so padded inputs must be
/// finite (layers produce 0 there by contract).
///
/// Nothing here allocates once the cache, h and dx have been sized for the largest batch
/// (Eigen's GEMM itself may take a heap block for its packing buffers on large products; that is
/// Eigen's EIGEN_STACK_ALLOCATION_LIMIT at work, not ours).

#include <lstmner/kernels/lstm_reference.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

namespace lstmner {
namespace kernels {
namespace detail {

template <class Scalar>
using ArrayMap = Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>>;
template <class Scalar>
using ConstArrayMap = Eigen::Map<const Eigen::Array<Scalar, Eigen::Dynamic, 1>>;

/// One sequence column of one forward step. `gates` holds the 4H pre-activations z on entry and
/// the activations i, f, g, o on exit.
template <class Scalar>
inline void lstm_cell_forward_column(Index H, Scalar* gates, const Scalar* c_prev_data,
                                     Scalar* c_data, Scalar* tanh_c_data, Scalar* h_state_data,
                                     Scalar* h_out_data) {
  ArrayMap<Scalar> input_forget(gates, 2 * H);  // i and f are adjacent: one sigmoid statement
  input_forget = input_forget.logistic();
  ArrayMap<Scalar> g(gates + 2 * H, H);
  g = g.tanh();
  ArrayMap<Scalar> o(gates + 3 * H, H);
  o = o.logistic();
  const ArrayMap<Scalar> i(gates, H);
  const ArrayMap<Scalar> f(gates + H, H);
  const ConstArrayMap<Scalar> c_prev(c_prev_data, H);
  ArrayMap<Scalar> c(c_data, H);
  ArrayMap<Scalar> tanh_c(tanh_c_data, H);
  ArrayMap<Scalar> h_state(h_state_data, H);
  c = f * c_prev + i * g;
  tanh_c = c.tanh();
  h_state = o * tanh_c;
  ArrayMap<Scalar>(h_out_data, H) = h_state;
}

/// One sequence column of one backward step. On entry `dh_next` and `dc_next` hold the gradient
/// flowing back from step t+1; on exit `dz` holds δz_t and `dc_next` the cell gradient for step
/// t-1 (`dh_next` is used as scratch for δh; the caller overwrites it with Uᵀ·δZ_t).
template <class Scalar>
inline void lstm_cell_backward_column(Index H, const Scalar* gates, const Scalar* c_prev_data,
                                      const Scalar* tanh_c_data, const Scalar* dh_out_data,
                                      Scalar* dh_next_data, Scalar* dc_next_data, Scalar* dz) {
  const ConstArrayMap<Scalar> i(gates, H);
  const ConstArrayMap<Scalar> f(gates + H, H);
  const ConstArrayMap<Scalar> g(gates + 2 * H, H);
  const ConstArrayMap<Scalar> o(gates + 3 * H, H);
  const ConstArrayMap<Scalar> c_prev(c_prev_data, H);
  const ConstArrayMap<Scalar> tanh_c(tanh_c_data, H);
  ArrayMap<Scalar> dh(dh_next_data, H);
  ArrayMap<Scalar> dc(dc_next_data, H);
  const Scalar one(1);
  dh += ConstArrayMap<Scalar>(dh_out_data, H);  // δh = external + recurrent
  dc += dh * o * (one - tanh_c * tanh_c);
  ArrayMap<Scalar>(dz, H) = dc * g * i * (one - i);
  ArrayMap<Scalar>(dz + H, H) = dc * c_prev * f * (one - f);
  ArrayMap<Scalar>(dz + 2 * H, H) = dc * i * (one - g * g);
  ArrayMap<Scalar>(dz + 3 * H, H) = dh * tanh_c * o * (one - o);
  dc *= f;
}

}  // namespace detail

/// Fast forward pass. `x` is (In,B,T), `h` becomes (H,B,T). Arguments are assumed valid
/// (the LSTM layer checks them).
template <class Scalar>
void lstm_forward_fast(const Matrix<Scalar>& W, const Matrix<Scalar>& U, const Matrix<Scalar>& bias,
                       const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& h,
                       LstmCache<Scalar>& cache) {
  const Index H = U.cols();
  const Index B = lengths.batch_size();
  const Index T = lengths.max_length();
  cache.resize_forward(H, lengths);
  h.resize(H, B, T);

  // The input projection of every step (padded ones too: cheaper than skipping them).
  auto Z = cache.gates.matrix();
  Z.noalias() = W * x.matrix();
  Z.colwise() += bias.col(0);

  cache.cell.step(0).setZero();
  cache.hidden.step(0).setZero();
  for (Index t = 0; t < T; ++t) {
    auto Z_t = cache.gates.step(t);
    if (t > 0) Z_t.noalias() += U * cache.hidden.step(t);  // h_{-1} = 0: nothing to add at t = 0
    auto c_prev = cache.cell.step(t);
    auto c = cache.cell.step(t + 1);
    auto tanh_c = cache.cell_tanh.step(t);
    auto h_prev = cache.hidden.step(t);
    auto h_state = cache.hidden.step(t + 1);
    auto h_out = h.step(t);
    for (Index b = 0; b < B; ++b) {
      if (t < lengths[b]) {
        detail::lstm_cell_forward_column(H, Z_t.col(b).data(), c_prev.col(b).data(),
                                         c.col(b).data(), tanh_c.col(b).data(),
                                         h_state.col(b).data(), h_out.col(b).data());
      } else {  // padding: carry the state, output and cache zeros
        Z_t.col(b).setZero();
        c.col(b) = c_prev.col(b);
        tanh_c.col(b).setZero();
        h_state.col(b) = h_prev.col(b);
        h_out.col(b).setZero();
      }
    }
  }
}

/// Fast backward pass through time. Reads the cache of the matching forward pass (and uses its
/// scratch buffers); writes `dx` (In,B,T) and adds into dW, dU, dbias. Arguments are assumed valid.
template <class Scalar>
void lstm_backward_fast(const Matrix<Scalar>& W, const Matrix<Scalar>& U, const Tensor3<Scalar>& x,
                        const SequenceLengths& lengths, const Tensor3<Scalar>& dh,
                        Tensor3<Scalar>& dx, Matrix<Scalar>& dW, Matrix<Scalar>& dU,
                        Matrix<Scalar>& dbias, LstmCache<Scalar>& cache) {
  const Index H = U.cols();
  const Index In = W.cols();
  const Index B = lengths.batch_size();
  const Index T = lengths.max_length();
  cache.gate_grad.resize(4 * H, B, T);
  cache.dh_next.resize(H, B);
  cache.dc_next.resize(H, B);
  cache.dh_next.setZero();
  cache.dc_next.setZero();
  auto dh_next = cache.dh_next.matrix();
  auto dc_next = cache.dc_next.matrix();

  for (Index t = T - 1; t >= 0; --t) {
    auto dZ_t = cache.gate_grad.step(t);
    const auto gates = cache.gates.step(t);
    const auto c_prev = cache.cell.step(t);
    const auto tanh_c = cache.cell_tanh.step(t);
    const auto dh_t = dh.step(t);
    for (Index b = 0; b < B; ++b) {
      if (t < lengths[b]) {
        detail::lstm_cell_backward_column(
            H, gates.col(b).data(), c_prev.col(b).data(), tanh_c.col(b).data(), dh_t.col(b).data(),
            dh_next.col(b).data(), dc_next.col(b).data(), dZ_t.col(b).data());
      } else {  // padding receives no gradient
        dZ_t.col(b).setZero();
        dc_next.col(b).setZero();
      }
    }
    if (t > 0) dh_next.noalias() = U.transpose() * dZ_t;
  }

  const auto dZ = cache.gate_grad.matrix();
  const ConstMatrixMap<Scalar> h_prev(cache.hidden.data(), H, B * T);  // h_{t-1} for every t
  dW.noalias() += dZ * x.matrix().transpose();
  dU.noalias() += dZ * h_prev.transpose();
  dbias.col(0).noalias() += dZ.rowwise().sum();
  dx.resize(In, B, T);
  dx.matrix().noalias() = W.transpose() * dZ;
}

}  // namespace kernels
}  // namespace lstmner
