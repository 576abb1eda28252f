#pragma once
/// \file heads/crf_head.hpp
/// `CrfHead`: an affine map to K emission scores per token (softmax_dense.hpp's affine part)
/// under a linear-chain CRF (crf.hpp; Lample et al. 2016): the loss is the negative
/// log-likelihood of the gold tag sequence, decoding is Viterbi over whole sequences.
///
/// Parameters: "output.W" [K x D], "output.b" [K x 1], then "crf.transitions" [K x K],
/// "crf.start", "crf.end" [K x 1].
///
/// Constraints: with the scheme's rules (set_training_rules; the Tagger passes the rules of its
/// training scheme), the transitions, starts and ends the scheme forbids are −∞ in training as in
/// decoding, so Z sums only well-formed sequences (a constrained CRF) and no invalid IOB2/IOBES
/// sequence is ever decoded.
///
/// Threads: forward by token columns; the CRF's forward–backward by sentences (each writes its
/// own d_scores columns and its own gradient slots, added in sentence order); the affine backward
/// by token columns (dx) and input features (dW), so the results do not depend on the cut.

#include <lstmner/crf.hpp>
#include <lstmner/decode.hpp>
#include <lstmner/detail/dense_stages.hpp>
#include <lstmner/output_head.hpp>
#include <lstmner/softmax_dense.hpp>

#include <memory>
#include <string>
#include <vector>

namespace lstmner {

template <class Scalar>
class CrfHead final : public OutputHead<Scalar> {
 public:
  using typename OutputHead<Scalar>::SentenceScores;
  using Base = OutputHead<Scalar>;

  /// Sentences per part of the CRF's forward–backward, at least (the affine map's parts:
  /// detail/dense_stages.hpp).
  static constexpr Index sentences_per_part = 4;

  struct State final : Base::State {
    typename SoftmaxDense<Scalar>::Workspace dense;
    typename CRF<Scalar>::Workspace crf;
    CrfDecoder<Scalar> decoder;
    const TransitionRules* decoder_rules = nullptr;  ///< the rules `decoder` was set up with
  };

  SoftmaxDense<Scalar> dense;
  CRF<Scalar> crf;

  CrfHead(Index input_dim, Index num_tags, Rng& rng)
      : dense(input_dim, num_tags, rng), crf(num_tags) {
    name_params();
  }
  /// Zero parameters without gradient buffers (see ShapesOnly in param.hpp).
  CrfHead(Index input_dim, Index num_tags, ShapesOnly)
      : dense(input_dim, num_tags, shapes_only), crf(num_tags, shapes_only) {
    name_params();
  }

  void name_params() {
    dense.W.name = "output.W";
    dense.b.name = "output.b";
    for (auto* p : crf.params()) p->name = "crf." + p->name;
  }

  std::unique_ptr<Base> clone() const override { return std::make_unique<CrfHead>(*this); }
  std::string name() const override { return "crf"; }
  Index num_tags() const override { return dense.num_classes(); }
  ParamList<Scalar> params() override {
    ParamList<Scalar> list = dense.params();
    append_params(list, crf.params());
    return list;
  }
  std::unique_ptr<typename Base::State> make_state() const override {
    return std::make_unique<State>();
  }

  void set_training_rules(const TransitionRules& rules) override {
    if (rules.num_tags == 0) {
      crf.clear_constraints();
    } else {
      crf.set_constraints(rules);
    }
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
    const Index B = lengths.batch_size();
    dense.prepare_affine_backward(x, lengths, dx, state.dense);
    crf.prepare(scores, tags, lengths, state.dense.d_scores, state.crf);
    context.for_ranges(B, sentences_per_part, [&](Range sentences) {
      crf.loss_backward_sentences(scores, tags, lengths, scale, state.dense.d_scores, state.crf,
                                  sentences.first, sentences.last);
    });
    const double loss = crf.add_gradients(state.crf);
    detail::dense_backward(dense, x, state.dense, context, [&](auto& gemm, Range columns) {
      dense.input_gradient_columns(state.dense, dx, gemm, columns);
    });
    return loss;
  }

  double loss(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& tags,
              const SequenceLengths& lengths, double scale,
              typename Base::State& base_state) const override {
    State& state = static_cast<State&>(base_state);
    return crf.loss(scores, tags, lengths, scale, state.crf);
  }

  void decode(const SentenceScores& scores, const TransitionRules& rules,
              std::vector<std::int32_t>& ids, typename Base::State& base_state) const override {
    decoder(rules, base_state).viterbi(crf, scores, scores.cols(), ids);
  }

  void nbest(const SentenceScores& scores, const TransitionRules& rules, Index k,
             std::vector<ScoredPath>& paths, typename Base::State& base_state) const override {
    decoder(rules, base_state).nbest(crf, scores, scores.cols(), k, paths);
  }

  double log_partition(const SentenceScores& scores, const TransitionRules& rules,
                       typename Base::State& base_state) const override {
    return decoder(rules, base_state).log_partition(crf, scores, scores.cols());
  }

  std::vector<EntityConfidence> entity_confidences(
      const SentenceScores& scores, const TransitionRules& rules,
      const std::vector<std::int32_t>& path, const std::vector<std::string>& tag_names,
      TagScheme scheme, typename Base::State& base_state) const override {
    return decoder(rules, base_state)
        .entity_confidences(crf, scores, scores.cols(), path, tag_names, scheme);
  }

 private:
  /// The state's decoder, set up with `rules` (empty rules: unconstrained).
  CrfDecoder<Scalar>& decoder(const TransitionRules& rules,
                              typename Base::State& base_state) const {
    State& state = static_cast<State&>(base_state);
    if (state.decoder_rules != &rules) {
      if (rules.num_tags == 0) {
        state.decoder.clear_rules();
      } else {
        state.decoder.set_rules(rules);
      }
      state.decoder_rules = &rules;
    }
    return state.decoder;
  }
};

}  // namespace lstmner
