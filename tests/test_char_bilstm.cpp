// The character BiLSTM (char_bilstm.hpp): a per-word reference built from LSTM's reference
// kernel, finite-difference gradients (double), the bucket plan against brute force, results
// bit-identical on any number of threads and in any order of the words, and no heap allocation
// in sized passes (this executable links tests/counting_allocator.cpp).

#include <lstmner/char_bilstm.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/gradcheck.hpp>

#include "char_batch.hpp"
#include "counting_allocator.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <vector>

using namespace lstmner;
using lstmner_test::allocations_since;
using lstmner_test::CharBatch;
using lstmner_test::random_char_batch;
using lstmner_test::random_matrix;
using lstmner_test::require_char_id_checks;
using lstmner_test::start_measuring;

namespace {

/// `count` lengths drawn like the unique words of a batch of 32 CoNLL-2003 training sentences
/// (per mille: 1 → 44, 2 → 81, ..., 5 → 142, ..., 10 → 38, 15 → 1; mean 5.6), plus the odd long
/// word.
std::vector<Index> conll_like_lengths(Index count, Rng& rng) {
  static const int per_mille[] = {44, 81, 101, 147, 142, 135, 127, 86, 61, 38, 17, 10, 6, 3, 2};
  std::vector<Index> lengths;
  for (Index w = 0; w < count; ++w) {
    auto u = static_cast<int>(rng.below(1000));
    Index length = 1;
    for (int p : per_mille) {
      if (u < p) break;
      u -= p;
      ++length;
    }
    if (length > 15) length = 16 + static_cast<Index>(rng.below(8));
    lengths.push_back(length);
  }
  return lengths;
}

/// A layer with random biases too (the constructor's are 0 and 1).
template <class Scalar>
CharBiLSTM<Scalar> random_layer(Index vocab, Index C, Index H, Rng& rng) {
  CharBiLSTM<Scalar> layer(vocab, C, H, rng);
  for (LSTM<Scalar>* l : {&layer.bilstm.forward_layer, &layer.bilstm.backward_layer})
    for (Index i = 0; i < l->b.value.rows(); ++i)
      l->b.value(i, 0) += static_cast<Scalar>(rng.uniform(-0.5, 0.5));
  return layer;
}

template <class Scalar>
bool bitwise_equal(const Scalar* a, const Scalar* b, Index n) {
  return std::memcmp(a, b, sizeof(Scalar) * static_cast<std::size_t>(n)) == 0;
}
template <class Scalar>
bool bitwise_equal(const Matrix<Scalar>& a, const Matrix<Scalar>& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         bitwise_equal(a.data(), b.data(), a.size());
}

/// What the layer computes, word by word, straight through LSTM's reference kernel: for each
/// word alone, x = its characters' vectors (and reversed for the backward LSTM), the last step of
/// each direction's output; backward with dh = d_out at the last step only, the character
/// gradients added into the table's columns.
template <class Scalar>
struct Reference {
  Matrix<Scalar> out;
  std::vector<Matrix<Scalar>> grads;  ///< in the layer's slot order

  Reference(const CharBiLSTM<Scalar>& layer, const CharBatch& batch, const Tensor2<Scalar>& d_out) {
    const Index C = layer.char_dim(), H = layer.hidden_size(), W = batch.lengths.batch_size();
    LSTM<Scalar> lstm[2] = {layer.bilstm.forward_layer, layer.bilstm.backward_layer};
    Matrix<Scalar> table_grad = Matrix<Scalar>::Zero(C, layer.vocab_size());
    for (auto& l : lstm) {
      l.kernel = LstmKernel::reference;
      zero_grad(l.params());
    }
    out.resize(2 * H, W);
    for (Index w = 0; w < W; ++w) {
      const Index n = batch.lengths[w];
      const SequenceLengths alone({n});
      for (int d = 0; d < 2; ++d) {
        Tensor3<Scalar> x(typename Tensor3<Scalar>::Shape{C, 1, n}), h, dh, dx;
        const auto char_at = [&](Index t) { return batch.ids(w, d == 0 ? t : n - 1 - t); };
        for (Index t = 0; t < n; ++t) x.step(t) = layer.table.value.col(char_at(t));
        typename LSTM<Scalar>::Workspace ws;
        lstm[d].forward(x, alone, h, ws);
        out.col(w).segment(d * H, H) = h.step(n - 1);
        dh.resize(H, 1, n);
        dh.setZero();
        dh.step(n - 1) = d_out.matrix().col(w).segment(d * H, H);
        lstm[d].backward(x, alone, dh, dx, ws);
        for (Index t = 0; t < n; ++t) table_grad.col(char_at(t)) += dx.step(t);
      }
    }
    grads.push_back(table_grad);
    for (auto& l : lstm)
      for (auto* p : l.params()) grads.push_back(p->grad);
  }
};

/// Whether a finite-difference check passed: it looked at every entry, every analytic entry is
/// finite (check_gradient keeps the largest error with `>`, which a NaN never is, so a NaN after
/// the first entry would otherwise go unseen), and the largest error is at most `tolerance`.
bool gradient_matches(const GradCheckResult& r, const Matrix<double>& analytic, double tolerance) {
  return r.checked == analytic.size() && r.checked > 0 && analytic.allFinite() &&
         r.max_relative_error <= tolerance;
}

}  // namespace

TEST_CASE("char BiLSTM: gradient_matches fails on a NaN and on an empty check") {
  Matrix<double> values = Matrix<double>::Constant(3, 2, 0.5);
  const auto loss = [&] { return values.sum(); };
  Matrix<double> analytic = Matrix<double>::Ones(3, 2);
  REQUIRE(gradient_matches(check_gradient("v", values, analytic, loss), analytic, 1e-6));
  analytic(2, 1) = std::numeric_limits<double>::quiet_NaN();  // not the first entry checked
  const GradCheckResult with_nan = check_gradient("v", values, analytic, loss);
  REQUIRE_FALSE(gradient_matches(with_nan, analytic, 1e-6));
  const Matrix<double> empty(0, 0);
  Matrix<double> none(0, 0);
  REQUIRE_FALSE(gradient_matches(check_gradient("e", none, empty, loss), empty, 1e-6));
}

TEST_CASE("char BiLSTM: the bucket plan is the cheapest cut, found by brute force") {
  Rng rng(3);
  detail::LengthBucketScratch scratch;
  std::vector<Index> starts;
  for (int trial = 0; trial < 300; ++trial) {
    const auto count = static_cast<Index>(1 + rng.below(12));
    std::vector<Index> sorted;
    for (Index i = 0; i < count; ++i) sorted.push_back(1 + static_cast<Index>(rng.below(9)));
    std::sort(sorted.rbegin(), sorted.rend());
    const auto max_buckets = static_cast<Index>(1 + rng.below(5));
    const auto overhead = static_cast<Index>(rng.below(3) == 0 ? 0 : rng.below(20));
    CAPTURE(sorted, max_buckets, overhead);
    detail::plan_length_buckets(sorted.data(), count, max_buckets, overhead, starts, scratch);

    const auto cost_of = [&](const std::vector<Index>& s) {
      Index total = 0;
      for (std::size_t k = 0; k + 1 < s.size(); ++k)
        total += (s[k + 1] - s[k]) * sorted[static_cast<std::size_t>(s[k])] + overhead;
      return total;
    };
    // Every cut: a subset of the positions where the length changes (at most max_buckets - 1).
    std::vector<Index> boundaries;
    for (Index i = 1; i < count; ++i)
      if (sorted[static_cast<std::size_t>(i)] != sorted[static_cast<std::size_t>(i - 1)])
        boundaries.push_back(i);
    Index best = std::numeric_limits<Index>::max();
    for (unsigned mask = 0; mask < (1u << boundaries.size()); ++mask) {
      std::vector<Index> s{0};
      for (std::size_t i = 0; i < boundaries.size(); ++i)
        if (mask & (1u << i)) s.push_back(boundaries[i]);
      s.push_back(count);
      if (static_cast<Index>(s.size()) - 1 <= max_buckets) best = std::min(best, cost_of(s));
    }
    // The plan: a valid cut (starts at 0, ends at count, increasing, never inside a run of equal
    // lengths, at most max_buckets buckets) of the brute-force minimum cost.
    REQUIRE(starts.front() == 0);
    REQUIRE(starts.back() == count);
    REQUIRE(static_cast<Index>(starts.size()) - 1 <= max_buckets);
    for (std::size_t k = 1; k < starts.size(); ++k) {
      REQUIRE(starts[k] > starts[k - 1]);
      if (k + 1 < starts.size())
        REQUIRE(sorted[static_cast<std::size_t>(starts[k])] !=
                sorted[static_cast<std::size_t>(starts[k] - 1)]);
    }
    REQUIRE(cost_of(starts) == best);
  }
}

TEST_CASE(
    "char BiLSTM: forward and backward agree with a per-word reference (LSTM's reference kernel)") {
  struct Case {
    const char* what;
    std::vector<Index> lengths;
    Index max_buckets;
    Index overhead;
  };
  std::vector<Index> many;
  Rng length_rng(8);
  for (Index w = 0; w < 60; ++w) many.push_back(1 + static_cast<Index>(length_rng.below(17)));
  const std::vector<Case> cases = {
      {"mixed lengths, with words of length 1", {3, 1, 7, 1, 5, 2, 7, 4}, 8, 0},
      {"mixed lengths, one padded bucket", {3, 1, 7, 1, 5, 2, 7, 4}, 1, 0},
      {"a batch of one word", {6}, 8, 32},
      {"a batch of one word of one character", {1}, 8, 32},
      {"every word of length 1", {1, 1, 1, 1, 1}, 8, 32},
      {"60 words in the default buckets", many, CharBiLSTM<double>::default_max_buckets,
       CharBiLSTM<double>::default_bucket_overhead},
      {"60 words, one bucket per length", many, 100, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    Rng rng(11);
    CharBiLSTM<double> layer = random_layer<double>(13, 5, 4, rng);
    layer.max_buckets = c.max_buckets;
    layer.bucket_overhead = c.overhead;
    const CharBatch batch = random_char_batch(c.lengths, 13, rng, 12);
    const Tensor2<double> d_out = random_matrix<double>(8, batch.lengths.batch_size(), rng);
    const Reference<double> expected(layer, batch, d_out);

    CharBiLSTM<double>::Workspace ws;
    Tensor2<double> out;
    layer.forward(batch.ids, batch.lengths, out, ws);
    REQUIRE(out.dim(0) == 8);
    REQUIRE(out.dim(1) == batch.lengths.batch_size());
    CHECK((out.matrix() - expected.out).cwiseAbs().maxCoeff() < 1e-13);
    zero_grad(layer.params());
    layer.backward(batch.ids, batch.lengths, d_out, ws);
    const ParamList<double> params = layer.params();
    REQUIRE(params.size() == expected.grads.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      INFO(params[i]->name);
      CHECK((params[i]->grad - expected.grads[i]).cwiseAbs().maxCoeff() < 1e-12);
      // U gets no gradient when every word has one character (h_{-1} = 0); the rest always do.
      const bool recurrent = params[i]->name.find(".U") != std::string::npos;
      if (batch.lengths.max_length() > 1 || !recurrent)
        CHECK(params[i]->grad.cwiseAbs().maxCoeff() > 0.0);
    }
  }
}

TEST_CASE("char BiLSTM: layers on the reference kernel take the plain path, same results") {
  Rng rng(12);
  CharBiLSTM<double> fast = random_layer<double>(20, 6, 5, rng);
  CharBiLSTM<double> plain = fast;
  plain.bilstm.forward_layer.kernel = LstmKernel::reference;
  plain.bilstm.backward_layer.kernel = LstmKernel::reference;
  const CharBatch batch = random_char_batch({4, 9, 1, 4, 2, 9, 3}, 20, rng);
  const Tensor2<double> d_out = random_matrix<double>(10, 7, rng);
  CharBiLSTM<double>::Workspace ws_fast, ws_plain;
  Tensor2<double> out_fast, out_plain;
  fast.forward(batch.ids, batch.lengths, out_fast, ws_fast);
  plain.forward(batch.ids, batch.lengths, out_plain, ws_plain);
  CHECK((out_fast.matrix() - out_plain.matrix()).cwiseAbs().maxCoeff() < 1e-13);
  zero_grad(fast.params());
  zero_grad(plain.params());
  fast.backward(batch.ids, batch.lengths, d_out, ws_fast);
  plain.backward(batch.ids, batch.lengths, d_out, ws_plain);
  const auto pf = fast.params(), pp = plain.params();
  for (std::size_t i = 0; i < pf.size(); ++i) {
    INFO(pf[i]->name);
    CHECK((pf[i]->grad - pp[i]->grad).cwiseAbs().maxCoeff() < 1e-12);
  }
  CHECK(fast.table.touched_columns == plain.table.touched_columns);
}

TEST_CASE("char BiLSTM: gradients match finite differences (double)") {
  struct Case {
    const char* what;
    std::vector<Index> lengths;
  };
  const std::vector<Case> cases = {
      {"padded batch with words of length 1", {1, 6, 3, 1, 4, 6}},
      {"a batch of one word of one character", {1}},
      {"a batch of one word", {5}},
      {"every word of length 1", {1, 1, 1}},
  };
  for (const Index max_buckets : {Index(1), Index(8)}) {
    for (const Case& c : cases) {
      CAPTURE(c.what, max_buckets);
      Rng rng(17);
      CharBiLSTM<double> layer = random_layer<double>(7, 3, 4, rng);
      layer.max_buckets = max_buckets;
      layer.bucket_overhead = 0;
      const CharBatch batch = random_char_batch(c.lengths, 7, rng, 6);
      const Tensor2<double> R = random_matrix<double>(8, batch.lengths.batch_size(), rng);
      CharBiLSTM<double>::Workspace ws;
      Tensor2<double> out;
      const auto loss = [&] {
        layer.forward(batch.ids, batch.lengths, out, ws);
        return (out.matrix().array() * R.matrix().array()).sum();
      };
      REQUIRE(std::isfinite(loss()));
      zero_grad(layer.params());
      layer.backward(batch.ids, batch.lengths, R, ws);
      bool any_u_gradient = false;
      for (auto* p : layer.params()) {
        const Matrix<double> analytic = p->grad;
        const GradCheckResult r = check_gradient(p->name, p->value, analytic, loss);
        INFO(p->name << ": worst entry " << r.worst_index << " analytic " << r.analytic_at_worst
                     << " numeric " << r.numeric_at_worst << ", error " << r.max_relative_error);
        CHECK(gradient_matches(r, analytic, 1e-6));
        if (p->name.find(".U") != std::string::npos) {
          any_u_gradient = any_u_gradient || analytic.cwiseAbs().maxCoeff() > 0.0;
        } else {
          CHECK(analytic.cwiseAbs().maxCoeff() > 0.0);
        }
      }
      // U carries gradient once some word has two characters (h_{-1} = 0).
      CHECK(any_u_gradient == (batch.lengths.max_length() > 1));
      // The touched columns are the ids of the batch's characters, and only they have gradient.
      std::set<Index> used;
      for (Index w = 0; w < batch.lengths.batch_size(); ++w)
        for (Index p = 0; p < batch.lengths[w]; ++p) used.insert(batch.ids(w, p));
      REQUIRE(layer.table.touched_columns == std::vector<Index>(used.begin(), used.end()));
      for (Index col = 0; col < layer.vocab_size(); ++col)
        if (used.count(col) == 0) REQUIRE(layer.table.grad.col(col).isZero(0.0));
    }
  }
}

TEST_CASE("char BiLSTM: padding ids are never read") {
  Rng rng(5);
  const CharBiLSTM<float> layer = random_layer<float>(40, 25, 25, rng);
  const std::vector<Index> lengths = conll_like_lengths(50, rng);
  Rng ids_rng(9), same_ids_rng(9);
  const CharBatch zero_padded = random_char_batch(lengths, 40, ids_rng, 0);
  const CharBatch other_padded = random_char_batch(lengths, 40, same_ids_rng, 39);
  CharBiLSTM<float>::Workspace ws;
  Tensor2<float> out, out2;
  layer.forward(zero_padded.ids, zero_padded.lengths, out, ws);
  layer.forward(other_padded.ids, other_padded.lengths, out2, ws);
  REQUIRE(bitwise_equal(out.data(), out2.data(), out.size()));
}

TEST_CASE("char BiLSTM: bit-identical on 1, 2, 3 and 8 threads") {
  Rng rng(21);
  const CharBiLSTM<float> reference = random_layer<float>(90, 25, 25, rng);
  // A training batch's ~300 unique words, a small batch, and a batch of one word; each pass run
  // twice on the same workspace (the second reuses the buffers).
  std::vector<CharBatch> batches;
  std::vector<Tensor2<float>> grads;
  for (const Index words : {Index(300), Index(32), Index(1)}) {
    batches.push_back(random_char_batch(conll_like_lengths(words, rng), 90, rng));
    grads.push_back(random_matrix<float>(50, words, rng));
  }
  struct Result {
    std::vector<Matrix<float>> outs;
    std::vector<Matrix<float>> grads;
    std::vector<Index> touched;
  };
  const auto run = [&](int threads) {
    ExecutionContext context(threads);
    CharBiLSTM<float> layer = reference;
    CharBiLSTM<float>::Workspace ws;
    Tensor2<float> out;
    Result result;
    zero_grad(layer.params());
    for (int repeat = 0; repeat < 2; ++repeat) {
      for (std::size_t i = 0; i < batches.size(); ++i) {
        layer.forward(batches[i].ids, batches[i].lengths, out, ws, context);
        layer.backward(batches[i].ids, batches[i].lengths, grads[i], ws, context);
        result.outs.push_back(out.matrix());
      }
    }
    for (auto* p : layer.params()) result.grads.push_back(p->grad);
    result.touched = layer.table.touched_columns;
    return result;
  };
  const Result one = run(1);
  REQUIRE(one.grads.size() == 7);
  for (const auto& g : one.grads) REQUIRE(g.cwiseAbs().maxCoeff() > 0.0f);
  for (int threads : {2, 3, 8}) {
    CAPTURE(threads);
    const Result many = run(threads);
    for (std::size_t i = 0; i < one.outs.size(); ++i)
      REQUIRE(bitwise_equal(one.outs[i], many.outs[i]));
    for (std::size_t i = 0; i < one.grads.size(); ++i) {
      CAPTURE(i);
      REQUIRE(bitwise_equal(one.grads[i], many.grads[i]));
    }
    REQUIRE(one.touched == many.touched);
  }
}

TEST_CASE("char BiLSTM: the order of the words does not change a bit") {
  Rng rng(31);
  const CharBiLSTM<float> reference = random_layer<float>(60, 25, 25, rng);
  // 200 distinct words (duplicates would add their gradients in another order).
  CharBatch batch = random_char_batch(conll_like_lengths(200, rng), 60, rng);
  const Index W = batch.lengths.batch_size(), L = batch.lengths.max_length();
  std::set<std::vector<std::int32_t>> seen;
  for (Index w = 0; w < W; ++w) {
    std::vector<std::int32_t> word;
    for (Index p = 0; p < batch.lengths[w]; ++p) word.push_back(batch.ids(w, p));
    while (!seen.insert(word).second) {  // redraw a repeated word's first character
      word[0] = static_cast<std::int32_t>(1 + rng.below(59));
      batch.ids(w, 0) = word[0];
    }
  }
  const Tensor2<float> d_out = random_matrix<float>(50, W, rng);

  std::vector<std::size_t> permutation(static_cast<std::size_t>(W));
  std::iota(permutation.begin(), permutation.end(), std::size_t(0));
  rng.shuffle(permutation);
  CharBatch shuffled;
  shuffled.ids.resize(W, L);
  Tensor2<float> d_shuffled(Tensor2<float>::Shape{50, W});
  for (Index w = 0; w < W; ++w) {
    const auto from = static_cast<Index>(permutation[static_cast<std::size_t>(w)]);
    for (Index p = 0; p < L; ++p) shuffled.ids(w, p) = batch.ids(from, p);
    d_shuffled.matrix().col(w) = d_out.matrix().col(from);
  }
  shuffled.lengths.assign(static_cast<std::size_t>(W), [&](std::size_t w) {
    return batch.lengths[static_cast<Index>(permutation[w])];
  });

  for (int threads : {1, 2}) {
    CAPTURE(threads);
    ExecutionContext context(threads);
    CharBiLSTM<float> a = reference, b = reference;
    CharBiLSTM<float>::Workspace ws_a, ws_b;
    Tensor2<float> out_a, out_b;
    a.forward(batch.ids, batch.lengths, out_a, ws_a, context);
    b.forward(shuffled.ids, shuffled.lengths, out_b, ws_b, context);
    for (Index w = 0; w < W; ++w) {
      const auto from = static_cast<Index>(permutation[static_cast<std::size_t>(w)]);
      REQUIRE(bitwise_equal(out_b.data() + w * 50, out_a.data() + from * 50, 50));
    }
    zero_grad(a.params());
    zero_grad(b.params());
    a.backward(batch.ids, batch.lengths, d_out, ws_a, context);
    b.backward(shuffled.ids, shuffled.lengths, d_shuffled, ws_b, context);
    const auto pa = a.params(), pb = b.params();
    for (std::size_t i = 0; i < pa.size(); ++i) {
      INFO(pa[i]->name);
      REQUIRE(bitwise_equal(pa[i]->grad, pb[i]->grad));
    }
  }
}

TEST_CASE("char BiLSTM: a frozen table gets no gradient; the LSTMs learn as before") {
  Rng rng(4);
  CharBiLSTM<double> layer = random_layer<double>(9, 3, 4, rng);
  const CharBatch batch = random_char_batch({3, 1, 6, 2}, 9, rng);
  const Tensor2<double> d_out = random_matrix<double>(8, 4, rng);
  CharBiLSTM<double>::Workspace ws;
  Tensor2<double> out;
  layer.forward(batch.ids, batch.lengths, out, ws);
  zero_grad(layer.params());
  layer.backward(batch.ids, batch.lengths, d_out, ws);
  std::vector<Matrix<double>> unfrozen;
  for (auto* p : layer.params()) unfrozen.push_back(p->grad);

  layer.table.frozen = true;
  zero_grad(layer.params());
  layer.forward(batch.ids, batch.lengths, out, ws);
  layer.backward(batch.ids, batch.lengths, d_out, ws);
  REQUIRE(layer.table.grad.isZero(0.0));
  REQUIRE(layer.table.touched_columns.empty());
  const auto params = layer.params();
  for (std::size_t i = 1; i < params.size(); ++i)
    REQUIRE(bitwise_equal(params[i]->grad, unfrozen[i]));
}

TEST_CASE("char BiLSTM: touched columns gather over passes until zero_grad") {
  Rng rng(7);
  CharBiLSTM<float> layer(30, 4, 3, rng);
  CharBiLSTM<float>::Workspace ws;
  Tensor2<float> out;
  CharBatch first;
  first.lengths = SequenceLengths({2, 1});
  first.ids.resize(2, 2);
  first.ids(0, 0) = 7;
  first.ids(0, 1) = 3;
  first.ids(1, 0) = 7;
  first.ids(1, 1) = 0;  // padding
  CharBatch second;
  second.lengths = SequenceLengths({3});
  second.ids.resize(1, 3);
  second.ids(0, 0) = 12;
  second.ids(0, 1) = 3;
  second.ids(0, 2) = 29;
  zero_grad(layer.params());
  for (const CharBatch* batch : {&first, &second}) {
    const Tensor2<float> d_out =
        random_matrix<float>(layer.output_size(), batch->lengths.batch_size(), rng);
    layer.forward(batch->ids, batch->lengths, out, ws);
    layer.backward(batch->ids, batch->lengths, d_out, ws);
  }
  REQUIRE(layer.table.touched_columns == std::vector<Index>{3, 7, 12, 29});
  for (Index c = 0; c < layer.vocab_size(); ++c) {
    const bool touched = c == 3 || c == 7 || c == 12 || c == 29;
    CHECK(layer.table.grad.col(c).isZero(0.0) != touched);
  }
  zero_grad(layer.params());
  REQUIRE(layer.table.touched_columns.empty());
  REQUIRE(layer.table.grad.isZero(0.0));
}

TEST_CASE("char BiLSTM: parameters in slot order, named") {
  Rng rng(1);
  CharBiLSTM<float> layer(10, CharBiLSTM<float>::default_char_dim,
                          CharBiLSTM<float>::default_hidden, rng);
  std::vector<std::string> names;
  for (auto* p : layer.params()) names.push_back(p->name);
  REQUIRE(names == std::vector<std::string>{"table", "forward.W", "forward.U", "forward.b",
                                            "backward.W", "backward.U", "backward.b"});
  REQUIRE(layer.table.sparse);
  REQUIRE(layer.output_size() == 50);
  REQUIRE(layer.bilstm.forward_layer.W.value.cols() == 25);
  REQUIRE(layer.table.value.cwiseAbs().maxCoeff() <= std::sqrt(3.0 / 25.0));
}

TEST_CASE("char BiLSTM: bad arguments are named") {
  Rng rng(5);
  CharBiLSTM<float> layer(4, 2, 3, rng);
  CharBiLSTM<float>::Workspace ws;
  const CharBatch batch = require_char_id_checks(layer, ws, "CharBiLSTM", rng);
  Tensor2<float> out;
  Tensor2<float> d_out(Tensor2<float>::Shape{6, 2});
  d_out.setZero();
  REQUIRE_THROWS_WITH(layer.backward(batch.ids, batch.lengths, d_out, ws),
                      Catch::Contains("the workspace holds no forward pass over this batch"));
  layer.forward(batch.ids, batch.lengths, out, ws);
  const CharBatch shorter = random_char_batch({2, 2}, 4, rng);
  REQUIRE_THROWS_WITH(layer.backward(shorter.ids, shorter.lengths, d_out, ws),
                      Catch::Contains("the workspace holds no forward pass over this batch"));
  Tensor2<float> wrong(Tensor2<float>::Shape{3, 2});
  REQUIRE_THROWS_WITH(layer.backward(batch.ids, batch.lengths, wrong, ws),
                      Catch::Contains("d_out has shape (3, 2), expected (6, 2)"));
  layer.max_buckets = 0;
  REQUIRE_THROWS_WITH(layer.forward(batch.ids, batch.lengths, out, ws),
                      Catch::Contains("max_buckets must be at least 1"));
  layer.max_buckets = 8;
  CharBiLSTM<float> mismatched = layer;
  mismatched.bilstm = make_bilstm<float>(3, 3, rng);
  REQUIRE_THROWS_WITH(mismatched.forward(batch.ids, batch.lengths, out, ws),
                      Catch::Contains("the BiLSTM reads 3 features with 3 + 3 units; it must read "
                                      "the 2 of a character vector"));
  const CharBiLSTM<float> empty;
  REQUIRE_THROWS_WITH(empty.forward(batch.ids, batch.lengths, out, ws),
                      Catch::Contains("CharBiLSTM: forward: the layer is empty"));
  REQUIRE_THROWS_WITH(CharBiLSTM<float>(4, 2, 0, rng), Catch::Contains("must be at least 1"));
}

TEST_CASE("char BiLSTM: sized passes allocate nothing, on one thread and on two") {
  Rng rng(6);
  CharBiLSTM<float> layer(90, 25, 25, rng);
  // A training batch's ~450 words, then smaller and shorter ones, then one word.
  std::vector<std::vector<Index>> shapes{
      conll_like_lengths(450, rng), conll_like_lengths(280, rng), {}, {4}};
  for (int w = 0; w < 37; ++w) shapes[2].push_back(1 + static_cast<Index>(rng.below(5)));
  std::vector<CharBatch> batches;
  std::vector<Tensor2<float>> grads;
  for (const auto& lengths : shapes) {
    batches.push_back(random_char_batch(lengths, 90, rng));
    grads.push_back(random_matrix<float>(50, static_cast<Index>(lengths.size()), rng));
  }
  const ParamList<float> params = layer.params();  // (params() makes a vector: not in the step)
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    ExecutionContext context(threads);
    CharBiLSTM<float>::Workspace ws;
    Tensor2<float> out;
    const auto step = [&] {
      for (std::size_t i = 0; i < batches.size(); ++i) {
        zero_grad(params);
        layer.forward(batches[i].ids, batches[i].lengths, out, ws, context);
        layer.backward(batches[i].ids, batches[i].lengths, grads[i], ws, context);
      }
    };
    step();
    step();
    const long start = start_measuring();
    for (int repeat = 0; repeat < 3; ++repeat) step();
    REQUIRE(allocations_since(start) == 0);
  }
}
