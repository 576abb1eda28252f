#pragma once
/// \file kernels/lstm_fast.hpp
/// The fast LSTM forward and backward-through-time kernels. Same equations, same cache, same
/// results as lstm_reference.hpp (read the equations there); only the order of the work differs.
///
/// Forward:
///   1. the input projection of every step at once, one product over x (kernels/gemm.hpp, the
///      bias added as each block of Z is stored):
///        Z = W · X + bias                 [4H x In]·[In x (B·T)], written into cache.gates
///   2. per step, only the recurrent product, added in place (the packed micro-kernel of
///      kernels/packed_gemm.hpp for B ≥ 2, Eigen's matrix-vector product for B = 1):
///        Z_t += U · h_{t-1}               [4H x H]·[H x B]
///   3. then one fused elementwise pass per sequence column: the column's 4H pre-activations are
///      turned into i, f, g, o in place and c_t, tanh(c_t), h_t are written — the column is a few
///      KB, so it stays in L1 across the handful of vectorised statements of the pass.
/// Backward (t from T-1 down to 0):
///   1. one fused elementwise pass per column computes δz_t from the cache, dh_t + dh_next and
///      dc_next, and carries dc to step t-1;
///   2. dh_next = Uᵀ · δZ_t                [H x 4H]·[4H x B]   (as the forward's step 2)
///   after the time loop, the big products over all steps at once (kernels/gemm.hpp):
///      dW += δZ · Xᵀ and dbias += row sums of δZ (fused into the packing of δZ)
///      dU += δZ · H_prevᵀ (H_prev = cache.hidden's first T steps, h_{t-1} for every t)
///      dX = Wᵀ · δZ.
/// Padded columns get δz = 0, which makes all four products ignore them; so padded inputs must be
/// finite (layers produce 0 there by contract).
///
/// Nothing here allocates once the cache, h and dx have been sized for the largest batch: the
/// packing buffers are the cache's (packed_u, packed_ut, gemm_workspace), and Eigen's
/// matrix-vector product (B = 1) reads its contiguous operands in place.

#include <lstmner/kernels/gemm.hpp>
#include <lstmner/kernels/lstm_reference.hpp>
#include <lstmner/kernels/packed_gemm.hpp>
#include <lstmner/parts.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>

namespace lstmner {
namespace kernels {
namespace detail {

/// A slice of n hidden units of one sequence column of one forward step. `gates` points at the
/// i pre-activation of the slice's first unit; f, g, o follow at strides H, 2H, 3H (the cache's
/// [i; f; g; o] column layout). On entry the slice holds the pre-activations z, on exit the
/// activations i, f, g, o; the other pointers point at the slice's first unit too.
///
/// Where the target has packet sigmoid and tanh (float), one loop over packets of units does
/// the whole cell update, each value loaded and stored once (Eigen's array statements would
/// make eight passes over the slice, each with its own scalar tail); the last n mod P units go
/// through the same packet code on copies padded with zeros (one packet of sigmoids and tanhs
/// instead of n mod P scalar ones: at H = 25 on AVX-512, 9 of every 25 units, the scalar tail
/// took ~20% of the character BiLSTM's time), so every unit is computed by the same code
/// whatever its position. Otherwise (double), Eigen's array statements.
template <class Scalar>
inline void lstm_cell_forward_slice(Index H, Index n, Scalar* gates, const Scalar* c_prev_data,
                                    Scalar* c_data, Scalar* tanh_c_data, Scalar* h_state_data,
                                    Scalar* h_out_data) {
  using namespace Eigen::internal;
  using Sigmoid = scalar_logistic_op<Scalar>;
  using Tanh = scalar_tanh_op<Scalar>;
  if constexpr (functor_traits<Sigmoid>::PacketAccess && functor_traits<Tanh>::PacketAccess) {
    using P_t = packed::Packet<Scalar>;
    constexpr Index P = packed::packet_size<Scalar>();
    const Sigmoid sigmoid;
    const Tanh tanh;
    // One packet of units: z_* the pre-activations (overwritten by the activations), c_prev in,
    // c, tanh(c), h out.
    const auto units = [&](Scalar* zi, Scalar* zf, Scalar* zg, Scalar* zo, const Scalar* cp,
                           Scalar* c_out, Scalar* tanh_c_out, Scalar* h_out1, Scalar* h_out2) {
      const P_t i = sigmoid.packetOp(ploadu<P_t>(zi));
      const P_t f = sigmoid.packetOp(ploadu<P_t>(zf));
      const P_t g = tanh.packetOp(ploadu<P_t>(zg));
      const P_t o = sigmoid.packetOp(ploadu<P_t>(zo));
      pstoreu(zi, i);
      pstoreu(zf, f);
      pstoreu(zg, g);
      pstoreu(zo, o);
      const P_t c = padd(pmul(f, ploadu<P_t>(cp)), pmul(i, g));
      const P_t tanh_c = tanh.packetOp(c);
      const P_t h = pmul(o, tanh_c);
      pstoreu(c_out, c);
      pstoreu(tanh_c_out, tanh_c);
      pstoreu(h_out1, h);
      pstoreu(h_out2, h);
    };
    Index j = 0;
    for (; j + P <= n; j += P) {
      Scalar* z = gates + j;
      units(z, z + H, z + 2 * H, z + 3 * H, c_prev_data + j, c_data + j, tanh_c_data + j,
            h_state_data + j, h_out_data + j);
    }
    if (j < n) {  // the last n − j < P units: the same packet code on copies padded with zeros
      const Index r = n - j;
      Scalar in[5][P] = {}, out[4][P];
      Scalar* z = gates + j;
      for (int k = 0; k < 4; ++k) std::copy(z + k * H, z + k * H + r, in[k]);
      std::copy(c_prev_data + j, c_prev_data + j + r, in[4]);
      units(in[0], in[1], in[2], in[3], in[4], out[0], out[1], out[2], out[3]);
      for (int k = 0; k < 4; ++k) std::copy(in[k], in[k] + r, z + k * H);
      std::copy(out[0], out[0] + r, c_data + j);
      std::copy(out[1], out[1] + r, tanh_c_data + j);
      std::copy(out[2], out[2] + r, h_state_data + j);
      std::copy(out[2], out[2] + r, h_out_data + j);
    }
  } else {
    ArrayMap<Scalar> i(gates, n);
    ArrayMap<Scalar> f(gates + H, n);
    ArrayMap<Scalar> g(gates + 2 * H, n);
    ArrayMap<Scalar> o(gates + 3 * H, n);
    i = i.logistic();
    f = f.logistic();
    g = g.tanh();
    o = o.logistic();
    const ConstArrayMap<Scalar> c_prev(c_prev_data, n);
    ArrayMap<Scalar> c(c_data, n);
    ArrayMap<Scalar> tanh_c(tanh_c_data, n);
    ArrayMap<Scalar> h_state(h_state_data, n);
    c = f * c_prev + i * g;
    tanh_c = c.tanh();
    h_state = o * tanh_c;
    ArrayMap<Scalar>(h_out_data, n) = h_state;
  }
}

/// The same slice at a padded step: the state is carried, outputs and the cache are zero.
template <class Scalar>
inline void lstm_cell_padding_slice(Index H, Index n, Scalar* gates, const Scalar* c_prev,
                                    Scalar* c, Scalar* tanh_c, const Scalar* h_prev,
                                    Scalar* h_state, Scalar* h_out) {
  for (Index g = 0; g < 4; ++g) ArrayMap<Scalar>(gates + g * H, n).setZero();
  ArrayMap<Scalar>(c, n) = ConstArrayMap<Scalar>(c_prev, n);
  ArrayMap<Scalar>(tanh_c, n).setZero();
  ArrayMap<Scalar>(h_state, n) = ConstArrayMap<Scalar>(h_prev, n);
  ArrayMap<Scalar>(h_out, n).setZero();
}

/// Adds a packet of accumulated products into dst[0..valid) (valid ≤ P).
template <class Scalar>
EIGEN_ALWAYS_INLINE void add_packet(Scalar* dst, const packed::Packet<Scalar>& sum, Index valid) {
  using namespace Eigen::internal;
  constexpr Index P = packed::packet_size<Scalar>();
  if (valid == P) {
    pstoreu(dst, padd(sum, ploadu<packed::Packet<Scalar>>(dst)));
  } else {
    Scalar tmp[P];
    pstoreu(tmp, sum);
    for (Index l = 0; l < valid; ++l) dst[l] += tmp[l];
  }
}

/// Stores a packet into dst[0..valid) (valid ≤ P).
template <class Scalar>
EIGEN_ALWAYS_INLINE void store_packet(Scalar* dst, const packed::Packet<Scalar>& value,
                                      Index valid) {
  constexpr Index P = packed::packet_size<Scalar>();
  if (valid == P) {
    Eigen::internal::pstoreu(dst, value);
  } else {
    Scalar tmp[P];
    Eigen::internal::pstoreu(tmp, value);
    for (Index l = 0; l < valid; ++l) dst[l] = tmp[l];
  }
}

/// Everything one forward step needs, by pointer (all column-major, one column per sequence).
template <class Scalar>
struct ForwardStep {
  Index H;
  Index t;
  const Index* lengths;
  const Scalar* packed_u;  ///< pack_gate_interleaved(U)
  Scalar* gates;           ///< (4H,B) z_t on entry (W·x_t + bias), activations on exit
  const Scalar* c_prev;
  Scalar* c;
  Scalar* tanh_c;
  const Scalar* h_prev;
  Scalar* h_state;
  Scalar* h_out;
};

/// Units [j0, j0+P) of columns [b0, b0+NB) of one forward step: z += U·h_{t-1}, accumulated
/// in registers and added into the cached z once.
template <int NB, class Scalar>
void forward_block(const ForwardStep<Scalar>& s, Index j0, Index b0) {
  constexpr Index P = packed::packet_size<Scalar>();
  const Index H = s.H;
  const Index valid = std::min(P, H - j0);
  packed::Packet<Scalar> acc[4][NB];
  packed::micro_kernel<4, NB>(s.packed_u + (j0 / P) * 4 * P * H, H, s.h_prev + b0 * H, H, acc);
  for (int n = 0; n < NB; ++n) {
    Scalar* z = s.gates + (b0 + n) * 4 * H + j0;
    for (int g = 0; g < 4; ++g) add_packet(z + g * H, acc[g][n], valid);
  }
}

template <class Scalar>
void forward_block_n(Index nb, const ForwardStep<Scalar>& s, Index j0, Index b0) {
  constexpr int NB = packed::max_columns<Scalar>();
  switch (nb) {
    case 1:
      forward_block<1>(s, j0, b0);
      break;
    case 2:
      forward_block<2>(s, j0, b0);
      break;
    case 3:
      forward_block<3>(s, j0, b0);
      break;
    case 4:
      forward_block<4>(s, j0, b0);
      break;
    case 5:
      forward_block<std::min(5, NB)>(s, j0, b0);
      break;
    default:
      forward_block<NB>(s, j0, b0);
      break;
  }
}

/// Splits B columns into the fewest blocks of ≤ max_columns, as even as possible (32 → 6, 6,
/// 5, 5, 5, 5 rather than 5 x 6 + 2: a thin block reuses each panel load less), and calls
/// f(b0, nb) for each.
template <class Scalar, class F>
void for_column_blocks(Index B, F&& f) {
  constexpr Index NB = packed::max_columns<Scalar>();
  const Index blocks = (B + NB - 1) / NB;
  for (Index i = 0, b0 = 0; b0 < B; ++i) {
    const Index nb = B / blocks + (i < B % blocks ? 1 : 0);
    f(b0, nb);
    b0 += nb;
  }
}

/// The cell update of whole columns [b0, b1) of one forward step (z already complete).
template <class Scalar>
void forward_columns(const ForwardStep<Scalar>& s, Index b0, Index b1) {
  const Index H = s.H;
  for (Index b = b0; b < b1; ++b) {
    const Index at = b * H;
    Scalar* z = s.gates + b * 4 * H;
    if (s.t < s.lengths[b]) {
      lstm_cell_forward_slice(H, H, z, s.c_prev + at, s.c + at, s.tanh_c + at, s.h_state + at,
                              s.h_out + at);
    } else {
      lstm_cell_padding_slice(H, H, z, s.c_prev + at, s.c + at, s.tanh_c + at, s.h_prev + at,
                              s.h_state + at, s.h_out + at);
    }
  }
}

/// One forward step. When packed U (16·H² bytes in float) fits in L2 (H = 100: 640 KB), each
/// block of columns runs all unit panels and then its cell update at once, while its z is in
/// L1; larger U is swept panel-outer instead (each panel stays in cache across the column
/// blocks), then the cell update runs over the step's columns. (The threshold is
/// 64·H²·sizeof(Scalar) ≤ 1 MiB, which sends H = 256 panel-outer: measured the faster there.)
template <class Scalar>
void forward_step(const ForwardStep<Scalar>& s, Index B) {
  constexpr Index P = packed::packet_size<Scalar>();
  const Index H = s.H;
  const bool u_fits_l2 = 16 * H * H * static_cast<Index>(sizeof(Scalar)) <= (Index(1) << 20);
  if (s.t == 0) {  // h_{-1} = 0: nothing to add
    forward_columns(s, 0, B);
  } else if (u_fits_l2) {
    for_column_blocks<Scalar>(B, [&](Index b0, Index nb) {
      for (Index j0 = 0; j0 < H; j0 += P) forward_block_n(nb, s, j0, b0);
      forward_columns(s, b0, b0 + nb);
    });
  } else {
    for (Index j0 = 0; j0 < H; j0 += P)
      for_column_blocks<Scalar>(B, [&](Index b0, Index nb) { forward_block_n(nb, s, j0, b0); });
    forward_columns(s, 0, B);
  }
}

/// Rows [r0, r0 + MR·P) of columns [b0, b0+NB) of dh_next = Uᵀ·δZ_t.
template <int MR, int NB, class Scalar>
void backward_block(const Scalar* panel, Index H, const Scalar* dZ, Scalar* dh_next, Index r0,
                    Index b0) {
  constexpr Index P = packed::packet_size<Scalar>();
  packed::Packet<Scalar> acc[MR][NB];
  packed::micro_kernel<MR, NB>(panel, 4 * H, dZ + b0 * 4 * H, 4 * H, acc);
  for (int n = 0; n < NB; ++n)
    for (int m = 0; m < MR; ++m) {
      const Index row = r0 + m * P;
      if (row < H) store_packet(dh_next + (b0 + n) * H + row, acc[m][n], std::min(P, H - row));
    }
}

template <int MR, class Scalar>
void backward_block_n(Index nb, const Scalar* panel, Index H, const Scalar* dZ, Scalar* dh_next,
                      Index r0, Index b0) {
  constexpr int NB = packed::max_columns<Scalar>();
  switch (nb) {
    case 1:
      backward_block<MR, 1>(panel, H, dZ, dh_next, r0, b0);
      break;
    case 2:
      backward_block<MR, 2>(panel, H, dZ, dh_next, r0, b0);
      break;
    case 3:
      backward_block<MR, 3>(panel, H, dZ, dh_next, r0, b0);
      break;
    case 4:
      backward_block<MR, 4>(panel, H, dZ, dh_next, r0, b0);
      break;
    case 5:
      backward_block<MR, std::min(5, NB)>(panel, H, dZ, dh_next, r0, b0);
      break;
    default:
      backward_block<MR, NB>(panel, H, dZ, dh_next, r0, b0);
      break;
  }
}

/// dh_next (H x B) = Uᵀ·δZ_t with `packed_ut` = pack_transposed_rows(U).
template <class Scalar>
void recurrent_gradient(const Scalar* packed_ut, Index H, Index B, const Scalar* dZ,
                        Scalar* dh_next) {
  constexpr Index P = packed::packet_size<Scalar>();
  const Index Hp = packed::round_up_to_packets<Scalar>(H);
  for (Index r0 = 0; r0 < Hp; r0 += 4 * P) {
    const Index mr = std::min<Index>(4, (Hp - r0) / P);
    const Scalar* panel = packed_ut + r0 * 4 * H;
    for_column_blocks<Scalar>(B, [&](Index b0, Index nb) {
      switch (mr) {
        case 1:
          backward_block_n<1>(nb, panel, H, dZ, dh_next, r0, b0);
          break;
        case 2:
          backward_block_n<2>(nb, panel, H, dZ, dh_next, r0, b0);
          break;
        case 3:
          backward_block_n<3>(nb, panel, H, dZ, dh_next, r0, b0);
          break;
        default:
          backward_block_n<4>(nb, panel, H, dZ, dh_next, r0, b0);
          break;
      }
    });
  }
}

/// One sequence column of one backward step. On entry `dh_next` and `dc_next` hold the gradient
/// flowing back from step t+1; on exit `dz` holds δz_t and `dc_next` the cell gradient for step
/// t-1 (`dh_next` is only read; the caller then overwrites it with Uᵀ·δZ_t).
template <class Scalar>
inline void lstm_cell_backward_column(Index H, const Scalar* gates, const Scalar* c_prev,
                                      const Scalar* tanh_c, const Scalar* dh_out, Scalar* dh_next,
                                      Scalar* dc_next, Scalar* dz) {
  // One loop over packets of units (each value loaded and stored once), then the last H mod P
  // units one scalar at a time with the same formulas.
  using namespace Eigen::internal;
  using P_t = packed::Packet<Scalar>;
  constexpr Index P = packed::packet_size<Scalar>();
  const P_t one = pset1<P_t>(Scalar(1));
  Index j = 0;
  for (; j + P <= H; j += P) {
    const P_t i = ploadu<P_t>(gates + j), f = ploadu<P_t>(gates + H + j);
    const P_t g = ploadu<P_t>(gates + 2 * H + j), o = ploadu<P_t>(gates + 3 * H + j);
    const P_t tc = ploadu<P_t>(tanh_c + j);
    const P_t dh = padd(ploadu<P_t>(dh_next + j), ploadu<P_t>(dh_out + j));  // external + recurrent
    const P_t dc = padd(ploadu<P_t>(dc_next + j), pmul(pmul(dh, o), psub(one, pmul(tc, tc))));
    pstoreu(dz + j, pmul(pmul(pmul(dc, g), i), psub(one, i)));
    pstoreu(dz + H + j, pmul(pmul(pmul(dc, ploadu<P_t>(c_prev + j)), f), psub(one, f)));
    pstoreu(dz + 2 * H + j, pmul(pmul(dc, i), psub(one, pmul(g, g))));
    pstoreu(dz + 3 * H + j, pmul(pmul(pmul(dh, tc), o), psub(one, o)));
    pstoreu(dc_next + j, pmul(dc, f));
  }
  for (; j < H; ++j) {
    const Scalar i = gates[j], f = gates[H + j], g = gates[2 * H + j], o = gates[3 * H + j];
    const Scalar tc = tanh_c[j];
    const Scalar dh = dh_next[j] + dh_out[j];
    const Scalar dc = dc_next[j] + dh * o * (Scalar(1) - tc * tc);
    dz[j] = dc * g * i * (Scalar(1) - i);
    dz[H + j] = dc * c_prev[j] * f * (Scalar(1) - f);
    dz[2 * H + j] = dc * i * (Scalar(1) - g * g);
    dz[3 * H + j] = dh * tc * o * (Scalar(1) - o);
    dc_next[j] = dc * f;
  }
}

}  // namespace detail

/// Whether the per-step products of a batch run on the packed micro-kernel (two or more
/// sequences) or on Eigen's matrix-vector product (one sequence: it reads U once per step without
/// packing, and measured faster than packing U on every call at T = 32). Decided by the whole
/// batch, never by a group of it, so that a sequence's arithmetic is the same in every group.
inline bool uses_packed_steps(const SequenceLengths& lengths) {
  return lengths.batch_size() >= 2;
}

// ---- forward, in stages ------------------------------------------------------------------------
// A whole pass is: prepare; then the input projection (any cut of the columns) and the packing
// of U, in any order or side by side; then the recurrence (any cut of the sequences). Each stage
// writes only its own columns (or sequences), and the arithmetic of a column is the same in every
// cut, so a pass gives bit-identical results however its stages are cut and on however many
// threads they run.

/// Sizes the cache and h for `lengths` and zeroes the initial state (h_{-1} = c_{-1} = 0).
template <class Scalar>
void lstm_forward_prepare(Index H, const SequenceLengths& lengths, Tensor3<Scalar>& h,
                          LstmCache<Scalar>& cache) {
  cache.resize_forward(H, lengths);
  h.resize(H, lengths.batch_size(), lengths.max_length());
  cache.cell.step(0).setZero();
  cache.hidden.step(0).setZero();
}

/// Z = W·X + bias for the token columns [columns.first, columns.last) of x (padded ones too:
/// cheaper than skipping them), written into cache.gates.
template <class Scalar>
void lstm_project_inputs(const Matrix<Scalar>& W, const Matrix<Scalar>& bias,
                         const Tensor3<Scalar>& x, LstmCache<Scalar>& cache, Range columns,
                         gemm::GemmWorkspace<Scalar>& ws) {
  const Index H4 = W.rows(), In = W.cols();
  gemm::gemm(H4, columns.size(), In, W.data(), H4, gemm::Op::none, x.data() + columns.first * In,
             In, gemm::Op::none, cache.gates.data() + columns.first * H4, H4,
             gemm::Update::overwrite, ws, {bias.data(), nullptr});
}

/// Packs U for the forward recurrence (when the batch uses the packed kernel).
template <class Scalar>
void lstm_pack_forward(const Matrix<Scalar>& U, const SequenceLengths& lengths,
                       LstmCache<Scalar>& cache) {
  if (uses_packed_steps(lengths)) packed::pack_gate_interleaved(U, cache.packed_u);
}

/// The recurrence of the sequences [sequences.first, sequences.last): their steps up to the
/// group's longest length, then the padding of the steps after it (state carried, outputs 0).
/// Needs the input projection of the group's columns and the packed U.
template <class Scalar>
void lstm_forward_sequences(const Matrix<Scalar>& U, const SequenceLengths& lengths,
                            Tensor3<Scalar>& h, LstmCache<Scalar>& cache, Range sequences) {
  const Index H = U.cols();
  const Index T = lengths.max_length();
  const Index b0 = sequences.first, nb = sequences.size();
  if (nb <= 0) return;
  Index group_length = 0;
  for (Index b = b0; b < sequences.last; ++b) group_length = std::max(group_length, lengths[b]);
  const bool packed = uses_packed_steps(lengths);
  for (Index t = 0; t < T; ++t) {
    const detail::ForwardStep<Scalar> s{H,
                                        t,
                                        lengths.lengths().data() + b0,
                                        cache.packed_u.data(),
                                        cache.gates.step(t).data() + b0 * 4 * H,
                                        cache.cell.step(t).data() + b0 * H,
                                        cache.cell.step(t + 1).data() + b0 * H,
                                        cache.cell_tanh.step(t).data() + b0 * H,
                                        cache.hidden.step(t).data() + b0 * H,
                                        cache.hidden.step(t + 1).data() + b0 * H,
                                        h.step(t).data() + b0 * H};
    if (t >= group_length) {  // every sequence of the group is padding from here on
      detail::forward_columns(s, 0, nb);
    } else if (packed) {
      detail::forward_step(s, nb);
    } else {  // one sequence in the batch
      if (t > 0) cache.gates.step(t).noalias() += U * cache.hidden.step(t);
      detail::forward_columns(s, 0, nb);
    }
  }
}

/// Fast forward pass, all stages on the calling thread. `x` is (In,B,T), `h` becomes (H,B,T).
/// Arguments are assumed valid (the LSTM layer checks them).
template <class Scalar>
void lstm_forward_fast(const Matrix<Scalar>& W, const Matrix<Scalar>& U, const Matrix<Scalar>& bias,
                       const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& h,
                       LstmCache<Scalar>& cache) {
  lstm_forward_prepare(U.cols(), lengths, h, cache);
  lstm_project_inputs(W, bias, x, cache, Range{0, lengths.batch_size() * lengths.max_length()},
                      cache.gemm_workspace);
  lstm_pack_forward(U, lengths, cache);
  lstm_forward_sequences(U, lengths, h, cache, Range{0, lengths.batch_size()});
}

// ---- backward, in stages -----------------------------------------------------------------------
// A whole pass is: prepare; pack Uᵀ; the recurrence back through time (any cut of the sequences),
// which leaves δZ in cache.gate_grad; then the weight gradients (any cut of the rows of W and U)
// and the input gradient (any cut of the columns), in any order or side by side. The weight
// gradients sum over every token column in one product, so their sums never depend on a cut.

/// Sizes the backward scratch and dx.
template <class Scalar>
void lstm_backward_prepare(Index H, Index In, const SequenceLengths& lengths, Tensor3<Scalar>& dx,
                           LstmCache<Scalar>& cache) {
  const Index B = lengths.batch_size(), T = lengths.max_length();
  cache.gate_grad.resize(4 * H, B, T);
  cache.dh_next.resize(H, B);
  cache.dc_next.resize(H, B);
  dx.resize(In, B, T);
}

/// Packs Uᵀ for the backward recurrence (when the batch uses the packed kernel).
template <class Scalar>
void lstm_pack_backward(const Matrix<Scalar>& U, const SequenceLengths& lengths,
                        LstmCache<Scalar>& cache) {
  if (uses_packed_steps(lengths)) packed::pack_transposed_rows(U, cache.packed_ut);
}

/// The recurrence back through time of the sequences [sequences.first, sequences.last): writes
/// their columns of δZ (cache.gate_grad; 0 at padded steps). Needs the packed Uᵀ.
template <class Scalar>
void lstm_backward_sequences(const Matrix<Scalar>& U, const SequenceLengths& lengths,
                             const Tensor3<Scalar>& dh, LstmCache<Scalar>& cache, Range sequences) {
  const Index H = U.cols();
  const Index T = lengths.max_length();
  const Index b0 = sequences.first, nb = sequences.size();
  if (nb <= 0) return;
  Index group_length = 0;
  for (Index b = b0; b < sequences.last; ++b) group_length = std::max(group_length, lengths[b]);
  auto dh_next = cache.dh_next.matrix().middleCols(b0, nb);
  auto dc_next = cache.dc_next.matrix().middleCols(b0, nb);
  dh_next.setZero();
  dc_next.setZero();
  const bool packed = uses_packed_steps(lengths);
  for (Index t = T - 1; t >= 0; --t) {
    auto dZ_t = cache.gate_grad.step(t).middleCols(b0, nb);
    if (t >= group_length) {  // padding receives no gradient
      dZ_t.setZero();
      continue;
    }
    const auto gates = cache.gates.step(t).middleCols(b0, nb);
    const auto c_prev = cache.cell.step(t).middleCols(b0, nb);
    const auto tanh_c = cache.cell_tanh.step(t).middleCols(b0, nb);
    const auto dh_t = dh.step(t).middleCols(b0, nb);
    for (Index n = 0; n < nb; ++n) {
      if (t < lengths[b0 + n]) {
        detail::lstm_cell_backward_column(
            H, gates.col(n).data(), c_prev.col(n).data(), tanh_c.col(n).data(), dh_t.col(n).data(),
            dh_next.col(n).data(), dc_next.col(n).data(), dZ_t.col(n).data());
      } else {
        dZ_t.col(n).setZero();
        dc_next.col(n).setZero();
      }
    }
    if (t > 0 && packed) {
      detail::recurrent_gradient(cache.packed_ut.data(), H, nb, dZ_t.data(), dh_next.data());
    } else if (t > 0) {
      dh_next.noalias() = U.transpose() * dZ_t;
    }
  }
}

/// dU += δZ·H_prevᵀ alone, for the rows [rows.first, rows.last) of the 4H gate rows (the part
/// of lstm_weight_gradients below that does not read x: for a layer that gets dW and dbias
/// another way, as char_bilstm.hpp does from per-character sums of δZ).
template <class Scalar>
void lstm_recurrent_weight_gradient(const LstmCache<Scalar>& cache, Matrix<Scalar>& dU, Range rows,
                                    gemm::GemmWorkspace<Scalar>& ws) {
  if (rows.size() <= 0) return;
  const Index H4 = dU.rows(), H = dU.cols();
  const Index N = cache.gate_grad.dim(1) * cache.gate_grad.dim(2);
  gemm::gemm(rows.size(), H, N, cache.gate_grad.data() + rows.first, H4, gemm::Op::none,
             cache.hidden.data(), H, gemm::Op::transpose, dU.data() + rows.first, H4,
             gemm::Update::accumulate, ws);
}

/// dW += δZ·Xᵀ, dU += δZ·H_prevᵀ and dbias += δZ·1 for the rows [rows.first, rows.last) of the
/// 4H gate rows, each a sum over every token column (padded columns have δz = 0, so x there must
/// be finite). H_prev is cache.hidden's first T steps: h_{t-1} for every t.
template <class Scalar>
void lstm_weight_gradients(const Tensor3<Scalar>& x, const LstmCache<Scalar>& cache,
                           Matrix<Scalar>& dW, Matrix<Scalar>& dU, Matrix<Scalar>& dbias,
                           Range rows, gemm::GemmWorkspace<Scalar>& ws) {
  if (rows.size() <= 0) return;
  const Index H4 = dW.rows(), In = dW.cols();
  const Index N = cache.gate_grad.dim(1) * cache.gate_grad.dim(2);
  const Scalar* dZ = cache.gate_grad.data() + rows.first;
  using gemm::Op;
  using gemm::Update;
  gemm::gemm(rows.size(), In, N, dZ, H4, Op::none, x.data(), In, Op::transpose,
             dW.data() + rows.first, H4, Update::accumulate, ws,
             {nullptr, dbias.data() + rows.first});
  lstm_recurrent_weight_gradient(cache, dU, rows, ws);
}

/// dX = Wᵀ·δZ for the token columns [columns.first, columns.last) (0 at padded columns, where
/// δz = 0).
template <class Scalar>
void lstm_input_gradient(const Matrix<Scalar>& W, const LstmCache<Scalar>& cache,
                         Tensor3<Scalar>& dx, Range columns, gemm::GemmWorkspace<Scalar>& ws) {
  const Index H4 = W.rows(), In = W.cols();
  gemm::gemm(In, columns.size(), H4, W.data(), H4, gemm::Op::transpose,
             cache.gate_grad.data() + columns.first * H4, H4, gemm::Op::none,
             dx.data() + columns.first * In, In, gemm::Update::overwrite, ws);
}

/// Fast backward pass through time, all stages on the calling thread. Reads the cache of the
/// matching forward pass (and uses its scratch buffers); writes `dx` (In,B,T) and adds into dW,
/// dU, dbias. Arguments are assumed valid.
template <class Scalar>
void lstm_backward_fast(const Matrix<Scalar>& W, const Matrix<Scalar>& U, const Tensor3<Scalar>& x,
                        const SequenceLengths& lengths, const Tensor3<Scalar>& dh,
                        Tensor3<Scalar>& dx, Matrix<Scalar>& dW, Matrix<Scalar>& dU,
                        Matrix<Scalar>& dbias, LstmCache<Scalar>& cache) {
  lstm_backward_prepare(U.cols(), W.cols(), lengths, dx, cache);
  lstm_pack_backward(U, lengths, cache);
  lstm_backward_sequences(U, lengths, dh, cache, Range{0, lengths.batch_size()});
  lstm_weight_gradients(x, cache, dW, dU, dbias, Range{0, W.rows()}, cache.gemm_workspace);
  lstm_input_gradient(W, cache, dx, Range{0, lengths.batch_size() * lengths.max_length()},
                      cache.gemm_workspace);
}

}  // namespace kernels
}  // namespace lstmner
