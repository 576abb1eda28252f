#pragma once
/// \file blocks/embedding_block.hpp
/// `EmbeddingBlock`: an input block that looks each token up in a table (embedding.hpp) by one of
/// the batch's id tensors. Three kinds of features are this block over different ids:
///   - word embeddings ("words"): batch.words, the training vocabulary (normalised words);
///   - casing embeddings ("casing"): batch.casing, the casing classes of casing.hpp;
///   - pretrained word vectors ("vectors"): batch.vectors, a table over training ∪ vector words
///     filled from a vectors file (word_vectors.hpp), fine-tuned or frozen.
///
/// forward: the table's columns, by token columns. backward: the table's gradient by its rows
/// (each element summing the batch's tokens in order), and the touched columns (one part), so
/// the result does not depend on the thread count.

#include <lstmner/embedding.hpp>
#include <lstmner/input_block.hpp>

#include <memory>
#include <string>
#include <utility>

namespace lstmner {

template <class Scalar>
class EmbeddingBlock final : public InputBlock<Scalar> {
 public:
  using typename InputBlock<Scalar>::Rows;
  using typename InputBlock<Scalar>::ConstRows;
  using typename InputBlock<Scalar>::State;
  /// Which of the batch's id tensors the block reads.
  using Ids = Tensor2<std::int32_t> Batch::*;

  /// Token columns per part of forward, table rows per part of backward, at least.
  static constexpr Index columns_per_part = 32;
  static constexpr Index rows_per_part = 8;

  EmbeddingBlock(std::string name, Ids ids, Embedding<Scalar> table)
      : embedding(std::move(table)), name_(std::move(name)), ids_(ids) {
    embedding.table.name = name_ + ".table";
  }

  std::unique_ptr<InputBlock<Scalar>> clone() const override {
    return std::make_unique<EmbeddingBlock>(*this);
  }
  std::string name() const override { return name_; }
  Index rows() const override { return embedding.dim(); }
  ParamList<Scalar> params() override { return embedding.params(); }
  std::unique_ptr<State> make_state() const override { return std::make_unique<State>(); }

  void forward(const Batch& batch, Rows out, State&, ExecutionContext& context) const override {
    const Tensor2<std::int32_t>& ids = batch.*ids_;
    embedding.check_ids(ids, batch.lengths, "forward");
    context.for_ranges(out.cols(), columns_per_part, [&](Range columns) {
      embedding.forward_columns(ids, batch.lengths, out, columns);
    });
  }

  void backward(const Batch& batch, ConstRows d_out, State&, ExecutionContext& context) override {
    const Tensor2<std::int32_t>& ids = batch.*ids_;
    embedding.check_grad("backward");
    if (embedding.frozen()) return;
    const Index E = embedding.dim();
    context.run_kinds({context.parts_for(E, rows_per_part), 1}, [&](int kind, Part part) {
      if (kind == 0) {
        embedding.backward_rows(ids, batch.lengths, d_out, Range{0, E}.share(part));
      } else {
        embedding.record_touched(ids, batch.lengths);
      }
    });
  }

  Embedding<Scalar> embedding;

 private:
  std::string name_;
  Ids ids_;
};

}  // namespace lstmner
