#pragma once
/// \file kernels/gemm.hpp
/// An allocation-free, cache-blocked, register-blocked matrix product for the large one-off
/// products of the layers (the LSTM's hoisted W·X, dW, dU, Wᵀ·δZ; a dense layer's W·X, dW, dX):
///
///     C  = op(A)·op(B) [+ bias·1ᵀ]          Update::overwrite
///     C += op(A)·op(B) [+ bias·1ᵀ]          Update::accumulate
///     [row_sums += op(A)·1]                 (Extras: both optional, fused into the passes)
///
/// op(A) is M x K, op(B) is K x N, C is M x N; every matrix is column-major with unit inner
/// stride and a leading dimension (the distance between columns, ≥ its stored rows):
///   - Op::none:      op(X) = X, X stored as rows x cols of op(X)
///   - Op::transpose: op(X) = Xᵀ, X stored as cols x rows of op(X)
///
/// The calls of a layer (the LSTM's in kernels/lstm_fast.hpp; a dense layer W [K x D], input X
/// [D x N], output gradient δ [K x N] would make the same three):
///   forward   Z = W·X + b:  gemm(4H, N, In, W, 4H, Op::none, X, In, Op::none, Z, 4H,
///                                Update::overwrite, ws, {b, nullptr})
///   weights   dW += δZ·Xᵀ, db += δZ·1:
///                           gemm(4H, In, N, δZ, 4H, Op::none, X, In, Op::transpose, dW, 4H,
///                                Update::accumulate, ws, {nullptr, db})
///   inputs    dX = Wᵀ·δZ:   gemm(In, N, 4H, W, 4H, Op::transpose, δZ, 4H, Op::none, dX, In,
///                                Update::overwrite, ws)
/// or the same through the Eigen overload at the end of this file, which reads sizes and
/// leading dimensions from matrices, maps and column blocks and checks the shapes.
///
/// Nothing allocates once the workspace has room: the packing buffers live in a
/// `GemmWorkspace` owned by the caller (one per thread), which grows to the largest blocks it
/// has seen and keeps that storage; `GemmWorkspace::reserve(M, N, K)` sizes it up front (its
/// buffers are bounded by the blocks: at most about 256 KB + 4 MB of float whatever M, N, K).
/// The sum order depends only on M, N, K and the build's target (not on alignment, threads
/// or earlier calls), so results are reproducible run to run.
///
/// How (the Goto/BLIS structure):
///   - K is cut into blocks of ≤ kc = 256, M into blocks of ≤ mc rows (packed A ≈ 256 KB, L2),
///     N into blocks of ≤ nc = 4096 columns. op(A)'s M x K block is packed into panels of up
///     to MR packets of rows, each k-major (for every k, the panel's rows side by side; P = the
///     SIMD width: 16 floats with AVX-512, 8 with AVX2, 4 with SSE, 1 without SIMD); the
///     packets of a block are spread evenly over its panels (25 → 4,4,4,4,3,3,3, not 6 x 4 + 1),
///     since a thin tile runs at a fraction of a full one's speed. Rows past M are zeros.
///   - An untransposed B is read in place: its columns are already k-contiguous (the LSTM's X
///     and δZ). A transposed B is packed into panels of NR columns, for every k the NR scalars
///     side by side. Packing costs M·K (+ K·N) copies against 2·M·N·K FLOPs.
///   - The micro-kernel keeps an MR·P x NR block of C in registers over one K-block: per k,
///     MR aligned packet loads of A, NR broadcasts of B, MR·NR FMAs. With 32 vector registers
///     (AVX-512) MR = 4, NR = 6: 24 accumulators, 10 loads per 24 FMAs; with 16 (AVX2, SSE,
///     the scalar fallback) MR = 3, NR = 4. (Eigen 3.4's own kernel is 3 x 4 on every target.)
///   - NR columns of B (kc·NR scalars, 6 KB) stay in L1 while the block's A panels stream from
///     L2. The first K-block stores C (or adds to it) with the bias; later K-blocks add.
///   - Small M (a dense layer's K ≈ 17 tags) wastes the rows up to a whole packet; fine for
///     its share of the work, not a general small-matrix kernel.
/// The packet functions are Eigen's, chosen at compile time from the target (-march), with
/// Eigen's scalar fallback, so plain -O2 builds are correct too (and the fixed-size loops carry
/// an unroll pragma so -O2 keeps the accumulators in registers).

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <string>

#include <lstmner/kernels/packed_gemm.hpp>
#include <lstmner/tensor.hpp>

namespace lstmner {
namespace kernels {
namespace gemm {

/// Whether an operand is used as stored or transposed.
enum class Op { none, transpose };

/// Whether the product replaces C (adding the bias, if any) or is added to it.
enum class Update { overwrite, accumulate };

/// What a product may do besides C (=|+=) op(A)·op(B); every pointer may be null.
template <class Scalar>
struct Extras {
  const Scalar* bias = nullptr;  ///< M scalars added to every column of C (either update)
  Scalar* a_row_sums = nullptr;  ///< M scalars: Σ_k op(A)(m, k) is added into row m (fused
                                 ///< into the packing of A: a bias gradient for free)
};

/// The register tile and the cache blocks for this build's target.
template <class Scalar>
struct Blocking {
  static constexpr Index P = packed::packet_size<Scalar>();
  static constexpr bool wide = EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS >= 32;
  static constexpr int mr = wide ? 4 : 3;  ///< packets of rows per register tile
  static constexpr int nr = wide ? 6 : 4;  ///< columns per register tile
  static constexpr Index kc = 256;         ///< largest K-block
  /// Largest M-block: its packed A (mc·kc scalars) about 256 KB, a whole number of tiles.
  static constexpr Index mc =
      std::max<Index>(1, (Index(256) * 1024 / Index(sizeof(Scalar)) / kc) / (mr * P)) * mr * P;
  static constexpr Index nc = 4096;  ///< largest N-block (its packed B: kc·nc scalars)

  /// The block size for n: n split into near-equal blocks of at most `largest`, so no tiny last
  /// block is left, rounded up to a multiple of `unit` (a register tile's rows or columns),
  /// so that only the last block holds a partial tile.
  static Index block(Index n, Index largest, Index unit = 1) {
    const Index blocks = (n + largest - 1) / largest;
    const Index size = blocks == 0 ? 0 : (n + blocks - 1) / blocks;
    return (size + unit - 1) / unit * unit;
  }
  /// Packets of rows in panel `i` of a block of `packets` packets: the packets are spread as
  /// evenly as possible over the fewest panels of ≤ mr (25 → 4,4,4,4,3,3,3, not 4 x 6 + 1),
  /// since a 1-packet tile runs at a fraction of a full one's speed.
  static Index panel_packets(Index packets, Index i) {
    const Index panels = (packets + mr - 1) / mr;
    return packets / panels + (i < packets % panels ? 1 : 0);
  }
  static Index m_block(Index M) { return block(M, mc, mr * P); }
  static Index n_block(Index N) { return block(N, nc, nr); }
  static Index k_block(Index K) { return block(K, kc); }
};

/// The caller-owned packing buffers of `gemm`. Grows to the largest blocks it has seen and keeps
/// the storage, so a workspace that served the largest product allocates nothing afterwards.
template <class Scalar>
class GemmWorkspace {
 public:
  /// Makes room now for every product with at most M rows, N columns and depth K (an
  /// allocation, if any, happens here; gemm calls it with its own sizes).
  void reserve(Index M, Index N, Index K) {
    using BL = Blocking<Scalar>;
    // Upper bounds of the blocks gemm cuts for any sizes up to (M, N, K).
    const Index tile_rows = BL::mr * BL::P;
    const Index kb = std::min(K, BL::kc);
    const Index mb = std::min((M + tile_rows - 1) / tile_rows * tile_rows, BL::mc);
    const Index nb = (std::min(N, BL::nc) + BL::nr - 1) / BL::nr * BL::nr;
    grow(a_, mb * kb);
    grow(b_, nb * kb);
  }
  Scalar* packed_a() { return a_.data(); }
  Scalar* packed_b() { return b_.data(); }

 private:
  static void grow(AlignedVector<Scalar>& buffer, Index size) {
    if (static_cast<Index>(buffer.size()) < size) buffer.resize(static_cast<std::size_t>(size));
  }
  AlignedVector<Scalar> a_;  // 64-byte aligned: the kernel's A loads are aligned
  AlignedVector<Scalar> b_;  // packed op(B) = Bᵀ only (an untransposed B is read in place)
};

namespace detail {

/// One panel of NP packets of rows of an untransposed A: for every k, NP packet copies from
/// column k (no library call per column: the count is fixed), and the row sums if asked.
template <int NP, class Scalar>
void pack_panel(const Scalar* __restrict src, Index lda, Index kb, Scalar* __restrict out,
                Scalar* __restrict sum) {
  using namespace Eigen::internal;
  using P_t = packed::Packet<Scalar>;
  constexpr Index P = Blocking<Scalar>::P;
  for (Index k = 0; k < kb; ++k, src += lda, out += NP * P) {
    LSTMNER_UNROLL
    for (int m = 0; m < NP; ++m) pstore(out + m * P, ploadu<P_t>(src + m * P));
  }
  if (sum) {  // a second pass over the packed copy (in L1/L2), packet sums per row
    P_t total[NP];
    LSTMNER_UNROLL
    for (int m = 0; m < NP; ++m) total[m] = ploadu<P_t>(sum + m * P);
    out -= NP * P * kb;
    for (Index k = 0; k < kb; ++k, out += NP * P) {
      LSTMNER_UNROLL
      for (int m = 0; m < NP; ++m) total[m] = padd(total[m], pload<P_t>(out + m * P));
    }
    LSTMNER_UNROLL
    for (int m = 0; m < NP; ++m) pstoreu(sum + m * P, total[m]);
  }
}

/// Rows [0, valid) x depth [0, kb) of op(A) = Aᵀ (row l at src + l·lda, k-contiguous) into a
/// panel `width` rows wide (rows ≥ valid zero): a transpose. Whole P x P squares go through
/// registers (Eigen's ptranspose), the edges one scalar at a time.
template <class Scalar>
void pack_panel_transposed(const Scalar* src, Index lda, Index valid, Index width, Index kb,
                           Scalar* __restrict dst, Scalar* __restrict sum) {
  using namespace Eigen::internal;
  using P_t = packed::Packet<Scalar>;
  constexpr Index P = Blocking<Scalar>::P;
  Index l0 = 0;
  if constexpr (P > 1) {
    for (; l0 + P <= valid; l0 += P) {
      P_t total = pset1<P_t>(Scalar(0));
      Index k = 0;
      for (; k + P <= kb; k += P) {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // P_t's vector attributes (harmless)
#endif
        PacketBlock<P_t, P> square;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
        for (Index r = 0; r < P; ++r) square.packet[r] = ploadu<P_t>(src + (l0 + r) * lda + k);
        ptranspose(square);  // packet c: k + c for rows l0 .. l0 + P
        for (Index c = 0; c < P; ++c) {
          pstore(dst + (k + c) * width + l0, square.packet[c]);
          total = padd(total, square.packet[c]);
        }
      }
      if (sum) pstoreu(sum + l0, padd(ploadu<P_t>(sum + l0), total));
      for (; k < kb; ++k)
        for (Index r = 0; r < P; ++r) {
          dst[k * width + l0 + r] = src[(l0 + r) * lda + k];
          if (sum) sum[l0 + r] += src[(l0 + r) * lda + k];
        }
    }
  }
  for (Index l = l0; l < valid; ++l) {  // rows short of a square
    Scalar row_sum(0);
    for (Index k = 0; k < kb; ++k) {
      dst[k * width + l] = src[l * lda + k];
      row_sum += src[l * lda + k];
    }
    if (sum) sum[l] += row_sum;
  }
  for (Index k = 0; k < kb; ++k)
    for (Index l = valid; l < width; ++l) dst[k * width + l] = Scalar(0);
}

/// Packs rows [r0, r0+rows) x depth [k0, k0+kb) of op(A) into panels of up to mr packets of
/// rows, each k-major (as many consecutive scalars per k as the panel has rows). Rows ≥ M are
/// packed as zeros. With `sums` (M scalars), each row's sum over the block is added into it.
template <class Scalar>
void pack_a(const Scalar* A, Index lda, Op op, Index M, Index r0, Index rows, Index k0, Index kb,
            Scalar* __restrict dst, Scalar* __restrict sums) {
  using BL = Blocking<Scalar>;
  constexpr Index P = BL::P;
  const Index packets = (rows + P - 1) / P;
  for (Index i = 0, p0 = 0; p0 < packets * P; ++i) {
    const Index width = BL::panel_packets(packets, i) * P;  // rows in this panel
    const Index valid = std::min(width, M - (r0 + p0));     // ≥ 1: p0 < rows
    Scalar* sum = sums ? sums + r0 + p0 : nullptr;
    if (op == Op::transpose) {  // row m of op(A) is column m of A
      pack_panel_transposed(A + (r0 + p0) * lda + k0, lda, valid, width, kb, dst, sum);
    } else if (valid == width) {  // column k of A holds the panel's rows contiguously
      const Scalar* src = A + k0 * lda + r0 + p0;
      switch (width / P) {
        case 1:
          pack_panel<1>(src, lda, kb, dst, sum);
          break;
        case 2:
          pack_panel<2>(src, lda, kb, dst, sum);
          break;
        case 3:
          pack_panel<3>(src, lda, kb, dst, sum);
          break;
        default:
          pack_panel<BL::mr>(src, lda, kb, dst, sum);
          break;
      }
    } else {  // the last rows of A
      for (Index k = 0; k < kb; ++k) {
        const Scalar* src = A + (k0 + k) * lda + r0 + p0;
        for (Index l = 0; l < width; ++l) dst[k * width + l] = l < valid ? src[l] : Scalar(0);
        if (sum)
          for (Index l = 0; l < valid; ++l) sum[l] += src[l];
      }
    }
    dst += width * kb;
    p0 += width;
  }
}

/// Packs depth [k0, k0+kb) x columns [c0, c0+cols) of op(B) = Bᵀ into panels of nr columns,
/// each k-major: for every k, the panel's nr scalars side by side (columns ≥ N are zero). A
/// panel's column n then starts at panel + n with a stride of nr per k.
template <class Scalar>
void pack_b_transposed(const Scalar* B, Index ldb, Index N, Index c0, Index cols, Index k0,
                       Index kb, Scalar* __restrict dst) {
  constexpr Index NR = Blocking<Scalar>::nr;
  for (Index j0 = 0; j0 < cols; j0 += NR) {
    const Index valid = std::min(NR, N - (c0 + j0));  // ≥ 1: j0 < cols
    // op(B)(k, c0 + j0..) = B(c0 + j0.., k): contiguous in column k of B
    const Scalar* __restrict src = B + k0 * ldb + c0 + j0;
    if (valid == NR) {
      for (Index k = 0; k < kb; ++k, src += ldb) {
        LSTMNER_UNROLL
        for (Index n = 0; n < NR; ++n) dst[k * NR + n] = src[n];
      }
    } else {
      for (Index k = 0; k < kb; ++k, src += ldb)
        for (Index n = 0; n < NR; ++n) dst[k * NR + n] = n < valid ? src[n] : Scalar(0);
    }
    dst += NR * kb;
  }
}

/// acc[m][n] = Σ_k a[k·MR·P + m·P ..] · b[n][k·KS] over one K-block: `a` a packed panel, b[n]
/// the NR columns of op(B): in place (KS = 1) or packed by pack_b_transposed (KS = nr). The sums
/// run in a local array that never escapes, so the compiler keeps it in registers (a Packet may
/// alias a Scalar, so summing straight into `acc` would store it back after every load of b).
template <int MR, int KS, class Scalar>
EIGEN_ALWAYS_INLINE void micro_kernel(const Scalar* __restrict a,
                                      const Scalar* const (&b)[Blocking<Scalar>::nr], Index kb,
                                      packed::Packet<Scalar> (&acc)[MR][Blocking<Scalar>::nr]) {
  using namespace Eigen::internal;
  using P_t = packed::Packet<Scalar>;
  constexpr Index P = Blocking<Scalar>::P;
  constexpr int NR = Blocking<Scalar>::nr;
  P_t sum[MR][NR];
  LSTMNER_UNROLL
  for (int m = 0; m < MR; ++m) {
    LSTMNER_UNROLL
    for (int n = 0; n < NR; ++n) sum[m][n] = pset1<P_t>(Scalar(0));
  }
  for (Index k = 0; k < kb; ++k) {
    P_t va[MR];
    LSTMNER_UNROLL
    for (int m = 0; m < MR; ++m) va[m] = pload<P_t>(a + m * P);
    LSTMNER_UNROLL
    for (int n = 0; n < NR; ++n) {
      const P_t vb = pset1<P_t>(b[n][k * KS]);
      LSTMNER_UNROLL
      for (int m = 0; m < MR; ++m) sum[m][n] = pmadd(va[m], vb, sum[m][n]);
    }
    a += MR * P;
  }
  LSTMNER_UNROLL
  for (int m = 0; m < MR; ++m) {
    LSTMNER_UNROLL
    for (int n = 0; n < NR; ++n) acc[m][n] = sum[m][n];
  }
}

/// Where one register tile goes: C's rows [row, row+MR·P) x columns [col, col+NR), clipped to
/// M x N; stores or adds, and adds the bias (first K-block only).
template <class Scalar>
struct TileTarget {
  Scalar* C;
  Index ldc, M, N;
  const Scalar* bias;  ///< null: no bias
  bool store;          ///< true: C = acc (+ bias); false: C += acc (+ bias)
};

template <int MR, class Scalar>
EIGEN_ALWAYS_INLINE void write_tile(const TileTarget<Scalar>& t, Index row, Index col,
                                    const packed::Packet<Scalar> (&acc)[MR][Blocking<Scalar>::nr]) {
  using namespace Eigen::internal;
  using P_t = packed::Packet<Scalar>;
  constexpr Index P = Blocking<Scalar>::P;
  constexpr int NR = Blocking<Scalar>::nr;
  const Index cols = std::min<Index>(NR, t.N - col);
  LSTMNER_UNROLL
  for (int m = 0; m < MR; ++m) {
    const Index r = row + m * P;
    if (r >= t.M) break;
    const Index valid = std::min(P, t.M - r);
    if (valid == P) {
      const P_t bias = t.bias ? ploadu<P_t>(t.bias + r) : pset1<P_t>(Scalar(0));
      for (Index n = 0; n < cols; ++n) {
        Scalar* c = t.C + (col + n) * t.ldc + r;
        const P_t sum = t.bias ? padd(acc[m][n], bias) : acc[m][n];
        pstoreu(c, t.store ? sum : padd(sum, ploadu<P_t>(c)));
      }
    } else {  // the last rows of C: through a scalar buffer
      for (Index n = 0; n < cols; ++n) {
        Scalar tmp[P];
        pstoreu(tmp, acc[m][n]);
        Scalar* c = t.C + (col + n) * t.ldc + r;
        for (Index l = 0; l < valid; ++l) {
          const Scalar sum = t.bias ? tmp[l] + t.bias[r + l] : tmp[l];
          c[l] = t.store ? sum : c[l] + sum;
        }
      }
    }
  }
}

template <int MR, int KS, class Scalar>
EIGEN_ALWAYS_INLINE void tile(const Scalar* a, const Scalar* const (&b)[Blocking<Scalar>::nr],
                              Index kb, const TileTarget<Scalar>& t, Index row, Index col) {
  packed::Packet<Scalar> acc[MR][Blocking<Scalar>::nr];
  micro_kernel<MR, KS>(a, b, kb, acc);
  write_tile<MR>(t, row, col, acc);
}

/// A tile of `packets` (1 .. mr) packets of rows.
template <int KS, class Scalar>
inline void tile_n(Index packets, const Scalar* a, const Scalar* const (&b)[Blocking<Scalar>::nr],
                   Index kb, const TileTarget<Scalar>& t, Index row, Index col) {
  constexpr int MR = Blocking<Scalar>::mr;
  switch (packets) {
    case 1:
      tile<1, KS>(a, b, kb, t, row, col);
      break;
    case 2:
      tile<2, KS>(a, b, kb, t, row, col);
      break;
    case 3:
      tile<3 <= MR ? 3 : MR, KS>(a, b, kb, t, row, col);
      break;
    default:
      tile<MR, KS>(a, b, kb, t, row, col);
      break;
  }
}

}  // namespace detail

/// C = op(A)·op(B) or C += op(A)·op(B), plus the extras; see the file comment for the layout.
/// Preconditions (checked by eigen_assert): sizes ≥ 0, leading dimensions ≥ the stored rows,
/// C not overlapping A, B or the extras.
template <class Scalar>
void gemm(Index M, Index N, Index K, const Scalar* A, Index lda, Op op_a, const Scalar* B,
          Index ldb, Op op_b, Scalar* C, Index ldc, Update update, GemmWorkspace<Scalar>& ws,
          const Extras<Scalar>& extras = {}) {
  using BL = Blocking<Scalar>;
  constexpr Index P = BL::P;
  eigen_assert(M >= 0 && N >= 0 && K >= 0);
  eigen_assert(lda >= std::max<Index>(1, op_a == Op::none ? M : K));
  eigen_assert(ldb >= std::max<Index>(1, op_b == Op::none ? K : N));
  eigen_assert(ldc >= std::max<Index>(1, M));
  if (M == 0 || N == 0) return;
  if (K == 0) {  // an empty sum: only the bias (row sums stay as they are)
    for (Index n = 0; n < N; ++n)
      for (Index m = 0; m < M; ++m) {
        const Scalar bias = extras.bias ? extras.bias[m] : Scalar(0);
        C[n * ldc + m] = update == Update::overwrite ? bias : C[n * ldc + m] + bias;
      }
    return;
  }
  ws.reserve(M, N, K);
  // Blocks are whole tiles (but the last): each C element belongs to one tile of one block.
  const Index kc = BL::k_block(K), mc = BL::m_block(M), nc = BL::n_block(N);
  for (Index jc = 0; jc < N; jc += nc) {
    const Index nb = std::min(nc, N - jc);
    for (Index pc = 0; pc < K; pc += kc) {
      const Index kb = std::min(kc, K - pc);
      // op(B)'s columns of this block: an untransposed B is read in place (column n at
      // cols + n·ldb, k-contiguous), a transposed one is packed first (column n at cols + n,
      // nr apart per k, panels nr·kb apart).
      const bool in_place = op_b == Op::none;
      const Scalar* cols = B + jc * ldb + pc;
      if (!in_place) {
        detail::pack_b_transposed(B, ldb, N, jc, nb, pc, kb, ws.packed_b());
        cols = ws.packed_b();
      }
      const detail::TileTarget<Scalar> target{
          C, ldc, M, N, pc == 0 ? extras.bias : nullptr, pc == 0 && update == Update::overwrite};
      // A is packed once per N-block: its row sums are taken in the first.
      Scalar* sums = jc == 0 ? extras.a_row_sums : nullptr;
      for (Index ic = 0; ic < M; ic += mc) {
        const Index mb = std::min(mc, M - ic);
        detail::pack_a(A, lda, op_a, M, ic, mb, pc, kb, ws.packed_a(), sums);
        const Index mp = (mb + P - 1) / P * P;  // rows of the packed block
        for (Index jr = 0; jr < nb; jr += BL::nr) {
          const Scalar* b[BL::nr];
          for (Index n = 0; n < BL::nr; ++n)  // in place, past N: the last column again
            b[n] = in_place ? cols + std::min(jr + n, nb - 1) * ldb : cols + jr * kb + n;
          const Scalar* a = ws.packed_a();
          for (Index i = 0, ir = 0; ir < mp; ++i) {  // the panels pack_a made
            const Index packets = BL::panel_packets(mp / P, i);
            const Index row = ic + ir, col = jc + jr;
            if (in_place) {
              detail::tile_n<1>(packets, a, b, kb, target, row, col);
            } else {
              detail::tile_n<BL::nr>(packets, a, b, kb, target, row, col);
            }
            a += packets * P * kb;
            ir += packets * P;
          }
        }
      }
    }
  }
}

/// The same product on Eigen matrices, maps or column blocks (column-major, unit inner stride):
/// sizes and leading dimensions are read from them; the shapes must agree (std::invalid_argument
/// otherwise). C is written through, Eigen's way for output arguments (so a temporary Map or
/// block works), and never resized.
template <class Scalar, class DA, class DB, class DC>
void gemm(const Eigen::DenseBase<DA>& A, Op op_a, const Eigen::DenseBase<DB>& B, Op op_b,
          const Eigen::DenseBase<DC>& C_out, Update update, GemmWorkspace<Scalar>& ws,
          const Extras<Scalar>& extras = {}) {
  static_assert(!DA::IsRowMajor && !DB::IsRowMajor && !DC::IsRowMajor,
                "gemm: column-major operands only");
  static_assert(DA::InnerStrideAtCompileTime == 1 && DB::InnerStrideAtCompileTime == 1 &&
                    DC::InnerStrideAtCompileTime == 1,
                "gemm: operands need unit inner stride");
  DC& C = C_out.const_cast_derived();
  const Index M = op_a == Op::none ? A.rows() : A.cols();
  const Index K = op_a == Op::none ? A.cols() : A.rows();
  const Index KB = op_b == Op::none ? B.rows() : B.cols();
  const Index N = op_b == Op::none ? B.cols() : B.rows();
  lstmner::detail::require_lazily(K == KB && C.rows() == M && C.cols() == N, [&] {
    return "gemm: op(A) is " + std::to_string(M) + " x " + std::to_string(K) + ", op(B) is " +
           std::to_string(KB) + " x " + std::to_string(N) + ", C is " + std::to_string(C.rows()) +
           " x " + std::to_string(C.cols());
  });
  gemm<Scalar>(M, N, K, A.derived().data(), std::max<Index>(1, A.derived().outerStride()), op_a,
               B.derived().data(), std::max<Index>(1, B.derived().outerStride()), op_b, C.data(),
               std::max<Index>(1, C.outerStride()), update, ws, extras);
}

}  // namespace gemm
}  // namespace kernels
}  // namespace lstmner
