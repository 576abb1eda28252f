// paired_bootstrap (metrics/bootstrap.hpp): the observed scores are evaluate()'s, the p-value
// and interval match an exact enumeration of every resample of a small case, and the edge cases
// (identical systems, one system far better) come out as they must.

#include <lstmner/metrics.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace lstmner;
using Tags = std::vector<std::string>;
using Sentences = std::vector<Tags>;

namespace {

Tags tags(const std::string& text) {
  std::istringstream in(text);
  Tags out;
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

}  // namespace

TEST_CASE("paired_bootstrap: the observed F1 of each system is evaluate()'s micro F1") {
  std::mt19937 gen(11);
  const Tags alphabet = {"O", "O", "O", "B-A", "I-A", "B-B", "I-B"};
  Sentences gold, a, b;
  for (int s = 0; s < 200; ++s) {
    const std::size_t n = 1 + gen() % 8;
    Tags g, x, y;
    for (std::size_t i = 0; i < n; ++i) {
      g.push_back(alphabet[gen() % alphabet.size()]);
      x.push_back(gen() % 3 ? g.back() : alphabet[gen() % alphabet.size()]);
      y.push_back(gen() % 2 ? g.back() : alphabet[gen() % alphabet.size()]);
    }
    gold.push_back(g);
    a.push_back(x);
    b.push_back(y);
  }
  for (const ScoringOptions& scoring : {ScoringOptions{ScoringMode::Conlleval, std::nullopt},
                                        ScoringOptions{ScoringMode::Seqeval, std::nullopt},
                                        ScoringOptions{ScoringMode::SeqevalStrict, std::nullopt}}) {
    INFO(to_string(scoring.mode));
    BootstrapOptions options;
    options.scoring = scoring;
    options.samples = 200;
    const BootstrapComparison r = paired_bootstrap(gold, a, b, options);
    const EvaluationReport ra = evaluate(gold, a, scoring);
    const EvaluationReport rb = evaluate(gold, b, scoring);
    CHECK(r.a.f1 == Approx(ra.micro.f1).epsilon(1e-12));
    CHECK(r.b.f1 == Approx(rb.micro.f1).epsilon(1e-12));
    CHECK(r.a.precision == Approx(ra.micro.precision).epsilon(1e-12));
    CHECK(r.b.recall == Approx(rb.micro.recall).epsilon(1e-12));
    CHECK(r.difference == r.a.f1 - r.b.f1);
    CHECK(r.sentences == 200);
    CHECK(r.low <= r.difference + 0.05);
    CHECK(r.high >= r.difference - 0.05);
  }
}

TEST_CASE("paired_bootstrap: the p-value and interval of an exact enumeration") {
  // Three sentences. A finds everything plus one false positive; B misses the ORG.
  const Sentences gold = {tags("B-PER"), tags("B-LOC I-LOC"), tags("B-ORG O")};
  const Sentences a = {tags("B-PER"), tags("B-LOC I-LOC"), tags("B-ORG B-MISC")};
  const Sentences b = {tags("O"), tags("B-LOC I-LOC"), tags("B-ORG O")};
  // Per sentence (gold, predicted, correct) for A and B.
  const std::size_t ca[3][3] = {{1, 1, 1}, {1, 1, 1}, {1, 2, 1}};
  const std::size_t cb[3][3] = {{1, 0, 0}, {1, 1, 1}, {1, 1, 1}};
  auto difference = [&](const std::vector<int>& sample) {
    std::size_t ga = 0, pa = 0, ka = 0, pb = 0, kb = 0;
    for (int s : sample) {
      ga += ca[s][0];
      pa += ca[s][1];
      ka += ca[s][2];
      pb += cb[s][1];
      kb += cb[s][2];
    }
    return detail::prf_from_counts(ka, pa, ga).f1 - detail::prf_from_counts(kb, pb, ga).f1;
  };
  const double observed = difference({0, 1, 2});
  // Every one of the 27 equally likely ordered resamples.
  std::vector<double> all;
  std::size_t as_far = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) {
        const double d = difference({i, j, k});
        all.push_back(d);
        if (std::abs(d - observed) >= std::abs(observed)) ++as_far;
      }
  const double exact_p = static_cast<double>(as_far) / 27.0;
  std::sort(all.begin(), all.end());

  BootstrapOptions options;
  options.samples = 100000;
  const BootstrapComparison r = paired_bootstrap(gold, a, b, options);
  CHECK(r.difference == observed);
  CHECK(r.a.f1 == Approx(6.0 / 7.0));  // P 3/4, R 1
  CHECK(r.b.f1 == Approx(0.8));        // P 1, R 2/3
  CHECK(r.p_value == Approx(exact_p).margin(0.01));
  // The smallest and largest differences each have probability >= 1/27 > 2.5%, so the 95%
  // interval's ends are exactly those two values.
  CHECK(r.low == all.front());
  CHECK(r.high == all.back());
  CHECK(r.a_wins > 0.0);
  CHECK(r.a_wins < 1.0);
}

TEST_CASE("paired_bootstrap: identical systems, and one system far better") {
  Sentences gold, perfect, empty;
  for (int s = 0; s < 60; ++s) {
    gold.push_back(tags("B-PER I-PER O B-LOC"));
    perfect.push_back(gold.back());
    empty.push_back(tags("O O O O"));
  }
  BootstrapOptions options;
  options.samples = 999;
  const BootstrapComparison same = paired_bootstrap(gold, perfect, perfect, options);
  CHECK(same.difference == 0.0);
  CHECK(same.p_value == 1.0);
  CHECK(same.low == 0.0);
  CHECK(same.high == 0.0);

  const BootstrapComparison better = paired_bootstrap(gold, perfect, empty, options);
  CHECK(better.difference == 1.0);
  CHECK(better.p_value == 1.0 / 1000.0);  // no sample as far from 1 as 0 is: only the +1
  CHECK(better.low == 1.0);
  CHECK(better.a_wins == 1.0);
}

TEST_CASE("paired_bootstrap: the same seed gives the same result; bad input throws") {
  Sentences gold, a, b;
  std::mt19937 gen(3);
  for (int s = 0; s < 40; ++s) {
    gold.push_back(tags("B-PER O B-LOC"));
    a.push_back(gen() % 3 ? gold.back() : tags("O O B-LOC"));
    b.push_back(gen() % 2 ? gold.back() : tags("B-PER O O"));
  }
  BootstrapOptions options;
  options.samples = 500;
  options.seed = 42;
  const auto r1 = paired_bootstrap(gold, a, b, options);
  const auto r2 = paired_bootstrap(gold, a, b, options);
  CHECK(r1.p_value == r2.p_value);
  CHECK(r1.low == r2.low);
  CHECK(r1.high == r2.high);
  options.seed = 43;
  const auto r3 = paired_bootstrap(gold, a, b, options);
  CHECK(r3.difference == r1.difference);
  CHECK((r3.low != r1.low || r3.high != r1.high || r3.p_value != r1.p_value));

  CHECK_THROWS_AS(paired_bootstrap({}, {}, {}), std::invalid_argument);
  CHECK_THROWS_AS(paired_bootstrap(gold, a, {tags("O")}), std::invalid_argument);
  options.samples = 0;
  CHECK_THROWS_AS(paired_bootstrap(gold, a, b, options), std::invalid_argument);
  options.samples = 10;
  options.confidence = 1.0;
  CHECK_THROWS_AS(paired_bootstrap(gold, a, b, options), std::invalid_argument);
}
