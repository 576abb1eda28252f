#pragma once
/// \file detail/dense_stages.hpp
/// The stages of an output head's affine map (softmax_dense.hpp) on an ExecutionContext, shared
/// by the heads (heads/): the forward by token columns; the backward's token-column stage (the
/// head's own: loss gradient and dx, or dx from d_scores the head wrote) and the weight gradient
/// by input features. Each part writes only its own columns or features (softmax_dense.hpp), so
/// the results do not depend on the cut.

#include <lstmner/execution_context.hpp>
#include <lstmner/parts.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/softmax_dense.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>

namespace lstmner {
namespace detail {

/// Token columns per part of the column stages, input features per part of the weight
/// gradient, at least.
inline constexpr Index dense_columns_per_part = 32;
inline constexpr Index dense_features_per_part = 32;

/// scores (K,B,T) = W·x + b (0 at padded steps), sized here, by token columns.
template <class Scalar>
void dense_forward(const SoftmaxDense<Scalar>& dense, const Tensor3<Scalar>& x,
                   const SequenceLengths& lengths, Tensor3<Scalar>& scores,
                   typename SoftmaxDense<Scalar>::Workspace& ws, ExecutionContext& context) {
  const Index N = x.dim(1) * x.dim(2);
  scores.resize(dense.num_classes(), x.dim(1), x.dim(2));
  const int parts = context.parts_for(N, dense_columns_per_part);
  ws.reserve_parts(parts);
  context.run(parts, [&](Part part) {
    dense.forward_columns(x, lengths, scores, ws.gemm(part.index), Range{0, N}.share(part));
  });
}

/// The backward's stages after the head's preparation: `columns(gemm, range)` for each part of
/// the token columns (what it writes there: d_scores and dx), then dW, db by input features
/// from ws.d_scores.
template <class Scalar, class ColumnStage>
void dense_backward(SoftmaxDense<Scalar>& dense, const Tensor3<Scalar>& x,
                    typename SoftmaxDense<Scalar>::Workspace& ws, ExecutionContext& context,
                    ColumnStage&& columns) {
  const Index N = x.dim(1) * x.dim(2);
  const int column_parts = context.parts_for(N, dense_columns_per_part);
  const int feature_parts = context.parts_for(dense.input_dim(), dense_features_per_part);
  ws.reserve_parts(std::max(column_parts, feature_parts));
  context.run(column_parts, [&](Part part) {
    columns(ws.gemm(part.index), Range{0, N}.share(part));
  });
  context.run(feature_parts, [&](Part part) {
    dense.weight_gradients(x, ws, ws.gemm(part.index), Range{0, dense.input_dim()}.share(part));
  });
}

}  // namespace detail
}  // namespace lstmner
