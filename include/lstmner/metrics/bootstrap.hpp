#pragma once
/// \file metrics/bootstrap.hpp
/// paired_bootstrap(): is system A's entity F1 really higher than system B's on the same gold
/// tags? Resamples the sentences with replacement (the same sample for both systems), and from
/// the distribution of F1(A) - F1(B) over the samples gives a percentile interval and a p-value.
/// Part of metrics.hpp.
///
/// Entities are decoded and counted per sentence under the ScoringOptions (strict mode without a
/// scheme detects it once, from all gold sentences, as evaluate() does); the micro F1 of a sample
/// is computed from its summed counts, so on the original sentences it is evaluate()'s micro F1.
///
/// The p-value is two-sided and tests "no difference" by the shifted bootstrap distribution
/// (Efron & Tibshirani 1993, ch. 16): with d the observed difference and d_1 .. d_n the
/// differences of the n samples,
///   p = (1 + #{i : |d_i - d| >= |d|}) / (n + 1),
/// the share of samples, centred on the null hypothesis, at least as far from 0 as d (the +1
/// counts the observed sample itself, so p is never 0). The interval holds the (1 - c)/2 and
/// (1 + c)/2 quantiles of d_1 .. d_n (linear interpolation between order statistics, numpy's
/// default). The resampling is reproducible: the same seed gives the same samples on every
/// platform (our own generator and arithmetic, no standard distribution).

#include <lstmner/metrics/detail/scores.hpp>
#include <lstmner/metrics/detail/seqeval_strict.hpp>
#include <lstmner/metrics/evaluate.hpp>
#include <lstmner/metrics/report.hpp>
#include <lstmner/metrics/scoring_options.hpp>
#include <lstmner/tag_scheme.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace lstmner {

struct BootstrapOptions {
  ScoringOptions scoring;
  std::size_t samples = 10000;  ///< bootstrap samples (at least 1)
  std::uint64_t seed = 1;
  double confidence = 0.95;  ///< of the interval, in (0, 1)
};

struct BootstrapComparison {
  std::size_t sentences = 0, samples = 0;
  std::uint64_t seed = 0;
  double confidence = 0.0;
  PRF a, b;                      ///< micro scores of each system on all sentences (fractions)
  double difference = 0.0;       ///< a.f1 - b.f1
  double low = 0.0, high = 0.0;  ///< the interval of the difference
  double p_value = 1.0;          ///< two-sided, see the file comment
  /// Share of samples in which A's F1 is higher than B's.
  double a_wins = 0.0;
};

namespace detail {

/// splitmix64 (Steele, Lea & Flood): small, and the same numbers everywhere.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n), n > 0, without modulo bias (rejection of the short top range).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const std::uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }

 private:
  std::uint64_t state_;
};

/// Quantile q of sorted values, linearly interpolated between order statistics (numpy's
/// default, "type 7").
inline double sorted_quantile(const std::vector<double>& sorted, double q) {
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

/// Gold, predicted and correct entity counts of one sentence.
struct EntityCounts {
  std::size_t gold = 0, predicted = 0, correct = 0;
};

inline EntityCounts sentence_entity_counts(const std::vector<Entity>& gold,
                                           const std::vector<std::string>& predicted_tags,
                                           const ScoringOptions& scoring) {
  const std::vector<Entity> predicted = extract_entities(predicted_tags, scoring);
  EntityCounts c{gold.size(), predicted.size(), 0};
  for (const Entity& p : predicted)
    if (std::find(gold.begin(), gold.end(), p) != gold.end()) ++c.correct;
  return c;
}

}  // namespace detail

/// Compares two systems' predictions of the same gold tags (one sequence per sentence, equal
/// lengths; std::invalid_argument otherwise, or for no sentences, 0 samples, a confidence
/// outside (0, 1)).
inline BootstrapComparison paired_bootstrap(const std::vector<std::vector<std::string>>& gold,
                                            const std::vector<std::vector<std::string>>& a,
                                            const std::vector<std::vector<std::string>>& b,
                                            const BootstrapOptions& options = {}) {
  detail::check_same_shape(gold, a);
  detail::check_same_shape(gold, b);
  if (gold.empty()) throw std::invalid_argument("lstmner: paired_bootstrap: no sentences");
  if (options.samples < 1)
    throw std::invalid_argument("lstmner: paired_bootstrap: samples must be at least 1");
  if (!(options.confidence > 0.0 && options.confidence < 1.0))
    throw std::invalid_argument("lstmner: paired_bootstrap: confidence must be in (0, 1)");
  ScoringOptions scoring = options.scoring;
  if (scoring.mode == ScoringMode::SeqevalStrict && !scoring.scheme)
    scoring.scheme = detail::seqeval_auto_detect(gold);

  const std::size_t n = gold.size();
  std::vector<detail::EntityCounts> counts_a(n), counts_b(n);
  for (std::size_t s = 0; s < n; ++s) {
    const std::vector<Entity> g = extract_entities(gold[s], scoring);
    counts_a[s] = detail::sentence_entity_counts(g, a[s], scoring);
    counts_b[s] = detail::sentence_entity_counts(g, b[s], scoring);
  }
  auto f1 = [](const detail::EntityCounts& c) {
    return detail::prf_from_counts(c.correct, c.predicted, c.gold);
  };
  auto add = [](detail::EntityCounts& sum, const detail::EntityCounts& c) {
    sum.gold += c.gold;
    sum.predicted += c.predicted;
    sum.correct += c.correct;
  };

  BootstrapComparison r;
  r.sentences = n;
  r.samples = options.samples;
  r.seed = options.seed;
  r.confidence = options.confidence;
  detail::EntityCounts total_a, total_b;
  for (std::size_t s = 0; s < n; ++s) {
    add(total_a, counts_a[s]);
    add(total_b, counts_b[s]);
  }
  r.a = f1(total_a);
  r.b = f1(total_b);
  r.difference = r.a.f1 - r.b.f1;

  detail::SplitMix64 rng(options.seed);
  std::vector<double> differences(options.samples);
  std::size_t as_far = 0, wins = 0;
  for (std::size_t i = 0; i < options.samples; ++i) {
    detail::EntityCounts sa, sb;
    for (std::size_t k = 0; k < n; ++k) {
      const auto s = static_cast<std::size_t>(rng.below(n));
      add(sa, counts_a[s]);
      add(sb, counts_b[s]);
    }
    const double d = f1(sa).f1 - f1(sb).f1;
    differences[i] = d;
    if (std::abs(d - r.difference) >= std::abs(r.difference)) ++as_far;
    if (d > 0) ++wins;
  }
  std::sort(differences.begin(), differences.end());
  r.low = detail::sorted_quantile(differences, (1.0 - options.confidence) / 2.0);
  r.high = detail::sorted_quantile(differences, (1.0 + options.confidence) / 2.0);
  r.p_value = static_cast<double>(as_far + 1) / static_cast<double>(options.samples + 1);
  r.a_wins = static_cast<double>(wins) / static_cast<double>(options.samples);
  return r;
}

}  // namespace lstmner
