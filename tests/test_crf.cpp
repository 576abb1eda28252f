// The CRF output layer (crf.hpp) against brute force: every tag sequence of tiny cases enumerated,
// for log Z, the marginals, Viterbi, n-best and entity confidences; its gradient against finite
// differences; bit-identical results whatever the cut of a batch into sentence ranges; stability
// for huge scores; and no heap allocation once the workspace is sized (counting_allocator.cpp).

#include <lstmner/crf.hpp>
#include <lstmner/gradcheck.hpp>
#include <lstmner/random.hpp>

#include "counting_allocator.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

using namespace lstmner;

namespace {

using StridedMap = Eigen::Map<const Matrix<double>, 0, Eigen::OuterStride<>>;

/// A tag set, its scheme and its rules, for the constrained cases.
struct TagSet {
  std::vector<std::string> tags;
  TagScheme scheme;
  TransitionRules rules;
  TagSet(std::vector<std::string> t, TagScheme s)
      : tags(std::move(t)), scheme(s), rules(make_transition_rules(tags, s)) {}
  Index size() const { return static_cast<Index>(tags.size()); }
};

/// Tag sets of 3, 4 and 5 tags in each scheme.
std::vector<TagSet> small_tag_sets() {
  return {
      TagSet({"O", "B-X", "I-X"}, TagScheme::IOB2),
      TagSet({"O", "B-X", "I-X", "B-Y"}, TagScheme::IOB2),
      TagSet({"O", "B-X", "I-X", "B-Y", "I-Y"}, TagScheme::IOB2),
      TagSet({"O", "B-X", "E-X", "S-X"}, TagScheme::IOBES),
      TagSet({"O", "B-X", "I-X", "E-X", "S-X"}, TagScheme::IOBES),
      TagSet({"O", "I-X", "B-X", "I-Y"}, TagScheme::IOB1),
  };
}

/// Fills every entry of m uniformly in [-limit, limit).
template <class M>
void fill_uniform(M&& m, double limit, Rng& rng) {
  for (Index j = 0; j < m.cols(); ++j)
    for (Index i = 0; i < m.rows(); ++i)
      m(i, j) = static_cast<typename std::decay_t<M>::Scalar>(rng.uniform(-limit, limit));
}

template <class Scalar>
void randomize(CRF<Scalar>& crf, double limit, Rng& rng) {
  fill_uniform(crf.transitions.value, limit, rng);
  fill_uniform(crf.start.value, limit, rng);
  fill_uniform(crf.end.value, limit, rng);
}

/// Scores (K, B, T) uniform in ±limit at real steps and `pad` at padded steps.
template <class Scalar>
Tensor3<Scalar> random_scores(Index k, const SequenceLengths& lengths, double limit, Rng& rng,
                              double pad = 0.0) {
  Tensor3<Scalar> s(typename Tensor3<Scalar>::Shape{k, lengths.batch_size(), lengths.max_length()});
  for (Index t = 0; t < lengths.max_length(); ++t)
    for (Index b = 0; b < lengths.batch_size(); ++b)
      for (Index j = 0; j < k; ++j)
        s(j, b, t) = static_cast<Scalar>(lengths.active(t, b) ? rng.uniform(-limit, limit) : pad);
  return s;
}

/// The [K x n] scores of sentence b, as Tagger::predict_batch maps them.
template <class Scalar>
Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>> sentence_scores(
    const Tensor3<Scalar>& scores, Index b, Index n) {
  const Index k = scores.dim(0), batch = scores.dim(1);
  return {scores.data() + b * k, k, n, Eigen::OuterStride<>(batch * k)};
}

bool path_allowed(const std::vector<std::int32_t>& y, const TransitionRules* rules) {
  if (rules == nullptr) return true;
  if (!rules->can_start[static_cast<std::size_t>(y.front())]) return false;
  if (!rules->can_end[static_cast<std::size_t>(y.back())]) return false;
  for (std::size_t t = 1; t < y.size(); ++t)
    if (!rules->allows(y[t - 1], y[t])) return false;
  return true;
}

/// Every tag sequence of one sentence, with its score, computed term by term.
struct Enumeration {
  Index k = 0, n = 0;
  std::vector<std::vector<std::int32_t>> paths;  ///< allowed paths only, best first
  std::vector<double> scores;
  double log_z = 0.0;
  Matrix<double> unary;     ///< [K x n]
  Matrix<double> pairwise;  ///< [K x K], summed over t = 1..n-1

  double probability(std::size_t p) const { return std::exp(scores[p] - log_z); }
};

Enumeration enumerate(const Matrix<double>& transitions, const Matrix<double>& start,
                      const Matrix<double>& end, const Matrix<double>& emit, Index n,
                      const TransitionRules* rules) {
  Enumeration e;
  e.k = transitions.rows();
  e.n = n;
  std::vector<std::int32_t> y(static_cast<std::size_t>(n), 0);
  while (true) {
    if (path_allowed(y, rules)) {
      double s = start(y[0], 0) + end(y.back(), 0);
      for (Index t = 0; t < n; ++t) s += emit(y[static_cast<std::size_t>(t)], t);
      for (std::size_t t = 1; t < y.size(); ++t) s += transitions(y[t - 1], y[t]);
      e.paths.push_back(y);
      e.scores.push_back(s);
    }
    std::size_t pos = 0;  // the next sequence, as a base-K counter
    while (pos < y.size() && ++y[pos] == e.k) y[pos++] = 0;
    if (pos == y.size()) break;
  }
  std::vector<std::size_t> order(e.paths.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return e.scores[a] > e.scores[b]; });
  auto paths = e.paths;
  auto scores = e.scores;
  for (std::size_t i = 0; i < order.size(); ++i) {
    e.paths[i] = paths[order[i]];
    e.scores[i] = scores[order[i]];
  }
  const double max = e.scores.front();
  double sum = 0.0;
  for (double s : e.scores) sum += std::exp(s - max);
  e.log_z = max + std::log(sum);
  e.unary = Matrix<double>::Zero(e.k, n);
  e.pairwise = Matrix<double>::Zero(e.k, e.k);
  for (std::size_t p = 0; p < e.paths.size(); ++p) {
    const double prob = e.probability(p);
    const auto& path = e.paths[p];
    for (Index t = 0; t < n; ++t) e.unary(path[static_cast<std::size_t>(t)], t) += prob;
    for (std::size_t t = 1; t < path.size(); ++t) e.pairwise(path[t - 1], path[t]) += prob;
  }
  return e;
}

template <class Scalar>
Enumeration enumerate(const CRF<Scalar>& crf, const Matrix<double>& emit, Index n,
                      const TransitionRules* rules) {
  return enumerate(crf.transitions.value.template cast<double>(),
                   crf.start.value.template cast<double>(), crf.end.value.template cast<double>(),
                   emit, n, rules);
}

/// Gold tags: for each sentence an allowed path drawn at random; -7 at padded steps.
Tensor2<std::int32_t> random_gold(Index k, const SequenceLengths& lengths,
                                  const TransitionRules* rules, Rng& rng) {
  Tensor2<std::int32_t> gold(
      Tensor2<std::int32_t>::Shape{lengths.batch_size(), lengths.max_length()});
  gold.setConstant(-7);
  for (Index b = 0; b < lengths.batch_size(); ++b) {
    // A random walk over the allowed transitions; the last tag also one that may end.
    std::vector<std::int32_t> y(static_cast<std::size_t>(lengths[b]));
    std::vector<std::int32_t> choices;
    for (std::size_t t = 0; t < y.size(); ++t) {
      choices.clear();
      for (std::int32_t j = 0; j < static_cast<std::int32_t>(k); ++j) {
        const auto uj = static_cast<std::size_t>(j);
        const bool follows =
            rules == nullptr || (t == 0 ? rules->can_start[uj] != 0 : rules->allows(y[t - 1], j));
        const bool ends = rules == nullptr || t + 1 < y.size() || rules->can_end[uj] != 0;
        if (follows && ends) choices.push_back(j);
      }
      REQUIRE(!choices.empty());  // true of every tag set these tests use
      y[t] = choices[static_cast<std::size_t>(rng.below(choices.size()))];
    }
    REQUIRE(path_allowed(y, rules));
    for (Index t = 0; t < lengths[b]; ++t) gold(b, t) = y[static_cast<std::size_t>(t)];
  }
  return gold;
}

/// A gradient check that fails on NaN and on checking nothing, and demands nonzero gradients.
void require_gradient(const GradCheckResult& r, const double* analytic, Index n,
                      double tolerance = 1e-6) {
  INFO(r.name << ": worst entry " << r.worst_index << ", analytic " << r.analytic_at_worst
              << ", numeric " << r.numeric_at_worst << ", relative error " << r.max_relative_error
              << ", checked " << r.checked);
  REQUIRE(r.checked > 0);
  REQUIRE(std::isfinite(r.max_relative_error));
  REQUIRE(std::isfinite(r.analytic_at_worst));
  REQUIRE(std::isfinite(r.numeric_at_worst));
  REQUIRE(r.max_relative_error <= tolerance);
  Index nonzero = 0;
  for (Index i = 0; i < n; ++i) {
    REQUIRE(std::isfinite(analytic[i]));
    nonzero += std::abs(analytic[i]) > 1e-8;
  }
  REQUIRE(nonzero > 0);
}

}  // namespace

// ----- hand-computed cases
// ------------------------------------------------------------------------

TEST_CASE("CRF: with all scores zero every path is equally likely") {
  // K^n paths of score 0: log Z = n log K, every marginal 1/K, loss n log K per sentence.
  const Index k = 4;
  CRF<double> crf(k);
  const SequenceLengths lengths({3, 1, 2});
  Tensor3<double> scores(Tensor3<double>::Shape{k, 3, 3});
  scores.setZero();
  Rng rng(5);
  const auto gold = random_gold(k, lengths, nullptr, rng);
  CRF<double>::Workspace ws;
  Tensor3<double> d_scores;
  const double loss = crf.loss_backward(scores, gold, lengths, 1.0, d_scores, ws);
  CHECK(loss == Approx(6.0 * std::log(4.0)).epsilon(1e-14));
  for (Index b = 0; b < 3; ++b) {
    CHECK(ws.sentence_loss[static_cast<std::size_t>(b)] ==
          Approx(static_cast<double>(lengths[b]) * std::log(4.0)).epsilon(1e-14));
    for (Index t = 0; t < 3; ++t)
      for (Index j = 0; j < k; ++j) {
        const double expected = t < lengths[b] ? 0.25 - (gold(b, t) == j ? 1.0 : 0.0) : 0.0;
        CHECK(d_scores(j, b, t) == Approx(expected).margin(1e-15));
      }
  }
  // Every pair (i, j) has marginal 1/16 at each of the 2 + 0 + 1 transitions of the batch.
  const Matrix<double> expected_pairs = Matrix<double>::Constant(k, k, 3.0 / 16.0);
  Matrix<double> counts = Matrix<double>::Zero(k, k);
  for (Index b = 0; b < 3; ++b)
    for (Index t = 1; t < lengths[b]; ++t) counts(gold(b, t - 1), gold(b, t)) += 1.0;
  CHECK((crf.transitions.grad - (expected_pairs - counts)).cwiseAbs().maxCoeff() < 1e-15);
}

TEST_CASE("CRF: a two-tag, two-step case by hand") {
  // Paths (y0, y1) with start s, emissions e, transitions A, end f:
  //   s(y) = s[y0] + e0[y0] + A[y0][y1] + e1[y1] + f[y1]
  CRF<double> crf(2);
  crf.transitions.value << 0.5, -1.0, 2.0, 0.0;
  crf.start.value << 0.1, -0.2;
  crf.end.value << 0.0, 0.3;
  Tensor3<double> scores(Tensor3<double>::Shape{2, 1, 2});
  scores(0, 0, 0) = 1.0;
  scores(1, 0, 0) = 0.0;
  scores(0, 0, 1) = -0.5;
  scores(1, 0, 1) = 0.25;
  const double s00 = 0.1 + 1.0 + 0.5 - 0.5 + 0.0;
  const double s01 = 0.1 + 1.0 - 1.0 + 0.25 + 0.3;
  const double s10 = -0.2 + 0.0 + 2.0 - 0.5 + 0.0;
  const double s11 = -0.2 + 0.0 + 0.0 + 0.25 + 0.3;
  const double z = std::exp(s00) + std::exp(s01) + std::exp(s10) + std::exp(s11);
  Tensor2<std::int32_t> gold(Tensor2<std::int32_t>::Shape{1, 2});
  gold(0, 0) = 1;
  gold(0, 1) = 0;
  const SequenceLengths lengths({2});
  CHECK(crf.loss(scores, gold, lengths) == Approx(std::log(z) - s10).epsilon(1e-14));
  CrfDecoder<double> decoder;
  std::vector<std::int32_t> path;
  const double best = decoder.viterbi(crf, sentence_scores(scores, 0, 2), 2, path);
  CHECK(best == Approx(std::max({s00, s01, s10, s11})).epsilon(1e-14));
  CHECK(path == std::vector<std::int32_t>{1, 0});  // s10 = 1.3 is the largest
  Matrix<double> p;
  decoder.marginals(crf, sentence_scores(scores, 0, 2), 2, p);
  CHECK(p(0, 0) == Approx((std::exp(s00) + std::exp(s01)) / z).epsilon(1e-14));
  CHECK(p(1, 1) == Approx((std::exp(s01) + std::exp(s11)) / z).epsilon(1e-14));
}

// ----- brute force ------------------------------------------------------------------------------

namespace {

/// log Z, unary marginals (from d_scores), pairwise, start and end marginals (from the gradient
/// blocks) of every sentence of a batch, against enumeration; the decoder's log Z and marginals
/// too.
void check_against_enumeration(CRF<double>& crf, const TransitionRules* rules, Rng& rng,
                               const SequenceLengths& lengths, double limit) {
  const Index k = crf.num_tags();
  if (rules != nullptr) crf.set_constraints(*rules);
  const auto scores =
      random_scores<double>(k, lengths, limit, rng, std::numeric_limits<double>::quiet_NaN());
  const auto gold = random_gold(k, lengths, rules, rng);
  CRF<double>::Workspace ws;
  Tensor3<double> d_scores;
  zero_grad(crf.params());
  const double scale = 1.0;
  const double loss = crf.loss_backward(scores, gold, lengths, scale, d_scores, ws);
  REQUIRE(std::isfinite(loss));
  CrfDecoder<double> decoder;
  if (rules != nullptr) decoder.set_rules(*rules);
  double total = 0.0;
  for (Index b = 0; b < lengths.batch_size(); ++b) {
    const Index n = lengths[b];
    CAPTURE(b, n);
    const Matrix<double> emit = sentence_scores(scores, b, n);
    const Enumeration e = enumerate(crf, emit, n, rules);
    double gold_score = crf.start.value(gold(b, 0), 0) + crf.end.value(gold(b, n - 1), 0);
    for (Index t = 0; t < n; ++t) gold_score += emit(gold(b, t), t);
    for (Index t = 1; t < n; ++t) gold_score += crf.transitions.value(gold(b, t - 1), gold(b, t));
    const double tolerance = 1e-9 * std::max(1.0, std::abs(e.log_z));
    CHECK(std::abs(ws.sentence_loss[static_cast<std::size_t>(b)] - (e.log_z - gold_score)) <
          tolerance);
    CHECK(std::abs(decoder.log_partition(crf, sentence_scores(scores, b, n), n) - e.log_z) <
          tolerance);
    total += e.log_z - gold_score;
    // Unary marginals: d_scores = p − onehot(gold).
    Matrix<double> unary(k, n);
    for (Index t = 0; t < n; ++t)
      for (Index j = 0; j < k; ++j) unary(j, t) = d_scores(j, b, t) + (gold(b, t) == j ? 1.0 : 0.0);
    CHECK((unary - e.unary).cwiseAbs().maxCoeff() < 1e-9);
    Matrix<double> decoded;
    decoder.marginals(crf, sentence_scores(scores, b, n), n, decoded);
    CHECK((decoded - e.unary).cwiseAbs().maxCoeff() < 1e-9);
    // Pairwise marginals summed over t, from the sentence's gradient block: Σξ − counts.
    const double* block = ws.sentence_grads.data() + (k * k + 2 * k) * b;
    Matrix<double> pairwise = Eigen::Map<const Matrix<double>>(block, k, k);
    for (Index t = 1; t < n; ++t) pairwise(gold(b, t - 1), gold(b, t)) += 1.0;
    CHECK((pairwise - e.pairwise).cwiseAbs().maxCoeff() < 1e-9);
    for (Index j = 0; j < k; ++j) {
      CHECK(std::abs(block[k * k + j] + (gold(b, 0) == j) - e.unary(j, 0)) < 1e-9);
      CHECK(std::abs(block[k * k + k + j] + (gold(b, n - 1) == j) - e.unary(j, n - 1)) < 1e-9);
    }
    // Padded steps: d_scores 0, although their scores are NaN.
    for (Index t = n; t < lengths.max_length(); ++t)
      for (Index j = 0; j < k; ++j) CHECK(d_scores(j, b, t) == 0.0);
  }
  CHECK(std::abs(loss - total) < 1e-9 * std::max(1.0, std::abs(total)));
  CHECK(crf.loss(scores, gold, lengths, scale) == loss);  // the same arithmetic, bit for bit
}

}  // namespace

TEST_CASE("CRF: log Z and marginals match enumeration of every tag sequence") {
  Rng rng(17);
  for (Index k = 3; k <= 5; ++k) {
    for (Index n = 1; n <= 5; ++n) {
      CAPTURE(k, n);
      CRF<double> crf(k);
      randomize(crf, 2.0, rng);
      check_against_enumeration(crf, nullptr, rng, SequenceLengths({n}), 3.0);
    }
    // A padded batch of several lengths.
    CAPTURE(k);
    CRF<double> crf(k);
    randomize(crf, 2.0, rng);
    check_against_enumeration(crf, nullptr, rng, SequenceLengths({3, 5, 1, 4, 2}), 3.0);
  }
}

TEST_CASE("CRF: with constraints, log Z and marginals match enumeration of the allowed sequences") {
  Rng rng(23);
  for (const TagSet& set : small_tag_sets()) {
    CAPTURE(set.tags.size(), to_string(set.scheme));
    for (Index n = 1; n <= 5; ++n) {
      CAPTURE(n);
      CRF<double> crf(set.size());
      randomize(crf, 2.0, rng);
      check_against_enumeration(crf, &set.rules, rng, SequenceLengths({n}), 3.0);
    }
    CRF<double> crf(set.size());
    randomize(crf, 2.0, rng);
    check_against_enumeration(crf, &set.rules, rng, SequenceLengths({4, 1, 5, 2}), 3.0);
  }
}

TEST_CASE("CRF: huge scores (±1e4) still match enumeration and stay finite") {
  // Score differences of thousands: most terms of every sum underflow, so this exercises the
  // plain log-sum-exp the scaled recursions fall back to.
  Rng rng(29);
  for (Index k = 3; k <= 5; ++k) {
    CAPTURE(k);
    CRF<double> crf(k);
    randomize(crf, 1e4, rng);
    check_against_enumeration(crf, nullptr, rng, SequenceLengths({5, 2, 4}), 1e4);
  }
  for (const TagSet& set : small_tag_sets()) {
    CAPTURE(to_string(set.scheme));
    CRF<double> crf(set.size());
    randomize(crf, 1e4, rng);
    check_against_enumeration(crf, &set.rules, rng, SequenceLengths({5, 3}), 1e4);
  }
}

TEMPLATE_TEST_CASE("CRF: huge scores give a finite loss and finite gradients", "", float, double) {
  using Scalar = TestType;
  Rng rng(31);
  const Index k = 17;
  for (double limit : {1e2, 1e3, 1e4}) {
    CAPTURE(limit);
    CRF<Scalar> crf(k);
    randomize(crf, limit, rng);
    const SequenceLengths lengths({40, 13, 1, 27});
    const auto scores = random_scores<Scalar>(k, lengths, limit, rng);
    const auto gold = random_gold(k, lengths, nullptr, rng);
    typename CRF<Scalar>::Workspace ws;
    Tensor3<Scalar> d_scores;
    const double loss = crf.loss_backward(scores, gold, lengths, 1.0, d_scores, ws);
    CHECK(std::isfinite(loss));
    CHECK(loss >= 0.0);
    CHECK(d_scores.matrix().allFinite());
    CHECK(crf.transitions.grad.allFinite());
    CHECK(crf.start.grad.allFinite());
    CHECK(crf.end.grad.allFinite());
    // The unary marginals of every real step sum to 1 (d_scores sums to 0 per step).
    for (Index b = 0; b < lengths.batch_size(); ++b)
      for (Index t = 0; t < lengths[b]; ++t)
        CHECK(std::abs(static_cast<double>(d_scores.step(t).col(b).sum())) < 1e-4);
    CrfDecoder<Scalar> decoder;
    Matrix<double> p;
    decoder.marginals(crf, sentence_scores(scores, 0, 40), 40, p);
    CHECK(p.allFinite());
    CHECK((p.colwise().sum().array() - 1.0).abs().maxCoeff() < 1e-9);
  }
}

// ----- gradients
// ----------------------------------------------------------------------------------

namespace {

void check_gradients(const TransitionRules* rules, std::uint64_t seed) {
  Rng rng(seed);
  const Index k = rules ? rules->num_tags : 5;
  CRF<double> crf(k);
  randomize(crf, 1.0, rng);
  if (rules) crf.set_constraints(*rules);
  const SequenceLengths lengths({4, 1, 6, 3});
  Tensor3<double> scores = random_scores<double>(k, lengths, 2.0, rng);
  const auto gold = random_gold(k, lengths, rules, rng);
  const double scale = 1.0 / static_cast<double>(lengths.num_tokens());
  CRF<double>::Workspace ws;
  Tensor3<double> d_scores;
  zero_grad(crf.params());
  const double value = crf.loss_backward(scores, gold, lengths, scale, d_scores, ws);
  REQUIRE(value > 0.0);
  auto loss = [&] { return crf.loss(scores, gold, lengths, scale); };
  REQUIRE(value == Approx(loss()).epsilon(1e-14));
  require_gradient(check_gradient("scores", scores.data(), d_scores.data(), scores.size(), loss),
                   d_scores.data(), d_scores.size());
  for (Param<double>* p : crf.params()) {
    const Matrix<double> analytic = p->grad;
    require_gradient(check_gradient(p->name, p->value, analytic, loss), analytic.data(),
                     analytic.size());
  }
}

}  // namespace

TEST_CASE("CRF: the gradient matches finite differences") {
  check_gradients(nullptr, 41);
  check_gradients(nullptr, 42);
}

TEST_CASE("CRF: the gradient matches finite differences with constraints") {
  for (const TagSet& set : small_tag_sets()) {
    CAPTURE(to_string(set.scheme), set.tags.size());
    check_gradients(&set.rules, 43);
  }
}

TEST_CASE("CRF: gradients accumulate and frozen parameters get none") {
  Rng rng(47);
  CRF<double> crf(4);
  randomize(crf, 1.0, rng);
  const SequenceLengths lengths({3, 2});
  const auto scores = random_scores<double>(4, lengths, 1.0, rng);
  const auto gold = random_gold(4, lengths, nullptr, rng);
  CRF<double>::Workspace ws;
  Tensor3<double> d_scores;
  zero_grad(crf.params());
  crf.loss_backward(scores, gold, lengths, 1.0, d_scores, ws);
  const Matrix<double> once = crf.transitions.grad;
  REQUIRE(once.cwiseAbs().maxCoeff() > 0.0);
  crf.loss_backward(scores, gold, lengths, 1.0, d_scores, ws);
  CHECK((crf.transitions.grad - 2.0 * once).cwiseAbs().maxCoeff() < 1e-15);
  zero_grad(crf.params());
  crf.start.frozen = true;
  crf.loss_backward(scores, gold, lengths, 1.0, d_scores, ws);
  CHECK(crf.start.grad.isZero(0));
  CHECK((crf.transitions.grad - once).cwiseAbs().maxCoeff() < 1e-15);
}

// ----- decoding
// -----------------------------------------------------------------------------------

namespace {

void check_decoding(CRF<double>& crf, const TransitionRules* rules, Index n, Rng& rng) {
  const Index k = crf.num_tags();
  Matrix<double> emit(k, n + 2);  // wider than the sentence: only the first n columns count
  fill_uniform(emit, 3.0, rng);
  const Enumeration e = enumerate(crf, emit.leftCols(n), n, rules);
  CrfDecoder<double> decoder;
  if (rules) decoder.set_rules(*rules);
  std::vector<std::int32_t> path;
  const double best = decoder.viterbi(crf, emit, n, path);
  CHECK(path == e.paths.front());
  CHECK(std::abs(best - e.scores.front()) < 1e-9);
  CHECK(path_allowed(path, rules));
  const auto total = static_cast<Index>(e.paths.size());
  for (Index k_best : {Index(1), Index(2), Index(5), total, total + 3}) {
    CAPTURE(k_best, total);
    std::vector<ScoredPath> paths;
    decoder.nbest(crf, emit, n, k_best, paths);
    REQUIRE(static_cast<Index>(paths.size()) == std::min(k_best, total));
    for (std::size_t p = 0; p < paths.size(); ++p) {
      CAPTURE(p);
      CHECK(paths[p].tags == e.paths[p]);
      CHECK(std::abs(paths[p].score - e.scores[p]) < 1e-9);
      CHECK(path_allowed(paths[p].tags, rules));
    }
  }
}

}  // namespace

TEST_CASE("CRF decoding: Viterbi and n-best are the best paths of the enumeration, in order") {
  Rng rng(53);
  for (Index k = 3; k <= 5; ++k) {
    for (Index n = 1; n <= 5; ++n) {
      CAPTURE(k, n);
      CRF<double> crf(k);
      randomize(crf, 2.0, rng);
      check_decoding(crf, nullptr, n, rng);
    }
  }
}

TEST_CASE("CRF decoding: with rules, only allowed sequences, the best of them, in order") {
  Rng rng(59);
  for (const TagSet& set : small_tag_sets()) {
    for (Index n = 1; n <= 5; ++n) {
      CAPTURE(to_string(set.scheme), set.tags.size(), n);
      CRF<double> crf(set.size());
      randomize(crf, 2.0, rng);
      // Transitions the rules forbid are made attractive: the unconstrained best would use them.
      for (Index i = 0; i < set.size(); ++i)
        for (Index j = 0; j < set.size(); ++j)
          if (!set.rules.allows(i, j)) crf.transitions.value(i, j) = 5.0;
      check_decoding(crf, &set.rules, n, rng);
    }
  }
}

TEST_CASE("CRF decoding: an IOBES model never outputs an invalid sequence under its rules") {
  const std::vector<std::string> tags{"O",     "B-PER", "I-PER", "E-PER", "S-PER",
                                      "B-LOC", "I-LOC", "E-LOC", "S-LOC"};
  const auto rules = make_transition_rules(tags, TagScheme::IOBES);
  Rng rng(61);
  CRF<float> crf(static_cast<Index>(tags.size()));
  randomize(crf, 3.0, rng);
  CrfDecoder<float> decoder(rules);
  std::vector<std::int32_t> path;
  std::vector<ScoredPath> paths;
  for (int sentence = 0; sentence < 200; ++sentence) {
    const Index n = 1 + static_cast<Index>(rng.below(30));
    Matrix<float> emit(static_cast<Index>(tags.size()), n);
    fill_uniform(emit, 4.0, rng);
    decoder.viterbi(crf, emit, n, path);
    REQUIRE(path_allowed(path, &rules));
    std::vector<std::string> names;
    for (auto id : path) names.push_back(tags[static_cast<std::size_t>(id)]);
    REQUIRE(tag_problem(names.front(), TagScheme::IOBES).empty());
    REQUIRE(convert_tags(convert_tags(names, TagScheme::IOBES, TagScheme::IOB2), TagScheme::IOB2,
                         TagScheme::IOBES) == names);  // well-formed: the round trip is lossless
    decoder.nbest(crf, emit, n, 4, paths);
    for (const auto& p : paths) REQUIRE(path_allowed(p.tags, &rules));
    for (std::size_t p = 1; p < paths.size(); ++p) REQUIRE(paths[p - 1].score >= paths[p].score);
  }
}

// ----- entity confidence
// --------------------------------------------------------------------------

namespace {

/// Whether path y writes the entity (type, [begin, end)) in the scheme's own spelling and the tag
/// after it does not continue it (crf.hpp, CrfDecoder). Independent of the library's span logic.
bool canonical_span(const std::vector<std::string>& y, const Entity& e, TagScheme scheme) {
  const std::size_t length = e.end - e.begin;
  const std::string& x = e.type;
  const auto is = [&](std::size_t t, const char* prefix) { return y[t] == prefix + x; };
  const auto open_x = [&](std::size_t t) { return is(t, "B-") || is(t, "I-"); };
  const bool next_continues = e.end < y.size() && (is(e.end, "I-") || is(e.end, "E-"));
  for (std::size_t t = e.begin + 1; t + 1 < e.end; ++t)
    if (!is(t, "I-")) return false;
  switch (scheme) {
    case TagScheme::IOBES:
      if (length == 1) return is(e.begin, "S-");
      return is(e.begin, "B-") && is(e.end - 1, "E-");
    case TagScheme::IOB2:
      return is(e.begin, "B-") && (length == 1 || is(e.end - 1, "I-")) && !next_continues;
    case TagScheme::IOB1: {
      const bool previous_open = e.begin > 0 && open_x(e.begin - 1);
      const bool first = previous_open ? is(e.begin, "B-") : is(e.begin, "I-");
      return first && (length == 1 || is(e.end - 1, "I-")) && !next_continues;
    }
  }
  return false;
}

void check_confidences(const TagSet& set, bool with_rules, Index n, Rng& rng) {
  const TransitionRules* rules = with_rules ? &set.rules : nullptr;
  CRF<double> crf(set.size());
  randomize(crf, 1.5, rng);
  Matrix<double> emit(set.size(), n);
  fill_uniform(emit, 2.0, rng);
  const Enumeration e = enumerate(crf, emit, n, rules);
  std::vector<std::vector<std::string>> names;
  for (const auto& path : e.paths) {
    names.emplace_back();
    for (auto id : path) names.back().push_back(set.tags[static_cast<std::size_t>(id)]);
  }
  CrfDecoder<double> decoder;
  if (rules) decoder.set_rules(*rules);
  // Every span of every type, decoded by some path or not.
  std::vector<std::string> types;
  for (const auto& tag : set.tags)
    if (tag != "O" && std::find(types.begin(), types.end(), tag.substr(2)) == types.end())
      types.push_back(tag.substr(2));
  for (const auto& type : types) {
    for (std::size_t begin = 0; begin < static_cast<std::size_t>(n); ++begin) {
      for (std::size_t end = begin + 1; end <= static_cast<std::size_t>(n); ++end) {
        const Entity entity{type, begin, end};
        CAPTURE(type, begin, end);
        double expected = 0.0;
        for (std::size_t p = 0; p < e.paths.size(); ++p) {
          // With the rules every counted path is well-formed, and the span's probability is that
          // of the paths whose decoded entities include it; without them, the canonical spelling.
          bool has;
          if (with_rules) {
            const auto decoded = decode_entities(names[p], set.scheme);
            has = std::find(decoded.begin(), decoded.end(), entity) != decoded.end();
            REQUIRE(has == canonical_span(names[p], entity, set.scheme));
          } else {
            has = canonical_span(names[p], entity, set.scheme);
          }
          if (has) expected += e.probability(p);
        }
        CHECK(std::abs(decoder.entity_probability(crf, emit, n, entity, set.tags, set.scheme) -
                       expected) < 1e-9);
      }
    }
  }
  // The confidences of the Viterbi path's entities, as a tagger reports them.
  std::vector<std::int32_t> path;
  decoder.viterbi(crf, emit, n, path);
  std::vector<std::string> path_names;
  for (auto id : path) path_names.push_back(set.tags[static_cast<std::size_t>(id)]);
  const auto entities = decode_entities(path_names, set.scheme);
  const auto confidences = decoder.entity_confidences(crf, emit, n, path, set.tags, set.scheme);
  REQUIRE(confidences.size() == entities.size());
  for (std::size_t i = 0; i < entities.size(); ++i) {
    CHECK(confidences[i].entity == entities[i]);
    double expected = 0.0;
    for (std::size_t p = 0; p < e.paths.size(); ++p)
      if (canonical_span(names[p], entities[i], set.scheme)) expected += e.probability(p);
    CHECK(std::abs(confidences[i].confidence - expected) < 1e-9);
    CHECK(confidences[i].confidence > 0.0);
    CHECK(confidences[i].confidence <= 1.0 + 1e-12);
  }
}

}  // namespace

TEST_CASE("CRF decoding: entity confidence is the enumerated probability of the span") {
  Rng rng(67);
  std::vector<TagSet> sets = small_tag_sets();
  sets.emplace_back(
      std::vector<std::string>{"O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y", "E-Y", "S-Y"},
      TagScheme::IOBES);
  for (const TagSet& set : sets) {
    for (bool with_rules : {true, false}) {
      for (Index n = 1; n <= (set.size() > 5 ? 4 : 5); ++n) {
        CAPTURE(to_string(set.scheme), set.tags.size(), with_rules, n);
        check_confidences(set, with_rules, n, rng);
      }
    }
  }
}

// ----- partitions and threads
// ---------------------------------------------------------------------

namespace {

struct Run {
  Tensor3<float> d_scores;
  Matrix<float> transitions, start, end;
  double loss = 0.0;
};

template <class Cuts>
Run run_cut(const CRF<float>& model, const Tensor3<float>& scores,
            const Tensor2<std::int32_t>& gold, const SequenceLengths& lengths, Cuts&& cuts) {
  CRF<float> crf = model;
  zero_grad(crf.params());
  CRF<float>::Workspace ws;
  Run run;
  run.d_scores.resize(1, 1, 1);
  run.d_scores.setConstant(std::numeric_limits<float>::quiet_NaN());
  crf.prepare(scores, gold, lengths, run.d_scores, ws);
  run.d_scores.setConstant(std::numeric_limits<float>::quiet_NaN());  // every column is written
  cuts(crf, run.d_scores, ws);
  run.loss = crf.add_gradients(ws);
  run.transitions = crf.transitions.grad;
  run.start = crf.start.grad;
  run.end = crf.end.grad;
  return run;
}

template <class M>
bool same_bits(const M& a, const M& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), sizeof(*a.data()) * static_cast<std::size_t>(a.size())) ==
             0;
}

}  // namespace

TEST_CASE("CRF: any cut of a batch into sentence ranges gives bit-identical results (float)") {
  Rng rng(71);
  const Index k = 17;
  CRF<float> crf(k);
  randomize(crf, 1.0, rng);
  const SequenceLengths lengths({12, 40, 3, 27, 1, 19, 33, 8, 25});
  const Index batch = lengths.batch_size();
  const auto scores = random_scores<float>(k, lengths, 5.0, rng);
  const auto gold = random_gold(k, lengths, nullptr, rng);
  const double scale = 1.0 / static_cast<double>(lengths.num_tokens());
  const auto sentences = [&](Index first, Index last) {
    return [&, first, last](CRF<float>& c, Tensor3<float>& d, CRF<float>::Workspace& ws) {
      c.loss_backward_sentences(scores, gold, lengths, scale, d, ws, first, last);
    };
  };
  const Run whole = run_cut(crf, scores, gold, lengths, sentences(0, batch));
  REQUIRE(whole.d_scores.matrix().allFinite());
  REQUIRE(whole.transitions.cwiseAbs().maxCoeff() > 0.0f);
  const auto check_same = [&](const Run& other) {
    CHECK(same_bits(other.d_scores.matrix(), whole.d_scores.matrix()));
    CHECK(same_bits(other.transitions, whole.transitions));
    CHECK(same_bits(other.start, whole.start));
    CHECK(same_bits(other.end, whole.end));
    CHECK(std::memcmp(&other.loss, &whole.loss, sizeof(double)) == 0);
  };
  SECTION("one sentence at a time, backwards") {
    check_same(run_cut(crf, scores, gold, lengths, [&](auto& c, auto& d, auto& ws) {
      for (Index b = batch; b-- > 0;) sentences(b, b + 1)(c, d, ws);
    }));
  }
  SECTION("uneven ranges, an empty one among them") {
    check_same(run_cut(crf, scores, gold, lengths, [&](auto& c, auto& d, auto& ws) {
      sentences(5, 9)(c, d, ws);
      sentences(0, 2)(c, d, ws);
      sentences(2, 2)(c, d, ws);
      sentences(2, 5)(c, d, ws);
    }));
  }
  SECTION("two threads at once, as Parts cut them") {
    check_same(run_cut(crf, scores, gold, lengths, [&](auto& c, auto& d, auto& ws) {
      const Part first{0, 2}, second{1, 2};
      std::thread other([&] { sentences(second.first(batch), second.last(batch))(c, d, ws); });
      sentences(first.first(batch), first.last(batch))(c, d, ws);
      other.join();
    }));
  }
  SECTION("the whole-batch loss_backward") {
    CRF<float> copy = crf;
    zero_grad(copy.params());
    CRF<float>::Workspace ws;
    Run run;
    run.loss = copy.loss_backward(scores, gold, lengths, scale, run.d_scores, ws);
    run.transitions = copy.transitions.grad;
    run.start = copy.start.grad;
    run.end = copy.end.grad;
    check_same(run);
    // The loss-only pass is other code computing the same sums: bit-identity is promised across
    // cuts of one pass, not between passes (clang fuses multiply-adds per expression, GCC across
    // them, so the last bit may differ), hence a tolerance of a few float roundings here.
    CHECK(copy.loss(scores, gold, lengths, scale, ws) == Approx(whole.loss).epsilon(1e-6));
  }
}

// ----- errors
// ---------------------------------------------------------------------------------------

TEST_CASE("CRF: bad input is rejected with a clear message") {
  Rng rng(73);
  const auto tags = std::vector<std::string>{"O", "B-X", "I-X"};
  const auto rules = make_transition_rules(tags, TagScheme::IOB2);
  CRF<double> crf(3);
  const SequenceLengths lengths({3, 2});
  auto scores = random_scores<double>(3, lengths, 1.0, rng);
  auto gold = random_gold(3, lengths, &rules, rng);
  CRF<double>::Workspace ws;
  Tensor3<double> d_scores;
  CHECK_THROWS_WITH(CRF<double>(0), Catch::Contains("CRF: the number of tags"));
  CHECK_THROWS_WITH(crf.loss_backward_sentences(scores, gold, lengths, 1.0, d_scores, ws, 0, 2),
                    Catch::Contains("call prepare"));
  crf.prepare(scores, gold, lengths, d_scores, ws);
  CHECK_THROWS_WITH(crf.loss_backward_sentences(scores, gold, lengths, 1.0, d_scores, ws, 1, 3),
                    Catch::Contains("not inside a batch of 2"));
  auto bad = gold;
  bad(1, 1) = 3;
  CHECK_THROWS_WITH(crf.loss(scores, bad, lengths),
                    Catch::Contains("sentence 1, step 1") && Catch::Contains("outside [0, 3)"));
  const Tensor3<double> wrong_k = random_scores<double>(4, lengths, 1.0, rng);
  CHECK_THROWS_WITH(crf.loss(wrong_k, gold, lengths), Catch::Contains("CRF: loss"));
  Tensor2<std::int32_t> short_gold(Tensor2<std::int32_t>::Shape{2, 2});
  CHECK_THROWS_WITH(crf.loss(scores, short_gold, lengths), Catch::Contains("targets of shape"));
  crf.set_constraints(rules);
  bad = gold;
  bad(0, 0) = 2;  // I-X first
  CHECK_THROWS_WITH(crf.loss(scores, bad, lengths),
                    Catch::Contains("sentence 0, step 0") && Catch::Contains("constraints forbid"));
  CHECK_THROWS_WITH(crf.set_constraints(make_transition_rules({"O", "B-X"}, TagScheme::IOB2)),
                    Catch::Contains("over 2 tags"));
  CrfDecoder<double> decoder(make_transition_rules({"O", "B-X"}, TagScheme::IOB2));
  std::vector<std::int32_t> path;
  const Matrix<double> emit = Matrix<double>::Zero(3, 2);
  CHECK_THROWS_WITH(decoder.viterbi(crf, emit, 2, path), Catch::Contains("rules are over 2 tags"));
  decoder.set_rules(rules);
  CHECK_THROWS_WITH(decoder.viterbi(crf, emit, 3, path), Catch::Contains("length 3"));
  CHECK_THROWS_WITH(decoder.viterbi(crf, Matrix<double>::Zero(2, 2), 2, path),
                    Catch::Contains("2 rows"));
  std::vector<ScoredPath> paths;
  CHECK_THROWS_WITH(decoder.nbest(crf, emit, 2, 0, paths), Catch::Contains("k must be"));
}

TEST_CASE("CRF decoding: rules that allow no path fall back to unconstrained decoding") {
  // IOB2 rules over a tag set without O or B-: no tag may start a sentence.
  const std::vector<std::string> tags{"I-X", "I-Y"};
  const auto rules = make_transition_rules(tags, TagScheme::IOB2);
  Rng rng(79);
  CRF<double> crf(2);
  randomize(crf, 1.0, rng);
  Matrix<double> emit(2, 3);
  fill_uniform(emit, 1.0, rng);
  CrfDecoder<double> constrained(rules), free;
  std::vector<std::int32_t> a, b;
  CHECK(constrained.viterbi(crf, emit, 3, a) == free.viterbi(crf, emit, 3, b));
  CHECK(a == b);
  CHECK(constrained.log_partition(crf, emit, 3) == free.log_partition(crf, emit, 3));
  std::vector<ScoredPath> paths;
  constrained.nbest(crf, emit, 3, 3, paths);
  CHECK(paths.size() == 3);
  // A k far beyond the 2^3 paths there are gives all of them (and sizes nothing by k).
  constrained.nbest(crf, emit, 3, Index{1} << 60, paths);
  CHECK(paths.size() == 8);
}

// ----- allocation
// ---------------------------------------------------------------------------------

TEST_CASE("CRF: training passes and decoding allocate nothing once sized") {
  for (bool with_rules : {false, true}) {
    CAPTURE(with_rules);
    Rng rng(83);
    std::vector<std::string> tags{"O"};
    for (const char* type : {"PER", "LOC", "ORG", "MISC"})
      for (const char* prefix : {"B-", "I-", "E-", "S-"})
        tags.push_back(prefix + std::string(type));
    const auto rules = make_transition_rules(tags, TagScheme::IOBES);
    const Index k = 17;
    CRF<float> crf(k);
    randomize(crf, 1.0, rng);
    if (with_rules) crf.set_constraints(rules);
    std::vector<Index> big;
    for (Index i = 0; i < 32; ++i) big.push_back(3 + (i * 7) % 30);
    const std::vector<SequenceLengths> batches{SequenceLengths(big), SequenceLengths({5, 13, 8, 2}),
                                               SequenceLengths({9})};
    std::vector<Tensor3<float>> scores;
    std::vector<Tensor2<std::int32_t>> gold;
    for (const auto& lengths : batches) {
      scores.push_back(random_scores<float>(k, lengths, 3.0, rng));
      gold.push_back(random_gold(k, lengths, with_rules ? &rules : nullptr, rng));
    }
    CRF<float>::Workspace ws;
    Tensor3<float> d_scores;
    CrfDecoder<float> decoder;
    if (with_rules) decoder.set_rules(rules);
    std::vector<std::int32_t> path;
    std::vector<ScoredPath> paths;
    double total = 0.0;
    const ParamList<float> params = crf.params();
    const auto passes = [&] {
      for (std::size_t i = 0; i < batches.size(); ++i) {
        zero_grad(params);
        total += crf.loss_backward(scores[i], gold[i], batches[i], 0.01, d_scores, ws);
        total += crf.loss(scores[i], gold[i], batches[i], 0.01, ws);
        for (Index b = 0; b < batches[i].batch_size(); ++b) {
          const Index n = batches[i][b];
          decoder.viterbi(crf, sentence_scores(scores[i], b, n), n, path);
          decoder.nbest(crf, sentence_scores(scores[i], b, n), n, 3, paths);
        }
      }
    };
    passes();
    passes();
    const long start = lstmner_test::start_measuring();
    for (int repeat = 0; repeat < 3; ++repeat) passes();
    const long allocations = lstmner_test::allocations_since(start);
    INFO(allocations << " heap allocations in 9 batches");
    CHECK(allocations == 0);
    CHECK(std::isfinite(total));
  }
}
