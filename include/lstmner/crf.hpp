#pragma once
/// \file crf.hpp
/// A linear-chain conditional random field over K tags: the output layer that scores whole tag
/// sequences rather than single tokens (Lafferty et al. 2001; as a tagger's output layer, Lample
/// et al. 2016). Its negative log-likelihood and gradient for training, and its decoders: Viterbi,
/// n-best Viterbi, per-token marginals and per-entity confidences.
///
/// Parameters, in slot order: `transitions` [K x K] with transitions(from, to), `start` [K x 1],
/// `end` [K x 1]; all zero at construction, as in Lample et al.: with zero transitions the CRF
/// starts as K independent per-token softmaxes, and the emissions (random at first) break every
/// symmetry, so nothing needs random values here.
///
/// Shapes, as for every lstmner layer: emission scores (K, B, T) time-major, column b + B·t is step
/// t of sentence b; `SequenceLengths`; gold tags (B, T) int32 in [0, K) at real steps t <
/// lengths[b] (padded steps are never read). Padded steps never contribute to a loss or a gradient,
/// and their d_scores columns are 0.
///
/// The model. The score of a tag path y over a sentence of n steps with emissions e_t, A =
/// transitions:
///   s(y) = start(y_0) + Σ_{t<n} e_t(y_t) + Σ_{1≤t<n} A(y_{t−1}, y_t) + end(y_{n−1})
///   p(y) = exp s(y) / Z,   Z = Σ_y exp s(y),   loss = scale · Σ_b (log Z_b − s_b(gold_b)).
/// Forward–backward, per sentence (the algorithm is the textbook one, in log space):
///   α_0(j) = start(j) + e_0(j),     α_t(j) = e_t(j) + log Σ_i exp(α_{t−1}(i) + A(i, j))
///   β_{n−1}(i) = end(i),            β_t(i) = log Σ_j exp(A(i, j) + e_{t+1}(j) + β_{t+1}(j))
///   log Z = log Σ_j exp(α_{n−1}(j) + end(j))
///   unary marginal     p_t(j)    = exp(α_t(j) + β_t(j) − log Z)
///   pairwise marginal  ξ_t(i, j) = exp(α_{t−1}(i) + A(i, j) + e_t(j) + β_t(j) − log Z)
/// Gradients (the expected minus the observed counts of each feature):
///   d e_t(j)   = scale · (p_t(j) − [y_t = j])                     written into d_scores
///   d A(i, j) += scale · Σ_{1≤t<n} (ξ_t(i, j) − [y_{t−1} = i ∧ y_t = j])
///   d start(j) += scale · (p_0(j) − [y_0 = j]),  d end(j) += scale · (p_{n−1}(j) − [y_{n−1} = j])
///
/// Constraints. `CRF::constraints` (a TransitionRules from decode.hpp; empty by default, as in
/// Lample et al.) makes the transitions, starts and ends it forbids −∞ in training: such paths get
/// probability 0, Z sums only allowed paths, their parameters get no gradient, and a gold path that
/// breaks them is rejected. Decoding takes its own rules (CrfDecoder::set_rules) and applies them
/// the same way, to Viterbi, n-best, Z, marginals and confidences alike.
///
/// Numerics. Stable for scores of any magnitude, and vectorised over the K "to" tags:
///   - every α_t is stored shifted by its maximum, α̃_t = α_t − L_t (max α̃_t = 0), the shifts L_t
///     summed in double (β likewise with R_t), so values stay small however long the sentence;
///   - the log-sum-exp over predecessors is a matrix–vector product with exp(A(i, j) − c_j),
///     c_j = max_i A(i, j), precomputed once per batch (the scaled forward algorithm):
///         α_t(j) − L_{t−1} = e_t(j) + c_j + log S_t(j),
///         S_t(j) = Σ_i exp α̃_{t−1}(i) · exp(A(i, j) − c_j)
///     Every factor is at most 1 and the largest exp α̃ is exactly 1. Factors below e^-300 are
///     taken as e^-300 (exp of max(x, −300): −∞ gives no subnormal numbers, which are slow) or 0
///     (the tables), so each sum is exact up to ~K·e^-300 absolute; a sum below 1e-100, where
///     that could matter, is recomputed by a plain log-sum-exp over i. Only score differences of
///     hundreds get there. The backward pass is the same with exp(A(i, j) − max_j A(i, j)).
///   - pairwise marginals: ξ_t(i, j) = exp α̃_{t−1}(i) · exp(A(i, j) − c_j) · w_t(j), summed over t
///     as outer products, with w_t(j) = exp(c_j + e_t(j) + β̃_t(j) + L_{t−1} + R_t − log Z), at
///     most 1 / S_t(j); a column whose w_t(j) would exceed e^230 (its S_t(j) was below 1e-100) is
///     computed term by term. The unary marginals then come for free:
///         p_t(j) = Σ_i ξ_t(i, j) = w_t(j) · S_t(j)   (t ≥ 1)
///   - all arithmetic inside is double; float scores are converted on the way in and gradients on
///     the way out. The loss of each sentence is a double.
///   - the K tags are padded to P, a multiple of 8 (detail::crf_lanes), and every vector operation
///     runs on whole chunks of 8 doubles; padded tags are −∞ everywhere and carry nothing.
///   - the steps of one sentence form a chain of dependent exp, product and log: a range of
///     sentences runs step t of every sentence before step t + 1, so that the processor overlaps
///     independent chains (each sentence computes exactly the same either way).
///
/// Training, cut by sentences so that any partition of a batch gives bit-identical results:
///   prepare(scores, targets, lengths, d_scores, ws)    checks the inputs, sizes d_scores and ws,
///       builds ws.tables from the current parameters (call it once per batch, before any part);
///   loss_backward_sentences(..., first, last)           (const) sentences [first, last): their
///       d_scores columns (padded ones zeroed), their loss and their parameter-gradient block in
///       ws; calls on disjoint ranges may run on different threads at once;
///   add_gradients(ws)                                   adds the blocks of all B sentences into
///       the Params' grads (+=) in sentence order, summed in double, and returns the total loss,
///       also summed in sentence order.
/// loss_backward(...) does all three for the whole batch; loss(...) computes the loss alone.
/// Once ws has held the largest batch, none of these allocates.
///
/// Workspace (one per batch in flight, sized by prepare; per-sentence slots, so parts never share):
///   tables          the parameters as the recursions use them (detail::CrfTables), padded, −∞
///                   where the constraints forbid: A, Aᵀ, exp(A − column max), exp(A − row max),
///                   the maxima, start, end
///   emit            (P, T, B) double: sentence b's emissions, step t at column t + T·b
///   alpha, beta     (P, T, B) double: α̃ and β̃, the same layout
///   exp_alpha, sums (P, T, B) double: exp α̃_t and S_t from the forward pass, for the gradient
///   log_scales      (T, 2, B) double: L_t and R_t of sentence b
///   vectors         (P, 3, B) double: per-sentence scratch
///   pairs           (P, 2P, B) double: Σ_t exp α̃_{t−1} w_tᵀ and the directly computed ξ columns
///   log_z, sentence_loss   (B) double: log Z_b and scale · (log Z_b − s_b(gold_b))
///   sentence_grads  (K·K + 2K, B) double: scale · (expected − observed counts) of sentence b, as
///                   d transitions (column-major) then d start then d end
///
/// Decoding one sentence: CrfDecoder (below), with the scores as a [K x n] Eigen expression such as
/// the strided map Tagger::predict_batch builds over a batch's scores.

#include <lstmner/decode.hpp>
#include <lstmner/param.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tag_scheme.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lstmner {

namespace detail {

using ArrayXd = Eigen::Array<double, Eigen::Dynamic, 1>;
using ArrayMapXd = Eigen::Map<ArrayXd>;
using MatrixMapXd = Eigen::Map<Matrix<double>>;

inline constexpr double crf_minus_infinity = -std::numeric_limits<double>::infinity();
/// A scaled sum below this is recomputed by a plain log-sum-exp (see the file comment).
inline constexpr double crf_rescue_sum = 1e-100;
/// log(1 / crf_rescue_sum): a pairwise-marginal factor above exp of this is computed directly.
inline constexpr double crf_rescue_log = 230.25850929940458;
/// exp is taken of max(x, this): −∞ (and anything below) gives e^-300, never a subnormal number
/// (slow on many CPUs); every such term is far below what the rescue threshold lets matter.
inline constexpr double crf_exp_floor = -300.0;

/// Doubles per chunk. The recursions run over the K tags padded to P, a multiple of this, one
/// fixed-size Eigen array per chunk (one AVX-512 register, two AVX2 ones): every operation is a
/// whole vector, with no scalar tail. Padded tags are −∞ in start, end and transitions, so they
/// carry no probability and no gradient.
inline constexpr Index crf_lanes = 8;
using CrfLane = Eigen::Array<double, crf_lanes, 1>;

inline Index crf_padded(Index k) {
  return (k + crf_lanes - 1) / crf_lanes * crf_lanes;
}
/// Chunk c of a padded vector.
inline Eigen::Map<CrfLane> lane(double* v, Index c) {
  return Eigen::Map<CrfLane>(v + c * crf_lanes);
}
inline Eigen::Map<const CrfLane> lane(const double* v, Index c) {
  return Eigen::Map<const CrfLane>(v + c * crf_lanes);
}
template <class Derived>
auto floored_exp(const Eigen::ArrayBase<Derived>& x) {
  return x.max(crf_exp_floor).exp();
}

/// out = Σ_{i<k} coef[i] · column i of `columns` [P x ≥k]: the small matrix–vector product of
/// every step, vectorised over the P rows. Chunk by chunk, with four partial sums in registers,
/// so that consecutive multiply-adds do not wait on each other (at K ≈ 17 the product is far too
/// small for a GEMV call, and an axpy per column would wait on its own stores).
inline void crf_combine(const double* columns, const double* coef, Index k, Index p, double* out) {
  for (Index c = 0; c < p / crf_lanes; ++c) {
    CrfLane s0 = CrfLane::Zero(), s1 = CrfLane::Zero(), s2 = CrfLane::Zero(), s3 = CrfLane::Zero();
    const double* column = columns + c * crf_lanes;
    Index i = 0;
    for (; i + 4 <= k; i += 4, column += 4 * p) {
      s0 += coef[i] * lane(column, 0);
      s1 += coef[i + 1] * lane(column + p, 0);
      s2 += coef[i + 2] * lane(column + 2 * p, 0);
      s3 += coef[i + 3] * lane(column + 3 * p, 0);
    }
    for (; i < k; ++i, column += p) s0 += coef[i] * lane(column, 0);
    lane(out, c) = (s0 + s1) + (s2 + s3);
  }
}

/// out = max_{i<k} (value[i] + column i of `columns` [P x ≥k]): the max-sum twin of crf_combine,
/// for Viterbi (max is exact, so the order of the partial maxima does not matter).
inline void crf_max_combine(const double* columns, const double* value, Index k, Index p,
                            double* out) {
  for (Index c = 0; c < p / crf_lanes; ++c) {
    const CrfLane none = CrfLane::Constant(crf_minus_infinity);
    CrfLane m0 = none, m1 = none, m2 = none, m3 = none;
    const double* column = columns + c * crf_lanes;
    Index i = 0;
    for (; i + 4 <= k; i += 4, column += 4 * p) {
      m0 = m0.max(value[i] + lane(column, 0));
      m1 = m1.max(value[i + 1] + lane(column + p, 0));
      m2 = m2.max(value[i + 2] + lane(column + 2 * p, 0));
      m3 = m3.max(value[i + 3] + lane(column + 3 * p, 0));
    }
    for (; i < k; ++i, column += p) m0 = m0.max(value[i] + lane(column, 0));
    lane(out, c) = m0.max(m1).max(m2.max(m3));
  }
}

/// log Σ exp(x) over n values; −∞ when every value is −∞ (an empty sum). Off the hot path.
inline double log_sum_exp(const double* x, Index n) {
  const Eigen::Map<const ArrayXd> v(x, n);
  const double m = v.maxCoeff();
  if (m == crf_minus_infinity) return m;
  return m + std::log((v - m).exp().sum());
}

/// The parameters of a CRF in the forms the recursions need, over P padded tags, with the
/// constraints applied: built once per batch (or per change of the parameters, for a decoder).
struct CrfTables {
  Index num_tags = 0;        ///< K
  Index padded = 0;          ///< P
  Matrix<double> trans;      ///< [P x P] A(i, j), −∞ where forbidden or padded
  Matrix<double> trans_t;    ///< Aᵀ: column i is row i of A
  Matrix<double> forward_t;  ///< (j, i) = exp(A(i, j) − to_max(j)); 0 where A is −∞
  Matrix<double> backward;   ///< (i, j) = exp(A(i, j) − from_max(i)); 0 where A is −∞
  ArrayXd to_max;            ///< max over i of A(i, j); −∞ when no tag may precede j
  ArrayXd from_max;          ///< max over j of A(i, j); −∞ when no tag may follow i
  ArrayXd no_predecessor, no_successor;  ///< 1 where to_max (from_max) is −∞, else 0
  ArrayXd start, end;                    ///< −∞ where forbidden or padded

  template <class Scalar>
  void build(const Matrix<Scalar>& transitions, const Matrix<Scalar>& start_scores,
             const Matrix<Scalar>& end_scores, const TransitionRules* rules) {
    const Index k = transitions.rows(), p = crf_padded(k);
    num_tags = k;
    padded = p;
    trans.setConstant(p, p, crf_minus_infinity);
    trans.topLeftCorner(k, k) = transitions.template cast<double>();
    start.setConstant(p, crf_minus_infinity);
    start.head(k) = start_scores.col(0).template cast<double>().array();
    end.setConstant(p, crf_minus_infinity);
    end.head(k) = end_scores.col(0).template cast<double>().array();
    if (rules != nullptr && rules->num_tags > 0) {
      for (Index i = 0; i < k; ++i) {
        const auto ui = static_cast<std::size_t>(i);
        if (!rules->can_start[ui]) start(i) = crf_minus_infinity;
        if (!rules->can_end[ui]) end(i) = crf_minus_infinity;
        for (Index j = 0; j < k; ++j)
          if (!rules->allows(i, j)) trans(i, j) = crf_minus_infinity;
      }
    }
    trans_t = trans.transpose();
    to_max = trans.colwise().maxCoeff().transpose().array();
    from_max = trans.rowwise().maxCoeff().array();
    no_predecessor = (to_max == crf_minus_infinity).cast<double>();
    no_successor = (from_max == crf_minus_infinity).cast<double>();
    forward_t.resize(p, p);
    backward.resize(p, p);
    const auto weight = [](double x) {  // 0 below the floor: no subnormal products later
      return x < crf_exp_floor ? 0.0 : std::exp(x);
    };
    for (Index j = 0; j < p; ++j) {
      for (Index i = 0; i < p; ++i) {
        const double a = trans(i, j);
        forward_t(j, i) = a == crf_minus_infinity ? 0.0 : weight(a - to_max(j));
        backward(i, j) = a == crf_minus_infinity ? 0.0 : weight(a - from_max(i));
      }
    }
  }
};

/// Copies the first n columns of `scores` [K x ≥n] into emit [P x n] as doubles, padded rows 0.
template <class Derived>
void crf_load_emissions(const Eigen::MatrixBase<Derived>& scores, Index n, Index padded,
                        double* emit) {
  const Index k = scores.rows();
  MatrixMapXd out(emit, padded, n);
  out.topRows(k) = scores.leftCols(n).template cast<double>();
  out.bottomRows(padded - k).setZero();
}

/// One sentence's buffers for the recursions: emissions emit [P x n] (crf_load_emissions), α̃
/// into alpha [P x n] and L_t into fwd_scale[0..n), β̃ into beta and R_t into bwd_scale, and 3P
/// doubles of scratch. When given, exp_alpha [P x n] receives exp α̃_t (floored; columns
/// 0..n−2) and sums [P x n] the forward sums S_t (columns 1..n−1), which the gradient pass reuses.
///
/// The recursions are cut into steps so that a batch can run step t of all its sentences before
/// step t + 1: one sentence's steps form a chain of dependent exp, product and log, and the
/// sentences in between give the processor independent work to overlap with it. Each sentence
/// computes exactly the same either way. A path that dies (no allowed tag at some step) leaves
/// −∞ in every later α̃ column and L_t (β likewise), and log Z = −∞.
struct CrfChain {
  Index n = 0;
  const double* emit = nullptr;
  double* alpha = nullptr;
  double* fwd_scale = nullptr;
  double* beta = nullptr;
  double* bwd_scale = nullptr;
  double* scratch = nullptr;
  double* exp_alpha = nullptr;
  double* sums = nullptr;
};

/// Column t of `out` = v − max(v) and scale[t] = base + max(v); all −∞ when v is.
inline void crf_shift(const double* v, Index p, double base, double* out, double* scale, Index t) {
  const Index chunks = p / crf_lanes;
  double m = crf_minus_infinity;
  for (Index c = 0; c < chunks; ++c) m = std::max(m, lane(v, c).maxCoeff());
  double* const column = out + t * p;
  if (m == crf_minus_infinity || base == crf_minus_infinity) {
    std::fill(column, column + p, crf_minus_infinity);
    scale[t] = crf_minus_infinity;
    return;
  }
  for (Index c = 0; c < chunks; ++c) lane(column, c) = lane(v, c) - m;
  scale[t] = base + m;
}

/// α_0 = start + e_0.
inline void crf_forward_start(const CrfTables& tab, const CrfChain& s) {
  const Index p = tab.padded;
  double* const v = s.scratch + p;
  for (Index c = 0; c < p / crf_lanes; ++c)
    lane(v, c) = lane(tab.start.data(), c) + lane(s.emit, c);
  crf_shift(v, p, 0.0, s.alpha, s.fwd_scale, 0);
}

/// α_t from α_{t−1}, 1 ≤ t < n.
inline void crf_forward_step(const CrfTables& tab, const CrfChain& s, Index t) {
  const Index k = tab.num_tags, p = tab.padded, chunks = p / crf_lanes;
  double* const v = s.scratch + p;
  const double* const previous = s.alpha + (t - 1) * p;
  double* const u = s.exp_alpha != nullptr ? s.exp_alpha + (t - 1) * p : s.scratch;
  double* const sum = s.sums != nullptr ? s.sums + t * p : v;
  for (Index c = 0; c < chunks; ++c) lane(u, c) = floored_exp(lane(previous, c));
  // S(j) = Σ_i exp α̃_{t−1}(i) · exp(A(i, j) − c_j), vectorised over the "to" tags j.
  crf_combine(tab.forward_t.data(), u, k, p, sum);
  double smallest = 1.0;
  for (Index c = 0; c < chunks; ++c) {
    smallest = std::min(smallest, (lane(sum, c) + lane(tab.no_predecessor.data(), c)).minCoeff());
    lane(v, c) = lane(sum, c).log() + lane(tab.to_max.data(), c);
  }
  if (smallest < crf_rescue_sum) {  // some sum lost its terms: log-sum-exp them directly
    for (Index j = 0; j < k; ++j) {
      if (tab.no_predecessor(j) == 0.0 && v[j] < tab.to_max(j) + std::log(crf_rescue_sum)) {
        for (Index i = 0; i < p; ++i) s.scratch[i] = previous[i] + tab.trans(i, j);
        v[j] = log_sum_exp(s.scratch, p);
      }
    }
  }
  for (Index c = 0; c < chunks; ++c) lane(v, c) += lane(s.emit + t * p, c);
  crf_shift(v, p, s.fwd_scale[t - 1], s.alpha, s.fwd_scale, t);
}

/// log Z = L_{n−1} + log Σ_j exp(α̃_{n−1}(j) + end(j)).
inline double crf_forward_end(const CrfTables& tab, const CrfChain& s) {
  const Index p = tab.padded;
  if (s.fwd_scale[s.n - 1] == crf_minus_infinity) return crf_minus_infinity;
  double* const v = s.scratch + p;
  for (Index c = 0; c < p / crf_lanes; ++c)
    lane(v, c) = lane(s.alpha + (s.n - 1) * p, c) + lane(tab.end.data(), c);
  return s.fwd_scale[s.n - 1] + log_sum_exp(v, p);
}

/// β_{n−1} = end.
inline void crf_backward_start(const CrfTables& tab, const CrfChain& s) {
  crf_shift(tab.end.data(), tab.padded, 0.0, s.beta, s.bwd_scale, s.n - 1);
}

/// β_t from β_{t+1}, 0 ≤ t < n − 1.
inline void crf_backward_step(const CrfTables& tab, const CrfChain& s, Index t) {
  const Index k = tab.num_tags, p = tab.padded, chunks = p / crf_lanes;
  double* const x = s.scratch;
  double* const y = s.scratch + p;
  double* const v = s.scratch + 2 * p;
  const double* const next = s.beta + (t + 1) * p;
  double mx = crf_minus_infinity;
  for (Index c = 0; c < chunks; ++c) {
    lane(x, c) = lane(s.emit + (t + 1) * p, c) + lane(next, c);
    mx = std::max(mx, lane(x, c).maxCoeff());
  }
  if (mx == crf_minus_infinity || s.bwd_scale[t + 1] == crf_minus_infinity) {
    crf_shift(x, p, crf_minus_infinity, s.beta, s.bwd_scale, t);
    return;
  }
  for (Index c = 0; c < chunks; ++c) {
    lane(x, c) -= mx;
    lane(y, c) = floored_exp(lane(x, c));
  }
  // S'(i) = Σ_j exp(A(i, j) − r_i) · exp(x(j)), vectorised over the "from" tags i.
  crf_combine(tab.backward.data(), y, k, p, v);
  double smallest = 1.0;
  for (Index c = 0; c < chunks; ++c) {
    smallest = std::min(smallest, (lane(v, c) + lane(tab.no_successor.data(), c)).minCoeff());
    lane(v, c) = lane(v, c).log() + lane(tab.from_max.data(), c);
  }
  if (smallest < crf_rescue_sum) {
    for (Index i = 0; i < k; ++i) {
      if (tab.no_successor(i) == 0.0 && v[i] < tab.from_max(i) + std::log(crf_rescue_sum)) {
        for (Index j = 0; j < p; ++j) y[j] = tab.trans_t(j, i) + x[j];
        v[i] = log_sum_exp(y, p);
      }
    }
  }
  crf_shift(v, p, s.bwd_scale[t + 1] + mx, s.beta, s.bwd_scale, t);
}

/// The whole forward recursion of one sentence; returns log Z (−∞ when no path is allowed).
inline double crf_forward(const CrfTables& tab, const CrfChain& s) {
  crf_forward_start(tab, s);
  for (Index t = 1; t < s.n; ++t) crf_forward_step(tab, s, t);
  return crf_forward_end(tab, s);
}

/// The whole backward recursion of one sentence (meaningful where log Z is finite).
inline void crf_backward(const CrfTables& tab, const CrfChain& s) {
  crf_backward_start(tab, s);
  for (Index t = s.n - 2; t >= 0; --t) crf_backward_step(tab, s, t);
}

/// s(y) of the path `tag_at(t)`, t < n, over emissions emit [P x n], in double.
template <class TagAt>
double crf_path_score(const CrfTables& tab, const double* emit, Index n, TagAt&& tag_at) {
  const Index p = tab.padded;
  Index prev = tag_at(0);
  double s = tab.start(prev) + emit[prev];
  for (Index t = 1; t < n; ++t) {
    const Index y = tag_at(t);
    s += tab.trans(prev, y) + emit[t * p + y];
    prev = y;
  }
  return s + tab.end(prev);
}

}  // namespace detail

template <class Scalar>
class CRF {
 public:
  Param<Scalar> transitions;
  Param<Scalar> start;
  Param<Scalar> end;
  /// Transitions, starts and ends the loss treats as impossible (see the file comment); empty (the
  /// default): none. Set with set_constraints.
  TransitionRules constraints;

  /// See the file comment. P is K padded to a multiple of 8 (detail::crf_padded).
  struct Workspace {
    detail::CrfTables tables;
    Tensor3<double> emit;               ///< (P, T, B)
    Tensor3<double> alpha, beta;        ///< (P, T, B)
    Tensor3<double> exp_alpha;          ///< (P, T, B)
    Tensor3<double> sums;               ///< (P, T, B)
    Tensor3<double> log_scales;         ///< (T, 2, B)
    Tensor3<double> vectors;            ///< (P, 3, B)
    Tensor3<double> pairs;              ///< (P, 2P, B)
    std::vector<double> log_z;          ///< (B)
    std::vector<double> sentence_loss;  ///< (B)
    Tensor2<double> sentence_grads;     ///< (K·K + 2K, B)
    Tensor1<double> grad_sum;           ///< K·K + 2K: add_gradients' sums
    Index batch_size = 0;               ///< of the batch prepare last saw
    Index max_length = 0;
    bool with_gradients = false;
  };

  CRF() = default;
  explicit CRF(Index num_tags)
      : transitions("transitions", checked(num_tags), num_tags),
        start("start", num_tags, 1),
        end("end", num_tags, 1) {}
  /// Zero scores without gradient buffers (see ShapesOnly in param.hpp).
  CRF(Index num_tags, ShapesOnly)
      : transitions("transitions", checked(num_tags), num_tags, shapes_only),
        start("start", num_tags, 1, shapes_only),
        end("end", num_tags, 1, shapes_only) {}

  Index num_tags() const { return transitions.value.rows(); }
  /// Slot order: transitions, start, end.
  ParamList<Scalar> params() { return {&transitions, &start, &end}; }

  /// Applies `rules` in training (see the file comment); rules over another number of tags throw.
  void set_constraints(const TransitionRules& rules) {
    require(rules.num_tags == num_tags(), "CRF: set_constraints: the rules are over " +
                                              std::to_string(rules.num_tags) +
                                              " tags, the CRF has " + std::to_string(num_tags()));
    constraints = rules;
  }
  void clear_constraints() { constraints = TransitionRules{}; }
  bool constrained() const { return constraints.num_tags > 0; }

  // ----- training ------------------------------------------------------------------------------

  /// Checks scores, targets and lengths (and, with constraints, that every gold path is allowed),
  /// sizes d_scores (K, B, T) and ws, and builds ws.tables from the current parameters.
  void prepare(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& targets,
               const SequenceLengths& lengths, Tensor3<Scalar>& d_scores, Workspace& ws) const {
    prepare_workspace(scores, targets, lengths, ws, "loss_backward", true);
    d_scores.resize(num_tags(), lengths.batch_size(), lengths.max_length());
  }

  /// Sentences [first, last) of a prepared batch: their d_scores columns, loss and gradient blocks
  /// in ws. Const: calls on disjoint ranges may run concurrently.
  void loss_backward_sentences(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& targets,
                               const SequenceLengths& lengths, double scale,
                               Tensor3<Scalar>& d_scores, Workspace& ws, Index first,
                               Index last) const {
    const Index batch = lengths.batch_size();
    detail::require_lazily(
        ws.with_gradients && ws.batch_size == batch && ws.max_length == lengths.max_length() &&
            ws.tables.num_tags == num_tags() && d_scores.dim(0) == num_tags() &&
            d_scores.dim(1) == batch && d_scores.dim(2) == lengths.max_length(),
        [] { return "CRF: loss_backward_sentences: call prepare for this batch first"; });
    detail::require_lazily(0 <= first && first <= last && last <= batch, [&] {
      return "CRF: loss_backward_sentences: sentences [" + std::to_string(first) + ", " +
             std::to_string(last) + ") are not inside a batch of " + std::to_string(batch);
    });
    forward_sentences(scores, lengths, ws, first, last);
    Index longest = 0;
    for (Index b = first; b < last; ++b) {
      detail::crf_backward_start(ws.tables, chain(lengths, ws, b));
      longest = std::max(longest, lengths[b]);
    }
    for (Index t = longest - 2; t >= 0; --t)
      for (Index b = first; b < last; ++b)
        if (t + 1 < lengths[b]) detail::crf_backward_step(ws.tables, chain(lengths, ws, b), t);
    for (Index b = first; b < last; ++b)
      sentence_gradients(targets, lengths, scale, d_scores, ws, b);
  }

  /// Adds every sentence's gradient block into the grads of transitions, start and end (+=; in
  /// sentence order, summed in double) and returns the batch's loss (summed in sentence order).
  double add_gradients(Workspace& ws) {
    detail::require_lazily(ws.with_gradients && ws.tables.num_tags == num_tags(),
                           [] { return "CRF: add_gradients: no prepared batch in the workspace"; });
    const Index k = num_tags(), block = k * k + 2 * k;
    ws.grad_sum.resize(block);
    auto sum = ws.grad_sum.vec();
    sum.setZero();
    double total = 0.0;
    for (Index b = 0; b < ws.batch_size; ++b) {
      sum += ws.sentence_grads.matrix().col(b);
      total += ws.sentence_loss[static_cast<std::size_t>(b)];
    }
    if (!transitions.frozen)
      transitions.grad += detail::MatrixMapXd(sum.data(), k, k).template cast<Scalar>();
    if (!start.frozen) start.grad += sum.segment(k * k, k).template cast<Scalar>();
    if (!end.frozen) end.grad += sum.segment(k * k + k, k).template cast<Scalar>();
    return total;
  }

  /// prepare, loss_backward_sentences over the whole batch, add_gradients: returns the loss.
  double loss_backward(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& targets,
                       const SequenceLengths& lengths, double scale, Tensor3<Scalar>& d_scores,
                       Workspace& ws) {
    prepare(scores, targets, lengths, d_scores, ws);
    loss_backward_sentences(scores, targets, lengths, scale, d_scores, ws, 0, lengths.batch_size());
    return add_gradients(ws);
  }

  /// scale · Σ_b (log Z_b − s_b(gold_b)), summed in sentence order; no gradient. The same value,
  /// bit for bit, as loss_backward returns.
  double loss(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& targets,
              const SequenceLengths& lengths, double scale, Workspace& ws) const {
    prepare_workspace(scores, targets, lengths, ws, "loss", false);
    forward_sentences(scores, lengths, ws, 0, lengths.batch_size());
    double total = 0.0;
    for (Index b = 0; b < lengths.batch_size(); ++b) {
      const double gold = detail::crf_path_score(ws.tables, chain(lengths, ws, b).emit, lengths[b],
                                                 [&](Index t) { return Index{targets(b, t)}; });
      total += scale * (ws.log_z[static_cast<std::size_t>(b)] - gold);
    }
    return total;
  }
  /// The same with a workspace of its own.
  double loss(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& targets,
              const SequenceLengths& lengths, double scale = 1.0) const {
    Workspace ws;
    return loss(scores, targets, lengths, scale, ws);
  }

 private:
  static Index checked(Index num_tags) {
    require(num_tags >= 1,
            "CRF: the number of tags must be at least 1 (got " + std::to_string(num_tags) + ")");
    return num_tags;
  }

  /// Sentence b's slots in the workspace (the gradient pass's only with gradients).
  detail::CrfChain chain(const SequenceLengths& lengths, Workspace& ws, Index b) const {
    const Index p = ws.tables.padded, steps = lengths.max_length(), slot = p * steps * b;
    detail::CrfChain s;
    s.n = lengths[b];
    s.emit = ws.emit.data() + slot;
    s.alpha = ws.alpha.data() + slot;
    s.fwd_scale = ws.log_scales.data() + 2 * steps * b;
    s.bwd_scale = s.fwd_scale + steps;
    s.scratch = ws.vectors.data() + 3 * p * b;
    if (ws.with_gradients) {
      s.beta = ws.beta.data() + slot;
      s.exp_alpha = ws.exp_alpha.data() + slot;
      s.sums = ws.sums.data() + slot;
    }
    return s;
  }

  /// The forward recursions of sentences [first, last), step t of each before step t + 1 (see
  /// detail::CrfChain), after loading their emissions; log Z of each into ws.log_z.
  void forward_sentences(const Tensor3<Scalar>& scores, const SequenceLengths& lengths,
                         Workspace& ws, Index first, Index last) const {
    const Index k = num_tags(), batch = lengths.batch_size();
    Index longest = 0;
    const Index p = ws.tables.padded, steps = lengths.max_length();
    for (Index b = first; b < last; ++b) {
      const detail::CrfChain s = chain(lengths, ws, b);
      // The [K x n] scores of sentence b: columns b, b + B, b + 2B, ... of scores.matrix().
      const Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>> columns(
          scores.data() + b * k, k, s.n, Eigen::OuterStride<>(batch * k));
      detail::crf_load_emissions(columns, s.n, p, ws.emit.data() + p * steps * b);
      detail::crf_forward_start(ws.tables, s);
      longest = std::max(longest, s.n);
    }
    for (Index t = 1; t < longest; ++t)
      for (Index b = first; b < last; ++b)
        if (t < lengths[b]) detail::crf_forward_step(ws.tables, chain(lengths, ws, b), t);
    for (Index b = first; b < last; ++b) {
      ws.log_z[static_cast<std::size_t>(b)] =
          detail::crf_forward_end(ws.tables, chain(lengths, ws, b));
    }
  }

  void prepare_workspace(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& targets,
                         const SequenceLengths& lengths, Workspace& ws, const char* pass,
                         bool with_gradients) const {
    detail::check_sequence_input("CRF", pass, num_tags() >= 1, "CRF(num_tags)", num_tags(), scores,
                                 lengths);
    const Index k = num_tags(), batch = lengths.batch_size(), steps = lengths.max_length();
    detail::require_lazily(targets.dim(0) == batch && targets.dim(1) == steps, [&] {
      return std::string("CRF: ") + pass + ": targets of shape " + shape_string(targets.shape()) +
             " do not match a batch of " + std::to_string(batch) + " sequences of max length " +
             std::to_string(steps);
    });
    check_targets(targets, lengths, pass);
    ws.tables.build(transitions.value, start.value, end.value,
                    constrained() ? &constraints : nullptr);
    const Index p = ws.tables.padded;
    ws.emit.resize(p, steps, batch);
    ws.alpha.resize(p, steps, batch);
    ws.log_scales.resize(steps, 2, batch);
    ws.vectors.resize(p, 3, batch);
    ws.log_z.resize(static_cast<std::size_t>(batch));
    ws.sentence_loss.resize(static_cast<std::size_t>(batch));
    if (with_gradients) {
      ws.beta.resize(p, steps, batch);
      ws.exp_alpha.resize(p, steps, batch);
      ws.sums.resize(p, steps, batch);
      ws.pairs.resize(p, 2 * p, batch);
      ws.sentence_grads.resize(k * k + 2 * k, batch);
    }
    ws.batch_size = batch;
    ws.max_length = steps;
    ws.with_gradients = with_gradients;
  }

  void check_targets(const Tensor2<std::int32_t>& targets, const SequenceLengths& lengths,
                     const char* pass) const {
    const Index k = num_tags();
    for (Index b = 0; b < lengths.batch_size(); ++b) {
      for (Index t = 0; t < lengths[b]; ++t) {
        const std::int32_t y = targets(b, t);
        detail::require_lazily(0 <= y && y < k, [&] {
          return std::string("CRF: ") + pass + ": sentence " + std::to_string(b) + ", step " +
                 std::to_string(t) + ": gold tag " + std::to_string(y) + " is outside [0, " +
                 std::to_string(k) + ")";
        });
        if (!constrained()) continue;
        const auto uy = static_cast<std::size_t>(y);
        const bool allowed =
            t == 0 ? constraints.can_start[uy] != 0 : constraints.allows(targets(b, t - 1), y);
        const bool may_end = t + 1 < lengths[b] || constraints.can_end[uy] != 0;
        detail::require_lazily(allowed && may_end, [&] {
          return std::string("CRF: ") + pass + ": sentence " + std::to_string(b) + ", step " +
                 std::to_string(t) + ": the gold path " +
                 (!allowed ? (t == 0 ? "starts with tag " + std::to_string(y)
                                     : "goes from tag " + std::to_string(targets(b, t - 1)) +
                                           " to tag " + std::to_string(y))
                           : "ends with tag " + std::to_string(y)) +
                 ", which the constraints forbid";
        });
      }
    }
  }

  /// After forward and backward: sentence b's loss, d_scores columns and gradient block.
  void sentence_gradients(const Tensor2<std::int32_t>& targets, const SequenceLengths& lengths,
                          double scale, Tensor3<Scalar>& d_scores, Workspace& ws, Index b) const {
    using detail::lane;
    const detail::CrfTables& tab = ws.tables;
    const Index k = num_tags(), p = tab.padded, chunks = p / detail::crf_lanes;
    const Index batch = lengths.batch_size(), steps = lengths.max_length();
    const detail::CrfChain s = chain(lengths, ws, b);
    const Index n = s.n;
    const auto gold = [&](Index t) { return static_cast<Index>(targets(b, t)); };
    const double log_z = ws.log_z[static_cast<std::size_t>(b)];
    ws.sentence_loss[static_cast<std::size_t>(b)] =
        scale * (log_z - detail::crf_path_score(tab, s.emit, n, gold));

    double* const q = s.scratch;                // p_t − onehot(y_t)
    double* const column_sums = s.scratch + p;  // Σ_i ξ_t(i, j) of columns computed directly
    double* const w = s.scratch + 2 * p;        // the "to" factor of ξ_t
    double* const outer = ws.pairs.data() + 2 * p * p * b;  // [P x P] Σ_t exp α̃_{t−1} w_tᵀ
    detail::MatrixMapXd direct(outer + p * p, p, p);        // ξ columns computed directly
    bool any_direct = false;
    double* const block = ws.sentence_grads.data() + (k * k + 2 * k) * b;
    for (Index t = 0; t < n; ++t) {
      const double* const bt = s.beta + t * p;
      if (t == 0) {  // p_0 = exp(α̃_0 + β̃_0 + L_0 + R_0 − log Z)
        const double offset = s.fwd_scale[0] + s.bwd_scale[0] - log_z;
        for (Index c = 0; c < chunks; ++c)
          lane(q, c) = detail::floored_exp(lane(s.alpha, c) + lane(bt, c) + offset);
      } else {
        // Pairwise marginals ξ_t(i, j) = exp α̃_{t−1}(i) · exp(A(i, j) − c_j) · w_t(j), with
        // w_t(j) = exp(c_j + e_t(j) + β̃_t(j) + L_{t−1} + R_t − log Z); and the unary ones
        // p_t(j) = Σ_i ξ_t(i, j) = w_t(j) · S_t(j), S_t the forward pass's sums.
        const double* const previous = s.alpha + (t - 1) * p;
        const double* const et = s.emit + t * p;
        const double offset = s.fwd_scale[t - 1] + s.bwd_scale[t] - log_z;
        double largest = detail::crf_minus_infinity;
        for (Index c = 0; c < chunks; ++c) {
          lane(w, c) = lane(tab.to_max.data(), c) + lane(et, c) + lane(bt, c) + offset;
          largest = std::max(largest, lane(w, c).maxCoeff());
        }
        const bool overflow = largest > detail::crf_rescue_log;
        if (overflow) {  // w would overflow the scaled product: those columns directly
          if (!any_direct) direct.setZero();
          any_direct = true;
          for (Index j = 0; j < k; ++j) {
            column_sums[j] = detail::crf_minus_infinity;
            if (w[j] <= detail::crf_rescue_log) continue;
            const double rest = et[j] + bt[j] + offset;
            double total = 0.0;
            for (Index i = 0; i < p; ++i) {
              const double xi = std::exp(previous[i] + tab.trans(i, j) + rest);
              direct(i, j) += xi;
              total += xi;
            }
            column_sums[j] = total;
            w[j] = detail::crf_minus_infinity;
          }
        }
        const double* const sums = s.sums + t * p;
        for (Index c = 0; c < chunks; ++c) {
          lane(w, c) = detail::floored_exp(lane(w, c));
          lane(q, c) = lane(w, c) * lane(sums, c);
        }
        if (overflow)
          for (Index j = 0; j < k; ++j)
            if (column_sums[j] != detail::crf_minus_infinity) q[j] = column_sums[j];
        const double* const u = s.exp_alpha + (t - 1) * p;
        for (Index j = 0; j < k; ++j) {
          const double wj = w[j];
          double* const column = outer + j * p;
          if (t == 1) {
            for (Index c = 0; c < chunks; ++c) lane(column, c) = wj * lane(u, c);
          } else {
            for (Index c = 0; c < chunks; ++c) lane(column, c) += wj * lane(u, c);
          }
        }
      }
      // The emission gradient scale · (p − onehot(gold)); the start and end ones at the ends.
      q[gold(t)] -= 1.0;
      MatrixMap<Scalar>(d_scores.data() + k * (b + batch * t), k, 1) =
          (scale * detail::MatrixMapXd(q, k, 1)).template cast<Scalar>();
      if (t == 0) detail::ArrayMapXd(block + k * k, k) = scale * detail::ArrayMapXd(q, k);
      if (t == n - 1) detail::ArrayMapXd(block + k * k + k, k) = scale * detail::ArrayMapXd(q, k);
    }
    detail::MatrixMapXd pairwise(block, k, k);
    if (n > 1) {
      pairwise = tab.forward_t.topLeftCorner(k, k).transpose().cwiseProduct(
          detail::MatrixMapXd(outer, p, p).topLeftCorner(k, k));
    } else {
      pairwise.setZero();
    }
    if (any_direct) pairwise += direct.topLeftCorner(k, k);
    for (Index t = 1; t < n; ++t) pairwise(gold(t - 1), gold(t)) -= 1.0;
    pairwise *= scale;
    for (Index t = n; t < steps; ++t)
      MatrixMap<Scalar>(d_scores.data() + k * (b + batch * t), k, 1).setZero();
  }
};

// ----- decoding ----------------------------------------------------------------------------------

/// A tag path and its score s(y) (its probability is exp(score − log Z),
/// CrfDecoder::log_partition).
struct ScoredPath {
  std::vector<std::int32_t> tags;
  double score = 0.0;
};

/// An entity of a decoded path and the probability, under the CRF, that the sentence contains it.
struct EntityConfidence {
  Entity entity;
  double confidence = 0.0;
};

/// Decodes one sentence at a time with a CRF's current parameters, optionally under the transition
/// rules of a tag scheme (forbidden transitions, starts and ends are −∞). Reusable: once its
/// buffers fit the longest sentence seen, viterbi, nbest, log_partition allocate nothing (nbest
/// reuses the vectors of the `paths` it is given). Not thread-safe: one decoder per thread.
///
/// The scores of a sentence are any [K x ≥length] Eigen expression; the first `length` columns are
/// read. The decoder keeps a copy of the parameters it prepared its tables from and rebuilds them
/// when the CRF's values differ, so it never decodes with stale parameters.
///
/// - viterbi: the best path (max-sum dynamic programming, exact, in double). The forward pass
///   keeps only the best score of each tag (a vectorised max over predecessors); the backtrack
///   finds each predecessor again by a scan of K sums that are bit-identical to the forward
///   pass's. Ties go to the lowest tag id: the lowest last tag, then the lowest predecessor.
/// - nbest: the k best distinct paths with their scores, best first; exact. List Viterbi: for every
///   step t and tag j it keeps the k best partial paths ending in j at t (each extends one of the k
///   best of its predecessor tag, since a path outside those k could be swapped for k better ones
///   with the same suffix), merging the K sorted lists of the predecessors; the k best complete
///   paths are the k best over last tags. Fewer than k paths when fewer exist (with rules: fewer
///   allowed ones). Among equal scores the lower tag (last tag, then predecessor) comes first;
///   no other order among ties is promised.
/// - log_partition, marginals: log Z and the per-token probabilities p_t(j) by forward–backward
///   (as in training, file comment). With rules, Z sums the allowed paths only, so probabilities
///   are those of the distribution Viterbi's constrained output comes from, and they sum to 1
///   over well-formed tag sequences.
/// - entity_confidences / entity_probability: the probability that the sentence contains exactly
///   an entity span [begin, end) of type X: the total probability of the paths whose tags on
///   [begin, end) are the span's tags and whose tag at `end` (if any) does not continue it:
///     IOBES  S-X, or B-X I-X ... E-X; nothing after E-/S- continues an entity;
///     IOB2   B-X I-X ...; the next tag must not be I-X (or E-X);
///     IOB1   I-X I-X ... after a tag that is not B-X/I-X (or at the start), or B-X I-X ... after
///            B-X/I-X (what encode_entities writes); the next tag must not be I-X (or E-X).
///   Computed from α, β and one pass along the span, O(length of span + K). With rules applied this
///   is exactly the probability that decode_entities of the path includes the entity (allowed
///   paths are well-formed); without rules, paths that write the entity in another way (I-X after
///   O, say) are not counted.
/// When the rules allow no path of the sentence's length at all (a tag set in which no tag may
/// start or end a sentence), every call decodes without them, as ConstrainedDecoder falls back.
template <class Scalar>
class CrfDecoder {
 public:
  CrfDecoder() = default;
  explicit CrfDecoder(const TransitionRules& rules) { set_rules(rules); }

  void set_rules(const TransitionRules& rules) {
    rules_ = rules;
    prepared_ = false;
  }
  void clear_rules() {
    rules_ = TransitionRules{};
    prepared_ = false;
  }
  bool constrained() const { return rules_.num_tags > 0; }

  /// Writes the best path of the first `length` columns of `scores` into `path`; returns s(path).
  template <class Derived>
  double viterbi(const CRF<Scalar>& crf, const Eigen::MatrixBase<Derived>& scores, Index length,
                 std::vector<std::int32_t>& path) {
    prepare(crf, scores, length, "viterbi");
    const double best = run_viterbi(tables_, length, path);
    if (best != detail::crf_minus_infinity || !constrained()) return best;
    return run_viterbi(unconstrained_tables(), length, path);
  }

  /// The k best distinct paths, best first, into `paths` (resized to min(k, number of paths)).
  template <class Derived>
  void nbest(const CRF<Scalar>& crf, const Eigen::MatrixBase<Derived>& scores, Index length,
             Index k, std::vector<ScoredPath>& paths) {
    detail::require_lazily(k >= 1, [&] {
      return "CrfDecoder: nbest: k must be at least 1 (got " + std::to_string(k) + ")";
    });
    prepare(crf, scores, length, "nbest");
    // No more than the K^length paths there are: a huge k must not size the lists by itself.
    Index cap = 1;
    for (Index t = 0; t < length && cap < k; ++t)
      cap = cap > k / crf.num_tags() ? k : cap * crf.num_tags();  // saturating: no overflow
    k = std::min(k, cap);
    run_nbest(tables_, length, k, paths);
    if (paths.empty() && constrained()) run_nbest(unconstrained_tables(), length, k, paths);
  }

  /// log Z of the sentence (under the rules).
  template <class Derived>
  double log_partition(const CRF<Scalar>& crf, const Eigen::MatrixBase<Derived>& scores,
                       Index length) {
    prepare(crf, scores, length, "log_partition");
    forward_backward();
    return log_z_;
  }

  /// The unary marginals p_t(j) into `out`, resized to [K x length].
  template <class Derived>
  void marginals(const CRF<Scalar>& crf, const Eigen::MatrixBase<Derived>& scores, Index length,
                 Matrix<double>& out) {
    prepare(crf, scores, length, "marginals");
    forward_backward();
    const Index k = tables().num_tags;
    out.resize(k, length);
    for (Index t = 0; t < length; ++t) {
      const double offset = at(fwd_scale_, t) + at(bwd_scale_, t) - log_z_;
      out.col(t) = ((alpha(t).head(k) + beta(t).head(k)) + offset).exp().matrix();
    }
  }

  /// The entities of `path` (read with decode_entities in `scheme`; `tags` names each tag id) and
  /// the confidence of each (see the class comment). Throws std::invalid_argument when a tag of
  /// the path is not valid in the scheme.
  template <class Derived>
  std::vector<EntityConfidence> entity_confidences(const CRF<Scalar>& crf,
                                                   const Eigen::MatrixBase<Derived>& scores,
                                                   Index length,
                                                   const std::vector<std::int32_t>& path,
                                                   const std::vector<std::string>& tags,
                                                   TagScheme scheme) {
    check_tag_names(crf, tags, "entity_confidences");
    require(static_cast<Index>(path.size()) == length,
            "CrfDecoder: entity_confidences: the path has " + std::to_string(path.size()) +
                " tags for a sentence of length " + std::to_string(length));
    std::vector<std::string> names;
    names.reserve(path.size());
    for (const std::int32_t id : path) {
      require(
          0 <= id && id < static_cast<std::int32_t>(tags.size()),
          "CrfDecoder: entity_confidences: tag id " + std::to_string(id) + " outside the tag set");
      names.push_back(tags[static_cast<std::size_t>(id)]);
    }
    std::vector<Entity> entities = decode_entities(names, scheme);
    prepare(crf, scores, length, "entity_confidences");
    forward_backward();
    std::vector<EntityConfidence> result;
    for (Entity& e : entities) {
      const double confidence = span_probability(e, tags, scheme);
      result.push_back(EntityConfidence{std::move(e), confidence});
    }
    return result;
  }

  /// The probability that the sentence contains `entity` (class comment), under the rules.
  template <class Derived>
  double entity_probability(const CRF<Scalar>& crf, const Eigen::MatrixBase<Derived>& scores,
                            Index length, const Entity& entity,
                            const std::vector<std::string>& tags, TagScheme scheme) {
    check_tag_names(crf, tags, "entity_probability");
    require(entity.begin < entity.end && entity.end <= static_cast<std::size_t>(length),
            "CrfDecoder: entity_probability: span [" + std::to_string(entity.begin) + ", " +
                std::to_string(entity.end) + ") is empty or outside a sentence of length " +
                std::to_string(length));
    prepare(crf, scores, length, "entity_probability");
    forward_backward();
    return span_probability(entity, tags, scheme);
  }

 private:
  using ArrayMapXd = detail::ArrayMapXd;

  /// One entry of an n-best list: its score and where it came from (the predecessor tag and its
  /// rank in that tag's list at the step before; -1 at step 0).
  struct Entry {
    double score;
    std::int32_t tag, rank;
  };

  static double at(const AlignedVector<double>& v, Index i) {
    return v[static_cast<std::size_t>(i)];
  }

  /// Checks the arguments, (re)builds the tables if the CRF's parameters or the rules changed, and
  /// loads the sentence's emissions, padded, into emit_.
  template <class Derived>
  void prepare(const CRF<Scalar>& crf, const Eigen::MatrixBase<Derived>& scores, Index length,
               const char* who) {
    const Index k = crf.num_tags();
    detail::require_lazily(k >= 1,
                           [&] { return std::string("CrfDecoder: ") + who + ": empty CRF"; });
    detail::require_lazily(scores.rows() == k, [&] {
      return std::string("CrfDecoder: ") + who + ": scores have " + std::to_string(scores.rows()) +
             " rows for a CRF of " + std::to_string(k) + " tags";
    });
    detail::require_lazily(length >= 1 && length <= scores.cols(), [&] {
      return std::string("CrfDecoder: ") + who + ": length " + std::to_string(length) +
             " is not in [1, " + std::to_string(scores.cols()) + "] (the columns of scores)";
    });
    detail::require_lazily(!constrained() || rules_.num_tags == k, [&] {
      return std::string("CrfDecoder: ") + who + ": the rules are over " +
             std::to_string(rules_.num_tags) + " tags, the CRF has " + std::to_string(k);
    });
    const bool same = prepared_ && values_.transitions.size() == crf.transitions.value.size() &&
                      values_.transitions == crf.transitions.value &&
                      values_.start == crf.start.value && values_.end == crf.end.value;
    if (!same) {
      values_.transitions = crf.transitions.value;
      values_.start = crf.start.value;
      values_.end = crf.end.value;
      tables_.build(values_.transitions, values_.start, values_.end,
                    constrained() ? &rules_ : nullptr);
      prepared_ = true;
    }
    free_ = false;
    length_ = length;
    const Index p = tables_.padded;
    emit_.resize(static_cast<std::size_t>(p * length));
    detail::crf_load_emissions(scores, length, p, emit_.data());
  }

  void check_tag_names(const CRF<Scalar>& crf, const std::vector<std::string>& tags,
                       const char* who) const {
    require(static_cast<Index>(tags.size()) == crf.num_tags(),
            std::string("CrfDecoder: ") + who + ": " + std::to_string(tags.size()) +
                " tag names for a CRF of " + std::to_string(crf.num_tags()) + " tags");
  }

  /// The tables without rules, for the fallback; the calls after prepare then read these.
  const detail::CrfTables& unconstrained_tables() {
    free_tables_.build(values_.transitions, values_.start, values_.end, nullptr);
    free_ = true;
    return free_tables_;
  }
  /// The tables of the current call: with the rules, or without them after a fallback.
  const detail::CrfTables& tables() const { return free_ ? free_tables_ : tables_; }

  double emit(Index j, Index t) const {
    return emit_[static_cast<std::size_t>(t * tables().padded + j)];
  }
  ArrayMapXd alpha(Index t) { return {alpha_.data() + t * tables().padded, tables().padded}; }
  ArrayMapXd beta(Index t) { return {beta_.data() + t * tables().padded, tables().padded}; }

  double run_viterbi(const detail::CrfTables& tab, Index length, std::vector<std::int32_t>& path) {
    using detail::lane;
    const Index k = tab.num_tags, p = tab.padded, chunks = p / detail::crf_lanes;
    delta_.resize(static_cast<std::size_t>(p * length));
    double* const delta = delta_.data();
    for (Index c = 0; c < chunks; ++c)
      lane(delta, c) = lane(tab.start.data(), c) + lane(emit_.data(), c);
    // δ_t(j) = e_t(j) + max_i (δ_{t−1}(i) + A(i, j)), vectorised over j.
    for (Index t = 1; t < length; ++t) {
      double* const current = delta + t * p;
      detail::crf_max_combine(tab.trans_t.data(), delta + (t - 1) * p, k, p, current);
      for (Index c = 0; c < chunks; ++c) lane(current, c) += lane(emit_.data() + t * p, c);
    }
    double best = detail::crf_minus_infinity;
    Index last = -1;
    for (Index j = 0; j < k; ++j) {
      const double s = delta[(length - 1) * p + j] + tab.end(j);
      if (s > best) {
        best = s;
        last = j;
      }
    }
    if (last < 0) return best;
    path.resize(static_cast<std::size_t>(length));
    for (Index t = length - 1; t >= 0; --t) {
      path[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(last);
      if (t == 0) break;
      // The predecessor: the lowest i whose δ_{t−1}(i) + A(i, last) is the maximum the forward
      // pass found (the same double sums, so the comparison is exact).
      const double* const previous = delta + (t - 1) * p;
      double top = detail::crf_minus_infinity;
      Index arg = -1;
      for (Index i = 0; i < k; ++i) {
        const double s = previous[i] + tab.trans_t(last, i);
        if (s > top) {
          top = s;
          arg = i;
        }
      }
      last = arg;
    }
    return best;
  }

  void run_nbest(const detail::CrfTables& tab, Index length, Index k_best,
                 std::vector<ScoredPath>& paths) {
    const Index k = tab.num_tags, p = tab.padded;
    const auto list = [&](Index t, Index j) {
      return lists_.data() + static_cast<std::size_t>((t * k + j) * k_best);
    };
    const auto count = [&](Index t, Index j) -> std::int32_t& {
      return counts_[static_cast<std::size_t>(t * k + j)];
    };
    lists_.resize(static_cast<std::size_t>(length * k * k_best));
    counts_.resize(static_cast<std::size_t>(length * k));
    heads_.resize(static_cast<std::size_t>(k));
    for (Index j = 0; j < k; ++j) {
      const double s = tab.start(j) + emit(j, 0);
      count(0, j) = s == detail::crf_minus_infinity ? 0 : 1;
      list(0, j)[0] = Entry{s, -1, -1};
    }
    // The k best of K sorted lists, each shifted by bonus(i): repeatedly the best head (the lowest
    // i among equal heads), then that list's next entry. `size(i)` entries in list i, `add(entry)`.
    const auto merge = [&](auto&& size, auto&& entries, auto&& bonus, auto&& add) {
      std::fill(heads_.begin(), heads_.end(), 0);
      for (Index taken = 0; taken < k_best; ++taken) {
        double top = detail::crf_minus_infinity;
        Index arg = -1;
        for (Index i = 0; i < k; ++i) {
          const std::int32_t h = heads_[static_cast<std::size_t>(i)];
          if (h >= size(i)) continue;
          const double s = entries(i)[h].score + bonus(i);
          if (s > top) {
            top = s;
            arg = i;
          }
        }
        if (arg < 0) return;
        add(Entry{top, static_cast<std::int32_t>(arg), heads_[static_cast<std::size_t>(arg)]++});
      }
    };
    for (Index t = 1; t < length; ++t) {
      for (Index j = 0; j < k; ++j) {
        Entry* const out = list(t, j);
        std::int32_t& n = count(t, j);
        n = 0;
        const double e = emit(j, t);
        merge([&](Index i) { return count(t - 1, i); }, [&](Index i) { return list(t - 1, i); },
              [&](Index i) { return tab.trans(i, j); },
              [&](Entry entry) {
                entry.score += e;
                out[n++] = entry;
              });
      }
    }
    std::size_t found = 0;
    paths.resize(static_cast<std::size_t>(k_best));
    merge([&](Index j) { return count(length - 1, j); },
          [&](Index j) { return list(length - 1, j); }, [&](Index j) { return tab.end(j); },
          [&](Entry entry) {
            ScoredPath& out = paths[found++];
            out.score = entry.score;
            out.tags.resize(static_cast<std::size_t>(length));
            std::int32_t tag = entry.tag, rank = entry.rank;
            for (Index t = length - 1; t >= 0; --t) {
              out.tags[static_cast<std::size_t>(t)] = tag;
              const Entry& from = list(t, tag)[rank];
              tag = from.tag;
              rank = from.rank;
            }
          });
    paths.resize(found);
    (void)p;
  }

  /// Forward–backward of the prepared sentence into alpha_, beta_, the scales and log_z_, under
  /// the rules (without them when the rules allow no path).
  void forward_backward() {
    const Index p = tables_.padded, length = length_;
    alpha_.resize(static_cast<std::size_t>(p * length));
    beta_.resize(static_cast<std::size_t>(p * length));
    fwd_scale_.resize(static_cast<std::size_t>(length));
    bwd_scale_.resize(static_cast<std::size_t>(length));
    scratch_.resize(static_cast<std::size_t>(3 * p));
    detail::CrfChain s;
    s.n = length;
    s.emit = emit_.data();
    s.alpha = alpha_.data();
    s.fwd_scale = fwd_scale_.data();
    s.beta = beta_.data();
    s.bwd_scale = bwd_scale_.data();
    s.scratch = scratch_.data();
    const auto run = [&](const detail::CrfTables& tab) {
      log_z_ = detail::crf_forward(tab, s);
      detail::crf_backward(tab, s);
    };
    run(tables_);
    if (log_z_ == detail::crf_minus_infinity && constrained()) run(unconstrained_tables());
  }

  /// log of the total probability of the paths with tags ids[0..] on [begin, end), a tag at
  /// begin − 1 allowed by `previous` (null: any; with `needs_previous`, begin 0 does not qualify)
  /// and a tag at `end` allowed by `next` (null: any). After forward_backward.
  double span_log_probability(const std::vector<Index>& ids, Index begin, Index end,
                              const std::vector<std::uint8_t>* previous, bool needs_previous,
                              const std::vector<std::uint8_t>* next) {
    const detail::CrfTables& tab = tables();
    const Index k = tab.num_tags;
    const Index first = ids.front(), last = ids.back();
    double* const terms = scratch_.data();
    double lp = 0.0;
    if (begin == 0) {
      if (needs_previous) return detail::crf_minus_infinity;
      lp = tab.start(first) + emit(first, 0);
    } else if (previous == nullptr) {
      lp = alpha(begin)(first) + at(fwd_scale_, begin);
    } else {
      for (Index i = 0; i < k; ++i) {
        terms[i] = (*previous)[static_cast<std::size_t>(i)]
                       ? alpha(begin - 1)(i) + tab.trans(i, first)
                       : detail::crf_minus_infinity;
      }
      lp = at(fwd_scale_, begin - 1) + detail::log_sum_exp(terms, k) + emit(first, begin);
    }
    for (Index t = begin + 1; t < end; ++t) {
      const Index y = ids[static_cast<std::size_t>(t - begin)];
      lp += tab.trans(ids[static_cast<std::size_t>(t - begin - 1)], y) + emit(y, t);
    }
    if (end == length_) {
      lp += tab.end(last);
    } else if (next == nullptr) {
      lp += beta(end - 1)(last) + at(bwd_scale_, end - 1);
    } else {
      for (Index j = 0; j < k; ++j) {
        terms[j] = (*next)[static_cast<std::size_t>(j)]
                       ? tab.trans(last, j) + emit(j, end) + beta(end)(j)
                       : detail::crf_minus_infinity;
      }
      lp += at(bwd_scale_, end) + detail::log_sum_exp(terms, k);
    }
    return lp - log_z_;
  }

  /// The confidence of `entity` (class comment), after forward_backward.
  double span_probability(const Entity& entity, const std::vector<std::string>& tags,
                          TagScheme scheme) {
    const auto find = [&](const std::string& name) -> Index {
      for (std::size_t i = 0; i < tags.size(); ++i)
        if (tags[i] == name) return static_cast<Index>(i);
      return -1;
    };
    const Index begin = static_cast<Index>(entity.begin), end = static_cast<Index>(entity.end);
    const Index span = end - begin;
    const std::string& x = entity.type;
    // Tags that do not continue an open X entity, and those that leave one open (and the rest).
    std::vector<std::uint8_t> not_continuing(tags.size(), 1), open_x(tags.size(), 0),
        not_open_x(tags.size(), 1);
    for (std::size_t i = 0; i < tags.size(); ++i) {
      const auto parts = split_tag(tags[i]);
      if (!parts || parts->type != x) continue;
      if (parts->prefix == 'I' || parts->prefix == 'E') not_continuing[i] = 0;
      if (parts->prefix == 'B' || parts->prefix == 'I') {
        open_x[i] = 1;
        not_open_x[i] = 0;
      }
    }
    std::vector<Index> ids(static_cast<std::size_t>(span));
    // The span written with `first` at begin, `inside` within and `final` at the end (span > 1);
    // false when the tag set lacks one of them (the span then has probability 0).
    const auto spell = [&](const std::string& first, const std::string& inside,
                           const std::string& final) {
      for (Index t = 0; t < span; ++t) {
        const std::string& name = t == 0 ? first : (t + 1 == span ? final : inside);
        ids[static_cast<std::size_t>(t)] = find(name);
        if (ids[static_cast<std::size_t>(t)] < 0) return false;
      }
      return true;
    };
    double log_p = detail::crf_minus_infinity;
    const auto add = [&](double term) {
      const double m = std::max(log_p, term);
      if (m != detail::crf_minus_infinity)
        log_p = m + std::log(std::exp(log_p - m) + std::exp(term - m));
    };
    switch (scheme) {
      case TagScheme::IOBES:
        if (span == 1 ? spell("S-" + x, "", "S-" + x) : spell("B-" + x, "I-" + x, "E-" + x))
          add(span_log_probability(ids, begin, end, nullptr, false, nullptr));
        break;
      case TagScheme::IOB2:
        if (spell("B-" + x, "I-" + x, "I-" + x))
          add(span_log_probability(ids, begin, end, nullptr, false, &not_continuing));
        break;
      case TagScheme::IOB1:
        if (spell("I-" + x, "I-" + x, "I-" + x))
          add(span_log_probability(ids, begin, end, &not_open_x, false, &not_continuing));
        if (spell("B-" + x, "I-" + x, "I-" + x))
          add(span_log_probability(ids, begin, end, &open_x, true, &not_continuing));
        break;
    }
    return std::exp(log_p);
  }

  struct Values {
    Matrix<Scalar> transitions, start, end;
  };

  TransitionRules rules_;
  bool prepared_ = false;
  Values values_;  ///< the parameters tables_ was built from
  detail::CrfTables tables_, free_tables_;
  bool free_ = false;  ///< the current call fell back to free_tables_ (no rules)
  Index length_ = 0;
  AlignedVector<double> emit_;   ///< [P x length]
  AlignedVector<double> delta_;  ///< Viterbi: [P x length] best score of a path ending in each tag
  std::vector<Entry> lists_;  ///< n-best: [(t * K + j) * k + r] the r-th best path ending in j at t
  std::vector<std::int32_t> counts_, heads_;
  AlignedVector<double> alpha_, beta_, fwd_scale_, bwd_scale_, scratch_;  ///< forward–backward
  double log_z_ = 0.0;
};

}  // namespace lstmner
