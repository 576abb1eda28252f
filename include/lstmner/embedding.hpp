#pragma once
/// \file embedding.hpp
/// Word-embedding lookup for a padded, time-major batch of id sequences.
///
/// Parameter: `table` [E x V] — the vector of word `id` is the contiguous column `table.col(id)`.
/// The table is *sparse*: a batch touches only a few columns, so backward adds into those columns
/// only and records them in `table.touched_columns` (sorted, unique); zeroing, clipping and the
/// optimizer step then cost O(touched columns), never O(vocabulary).
///
///   forward:  ids (B,T) int32, lengths → out (E,B,T); out(:,b,t) = table(:, ids(b,t)) at real
///             steps, 0 at padded steps. Ids at real steps must lie in [0, V); ids at padded steps
///             are never read, so any value (e.g. -1) may pad.
///   backward: ids, lengths, d_out (E,B,T) → table.grad(:, id) += d_out(:,b,t) for every real step,
///             and the ids used are merged into table.touched_columns. Padded steps of d_out are
///             ignored.
///
/// Both passes can also be cut into ranges (parts.hpp) that threads run side by side:
/// forward_columns writes a range of the token columns (into any E-row block, e.g. some rows of
/// a stacked feature matrix), backward_rows adds into a range of the table's rows (each element
/// summing the batch's tokens in the same order), so no two ranges ever write the same element
/// and the result does not depend on the cut or the thread count.
///
/// Forward caches nothing (backward needs only the ids, which the caller keeps), so neither pass
/// takes a Workspace. A frozen table (`set_frozen(true)`, e.g. fixed pretrained vectors) gets no
/// gradient: backward checks its arguments and returns, and its touched list stays empty.

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

/// How a fresh embedding table is filled.
enum class EmbeddingInit {
  uniform,  ///< uniform in [-scale, scale)
  normal,   ///< normal with mean 0 and standard deviation `scale`
};

template <class Scalar>
class Embedding {
 public:
  Param<Scalar> table;

  /// An empty layer (0 x 0 table); assign a constructed one before use.
  Embedding() { table.sparse = true; }

  /// A [dim x vocab_size] table drawn from `rng`. `scale` <= 0 picks the default that gives every
  /// entry variance 1/dim: limit sqrt(3/dim) for uniform, standard deviation sqrt(1/dim) for
  /// normal.
  Embedding(Index vocab_size, Index dim, Rng& rng, EmbeddingInit init = EmbeddingInit::uniform,
            double scale = 0.0)
      : table("table", dim, vocab_size) {
    require(vocab_size >= 1 && dim >= 1,
            "Embedding: vocabulary size and dimension must be at least 1 (got vocab_size " +
                std::to_string(vocab_size) + ", dim " + std::to_string(dim) + ")");
    table.sparse = true;
    const double variance_scale = 1.0 / static_cast<double>(dim);
    if (init == EmbeddingInit::uniform) {
      init_uniform(table.value, scale > 0 ? scale : std::sqrt(3.0 * variance_scale), rng);
    } else {
      const double stddev = scale > 0 ? scale : std::sqrt(variance_scale);
      for (Index j = 0; j < vocab_size; ++j)
        for (Index i = 0; i < dim; ++i)
          table.value(i, j) = static_cast<Scalar>(stddev * rng.normal());
    }
  }

  /// A zero [dim x vocab_size] table without gradient buffer (see ShapesOnly in param.hpp).
  Embedding(Index vocab_size, Index dim, ShapesOnly)
      : table("table", check_size(vocab_size, dim), vocab_size, shapes_only) {
    table.sparse = true;
  }

  Index vocab_size() const { return table.value.cols(); }
  Index dim() const { return table.value.rows(); }
  ParamList<Scalar> params() { return {&table}; }

  /// Sets the vector of word `id` (e.g. from pretrained embeddings). `vec` is any Eigen vector
  /// (row or column) of `dim()` entries.
  template <class Derived>
  void set_vector(Index id, const Eigen::MatrixBase<Derived>& vec) {
    require(id >= 0 && id < vocab_size(), "Embedding: set_vector: id " + std::to_string(id) +
                                              " is outside the vocabulary [0, " +
                                              std::to_string(vocab_size()) + ")");
    require((vec.rows() == 1 || vec.cols() == 1) && vec.size() == dim(),
            "Embedding: set_vector: expected a vector of " + std::to_string(dim()) +
                " values for id " + std::to_string(id) + ", got a " + std::to_string(vec.rows()) +
                " x " + std::to_string(vec.cols()) + " matrix");
    for (Index i = 0; i < dim(); ++i) table.value(i, id) = static_cast<Scalar>(vec(i));
  }

  /// The vector of word `id` (a contiguous column of the table).
  auto vector(Index id) const {
    require(id >= 0 && id < vocab_size(), "Embedding: vector: id " + std::to_string(id) +
                                              " is outside the vocabulary [0, " +
                                              std::to_string(vocab_size()) + ")");
    return table.value.col(id);
  }

  /// Frozen: backward adds no gradient and optimizers skip the table. Freezing drops any gradient
  /// accumulated so far, so the table's touched list is empty from then on.
  void set_frozen(bool frozen) {
    if (frozen) table.zero_grad();
    table.frozen = frozen;
  }
  bool frozen() const { return table.frozen; }

  void forward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
               Tensor3<Scalar>& out) const {
    check_ids(ids, lengths, "forward");
    out.resize(dim(), lengths.batch_size(), lengths.max_length());
    forward_columns(ids, lengths, out.matrix(), Range{0, out.dim(1) * out.dim(2)});
  }

  /// The token `columns` of forward's output, written into `out` (E rows, B·T columns, column
  /// b + B·t for step t of sequence b); the caller has checked the ids (check_ids).
  template <class Out>
  void forward_columns(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths, Out&& out,
                       Range columns) const {
    for_each_token_column(lengths, columns, [&](Index c, Index b, Index t, bool real) {
      if (real) {
        out.col(c) = table.value.col(ids(b, t));
      } else {
        out.col(c).setZero();
      }
    });
  }

  void backward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                const Tensor3<Scalar>& d_out) {
    check_ids(ids, lengths, "backward");
    if (d_out.dim(1) != lengths.batch_size() || d_out.dim(2) != lengths.max_length()) {
      lengths.check(d_out, "Embedding: backward: d_out");
    }
    if (d_out.dim(0) != dim()) {
      require(false, "Embedding: backward: d_out has " + std::to_string(d_out.dim(0)) +
                         " features, expected " + std::to_string(dim()) +
                         " (the embedding dimension)");
    }
    check_grad("backward");
    backward_rows(ids, lengths, d_out.matrix(), Range{0, dim()});
    record_touched(ids, lengths);
  }

  /// backward cut into ranges: backward_rows adds into the table's `rows` (d_out: any E x B·T
  /// matrix expression, read only at real steps); record_touched, once per batch, merges the
  /// batch's ids into table.touched_columns. The caller checks the arguments (check_ids,
  /// check_grad) first.
  template <class DOut>
  void backward_rows(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                     const Eigen::MatrixBase<DOut>& d_out, Range row_range) {
    if (table.frozen || row_range.size() <= 0) return;
    const Index batch = lengths.batch_size();
    const Index first = row_range.first;
    const Index rows = row_range.size();
    for (Index t = 0; t < lengths.max_length(); ++t)
      for (Index b = 0; b < batch; ++b) {
        if (!lengths.active(t, b)) continue;
        table.grad.col(ids(b, t)).segment(first, rows) +=
            d_out.col(b + batch * t).segment(first, rows);
      }
  }

  void record_touched(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths) {
    if (table.frozen) return;
    auto& touched = table.touched_columns;
    const auto previously_touched = static_cast<std::ptrdiff_t>(touched.size());
    for (Index t = 0; t < lengths.max_length(); ++t)
      for (Index b = 0; b < lengths.batch_size(); ++b)
        if (lengths.active(t, b)) touched.push_back(ids(b, t));
    // Keep touched_columns sorted and unique: sort the new ids, then merge them with the old ones.
    // This costs O(tokens log tokens), independent of the vocabulary size.
    const auto middle = touched.begin() + previously_touched;
    // std::inplace_merge would allocate a buffer on every call; merging through a member scratch
    // vector reuses its capacity instead.
    std::sort(middle, touched.end());
    if (previously_touched > 0) {
      merge_scratch_.resize(touched.size());
      std::merge(touched.begin(), middle, middle, touched.end(), merge_scratch_.begin());
      std::copy(merge_scratch_.begin(), merge_scratch_.end(), touched.begin());
    }
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  }

  /// Throws unless ids is (B,T) for this batch and every id at a real step is in [0, V).
  void check_ids(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                 const char* pass) const {
    // Messages are built only on failure: this runs in every training step, which must not
    // allocate (tests/test_allocation.cpp).
    const auto who = [pass] { return std::string("Embedding: ") + pass + ": "; };
    if (vocab_size() < 1) require(false, who() + "the table is empty (default-constructed layer)");
    if (ids.dim(0) != lengths.batch_size() || ids.dim(1) != lengths.max_length()) {
      require(false, who() + "ids of shape " + shape_string(ids.shape()) +
                         " do not match a batch of " + std::to_string(lengths.batch_size()) +
                         " sequences of max length " + std::to_string(lengths.max_length()) +
                         " (expected (" + std::to_string(lengths.batch_size()) + ", " +
                         std::to_string(lengths.max_length()) + "))");
    }
    for (Index b = 0; b < lengths.batch_size(); ++b) {
      for (Index t = 0; t < lengths[b]; ++t) {
        const Index id = ids(b, t);
        if (id >= 0 && id < vocab_size()) continue;
        // Built only on failure: this loop runs once per token, so the message must cost nothing.
        require(false, who() + "id " + std::to_string(id) + " at sequence " + std::to_string(b) +
                           ", step " + std::to_string(t) + " is outside the vocabulary [0, " +
                           std::to_string(vocab_size()) + ")");
      }
    }
  }

  /// Throws unless a non-frozen table's gradient has the table's shape.
  void check_grad(const char* pass) const {
    if (!table.frozen && (table.grad.rows() != dim() || table.grad.cols() != vocab_size())) {
      require(false, std::string("Embedding: ") + pass +
                         ": table.grad does not have the shape of table.value (a layer made "
                         "with shapes_only has no gradient buffer until allocate_grad())");
    }
  }

 private:
  static Index check_size(Index vocab_size, Index dim) {
    require(vocab_size >= 1 && dim >= 1,
            "Embedding: vocabulary size and dimension must be at least 1 (got vocab_size " +
                std::to_string(vocab_size) + ", dim " + std::to_string(dim) + ")");
    return dim;
  }

  std::vector<Index> merge_scratch_;  ///< backward's merge buffer, kept to reuse its capacity
};

}  // namespace lstmner
