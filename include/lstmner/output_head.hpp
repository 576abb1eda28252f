#pragma once
/// \file output_head.hpp
/// `OutputHead`: the last part of a TaggerNetwork — tag scores from the encoder's output, the
/// training loss and its gradient, and decoding (heads/: softmax, CRF).
///
///   forward(x, lengths, scores, state, context) const:  x (D,B,T) → scores (K,B,T), one score
///       per tag and token (0 at padded steps).
///   loss_backward(x, scores, tags, lengths, scale, dx, state, context):  after a forward on the
///       same batch: returns the loss times `scale`, writes dx (D,B,T) and accumulates the
///       head's parameter gradients.
///   loss(scores, tags, lengths, scale, state) const:  the same loss, without gradients.
///   set_training_rules(rules):  the scheme's rules for training (a CRF then sums only allowed
///       sequences); a head whose loss has no sequence structure ignores them.
///   nbest(scores, rules, k, paths, state), log_partition(scores, rules, state),
///   entity_confidences(scores, rules, path, tag names, scheme, state):  the k best sequences
///       with their scores s(y), the log of the normaliser Z (p(y) = exp(s(y) − log Z)), and the
///       probability of each entity of a decoded path, as crf.hpp's CrfDecoder defines them; a
///       softmax head answers them as a CRF with no transition scores over per-token
///       log-probabilities would (so p(y) is the product of the tokens' probabilities,
///       renormalised over the sequences the rules allow).
///   decode(scores, rules, ids, state) const:  the best tag ids of one sentence, its
///       scores a K x length map (column t: token t); with rules (decode.hpp), only sequences
///       they allow (the TransitionRules of the training scheme: no invalid IOB2/IOBES output);
///       empty rules (num_tags == 0): any sequence.
///
/// Like input blocks (input_block.hpp), a head keeps what backward and decoding need in a
/// `State` owned by the network's Workspace (one per thread), so its const members may run on
/// several threads at once. Adding a head is its own header in heads/ and one line in
/// make_output_head (network.hpp).

#include <lstmner/crf.hpp>
#include <lstmner/decode.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/param.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace lstmner {

template <class Scalar>
class OutputHead {
 public:
  /// One sentence's scores: K rows, a column per token (a strided view of the batch's scores).
  using SentenceScores = Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>>;

  struct State {
    virtual ~State() = default;
  };

  virtual ~OutputHead() = default;
  virtual std::unique_ptr<OutputHead> clone() const = 0;
  /// "softmax" or "crf".
  virtual std::string name() const = 0;
  virtual Index num_tags() const = 0;
  virtual ParamList<Scalar> params() = 0;
  virtual std::unique_ptr<State> make_state() const = 0;
  virtual void forward(const Tensor3<Scalar>& x, const SequenceLengths& lengths,
                       Tensor3<Scalar>& scores, State& state, ExecutionContext& context) const = 0;
  virtual double loss_backward(const Tensor3<Scalar>& x, const Tensor3<Scalar>& scores,
                               const Tensor2<std::int32_t>& tags, const SequenceLengths& lengths,
                               double scale, Tensor3<Scalar>& dx, State& state,
                               ExecutionContext& context) = 0;
  /// The loss of `scores` against `tags`, times `scale`, without gradients.
  virtual double loss(const Tensor3<Scalar>& scores, const Tensor2<std::int32_t>& tags,
                      const SequenceLengths& lengths, double scale, State& state) const = 0;
  virtual void set_training_rules(const TransitionRules& rules) { (void)rules; }
  virtual void decode(const SentenceScores& scores, const TransitionRules& rules,
                      std::vector<std::int32_t>& ids, State& state) const = 0;
  virtual void nbest(const SentenceScores& scores, const TransitionRules& rules, Index k,
                     std::vector<ScoredPath>& paths, State& state) const = 0;
  virtual double log_partition(const SentenceScores& scores, const TransitionRules& rules,
                               State& state) const = 0;
  virtual std::vector<EntityConfidence> entity_confidences(
      const SentenceScores& scores, const TransitionRules& rules,
      const std::vector<std::int32_t>& path, const std::vector<std::string>& tag_names,
      TagScheme scheme, State& state) const = 0;
};

}  // namespace lstmner
