#pragma once
/// \file char_cnn.hpp
/// The character-level word encoder of Ma & Hovy (2016): character embeddings, a width-3
/// convolution over each word's characters, max-pooling over the word's positions.
///
/// Parameters, in slot order: `table` [C x V] (character vectors, a contiguous column per id;
/// sparse like Embedding's), `W` [F x 3C], `b` [F x 1]. Column block k of W (columns kC..kC+C-1)
/// weighs the character at offset k - 1 from the position: W = [W_left | W_centre | W_right].
/// Defaults C = F = 30 (Ma & Hovy). Initialisation: table uniform in ±sqrt(3/C), W
/// Glorot-uniform, b zero.
///
/// For a word of n >= 1 characters with vectors e_0 .. e_{n-1} (e_{-1} = e_n = 0: one zero
/// character of padding at each end, so a 1-character word works) the layer computes, at every
/// position p in 0..n-1,
///     z_p = W · [e_{p-1}; e_p; e_{p+1}] + b                               (F values)
///     y   = max_p z_p   (element-wise; a tie goes to the first position)
/// and, with `activation = CharCnnActivation::tanh`, tanh(y) (Ma & Hovy's code applies tanh to
/// every z_p before the pooling; tanh is increasing, so pooling first gives the same result for
/// n times fewer tanh). The default is no activation (NCRF++'s char CNN).
///
///   forward(ids, lengths, out, ws) const:  ids (W, L) int32 with ids(w, l) the character l of
///       word w, lengths[w] in 1..L its characters (SequenceLengths: W "sequences") → out (F, W),
///       column w the vector of word w. Ids past a word's length are never read (any value pads;
///       CharVocabulary::encode_batch pads with <pad> = 0); ids of real characters must lie in
///       [0, V). All positions of the batch are computed at once: the im2col matrix X [3C x P]
///       (P = the batch's characters, column offsets[w] + p for position p of word w, no padded
///       columns) and one GEMM Z = W·X + b [F x P] (kernels/gemm.hpp).
///       Caches in `ws`: the offsets, X, Z and each filter's argmax position per word.
///   backward(ids, lengths, d_out, ws):  the same ids and lengths, d_out (F, W) → adds into
///       W.grad, b.grad and the table's columns of the characters used (recording them in
///       table.touched_columns); the characters are ids, so there is no input gradient. Only the
///       argmax position of each filter receives gradient, so instead of the dense products
///       dW = dZ·Xᵀ and dX = Wᵀ·dZ it scatters: per word and filter, one column of X (for dW) and
///       one row of W (for the character gradients) — F·3C multiply-adds a word instead of n times
///       that.
///
/// Cutting a pass into parts for threads (the stages run one after the other; the parts of a
/// stage run side by side):
///   forward:  prepare_forward (serial: checks, offsets, sizes)
///             → forward_words(first, last) for word ranges covering [0, W), each with its own
///               GemmWorkspace: output-partitioned, every output and cache column is computed
///               the same way whatever the ranges.
///   backward: prepare_backward (serial: checks, Wᵀ, sizes, the touched columns)
///             → backward_words(first, last): the gradient at each word's pooled maxima and at
///               each of its characters (output-partitioned by words, like forward)
///             → backward_params(part): W.grad and b.grad rows of the part's share of the F
///               filters, table.grad rows of its share of the C dimensions. Every gradient element
///               belongs to one part and sums its contributions over the words in word order, so
///               the gradients are bit-identical however the work is cut (no reduction buffers).
/// forward() and backward() run the stages serially over the whole batch.
///
/// Nothing allocates once the workspace has held the largest batch (all buffers are Tensors
/// resized within their capacity, and the GEMM's packing buffers are the caller's).
/// Bad arguments throw std::invalid_argument starting with "lstmner: CharCNN:".

#include <lstmner/detail/char_ids.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/kernels/gemm.hpp>
#include <lstmner/param.hpp>
#include <lstmner/parts.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lstmner {

/// What the char CNN applies to the pooled maxima.
enum class CharCnnActivation {
  none,  ///< y = max_p z_p (the default)
  tanh,  ///< y = tanh(max_p z_p) = max_p tanh(z_p)
};

template <class Scalar>
class CharCNN {
 public:
  using scalar_type = Scalar;
  static constexpr Index width = 3;              ///< characters the convolution sees at once
  static constexpr Index default_char_dim = 30;  ///< C of Ma & Hovy (2016)
  static constexpr Index default_filters = 30;   ///< F of Ma & Hovy (2016)

  /// What a forward pass leaves for backward, and backward's scratch. Owned by the caller.
  struct Workspace {
    std::vector<Index> offsets;     ///< W + 1: first column of word w in columns/scores
    Tensor2<Scalar> columns;        ///< X [3C x P], the im2col of the batch
    Tensor2<Scalar> scores;         ///< Z [F x P] = W·X + b
    Tensor2<std::int32_t> argmax;   ///< [F x W]: position of each filter's maximum in word w
    Tensor2<Scalar> weights_t;      ///< Wᵀ [3C x F] (backward: a row of W as a column)
    Tensor2<Scalar> d_pooled;       ///< [F x W]: the loss gradient at each pooled maximum z
    Tensor2<Scalar> char_grad;      ///< [C x P]: the loss gradient at each character's vector
    Tensor2<Scalar> weight_grad_t;  ///< [3C x F]: dWᵀ of this backward pass
    std::vector<std::uint8_t> touched_mark;     ///< V flags: the table columns touched
    kernels::gemm::GemmWorkspace<Scalar> gemm;  ///< forward()'s GEMM buffers
    std::vector<kernels::gemm::GemmWorkspace<Scalar>> part_gemm;  ///< a staged forward's, per part
    Index words = 0;  ///< W of the batch cached (0: none)
  };

  Param<Scalar> table;  ///< [C x V] character vectors (sparse)
  Param<Scalar> W;      ///< [F x 3C] filters
  Param<Scalar> b;      ///< [F x 1] bias
  CharCnnActivation activation = CharCnnActivation::none;

  /// An empty layer; assign a constructed one before use.
  CharCNN() { table.sparse = true; }

  /// A layer over `vocab_size` character ids (CharVocabulary::size()), with `char_dim` (C)
  /// dimensions per character and `filters` (F) outputs, initialised from `rng`.
  CharCNN(Index vocab_size, Index char_dim, Index filters, Rng& rng)
      : table("table", char_dim, vocab_size),
        W("W", filters, width * char_dim),
        b("b", filters, 1) {
    require(vocab_size >= 1 && char_dim >= 1 && filters >= 1,
            "CharCNN: vocabulary size, character dimension and filters must be at least 1 (got " +
                std::to_string(vocab_size) + ", " + std::to_string(char_dim) + ", " +
                std::to_string(filters) + ")");
    table.sparse = true;
    init_uniform(table.value, std::sqrt(3.0 / static_cast<double>(char_dim)), rng);
    init_glorot_uniform(W.value, rng);
    b.value.setZero();
  }

  /// A zero layer of the given shape without gradient buffers (see ShapesOnly in param.hpp).
  CharCNN(Index vocab_size, Index char_dim, Index filters, ShapesOnly)
      : table("table", char_dim, vocab_size, shapes_only),
        W("W", filters, width * char_dim, shapes_only),
        b("b", filters, 1, shapes_only) {
    require(vocab_size >= 1 && char_dim >= 1 && filters >= 1,
            "CharCNN: vocabulary size, character dimension and filters must be at least 1");
    table.sparse = true;
  }

  Index vocab_size() const { return table.value.cols(); }
  Index char_dim() const { return table.value.rows(); }
  Index filters() const { return W.value.rows(); }
  Index output_size() const { return filters(); }
  ParamList<Scalar> params() { return {&table, &W, &b}; }

  // ----- forward ---------------------------------------------------------------------------------

  void forward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
               Tensor2<Scalar>& out, Workspace& ws) const {
    prepare_forward(ids, lengths, out, ws);
    forward_words(ids, lengths, 0, lengths.batch_size(), out, ws, ws.gemm);
  }

  /// Words per part of the staged passes, at least.
  static constexpr Index words_per_part = 32;

  /// forward with its word ranges run on `context` (execution_context.hpp).
  void forward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
               Tensor2<Scalar>& out, Workspace& ws, ExecutionContext& context) const {
    prepare_forward(ids, lengths, out, ws);
    const Index words = lengths.batch_size();
    const int parts = context.parts_for(words, words_per_part);
    if (ws.part_gemm.size() < static_cast<std::size_t>(parts))
      ws.part_gemm.resize(static_cast<std::size_t>(parts));
    context.run(parts, [&](Part part) {
      const Range r = Range{0, words}.share(part);
      forward_words(ids, lengths, r.first, r.last, out, ws,
                    ws.part_gemm[static_cast<std::size_t>(part.index)]);
    });
  }

  /// The serial start of a forward pass: checks the arguments, sizes `out` (F, W) and the
  /// caches, and lays out the columns of every word.
  void prepare_forward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                       Tensor2<Scalar>& out, Workspace& ws) const {
    check_ids(ids, lengths, "forward");
    const Index words = lengths.batch_size();
    ws.offsets.resize(static_cast<std::size_t>(words + 1));
    ws.offsets[0] = 0;
    for (Index w = 0; w < words; ++w) ws.offsets[w + 1] = ws.offsets[w] + lengths[w];
    const Index positions = ws.offsets.back();
    const Index C = char_dim(), F = filters();
    ws.columns.resize(width * C, positions);
    ws.scores.resize(F, positions);
    ws.argmax.resize(F, words);
    out.resize(F, words);
    ws.words = words;
  }

  /// Words [first, last) of a forward pass begun by prepare_forward: their im2col columns, one
  /// GEMM over them (with `gemm`, this thread's buffers), and the pooling into out's columns.
  void forward_words(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths, Index first,
                     Index last, Tensor2<Scalar>& out, Workspace& ws,
                     kernels::gemm::GemmWorkspace<Scalar>& gemm) const {
    check_range(first, last, lengths, ws, "forward_words");
    if (first == last) return;
    const Index C = char_dim(), F = filters();
    const Index c0 = ws.offsets[first], c1 = ws.offsets[last];
    auto X = ws.columns.matrix();
    for (Index w = first; w < last; ++w) {
      const Index n = lengths[w], base = ws.offsets[w];
      for (Index p = 0; p < n; ++p) {
        auto column = X.col(base + p);
        if (p > 0) {
          column.segment(0, C) = table.value.col(ids(w, p - 1));
        } else {
          column.segment(0, C).setZero();
        }
        column.segment(C, C) = table.value.col(ids(w, p));
        if (p + 1 < n) {
          column.segment(2 * C, C) = table.value.col(ids(w, p + 1));
        } else {
          column.segment(2 * C, C).setZero();
        }
      }
    }
    namespace g = kernels::gemm;
    auto Z = ws.scores.matrix();
    g::gemm(W.value, g::Op::none, X.middleCols(c0, c1 - c0), g::Op::none, Z.middleCols(c0, c1 - c0),
            g::Update::overwrite, gemm, g::Extras<Scalar>{b.value.data(), nullptr});
    for (Index w = first; w < last; ++w) {
      const Index n = lengths[w], base = ws.offsets[w];
      for (Index f = 0; f < F; ++f) {
        Scalar best = Z(f, base);
        std::int32_t at = 0;
        for (Index p = 1; p < n; ++p) {
          if (Z(f, base + p) > best) {
            best = Z(f, base + p);
            at = static_cast<std::int32_t>(p);
          }
        }
        ws.argmax(f, w) = at;
        out(f, w) = activation == CharCnnActivation::tanh ? std::tanh(best) : best;
      }
    }
  }

  // ----- backward --------------------------------------------------------------------------------

  void backward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                const Tensor2<Scalar>& d_out, Workspace& ws) {
    prepare_backward(ids, lengths, d_out, ws);
    backward_words(ids, lengths, 0, lengths.batch_size(), d_out, ws);
    backward_params(ids, lengths, Part{}, ws);
  }
  /// backward with its word ranges and parameter parts run on `context`.
  void backward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                const Tensor2<Scalar>& d_out, Workspace& ws, ExecutionContext& context) {
    prepare_backward(ids, lengths, d_out, ws);
    const Index words = lengths.batch_size();
    context.for_ranges(words, words_per_part,
                       [&](Range r) { backward_words(ids, lengths, r.first, r.last, d_out, ws); });
    const Index rows = std::max(filters(), char_dim());
    context.run(context.parts_for(rows, 8),
                [&](Part part) { backward_params(ids, lengths, part, ws); });
  }

  /// The serial start of a backward pass: checks the arguments against the forward pass cached
  /// in `ws`, copies Wᵀ, sizes the scratch and records the table columns the batch touches.
  void prepare_backward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                        const Tensor2<Scalar>& d_out, Workspace& ws) {
    check_ids(ids, lengths, "backward");
    const Index C = char_dim(), F = filters(), words = lengths.batch_size();
    detail::require_lazily(d_out.dim(0) == F && d_out.dim(1) == words, [&] {
      return "CharCNN: backward: d_out has shape " + shape_string(d_out.shape()) + ", expected (" +
             std::to_string(F) + ", " + std::to_string(words) + ")";
    });
    detail::require_lazily(holds_forward_of(lengths, ws), [] {
      return std::string(
          "CharCNN: backward: the workspace holds no forward pass over this batch (call forward "
          "with the same ids, lengths and workspace first)");
    });
    detail::require_lazily(
        W.grad.rows() == F && W.grad.cols() == width * C && b.grad.rows() == F &&
            b.grad.cols() == 1 &&
            (table.frozen || (table.grad.rows() == C && table.grad.cols() == vocab_size())),
        [] {
          return std::string(
              "CharCNN: backward: a gradient does not have the shape of its "
              "parameter");
        });
    ws.weights_t.resize(width * C, F);
    ws.weights_t.matrix() = W.value.transpose();
    ws.d_pooled.resize(F, words);
    ws.char_grad.resize(C, ws.offsets.back());
    ws.weight_grad_t.resize(width * C, F);
    if (!table.frozen) record_touched(ids, lengths, ws);
  }

  /// Words [first, last) of a backward pass begun by prepare_backward: the gradient at their
  /// pooled maxima (d_pooled) and at each of their characters (char_grad).
  void backward_words(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths, Index first,
                      Index last, const Tensor2<Scalar>& d_out, Workspace& ws) const {
    (void)ids;
    check_range(first, last, lengths, ws, "backward_words");
    const Index C = char_dim(), F = filters();
    for (Index w = first; w < last; ++w) {
      const Index n = lengths[w], base = ws.offsets[w];
      // Plain loops over C: for these short vectors they beat Eigen's dynamic-size segments.
      Scalar* g = ws.char_grad.data() + base * C;  // the word's n character columns
      std::fill(g, g + n * C, Scalar(0));
      for (Index f = 0; f < F; ++f) {
        const Index k = ws.argmax(f, w);
        Scalar d = d_out(f, w);
        if (activation == CharCnnActivation::tanh) {
          const Scalar y = std::tanh(ws.scores(f, base + k));
          d *= Scalar(1) - y * y;
        }
        ws.d_pooled(f, w) = d;
        const Scalar* row = ws.weights_t.data() + f * width * C;  // row f of W: left|centre|right
        Scalar* at = g + k * C;
        if (k > 0) axpy(C, d, row, at - C);
        axpy(C, d, row + C, at);
        if (k + 1 < n) axpy(C, d, row + 2 * C, at + C);
      }
    }
  }

  /// `part` of the parameter gradients, once backward_words has run over every word: W.grad and
  /// b.grad rows of the part's share of the filters, table.grad rows of its share of the
  /// character dimensions, each summed over the words in word order.
  void backward_params(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths, Part part,
                       Workspace& ws) {
    const Index C = char_dim(), F = filters(), words = lengths.batch_size();
    const Index f0 = part.first(F), f1 = part.last(F), K = width * C;
    // Words outer, filters inner: a word's columns of X stay in L1 while its filters read them.
    // Each element still sums over the words in word order.
    Scalar* dWt = ws.weight_grad_t.data();  // column f: row f of dW
    std::fill(dWt + f0 * K, dWt + f1 * K, Scalar(0));
    for (Index w = 0; w < words; ++w) {
      const Scalar* x = ws.columns.data() + ws.offsets[w] * K;
      for (Index f = f0; f < f1; ++f)
        axpy(K, ws.d_pooled(f, w), x + ws.argmax(f, w) * K, dWt + f * K);
    }
    for (Index f = f0; f < f1; ++f) {
      Scalar bias = 0;
      for (Index w = 0; w < words; ++w) bias += ws.d_pooled(f, w);
      W.grad.row(f) += ws.weight_grad_t.matrix().col(f).transpose();
      b.grad(f, 0) += bias;
    }
    if (table.frozen) return;
    const Index r0 = part.first(C), rows = part.last(C) - r0;
    for (Index w = 0; w < words; ++w) {
      const Scalar* g = ws.char_grad.data() + ws.offsets[w] * C + r0;
      for (Index p = 0; p < lengths[w]; ++p, g += C)
        axpy(rows, Scalar(1), g, table.grad.data() + ids(w, p) * C + r0);
    }
  }

  // ----- checks ----------------------------------------------------------------------------------

  /// Throws unless ids is (W, L) for this batch and every id of a real character is in [0, V).
  void check_ids(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                 const char* pass) const {
    // Messages are built only on failure: this runs in every training step.
    const auto who = [pass] { return std::string("CharCNN: ") + pass + ": "; };
    if (vocab_size() < 1) require(false, who() + "the layer is empty (default-constructed)");
    detail::check_char_ids(ids, lengths, vocab_size(), "CharCNN", pass);
  }

 private:
  /// y[0..n) += a·x[0..n) (a plain loop the compiler vectorises; n is a few dozen here).
  static void axpy(Index n, Scalar a, const Scalar* __restrict x, Scalar* __restrict y) {
    for (Index i = 0; i < n; ++i) y[i] += a * x[i];
  }

  /// Whether ws caches a forward pass over a batch with these lengths (its layout, at least).
  static bool holds_forward_of(const SequenceLengths& lengths, const Workspace& ws) {
    return ws.words == lengths.batch_size() &&
           static_cast<Index>(ws.offsets.size()) == lengths.batch_size() + 1 &&
           ws.offsets.back() == lengths.num_tokens();
  }

  void check_range(Index first, Index last, const SequenceLengths& lengths, const Workspace& ws,
                   const char* pass) const {
    detail::require_lazily(0 <= first && first <= last && last <= lengths.batch_size(), [&] {
      return std::string("CharCNN: ") + pass + ": words [" + std::to_string(first) + ", " +
             std::to_string(last) + ") are not within the batch of " +
             std::to_string(lengths.batch_size());
    });
    detail::require_lazily(holds_forward_of(lengths, ws), [&] {
      return std::string("CharCNN: ") + pass +
             ": the workspace was not prepared for this batch (call prepare_forward first)";
    });
  }

  /// Merges the batch's character ids into table.touched_columns (sorted, unique) through one
  /// flag per table column: O(V + characters), no sort, no allocation once the flags exist.
  void record_touched(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                      Workspace& ws) {
    auto& mark = ws.touched_mark;
    mark.assign(static_cast<std::size_t>(vocab_size()), 0);
    for (Index c : table.touched_columns) mark[static_cast<std::size_t>(c)] = 1;
    for (Index w = 0; w < lengths.batch_size(); ++w)
      for (Index p = 0; p < lengths[w]; ++p) mark[static_cast<std::size_t>(ids(w, p))] = 1;
    table.touched_columns.clear();
    for (Index c = 0; c < vocab_size(); ++c)
      if (mark[static_cast<std::size_t>(c)]) table.touched_columns.push_back(c);
  }
};

}  // namespace lstmner
