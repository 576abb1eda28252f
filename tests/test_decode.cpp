#include <lstmner/decode.hpp>
#include <lstmner/tag_scheme.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

using namespace lstmner;

namespace {

std::vector<std::string> names(const std::vector<std::string>& tags,
                               const std::vector<std::int32_t>& ids) {
  std::vector<std::string> out;
  for (auto id : ids) out.push_back(tags[static_cast<std::size_t>(id)]);
  return out;
}

Index id_of(const std::vector<std::string>& tags, const std::string& tag) {
  for (std::size_t i = 0; i < tags.size(); ++i)
    if (tags[i] == tag) return static_cast<Index>(i);
  FAIL("no tag " << tag);
  return -1;
}

/// Log-probability scores that make `preferred[t]` the best tag of step t by a margin, with the
/// second choice `second[t]` close behind.
Matrix<double> scores_for(const std::vector<std::string>& tags,
                          const std::vector<std::string>& preferred,
                          const std::vector<std::string>& second) {
  Matrix<double> s = Matrix<double>::Constant(static_cast<Index>(tags.size()),
                                              static_cast<Index>(preferred.size()), -10.0);
  for (std::size_t t = 0; t < preferred.size(); ++t) {
    s(id_of(tags, preferred[t]), static_cast<Index>(t)) = -0.1;
    s(id_of(tags, second[t]), static_cast<Index>(t)) = -0.5;
  }
  return s;
}

}  // namespace

TEST_CASE("IOBES transition rules allow exactly the well-formed sequences") {
  const std::vector<std::string> tags{"O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "E-LOC"};
  const auto rules = make_transition_rules(tags, TagScheme::IOBES);
  auto allows = [&](const std::string& a, const std::string& b) {
    return rules.allows(id_of(tags, a), id_of(tags, b));
  };
  CHECK(allows("O", "B-PER"));
  CHECK(allows("O", "S-PER"));
  CHECK_FALSE(allows("O", "I-PER"));
  CHECK_FALSE(allows("O", "E-PER"));
  CHECK(allows("B-PER", "I-PER"));
  CHECK(allows("B-PER", "E-PER"));
  CHECK_FALSE(allows("B-PER", "E-LOC"));
  CHECK_FALSE(allows("B-PER", "O"));
  CHECK(allows("E-PER", "B-LOC"));
  CHECK(allows("S-PER", "S-PER"));
  CHECK_FALSE(allows("E-PER", "I-PER"));
  CHECK(rules.can_start[static_cast<std::size_t>(id_of(tags, "S-PER"))]);
  CHECK_FALSE(rules.can_start[static_cast<std::size_t>(id_of(tags, "I-PER"))]);
  CHECK_FALSE(rules.can_end[static_cast<std::size_t>(id_of(tags, "B-PER"))]);
  CHECK(rules.can_end[static_cast<std::size_t>(id_of(tags, "E-LOC"))]);
}

TEST_CASE("IOB1 and IOB2 transition rules") {
  const std::vector<std::string> tags{"O", "B-PER", "I-PER", "I-LOC"};
  const auto iob2 = make_transition_rules(tags, TagScheme::IOB2);
  CHECK_FALSE(iob2.allows(id_of(tags, "O"), id_of(tags, "I-PER")));
  CHECK_FALSE(iob2.allows(id_of(tags, "I-LOC"), id_of(tags, "I-PER")));
  CHECK(iob2.allows(id_of(tags, "B-PER"), id_of(tags, "I-PER")));
  CHECK_FALSE(iob2.can_start[static_cast<std::size_t>(id_of(tags, "I-PER"))]);
  const auto iob1 = make_transition_rules(tags, TagScheme::IOB1);
  CHECK(iob1.allows(id_of(tags, "O"), id_of(tags, "I-PER")));
  CHECK(iob1.allows(id_of(tags, "I-LOC"), id_of(tags, "I-PER")));
  CHECK(iob1.allows(id_of(tags, "I-PER"), id_of(tags, "B-PER")));
  CHECK_FALSE(iob1.allows(id_of(tags, "O"), id_of(tags, "B-PER")));
  CHECK_FALSE(iob1.allows(id_of(tags, "I-LOC"), id_of(tags, "B-PER")));
}

TEST_CASE("constrained decoding repairs what argmax gets wrong, and keeps what it gets right") {
  const std::vector<std::string> tags{"O", "B-PER", "I-PER", "E-PER", "S-PER"};
  const auto rules = make_transition_rules(tags, TagScheme::IOBES);

  // Argmax alone says O E-PER: ill-formed. The best well-formed path is O S-PER.
  auto s = scores_for(tags, {"O", "E-PER"}, {"S-PER", "S-PER"});
  CHECK(names(tags, argmax_decode(s, 2)) == std::vector<std::string>{"O", "E-PER"});
  CHECK(names(tags, constrained_decode(s, 2, rules)) == std::vector<std::string>{"O", "S-PER"});

  // B-PER I-PER O is ill-formed (entity never closed): total log-prob decides between
  // B-PER E-PER O (-0.1 - 0.5 - 0.1) and the alternatives.
  s = scores_for(tags, {"B-PER", "I-PER", "O"}, {"S-PER", "E-PER", "E-PER"});
  CHECK(names(tags, constrained_decode(s, 3, rules)) ==
        std::vector<std::string>{"B-PER", "E-PER", "O"});

  // A well-formed argmax is returned unchanged.
  s = scores_for(tags, {"B-PER", "I-PER", "E-PER", "O"}, {"O", "O", "O", "S-PER"});
  CHECK(names(tags, constrained_decode(s, 4, rules)) ==
        std::vector<std::string>{"B-PER", "I-PER", "E-PER", "O"});

  // Only the first `length` columns count: alone, step 0's favourite B-PER cannot end a sentence,
  // so its runner-up O wins.
  CHECK(names(tags, constrained_decode(s, 1, rules)) == std::vector<std::string>{"O"});
}

TEST_CASE("constrained decoding maximises the total score over all well-formed paths") {
  // Brute force over every sequence of a small tag set and compare.
  const std::vector<std::string> tags{"O", "B-X", "I-X", "E-X", "S-X", "B-Y", "E-Y"};
  const auto rules = make_transition_rules(tags, TagScheme::IOBES);
  const Index k = static_cast<Index>(tags.size()), T = 4;
  Matrix<double> s(k, T);
  unsigned state = 12345;
  for (Index j = 0; j < T; ++j)
    for (Index i = 0; i < k; ++i) {
      state = state * 1103515245u + 12345u;
      s(i, j) = -static_cast<double>((state >> 8) % 1000) / 100.0;
    }
  double best = -1e300;
  std::vector<std::int32_t> best_path;
  std::vector<std::int32_t> path(static_cast<std::size_t>(T), 0);
  for (Index code = 0; code < k * k * k * k; ++code) {
    Index c = code;
    for (Index t = 0; t < T; ++t) {
      path[static_cast<std::size_t>(t)] = static_cast<std::int32_t>(c % k);
      c /= k;
    }
    bool ok = rules.can_start[static_cast<std::size_t>(path[0])] &&
              rules.can_end[static_cast<std::size_t>(path[static_cast<std::size_t>(T - 1)])];
    double total = s(path[0], 0);
    for (Index t = 1; t < T && ok; ++t) {
      ok = rules.allows(path[static_cast<std::size_t>(t - 1)], path[static_cast<std::size_t>(t)]);
      total += s(path[static_cast<std::size_t>(t)], t);
    }
    if (ok && total > best) {
      best = total;
      best_path = path;
    }
  }
  CHECK(constrained_decode(s, T, rules) == best_path);
  // Its output converts losslessly to IOB2 and back.
  const auto decoded = names(tags, constrained_decode(s, T, rules));
  CHECK(convert_tags(convert_tags(decoded, TagScheme::IOBES, TagScheme::IOB2), TagScheme::IOB2,
                     TagScheme::IOBES) == decoded);
}

TEST_CASE("constrained decoding rejects a score matrix that does not match the tag set") {
  const std::vector<std::string> tags{"O", "S-X"};
  const auto rules = make_transition_rules(tags, TagScheme::IOBES);
  Matrix<double> s = Matrix<double>::Zero(3, 2);
  CHECK_THROWS_WITH(constrained_decode(s, 2, rules), Catch::Contains("3 rows for 2 tags"));
  Matrix<double> ok = Matrix<double>::Zero(2, 2);
  CHECK_THROWS_WITH(constrained_decode(ok, 3, rules), Catch::Contains("bad length"));
}

namespace {

/// The textbook Viterbi: every (from, to) pair checked against the rules at every step, ties to
/// the lowest id. What ConstrainedDecoder must reproduce exactly.
std::vector<std::int32_t> plain_viterbi(const Matrix<double>& s, Index length,
                                        const TransitionRules& rules) {
  const Index k = rules.num_tags;
  const double none = -std::numeric_limits<double>::infinity();
  std::vector<double> score(static_cast<std::size_t>(k));
  std::vector<std::vector<std::int32_t>> back(static_cast<std::size_t>(length),
                                              std::vector<std::int32_t>(k, -1));
  for (Index j = 0; j < k; ++j)
    score[static_cast<std::size_t>(j)] =
        rules.can_start[static_cast<std::size_t>(j)] ? s(j, 0) : none;
  for (Index t = 1; t < length; ++t) {
    std::vector<double> next(static_cast<std::size_t>(k), none);
    for (Index j = 0; j < k; ++j) {
      double best = none;
      for (Index i = 0; i < k; ++i) {
        if (rules.allows(i, j) && score[static_cast<std::size_t>(i)] > best) {
          best = score[static_cast<std::size_t>(i)];
          back[static_cast<std::size_t>(t)][static_cast<std::size_t>(j)] =
              static_cast<std::int32_t>(i);
        }
      }
      next[static_cast<std::size_t>(j)] = best + s(j, t);
    }
    score = next;
  }
  std::int32_t last = -1;
  double best = none;
  for (Index j = 0; j < k; ++j) {
    if (rules.can_end[static_cast<std::size_t>(j)] && score[static_cast<std::size_t>(j)] > best) {
      best = score[static_cast<std::size_t>(j)];
      last = static_cast<std::int32_t>(j);
    }
  }
  std::vector<std::int32_t> path(static_cast<std::size_t>(length));
  for (Index t = length - 1; t >= 0; --t) {
    path[static_cast<std::size_t>(t)] = last;
    if (t > 0) last = back[static_cast<std::size_t>(t)][static_cast<std::size_t>(last)];
  }
  return path;
}

}  // namespace

TEST_CASE("a reused ConstrainedDecoder gives the textbook Viterbi path, ties included") {
  const std::vector<std::string> tags{"O",     "B-PER",  "I-PER",  "E-PER",  "S-PER", "B-LOC",
                                      "I-LOC", "E-LOC",  "S-LOC",  "B-ORG",  "I-ORG", "E-ORG",
                                      "S-ORG", "I-MISC", "B-MISC", "E-MISC", "S-MISC"};
  unsigned state = 2024;
  auto draw = [&state] {
    state = state * 1103515245u + 12345u;
    return (state >> 8) % 1000;
  };
  for (TagScheme scheme : {TagScheme::IOBES, TagScheme::IOB2, TagScheme::IOB1}) {
    const auto rules = make_transition_rules(tags, scheme);
    ConstrainedDecoder decoder(rules);
    std::vector<std::int32_t> path;
    const Index k = static_cast<Index>(tags.size());
    // Lengths up and down, so the buffers both grow and get reused.
    for (Index length : {1, 7, 30, 2, 12, 1, 45, 3}) {
      Matrix<double> s(k, length + 2);  // two extra columns the decoder must not read
      for (Index t = 0; t < s.cols(); ++t)
        for (Index i = 0; i < k; ++i) s(i, t) = -static_cast<double>(draw() % 8);  // many ties
      decoder.decode(s, length, path);
      INFO("scheme " << to_string(scheme) << ", length " << length);
      CHECK(path == plain_viterbi(s, length, rules));
      CHECK(constrained_decode(s, length, rules) == path);
    }
  }
}

TEST_CASE("decoding raw scores gives the path of their log-softmax") {
  const std::vector<std::string> tags{"O", "B-X", "I-X", "E-X", "S-X", "B-Y", "I-Y", "E-Y", "S-Y"};
  const auto rules = make_transition_rules(tags, TagScheme::IOBES);
  const Index k = static_cast<Index>(tags.size()), T = 25;
  unsigned state = 7;
  Matrix<float> raw(k, T);
  for (Index t = 0; t < T; ++t)
    for (Index i = 0; i < k; ++i) {
      state = state * 1103515245u + 12345u;
      raw(i, t) = static_cast<float>((state >> 8) % 2000) / 100.0f - 10.0f;
    }
  Matrix<double> log_probs = raw.cast<double>();
  for (Index t = 0; t < T; ++t) {
    const double max = log_probs.col(t).maxCoeff();
    log_probs.col(t).array() -= max + std::log((log_probs.col(t).array() - max).exp().sum());
  }
  CHECK(constrained_decode(raw, T, rules) == constrained_decode(log_probs, T, rules));
  CHECK(argmax_decode(raw, T) == argmax_decode(log_probs, T));
}
