#pragma once
/// \file heads/softmax_head.hpp
/// `SoftmaxHead`: an affine map to K tag scores with a per-token softmax cross-entropy loss
/// (softmax_dense.hpp), decoded by Viterbi over the scores under the scheme's rules
/// (decode.hpp's ConstrainedDecoder: the best well-formed sequence of per-token
/// log-probabilities) or, without rules, by each token's argmax.
///
/// Parameters: "output.W" [K x D], "output.b" [K x 1].
/// Threads: forward and the loss gradient by token columns, the weight gradient by input
/// features (detail/dense_stages.hpp; softmax_dense.hpp says why the results do not depend on
/// the cut).

#include <lstmner/crf.hpp>
#include <lstmner/decode.hpp>
#include <lstmner/detail/dense_stages.hpp>
#include <lstmner/output_head.hpp>
#include <lstmner/softmax_dense.hpp>

#include <cmath>
#include <memory>
#include <string>

namespace lstmner {

template <class Scalar>
class SoftmaxHead final : public OutputHead<Scalar> {
 public:
  using typename OutputHead<Scalar>::SentenceScores;
  using Base = OutputHead<Scalar>;

  struct State final : Base::State {
    typename SoftmaxDense<Scalar>::Workspace dense;
    ConstrainedDecoder decoder;
    const TransitionRules* decoder_rules = nullptr;  ///< the rules `decoder` was set up with
    // n-best, Z and confidences: a CRF decoder over per-token log-probabilities.
    CrfDecoder<Scalar> crf_decoder;
    const TransitionRules* crf_decoder_rules = nullptr;
    Matrix<Scalar> log_probs;
  };

  SoftmaxDense<Scalar> dense;

  /// With `shapes_only` instead of an Rng: zero weights, no gradient buffers (param.hpp).
  template <class Init>
  SoftmaxHead(Index input_dim, Index num_tags, Init&& init)
      : dense(input_dim, num_tags, init), zero_crf_(num_tags, shapes_only) {
    dense.W.name = "output.W";
    dense.b.name = "output.b";
  }

  std::unique_ptr<Base> clone() const override { return std::make_unique<SoftmaxHead>(*this); }
  std::string name() const override { return "softmax"; }
  Index num_tags() const override { return dense.num_classes(); }
  ParamList<Scalar> params() override { return dense.params(); }
  std::unique_ptr<typename Base::State> make_state() const override {
    return std::make_unique<State>();
  }

  void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths, Tensor3<Scalar>& scores,
               typename Base::State& base_state, ExecutionContext& context) const override {
    detail::dense_forward(dense, x, lengths, scores, static_cast<State&>(base_state).dense,
                          context);
  }

  double loss_backward(const Tensor3<Scalar>& x, const Tensor3<Scalar>& scores,
                       const Tensor2<std::int32_t>& tags, const SequenceLengths& lengths,
                       double scale, Tensor3<Scalar>& dx, typename Base::State& base_state,
                       ExecutionContext& context) override {
    State& state = static_cast<State&>(base_state);
    dense.prepare_loss_backward(x, scores, tags, lengths, dx, state.dense);
    detail::dense_backward(dense, x, state.dense, context, [&](auto& gemm, Range columns) {
      dense.loss_backward_columns(x, scores, tags, lengths, scale, dx, state.dense, gemm, columns);
    });
    return SoftmaxDense<Scalar>::total_loss(state.dense, scale);
  }

  double loss(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& tags,
              const SequenceLengths& lengths, double scale, typename Base::State&) const override {
    return dense.loss(scores, tags, lengths, scale);
  }

  void nbest(const SentenceScores& scores, const TransitionRules& rules, Index k,
             std::vector<ScoredPath>& paths, typename Base::State& base_state) const override {
    State& state = static_cast<State&>(base_state);
    log_softmax(scores, state.log_probs);
    crf_decoder(rules, state).nbest(no_transitions(), state.log_probs, scores.cols(), k, paths);
  }

  double log_partition(const SentenceScores& scores, const TransitionRules& rules,
                       typename Base::State& base_state) const override {
    State& state = static_cast<State&>(base_state);
    log_softmax(scores, state.log_probs);
    return crf_decoder(rules, state)
        .log_partition(no_transitions(), state.log_probs, scores.cols());
  }

  std::vector<EntityConfidence> entity_confidences(
      const SentenceScores& scores, const TransitionRules& rules,
      const std::vector<std::int32_t>& path, const std::vector<std::string>& tag_names,
      TagScheme scheme, typename Base::State& base_state) const override {
    State& state = static_cast<State&>(base_state);
    log_softmax(scores, state.log_probs);
    return crf_decoder(rules, state)
        .entity_confidences(no_transitions(), state.log_probs, scores.cols(), path, tag_names,
                            scheme);
  }

  void decode(const SentenceScores& scores, const TransitionRules& rules,
              std::vector<std::int32_t>& ids, typename Base::State& base_state) const override {
    State& state = static_cast<State&>(base_state);
    if (rules.num_tags == 0) {
      ids = argmax_decode(scores, scores.cols());
      return;
    }
    if (state.decoder_rules != &rules) {
      state.decoder.set_rules(rules);
      state.decoder_rules = &rules;
    }
    state.decoder.decode(scores, scores.cols(), ids);
  }

 private:
  /// A CRF over this head's K tags with every transition, start and end score 0.
  const CRF<Scalar>& no_transitions() const { return zero_crf_; }

  static void log_softmax(const SentenceScores& scores, Matrix<Scalar>& out) {
    out.resize(scores.rows(), scores.cols());
    for (Index t = 0; t < scores.cols(); ++t) {
      const Scalar max = scores.col(t).maxCoeff();
      const Scalar log_sum = std::log((scores.col(t).array() - max).exp().sum());
      out.col(t) = scores.col(t).array() - (max + log_sum);
    }
  }

  CrfDecoder<Scalar>& crf_decoder(const TransitionRules& rules, State& state) const {
    if (state.crf_decoder_rules != &rules) {
      if (rules.num_tags == 0) {
        state.crf_decoder.clear_rules();
      } else {
        state.crf_decoder.set_rules(rules);
      }
      state.crf_decoder_rules = &rules;
    }
    return state.crf_decoder;
  }

  CRF<Scalar> zero_crf_;  ///< K tags, all scores 0 (not a parameter of the head)
};

}  // namespace lstmner
