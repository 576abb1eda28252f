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

#include <cstddef>
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

/// Viterbi decoding under fixed rules, reusable: the allowed predecessors of each tag are listed
/// once, so a step costs one comparison per allowed transition rather than K^2 rule look-ups, and
/// decoding allocates nothing once its buffers fit the longest sentence seen. Not thread-safe:
/// one decoder per thread.
///
/// The maximum is over the total score sum_t s_t(y_t). Per-token log-probabilities and raw scores
/// give the same path: log p_t(y) = s_t(y) - log Z_t, and log Z_t is the same for every path, so
/// a caller may skip the log-softmax.
class ConstrainedDecoder {
 public:
  ConstrainedDecoder() = default;
  explicit ConstrainedDecoder(const TransitionRules& rules) { set_rules(rules); }

  /// Lists the allowed predecessors of every tag under `rules` (reusing the buffers).
  void set_rules(const TransitionRules& rules) {
    num_tags_ = rules.num_tags;
    const auto k = static_cast<std::size_t>(num_tags_);
    can_start_.assign(rules.can_start.begin(), rules.can_start.end());
    can_end_.assign(rules.can_end.begin(), rules.can_end.end());
    first_predecessor_.assign(k + 1, 0);
    predecessors_.clear();
    for (Index to = 0; to < num_tags_; ++to) {
      // Ascending `from`, the order of the plain K^2 scan: ties go to the lowest id.
      for (Index from = 0; from < num_tags_; ++from)
        if (rules.allows(from, to)) predecessors_.push_back(static_cast<std::int32_t>(from));
      first_predecessor_[static_cast<std::size_t>(to) + 1] = predecessors_.size();
    }
  }

  Index num_tags() const { return num_tags_; }

  /// Writes into `path` the best allowed tag sequence of the first `length` columns of `scores`
  /// [K x T] (any additive scores). Falls back to argmax when no allowed path exists (only
  /// possible with a tag set that has no tag allowed to start or end a sentence).
  template <class Derived>
  void decode(const Eigen::MatrixBase<Derived>& scores, Index length,
              std::vector<std::int32_t>& path) {
    const Index k = num_tags_;
    if (scores.rows() != k) {
      require(false, "constrained_decode: scores have " + std::to_string(scores.rows()) +
                         " rows for " + std::to_string(k) + " tags");
    }
    if (length < 1 || length > scores.cols()) require(false, "constrained_decode: bad length");
    const double forbidden = -std::numeric_limits<double>::infinity();
    const auto K = static_cast<std::size_t>(k);
    score_.resize(K);
    next_.resize(K);
    back_.resize(K * static_cast<std::size_t>(length));
    for (std::size_t j = 0; j < K; ++j) {
      score_[j] = can_start_[j] ? static_cast<double>(scores(static_cast<Index>(j), 0)) : forbidden;
    }
    for (Index t = 1; t < length; ++t) {
      std::int32_t* back_t = back_.data() + static_cast<std::size_t>(t) * K;
      for (std::size_t j = 0; j < K; ++j) {
        double best = forbidden;
        std::int32_t arg = -1;
        for (std::size_t p = first_predecessor_[j]; p < first_predecessor_[j + 1]; ++p) {
          const std::int32_t i = predecessors_[p];
          const double s = score_[static_cast<std::size_t>(i)];
          if (s > best) {
            best = s;
            arg = i;
          }
        }
        next_[j] = best + static_cast<double>(scores(static_cast<Index>(j), t));
        back_t[j] = arg;
      }
      score_.swap(next_);
    }
    double best = forbidden;
    std::int32_t last = -1;
    for (std::size_t j = 0; j < K; ++j) {
      if (can_end_[j] && score_[j] > best) {
        best = score_[j];
        last = static_cast<std::int32_t>(j);
      }
    }
    path.resize(static_cast<std::size_t>(length));
    if (last < 0) {
      path = argmax_decode(scores, length);
      return;
    }
    for (Index t = length - 1; t >= 0; --t) {
      path[static_cast<std::size_t>(t)] = last;
      if (t > 0) last = back_[static_cast<std::size_t>(t) * K + static_cast<std::size_t>(last)];
    }
  }

 private:
  Index num_tags_ = 0;
  std::vector<std::uint8_t> can_start_, can_end_;
  std::vector<std::size_t> first_predecessor_;  ///< tag j's predecessors: [first[j], first[j+1])
  std::vector<std::int32_t> predecessors_;
  std::vector<double> score_, next_;  ///< best total score of a path ending in each tag
  std::vector<std::int32_t> back_;    ///< [t * K + j]: the predecessor of tag j at step t
};

/// Viterbi decoding of the first `length` columns of `log_probs` [K x T] (per-token
/// log-probabilities or any additive scores) under `rules`; see ConstrainedDecoder, which this
/// builds for the one call (reuse a decoder to decode many sentences).
template <class Derived>
std::vector<std::int32_t> constrained_decode(const Eigen::MatrixBase<Derived>& log_probs,
                                             Index length, const TransitionRules& rules) {
  ConstrainedDecoder decoder(rules);
  std::vector<std::int32_t> path;
  decoder.decode(log_probs, length, path);
  return path;
}

}  // namespace lstmner
