#pragma once
/// \file detail/prediction.hpp
/// How Tagger::predict schedules its work. Sentences are bucketed by length into batches
/// (batch.hpp), and batches whose padding would waste too much are split; the batches then run
/// longest first, so the first sizes every buffer and the threads that finish early take the
/// short ones left at the end. Several batches are shared out among the context's threads, each
/// running its batch's network stages alone; a single batch runs its stages on every thread.
/// Every batch is computed the same way whichever thread runs it (network.hpp), so the tags do
/// not depend on the thread count.
///
/// Memory: a batch holds at most `max_tokens` padded tokens (sentences x the longest), and a
/// sentence longer than that is tagged in pieces of `max_tokens` tokens, each on its own. The
/// network's scratch memory per thread is then bounded by max_tokens tokens, whatever the input
/// (docs/reliability.md gives the bytes per token).

#include <lstmner/batch.hpp>
#include <lstmner/execution_context.hpp>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lstmner {
namespace detail {

struct PredictionPlan {
  /// Piece i of the batches is tokens [begin[i], begin[i] + length[i]) of sentences[source[i]]
  /// (a whole sentence unless it is longer than max_tokens; empty sentences are left out).
  std::vector<std::size_t> source, begin, length;
  /// The batches, longest first: indices into `source`.
  std::vector<std::vector<std::size_t>> batches;
};

inline PredictionPlan plan_prediction(const std::vector<std::vector<std::string>>& sentences,
                                      std::size_t batch_size, double max_padding,
                                      std::size_t max_tokens = SIZE_MAX) {
  PredictionPlan plan;
  for (std::size_t i = 0; i < sentences.size(); ++i) {
    for (std::size_t begin = 0; begin < sentences[i].size(); begin += max_tokens) {
      plan.source.push_back(i);
      plan.begin.push_back(begin);
      plan.length.push_back(std::min(max_tokens, sentences[i].size() - begin));
      if (sentences[i].size() - begin <= max_tokens) break;
    }
  }
  if (plan.source.empty()) return plan;
  const auto& lengths = plan.length;
  plan.batches = split_batches_by_tokens(
      lengths, split_padded_batches(lengths, bucket_by_length(lengths, batch_size), max_padding),
      max_tokens);
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
