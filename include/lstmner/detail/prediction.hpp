#pragma once
/// \file detail/prediction.hpp
/// How Tagger::predict schedules its work. Sentences are bucketed by length into batches
/// (batch.hpp), and batches whose padding would waste too much are split; the batches then run
/// longest first, so the first sizes every buffer and the threads that finish early take the
/// short ones left at the end. Several batches are shared out among the context's threads, each
/// running its batch's network stages alone; a single batch runs its stages on every thread.
/// Every batch is computed the same way whichever thread runs it (network.hpp), so the tags do
/// not depend on the thread count.

#include <lstmner/batch.hpp>
#include <lstmner/execution_context.hpp>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <string>
#include <vector>

namespace lstmner {
namespace detail {

struct PredictionPlan {
  /// Sentence i of the batches is sentences[source[i]] (empty sentences are left out).
  std::vector<std::size_t> source;
  /// The batches, longest first: indices into `source`.
  std::vector<std::vector<std::size_t>> batches;
};

inline PredictionPlan plan_prediction(const std::vector<std::vector<std::string>>& sentences,
                                      std::size_t batch_size, double max_padding) {
  PredictionPlan plan;
  std::vector<std::size_t> lengths;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    if (sentences[i].empty()) continue;
    plan.source.push_back(i);
    lengths.push_back(sentences[i].size());
  }
  if (plan.source.empty()) return plan;
  plan.batches = split_padded_batches(lengths, bucket_by_length(lengths, batch_size), max_padding);
  std::reverse(plan.batches.begin(), plan.batches.end());
  return plan;
}

/// Runs run_batch(k, context_for_its_stages) for every batch k of `plan`: side by side on the
/// context's threads (each batch's stages on ExecutionContext::serial()), or, for a single
/// batch, with its stages on `context`.
template <class RunBatch>
void run_prediction(const PredictionPlan& plan, ExecutionContext& context, RunBatch&& run_batch) {
  const std::size_t batches = plan.batches.size();
  if (batches == 1) {
    run_batch(std::size_t{0}, context);
    return;
  }
  // Runs of at most INT_MAX parts (a context's part count is an int).
  for (std::size_t first = 0; first < batches; first += INT_MAX) {
    const auto parts = static_cast<int>(std::min<std::size_t>(batches - first, INT_MAX));
    context.run(parts, [&](Part part) {
      run_batch(first + static_cast<std::size_t>(part.index), ExecutionContext::serial());
    });
  }
}

}  // namespace detail
}  // namespace lstmner
