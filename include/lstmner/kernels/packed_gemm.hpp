#pragma once
/// \file kernels/packed_gemm.hpp
/// The register-blocked micro-kernel behind the per-step recurrent products of lstm_fast.hpp, and
/// the packing of the recurrent weights into the layout it reads.
///
/// The micro-kernel computes one block C = A·Bm of MR packets of rows (MR ≤ 4, a packet being the
/// target's SIMD width P: 16 floats with AVX-512, 8 with AVX2, 4 with SSE, 1 without SIMD) by NB
/// columns (NB ≤ 4), over a reduction length K:
///   - A is a packed panel: for every k, MR·P consecutive scalars (row k of the panel), so the
///     kernel streams it with aligned-size vector loads and no index arithmetic;
///   - Bm is read in place, column-major with leading dimension ldb (h_{t-1} or δZ_t, one
///     scalar broadcast per column and k);
///   - the MR·NB accumulators live in registers (16 of the 32 AVX-512 registers at 4x4).
/// The result is returned in registers (`acc`) so each caller fuses its own epilogue.
///
/// Packing (once per forward or backward call: 4H² copies against 8·H²·B·T FLOPs):
///   - pack_gate_interleaved(U): for the forward product U·h. Hidden units are cut into blocks
///     of P; panel j holds, for every k, the 4 packets U_i[j·P.., k], U_f[..], U_g[..], U_o[..]:
///     the 4 gates of the same P units sit together, so the forward epilogue has i, f, g, o of a
///     unit in the same register lane.
///   - pack_transposed_rows(U): Uᵀ for the backward product Uᵀ·δZ. Rows cut into panels of up
///     to 4 packets.
/// Rows past the matrix end are packed as zeros (the kernel computes them, callers drop them).
/// The Eigen packet functions are chosen at compile time from the target (-march), with Eigen's
/// scalar fallback, so plain -O2 builds are correct too.

#include <Eigen/Core>
#include <algorithm>

#include <lstmner/tensor.hpp>

// Fully unrolls a fixed-size loop (a register tile's rows and columns) even at -O2, so that its
// accumulators live in registers and small copies are not turned into library calls.
#if defined(__GNUC__)
#define LSTMNER_UNROLL _Pragma("GCC unroll 8")
#else
#define LSTMNER_UNROLL
#endif

namespace lstmner {
namespace kernels {
namespace packed {

template <class Scalar>
using Packet = typename Eigen::internal::packet_traits<Scalar>::type;

/// Scalars per SIMD packet for this build.
template <class Scalar>
constexpr Index packet_size() {
  return Eigen::internal::packet_traits<Scalar>::size;
}

/// Rounds n up to a whole number of packets.
template <class Scalar>
constexpr Index round_up_to_packets(Index n) {
  return (n + packet_size<Scalar>() - 1) / packet_size<Scalar>() * packet_size<Scalar>();
}

/// Packs U (4H x H, gate blocks i, f, g, o) for the forward product: returns into `out` (resized
/// to 4·Hp·H, Hp = H rounded up to packets) the gate-interleaved panels described above.
template <class Scalar, class Vector>
void pack_gate_interleaved(const Matrix<Scalar>& U, Vector& out) {
  constexpr Index P = packet_size<Scalar>();
  const Index H = U.cols();
  const Index Hp = round_up_to_packets<Scalar>(H);
  out.resize(4 * Hp * H);
  Scalar* dst = out.data();
  for (Index j0 = 0; j0 < Hp; j0 += P) {
    const Index valid = std::min(P, H - j0);
    for (Index k = 0; k < H; ++k) {
      for (Index g = 0; g < 4; ++g) {
        const Scalar* src = U.data() + k * 4 * H + g * H + j0;  // column-major: U(g·H + j, k)
        if (valid == P) {  // one packet copy (std::copy would call memmove per packet)
          Eigen::internal::pstoreu(dst, Eigen::internal::ploadu<Packet<Scalar>>(src));
        } else {
          for (Index l = 0; l < P; ++l) dst[l] = l < valid ? src[l] : Scalar(0);
        }
        dst += P;
      }
    }
  }
}

/// Packs the rows of Uᵀ (R x K for U K x R: row r of Uᵀ is column r of U) into panels of up to
/// 4 packets of rows (rows rounded up to packets; a last panel may hold fewer packets), each
/// K-major. `out` is resized to Rp·K. A transpose, done in chunks of 16 k so that the chunk's
/// destination lines stay in L1 while every row writes into them.
template <class Scalar, class Vector>
void pack_transposed_rows(const Matrix<Scalar>& U, Vector& out) {
  constexpr Index P = packet_size<Scalar>();
  const Index R = U.cols(), K = U.rows();
  const Index Rp = round_up_to_packets<Scalar>(R);
  out.resize(Rp * K);
  Scalar* dst = out.data();
  for (Index r0 = 0; r0 < Rp; r0 += 4 * P) {
    const Index rows = std::min(4 * P, Rp - r0);
    const Index valid = std::min(rows, R - r0);
    for (Index kk = 0; kk < K; kk += 16) {
      const Index ke = std::min(K, kk + 16);
      for (Index l = 0; l < valid; ++l) {
        const Scalar* src = U.data() + (r0 + l) * K;
        for (Index k = kk; k < ke; ++k) dst[k * rows + l] = src[k];
      }
      for (Index l = valid; l < rows; ++l)
        for (Index k = kk; k < ke; ++k) dst[k * rows + l] = Scalar(0);
    }
    dst += rows * K;
  }
}

/// Columns per block of the per-step products: 6 with 32 vector registers (4 x 6 = 24
/// accumulators + 4 panel packets + 1 broadcast), 4 otherwise.
template <class Scalar>
constexpr int max_columns() {
  return EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32 ? 6 : 4;
}

/// acc[m][n] = Σ_k A_panel[k][m·P .. m·P+P) · Bm[k + n·ldb], for m < MR, n < NB. The sums run
/// in a local array that never escapes (kept in registers; a Packet may alias a Scalar, so
/// summing into `acc` directly could make the compiler store it after every load of Bm).
template <int MR, int NB, class Scalar>
EIGEN_ALWAYS_INLINE void micro_kernel(const Scalar* __restrict panel, Index K,
                                      const Scalar* __restrict Bm, Index ldb,
                                      Packet<Scalar> (&acc)[MR][NB]) {
  using namespace Eigen::internal;
  using P_t = Packet<Scalar>;
  constexpr Index P = packet_size<Scalar>();
  P_t sum[MR][NB];
  LSTMNER_UNROLL
  for (int m = 0; m < MR; ++m) {
    LSTMNER_UNROLL
    for (int n = 0; n < NB; ++n) sum[m][n] = pset1<P_t>(Scalar(0));
  }
  for (Index k = 0; k < K; ++k) {
    P_t a[MR];
    LSTMNER_UNROLL
    for (int m = 0; m < MR; ++m) a[m] = ploadu<P_t>(panel + m * P);
    LSTMNER_UNROLL
    for (int n = 0; n < NB; ++n) {
      const P_t b = pset1<P_t>(Bm[k + n * ldb]);
      LSTMNER_UNROLL
      for (int m = 0; m < MR; ++m) sum[m][n] = pmadd(a[m], b, sum[m][n]);
    }
    panel += MR * P;
  }
  LSTMNER_UNROLL
  for (int m = 0; m < MR; ++m) {
    LSTMNER_UNROLL
    for (int n = 0; n < NB; ++n) acc[m][n] = sum[m][n];
  }
}

}  // namespace packed
}  // namespace kernels
}  // namespace lstmner
