#pragma once
/// \file decode.hpp
/// Turning per-token tag scores into a tag sequence: greedy argmax, or Viterbi restricted to the
/// tag sequences a scheme allows (constrained decoding).
///
/// A softmax output layer scores each token on its own, so its argmax can produce sequences no
/// scheme allows (IOBES `O E-PER`, IOB2 `O I-LOC`). Constrained decoding finds the well-formed
/// sequence with the highest total log-probability, sum_t log p_t(y_t), subject to the scheme's
/// transition rules. It is exact (dynamic programming), costs O(T K^2) per sentence, adds no
/// parameters, and guarantees that converting the output to another scheme is lossless.

#include <lstmner/tag_scheme.hpp>
#include <lstmner/tensor.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace lstmner {

/// Which tag may follow which, and which may start or end a sentence, under a scheme.
struct TransitionRules {
  Index num_tags = 0;
  std::vector<std::uint8_t> allowed;  ///< [from * num_tags + to]
  std::vector<std::uint8_t> can_start;
  std::vector<std::uint8_t> can_end;

  bool allows(Index from, Index to) const {
    return allowed[static_cast<std::size_t>(from * num_tags + to)] != 0;
  }
};

namespace detail {

/// A tag's prefix and type for the transition rules; prefix '?' marks a tag outside every scheme.
struct RuleTag {
  char prefix = '?';
  std::string type;
};

inline RuleTag rule_tag(const std::string& tag) {
  const auto parts = split_tag(tag);
  if (!parts) return {'?', tag};
  return {parts->prefix, std::string(parts->type)};
}

}  // namespace detail

/// The transition rules of `scheme` over the tag set `tags` (tag id = index). Tags that are not
/// `O` or `PREFIX-TYPE` are unconstrained.
inline TransitionRules make_transition_rules(const std::vector<std::string>& tags,
                                             TagScheme scheme) {
  using SplitTag = detail::RuleTag;
  const Index k = static_cast<Index>(tags.size());
  TransitionRules rules;
  rules.num_tags = k;
  rules.allowed.assign(static_cast<std::size_t>(k * k), 0);
  rules.can_start.assign(static_cast<std::size_t>(k), 0);
  rules.can_end.assign(static_cast<std::size_t>(k), 0);
  std::vector<SplitTag> split;
  for (const auto& t : tags) split.push_back(detail::rule_tag(t));

  // Whether tag a leaves an entity open that the next tag may continue: the only state the
  // rules depend on (E- and S- close their entity; B- and I- leave it open in every scheme).
  auto opens = [](const SplitTag& a) { return a.prefix == 'B' || a.prefix == 'I'; };
  auto may_start = [&](const SplitTag& b) {
    switch (scheme) {
      case TagScheme::IOBES:
        return b.prefix == 'O' || b.prefix == 'B' || b.prefix == 'S' || b.prefix == '?';
      case TagScheme::IOB2:
        return b.prefix == 'O' || b.prefix == 'B' || b.prefix == '?';
      case TagScheme::IOB1:
        return b.prefix == 'O' || b.prefix == 'I' || b.prefix == '?';
    }
    return true;
  };
  auto may_end = [&](const SplitTag& a) {
    if (scheme == TagScheme::IOBES)
      return a.prefix == 'O' || a.prefix == 'E' || a.prefix == 'S' || a.prefix == '?';
    return a.prefix != 'E' && a.prefix != 'S';
  };
  auto may_follow = [&](const SplitTag& a, const SplitTag& b) {
    if (a.prefix == '?' || b.prefix == '?') return true;
    const bool same_open = opens(a) && a.type == b.type;
    switch (scheme) {
      case TagScheme::IOBES:
        if (b.prefix == 'I' || b.prefix == 'E') return same_open;
        return !opens(a);  // O, B, S only once the previous entity is closed
      case TagScheme::IOB2:
        if (b.prefix == 'I') return same_open;
        return b.prefix == 'O' || b.prefix == 'B';
      case TagScheme::IOB1:
        // B-X only separates two adjacent entities of the same type.
        if (b.prefix == 'B') return same_open;
        return b.prefix == 'O' || b.prefix == 'I';
    }
    return true;
  };
  for (Index a = 0; a < k; ++a) {
    rules.can_start[static_cast<std::size_t>(a)] = may_start(split[static_cast<std::size_t>(a)]);
    rules.can_end[static_cast<std::size_t>(a)] = may_end(split[static_cast<std::size_t>(a)]);
    for (Index b = 0; b < k; ++b) {
      rules.allowed[static_cast<std::size_t>(a * k + b)] =
          may_follow(split[static_cast<std::size_t>(a)], split[static_cast<std::size_t>(b)]);
    }
  }
  return rules;
}

/// Greedy decoding: the best tag of each of the first `length` columns of `scores` [K x T].
template <class Derived>
std::vector<std::int32_t> argmax_decode(const Eigen::MatrixBase<Derived>& scores, Index length) {
  std::vector<std::int32_t> best(static_cast<std::size_t>(length));
  for (Index t = 0; t < length; ++t) {
    Index k = 0;
    scores.col(t).maxCoeff(&k);
    best[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(k);
  }
  return best;
}

/// Viterbi decoding of the first `length` columns of `log_probs` [K x T] (per-token
/// log-probabilities or any additive scores) under `rules`. Falls back to argmax when no allowed
/// path exists (only possible with a tag set that has no tag allowed to start or end a sentence).
template <class Derived>
std::vector<std::int32_t> constrained_decode(const Eigen::MatrixBase<Derived>& log_probs,
                                             Index length, const TransitionRules& rules) {
  const Index k = rules.num_tags;
  require(log_probs.rows() == k, "constrained_decode: scores have " +
                                     std::to_string(log_probs.rows()) + " rows for " +
                                     std::to_string(k) + " tags");
  require(length >= 1 && length <= log_probs.cols(), "constrained_decode: bad length");
  const double forbidden = -std::numeric_limits<double>::infinity();
  std::vector<double> score(static_cast<std::size_t>(k)), next(static_cast<std::size_t>(k));
  std::vector<std::int32_t> back(static_cast<std::size_t>(k * length), -1);
  for (Index j = 0; j < k; ++j) {
    score[static_cast<std::size_t>(j)] = rules.can_start[static_cast<std::size_t>(j)]
                                             ? static_cast<double>(log_probs(j, 0))
                                             : forbidden;
  }
  for (Index t = 1; t < length; ++t) {
    for (Index j = 0; j < k; ++j) {
      double best = forbidden;
      std::int32_t arg = -1;
      for (Index i = 0; i < k; ++i) {
        if (!rules.allows(i, j)) continue;
        const double s = score[static_cast<std::size_t>(i)];
        if (s > best) {
          best = s;
          arg = static_cast<std::int32_t>(i);
        }
      }
      next[static_cast<std::size_t>(j)] = best + static_cast<double>(log_probs(j, t));
      back[static_cast<std::size_t>(t * k + j)] = arg;
    }
    score.swap(next);
  }
  double best = forbidden;
  std::int32_t last = -1;
  for (Index j = 0; j < k; ++j) {
    if (rules.can_end[static_cast<std::size_t>(j)] && score[static_cast<std::size_t>(j)] > best) {
      best = score[static_cast<std::size_t>(j)];
      last = static_cast<std::int32_t>(j);
    }
  }
  if (last < 0) return argmax_decode(log_probs, length);
  std::vector<std::int32_t> path(static_cast<std::size_t>(length));
  for (Index t = length - 1; t >= 0; --t) {
    path[static_cast<std::size_t>(t)] = last;
    if (t > 0) last = back[static_cast<std::size_t>(t * k + last)];
  }
  return path;
}

}  // namespace lstmner
