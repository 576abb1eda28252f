#pragma once
/// \file trainer.hpp
/// The training loop of a TaggerNetwork: bucketed mini-batches, <unk> replacement, dropout, Adam
/// (or SGD) with gradient clipping, a dev-set score after every epoch, early stopping that keeps
/// the best weights, and progress callbacks.
///
/// Reproducibility: one Rng seeded from the config drives the batch order, the <unk> replacement
/// and the dropout masks, in a fixed order; the same seed gives bit-identical weights on any
/// number of threads. The network's stages do not depend on how they are cut (network.hpp); of
/// the optimizer's, zeroing, clipping and the update are element-wise, and the gradient norm is
/// summed over a fixed number of parts (`norm_parts`) added in part order.
///
/// Safety: a non-finite loss or gradient norm stops training with std::runtime_error naming the
/// epoch and batch, before the optimizer could write NaN into the weights.

#include <lstmner/batch.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/network.hpp>
#include <lstmner/optimizer.hpp>
#include <lstmner/param.hpp>
#include <lstmner/random.hpp>
#include <lstmner/tagger_config.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace lstmner {

/// Progress inside an epoch, reported after every batch.
struct BatchProgress {
  int epoch = 0;  ///< 1-based
  std::size_t batch = 0, batches = 0;
  std::size_t tokens_done = 0, tokens_total = 0;
  double mean_loss = 0.0;  ///< mean per-token loss so far in this epoch
  double seconds = 0.0;    ///< since the epoch started
};

/// What one epoch achieved.
struct EpochSummary {
  int epoch = 0;
  double train_loss = 0.0;  ///< mean per-token cross-entropy over the epoch
  double dev_f1 = -1.0;     ///< entity-level F1 in percent, -1 without a dev set
  double dev_precision = -1.0;
  double dev_recall = -1.0;
  double train_seconds = 0.0;  ///< the training pass alone
  double eval_seconds = 0.0;   ///< scoring the dev set
  double tokens_per_second = 0.0;
  bool best = false;  ///< the best dev F1 so far (the weights kept)
};

struct TrainingHistory {
  std::vector<EpochSummary> epochs;
  int best_epoch = 0;
  double best_dev_f1 = -1.0;
  bool stopped_early = false;
};

struct TrainingCallbacks {
  std::function<void(const BatchProgress&)> on_batch;
  std::function<void(const EpochSummary&)> on_epoch;
};

/// Dev-set scores of the current weights: precision, recall, F1 (percent).
struct DevScores {
  double precision = 0.0, recall = 0.0, f1 = 0.0;
};

template <class Scalar>
class Trainer {
 public:
  /// The gradient norm is summed in this many parts of every parameter's elements, whatever
  /// the thread count, and the parts' sums are added in part order.
  static constexpr int norm_parts = 16;
  /// Parameter elements per part of zeroing and the update, at least.
  static constexpr Index elements_per_part = 16384;

  /// `unk_id`: the word id that <unk> replacement substitutes. The context runs every stage.
  /// A network without gradient buffers (a loaded model's) gets them here, so a loaded model can
  /// be trained further.
  Trainer(TaggerNetwork<Scalar>& network, const TaggerConfig& config, std::int32_t unk_id,
          ExecutionContext& context)
      : network_(network),
        config_(config),
        unk_id_(unk_id),
        context_(context),
        rng_(config.seed ^ 0x5EEDull) {
    config_.validate();
    network_.allocate_gradients();  // a loaded network has none
  }

  /// Trains on `train` (tagged), scoring with `score_dev` after each epoch when it is set.
  TrainingHistory fit(const std::vector<EncodedSentence>& train,
                      const std::function<DevScores()>& score_dev,
                      const TrainingCallbacks& callbacks = {}) {
    require(!train.empty(), "Trainer: the training set has no sentences");
    for (std::size_t i = 0; i < train.size(); ++i) {
      require(!train[i].words.empty() && train[i].tags.size() == train[i].words.size(),
              "Trainer: training sentence " + std::to_string(i) + " is empty or untagged");
    }
    ParamList<Scalar> params = network_.params();
    std::size_t tokens_total = 0;
    for (const auto& s : train) tokens_total += s.size();

    TrainingHistory history;
    std::vector<Matrix<Scalar>> best_weights;
    // Checkpoint averaging: the weights at the end of the last average_checkpoints epochs, and
    // the training weights while their mean is scored.
    std::deque<std::vector<Matrix<Scalar>>> recent;
    std::vector<Matrix<Scalar>> training_weights;
    const auto window = static_cast<std::size_t>(std::max(config_.average_checkpoints, 1));
    int epochs_without_improvement = 0;
    for (int epoch = 1; epoch <= config_.epochs; ++epoch) {
      EpochSummary summary = run_epoch(train, params, epoch, tokens_total, callbacks);
      if (window > 1) {  // score (and keep) the mean of the recent epochs' weights
        recent.emplace_back();
        snapshot(params, recent.back());
        if (recent.size() > window) recent.pop_front();
        training_weights.swap(recent.back());
        recent.back() = training_weights;
        for (std::size_t i = 0; i < params.size(); ++i) {
          Matrix<Scalar>& value = params[i]->value;
          value = recent.front()[i];
          for (std::size_t k = 1; k < recent.size(); ++k) value += recent[k][i];
          value /= static_cast<Scalar>(recent.size());
        }
      }
      if (score_dev) {
        const auto t0 = Clock::now();
        const DevScores dev = score_dev();
        summary.eval_seconds = seconds_since(t0);
        summary.dev_precision = dev.precision;
        summary.dev_recall = dev.recall;
        summary.dev_f1 = dev.f1;
      }
      // Without a dev set every epoch is "best": the last weights are kept.
      summary.best = !score_dev || summary.dev_f1 > history.best_dev_f1;
      if (summary.best) {
        history.best_dev_f1 = summary.dev_f1;
        history.best_epoch = epoch;
        epochs_without_improvement = 0;
        if (score_dev) snapshot(params, best_weights);
      } else if (history.best_dev_f1 > 0.0) {
        // Patience counts only once some epoch found entities: a dev F1 of 0 (nothing predicted
        // yet, common in the first epochs on a small corpus) is a cold start, not a plateau.
        ++epochs_without_improvement;
      }
      if (window > 1) restore(training_weights, params);  // training goes on from its own
      history.epochs.push_back(summary);
      if (callbacks.on_epoch) callbacks.on_epoch(summary);
      if (config_.patience > 0 && epochs_without_improvement >= config_.patience) {
        history.stopped_early = epoch < config_.epochs;
        break;
      }
    }
    if (!best_weights.empty()) {
      restore(best_weights, params);
    } else if (window > 1 && !recent.empty()) {  // no dev set: the last epochs' mean
      for (std::size_t i = 0; i < params.size(); ++i) {
        Matrix<Scalar>& value = params[i]->value;
        value = recent.front()[i];
        for (std::size_t k = 1; k < recent.size(); ++k) value += recent[k][i];
        value /= static_cast<Scalar>(recent.size());
      }
    }
    return history;
  }

  /// One optimisation step on the sentences `indices` of `train`: batch, <unk> replacement,
  /// forward with dropout, loss and gradients, clipping, optimizer update. `params` must be
  /// network.params(). Stores the mean per-token loss in *loss and returns the batch's token
  /// count, or 0 when the loss or the gradient norm is not finite (the weights are then left
  /// unchanged). Once the buffers have grown to the largest batch it allocates nothing
  /// (tests/test_allocation.cpp checks it).
  std::size_t train_step(const std::vector<EncodedSentence>& train,
                         const std::vector<std::size_t>& indices, const ParamList<Scalar>& params,
                         double* loss) {
    fill_batch(train, indices, batch_);
    replace_with_unknown(train, batch_);
    const int element_parts =
        context_.parts_for(count_gradient_elements(params), elements_per_part);
    context_.run(element_parts, [&](Part part) { zero_grad_values(params, part); });
    forget_touched_columns(params);
    network_.forward(batch_, workspace_, context_, &rng_);
    const auto tokens = static_cast<std::size_t>(batch_.lengths.num_tokens());
    *loss = network_.loss_backward(batch_, 1.0 / static_cast<double>(tokens), workspace_, context_);
    // The global gradient norm from norm_parts fixed parts' sums, then clipping and the update,
    // each part on its own share of every parameter's elements.
    context_.run(norm_parts, [&](Part part) {
      part_norms_[static_cast<std::size_t>(part.index)] = grad_squared_norm(params, part);
    });
    double squared_norm = 0.0;
    for (double part_norm : part_norms_) squared_norm += part_norm;
    const double norm = std::sqrt(squared_norm);
    if (!std::isfinite(*loss) || !std::isfinite(norm)) return 0;
    const auto clip = static_cast<Scalar>(clip_factor(norm, config_.clip_norm));
    const bool adam = config_.optimizer == OptimizerKind::Adam;
    if (adam) {
      adam_.begin_step(params);
    } else {
      sgd_.begin_step(params);
    }
    const int update_parts = context_.parts_for(count_gradient_elements(params), elements_per_part);
    context_.run(update_parts, [&](Part part) {
      if (clip != Scalar(1))
        for (auto* p : params) p->scale_grad(clip, part);
      if (adam) {
        adam_.update(params, part);
      } else {
        sgd_.update(params, part);
      }
    });
    return tokens;
  }

 private:
  using Clock = std::chrono::steady_clock;
  static double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }

  EpochSummary run_epoch(const std::vector<EncodedSentence>& train, const ParamList<Scalar>& params,
                         int epoch, std::size_t tokens_total, const TrainingCallbacks& callbacks) {
    const auto t0 = Clock::now();
    std::vector<std::size_t> lengths(train.size());
    for (std::size_t i = 0; i < train.size(); ++i) lengths[i] = train[i].size();
    const auto batches = split_batches_by_tokens(
        lengths, bucket_by_length(lengths, static_cast<std::size_t>(config_.batch_size), &rng_),
        static_cast<std::size_t>(config_.max_batch_tokens));
    double loss_sum = 0.0;
    std::size_t tokens_done = 0;
    for (std::size_t i = 0; i < batches.size(); ++i) {
      double loss = 0.0;
      const std::size_t tokens = train_step(train, batches[i], params, &loss);
      if (tokens == 0) {
        throw std::runtime_error("lstmner: training diverged: non-finite " +
                                 std::string(std::isfinite(loss) ? "gradient norm" : "loss") +
                                 " at epoch " + std::to_string(epoch) + ", batch " +
                                 std::to_string(i + 1) + " of " + std::to_string(batches.size()) +
                                 " (try a lower learning rate or a smaller clip norm); the weights "
                                 "were not updated with it");
      }
      loss_sum += loss * static_cast<double>(tokens);
      tokens_done += tokens;
      if (callbacks.on_batch) {
        BatchProgress progress;
        progress.epoch = epoch;
        progress.batch = i + 1;
        progress.batches = batches.size();
        progress.tokens_done = tokens_done;
        progress.tokens_total = tokens_total;
        progress.mean_loss = loss_sum / static_cast<double>(tokens_done);
        progress.seconds = seconds_since(t0);
        callbacks.on_batch(progress);
      }
    }
    EpochSummary summary;
    summary.epoch = epoch;
    summary.train_loss = loss_sum / static_cast<double>(std::max<std::size_t>(tokens_done, 1));
    summary.train_seconds = seconds_since(t0);
    summary.tokens_per_second = static_cast<double>(tokens_done) / summary.train_seconds;
    return summary;
  }

  /// Word dropout: training singletons become <unk> with probability singleton_unk, any word with
  /// probability word_dropout, so the <unk> vector learns to stand for words never seen in
  /// training.
  void replace_with_unknown(const std::vector<EncodedSentence>& train, Batch& batch) {
    if (config_.singleton_unk <= 0.0 && config_.word_dropout <= 0.0) return;
    for (Index b = 0; b < batch.batch_size(); ++b) {
      const EncodedSentence& s = train[batch.sentences[static_cast<std::size_t>(b)]];
      for (Index t = 0; t < batch.lengths[b]; ++t) {
        const auto k = static_cast<std::size_t>(t);
        const bool singleton = !s.singleton.empty() && s.singleton[k] != 0;
        double p = config_.word_dropout;
        if (singleton) p = 1.0 - (1.0 - p) * (1.0 - config_.singleton_unk);
        if (p > 0.0 && rng_.uniform() < p) batch.words(b, t) = unk_id_;
      }
    }
  }

  /// The elements that may carry a gradient (dense parameters whole, sparse ones their touched
  /// columns): what zeroing and the update walk through.
  static Index count_gradient_elements(const ParamList<Scalar>& params) {
    Index n = 0;
    for (const auto* p : params) {
      n += p->sparse ? static_cast<Index>(p->touched_columns.size()) * p->value.rows()
                     : p->value.size();
    }
    return n;
  }

  static void snapshot(const ParamList<Scalar>& params, std::vector<Matrix<Scalar>>& out) {
    out.resize(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) out[i] = params[i]->value;
  }
  static void restore(const std::vector<Matrix<Scalar>>& saved, const ParamList<Scalar>& params) {
    for (std::size_t i = 0; i < params.size(); ++i) params[i]->value = saved[i];
  }

  AdamOptions adam_options() const {
    AdamOptions o;
    o.learning_rate = config_.learning_rate;
    return o;
  }
  SgdOptions sgd_options() const {
    SgdOptions o;
    o.learning_rate = config_.learning_rate;
    o.momentum = config_.momentum;
    return o;
  }

  TaggerNetwork<Scalar>& network_;
  TaggerConfig config_;
  std::int32_t unk_id_;
  ExecutionContext& context_;
  Rng rng_;
  Adam<Scalar> adam_{adam_options()};
  Sgd<Scalar> sgd_{sgd_options()};
  Batch batch_;
  typename TaggerNetwork<Scalar>::Workspace workspace_;
  std::array<double, norm_parts> part_norms_{};
};

}  // namespace lstmner
