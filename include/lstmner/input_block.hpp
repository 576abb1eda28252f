#pragma once
/// \file input_block.hpp
/// `InputBlock`: one kind of per-token input features of a TaggerNetwork — a word embedding, a
/// casing embedding, a character-level word encoder, pretrained word vectors (blocks/). The
/// network stacks the blocks' rows into one input column per token, by a loop over its blocks:
///
///     rows [0, r0)              block 0
///     rows [r0, r0 + r1)        block 1     ...
///
///   forward(batch, out, state, context) const:  writes the block's rows() rows of every token
///       column of the batch (out: rows() x B·T, column b + B·t; 0 at padded columns).
///   backward(batch, d_out, state, context):  after a forward on the same batch with the same
///       state: accumulates the gradients of the block's parameters from d_out (its rows of the
///       network's input gradient; padded columns are 0 and ignored).
///
/// A block keeps what a backward needs in its `State`, made by make_state() and owned by the
/// network's Workspace (one per thread), so forward is const and threads may share a block.
/// Both passes take the ExecutionContext and may run stages on it (execution_context.hpp), with
/// results that do not depend on the thread count. Parameters are listed by params() in slot
/// order, named "<block>.<parameter>" (the names the model file stores).
///
/// Adding a kind of feature is its own header in blocks/ and one line in make_input_blocks
/// (network.hpp).

#include <lstmner/batch.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/param.hpp>
#include <lstmner/tensor.hpp>

#include <memory>
#include <string>

namespace lstmner {

template <class Scalar>
class InputBlock {
 public:
  /// The block's rows of the stacked inputs (rows() x B·T).
  using Rows = Eigen::Block<MatrixMap<Scalar>, Eigen::Dynamic, Eigen::Dynamic, false>;
  using ConstRows =
      Eigen::Block<const ConstMatrixMap<Scalar>, Eigen::Dynamic, Eigen::Dynamic, false>;

  /// What a block keeps between its forward and its backward (per network workspace).
  struct State {
    virtual ~State() = default;
  };

  virtual ~InputBlock() = default;
  virtual std::unique_ptr<InputBlock> clone() const = 0;
  /// The block's name, the prefix of its parameters' names ("words", "casing", "chars", ...).
  virtual std::string name() const = 0;
  /// Features per token.
  virtual Index rows() const = 0;
  virtual ParamList<Scalar> params() = 0;
  virtual std::unique_ptr<State> make_state() const = 0;
  virtual void forward(const Batch& batch, Rows out, State& state,
                       ExecutionContext& context) const = 0;
  virtual void backward(const Batch& batch, ConstRows d_out, State& state,
                        ExecutionContext& context) = 0;
};

}  // namespace lstmner
