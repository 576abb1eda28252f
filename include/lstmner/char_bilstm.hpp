#pragma once
/// \file char_bilstm.hpp
/// The character-level word encoder of Lample et al. (2016): character embeddings, a BiLSTM over
/// each word's characters, and the word's vector = the forward direction's last state stacked on
/// the backward direction's last state (the state after reading the word from its last character
/// down to its first).
///
/// Parameters, in slot order: `table` [C x V] (character vectors, a contiguous column per id;
/// sparse like Embedding's), then the BiLSTM's: forward.W [4H x C], forward.U, forward.b,
/// backward.W, backward.U, backward.b (lstm.hpp, bidirectional.hpp). Defaults C = H = 25
/// (Lample et al.). Initialisation: table uniform in ±sqrt(3/C), the LSTMs as lstm.hpp says.
///
///   forward(ids, lengths, out, ws, context) const:  ids (W, L) int32 with ids(w, l) the
///       character l of word w, lengths[w] in 1..L its characters (SequenceLengths: W
///       "sequences"; CharVocabulary::encode_batch makes both) → out (2H, W): rows 0..H-1 of
///       column w the forward LSTM's state after the word's last character, rows H..2H-1 the
///       backward LSTM's state after its first. Ids past a word's length are never read; ids of
///       real characters must lie in [0, V). Caches in `ws`: the sort, the buckets below with both
///       LSTMs' workspaces (their caches hold what LSTM's backward needs), the batch's distinct
///       characters and their vectors.
///   backward(ids, lengths, d_out, ws, context):  the same ids and lengths, d_out (2H, W) →
///       adds into the six LSTM gradients and the table's columns of the characters used
///       (recording them in table.touched_columns; nothing when the table is frozen). The
///       characters are ids: there is no input gradient.
///
/// How the work is laid out (the layer does it; callers pass words in any order):
///   1. The words are sorted by decreasing length (ties: by their ids, lexicographically, then by
///      position), so the layout depends only on the words, not on their order: for a batch of
///      distinct words, permuting it permutes out's columns and leaves every bit of out and of
///      the gradients as it was.
///   2. The sorted words are cut into at most `max_buckets` buckets of consecutive lengths, each
///      a padded time-major batch of its own (B_k words, T_k = its longest): the cut minimises
///      Σ_k (B_k·T_k + bucket_overhead), the padded character steps plus a per-bucket cost
///      (detail::plan_length_buckets, an exact dynamic programme over the distinct lengths).
///      The recurrences and dU then run on ~5% padding (CoNLL-2003 batches) instead of ~170%
///      for one batch padded to its longest word. Each bucket runs LSTM's fast stages
///      (forward_sequences, backward_sequences, ...) in both directions.
///   3. A step's input is a table column, so the products with W are taken once per distinct
///      character of the batch (U ≈ 70 in a CoNLL batch of ~1700 characters) instead of once per
///      step: the input projection is W·e + b for each distinct vector e, copied into each step
///      that reads it (bit for bit what the projection of the steps gives: a column of a product
///      sums its C terms in the same order whatever the other columns, kernels/gemm.hpp); in
///      backward, δz is summed per distinct character (S [4H x U]) and dW += S·Eᵀ, db += S·1 and
///      the table's columns += Wᵀ·S replace the products over every step. Only the recurrent
///      products (U·h, Uᵀ·δz and dU, LSTM's) remain per step.
/// Measured (bench_char; 300 words of CoNLL-like lengths, forward + backward, float, one thread;
/// a loaded 2-core VM, so ratios only): the words through Bidirectional<LSTM> as one padded
/// batch, unsorted, 3.8x the time of this layer; sorted but one bucket, 2.2x; 2 buckets 1.3x;
/// 4 buckets 1.06x; 8 (the default, overhead 32), 16 or one bucket per length within ±5% of
/// each other. Step 3 took the layer from 0.47 to 0.33 CPU-seconds per 300 passes (-30%).
/// Modelled from the measured work of every part of every stage (ExecutionContext's stage
/// recorder): 1.0 ms on one thread, 0.55 ms on two (1.85x before hand-off costs). Re-measure on
/// a quiet machine: `bench_char --benchmark_filter=bilstm --benchmark_repetitions=5`.
///
/// Threads: both passes take an ExecutionContext (execution_context.hpp; the default runs on the
/// calling thread alone); all buckets share each stage, so a pass hands out as many stages as
/// one Bidirectional pass:
///   forward:  1. W·e + b of the distinct characters and the packing of U, per direction;
///             2. per bucket, direction and group of words (by decreasing work): the copies into
///                the input projection, the recurrence, the group's rows of `out`;
///   backward: 1. each bucket's dh (d_out at each word's last step, 0 elsewhere), by token
///                columns, and the packing of Uᵀ;
///             2. the recurrences back through time, per bucket, direction and group;
///             3. per direction, by rows of the 4H gate rows: dU (the buckets in bucket order),
///                S (each element summing its steps in bucket, word, step order), dW and db;
///             4. the table gradient, by distinct characters (Wᵀ·S of both directions).
/// Every stage writes only its own columns, rows, words or characters, with the same arithmetic
/// in any cut, so the results are bit-identical on any number of threads. The bucket plan
/// depends only on the lengths (and the two settings), never on the thread count. Layers
/// running the reference kernel (LstmKernel::reference) take a plain path on the calling
/// thread: per bucket, the characters' vectors x, the LSTMs' own passes, dx scattered into the
/// table.
///
/// Nothing allocates once the workspace has served the largest batches (Tensors resized within
/// their capacity, vectors within theirs, the GEMMs' packing buffers kept per part).
/// Bad arguments throw std::invalid_argument starting with "lstmner: CharBiLSTM:".

#include <lstmner/bidirectional.hpp>
#include <lstmner/detail/char_ids.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/kernels/gemm.hpp>
#include <lstmner/lstm.hpp>
#include <lstmner/param.hpp>
#include <lstmner/parts.hpp>
#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

namespace lstmner {

namespace detail {

/// The scratch of plan_length_buckets (kept by the caller so that planning allocates nothing).
struct LengthBucketScratch {
  std::vector<Index> run_start;  ///< first position of each run of equal lengths, then the end
  std::vector<Index> cost;       ///< (buckets + 1) x (runs + 1): the cheapest cost found
  std::vector<Index> choice;     ///< the same shape: where that cost's last bucket starts
};

/// Cuts `count` >= 1 lengths sorted in decreasing order into at most `max_buckets` runs of
/// consecutive positions that never split equal lengths, minimising
///     Σ_buckets (words · longest length + overhead),
/// and writes the first position of every bucket into `starts`, followed by `count`
/// (bucket k is [starts[k], starts[k+1])). Exact (dynamic programming over the runs of equal
/// length: O(max_buckets · runs²)); among equal costs, the fewest buckets, then the earliest cuts.
inline void plan_length_buckets(const Index* sorted, Index count, Index max_buckets, Index overhead,
                                std::vector<Index>& starts, LengthBucketScratch& s) {
  s.run_start.clear();
  for (Index i = 0; i < count; ++i)
    if (i == 0 || sorted[i] != sorted[i - 1]) s.run_start.push_back(i);
  s.run_start.push_back(count);
  const Index runs = static_cast<Index>(s.run_start.size()) - 1;
  const Index K = std::min(std::max<Index>(max_buckets, 1), runs);
  const Index stride = runs + 1;
  constexpr Index none = std::numeric_limits<Index>::max();
  s.cost.assign(static_cast<std::size_t>((K + 1) * stride), none);
  s.choice.assign(static_cast<std::size_t>((K + 1) * stride), 0);
  const auto at = [stride](Index k, Index j) { return static_cast<std::size_t>(k * stride + j); };
  s.cost[at(0, 0)] = 0;
  // cost(k, j): the first j runs in k buckets; the last bucket holds runs i-1 .. j-1 (0-based).
  for (Index k = 1; k <= K; ++k) {
    for (Index j = k; j <= runs; ++j) {
      Index best = none, from = 0;
      for (Index i = k; i <= j; ++i) {
        const Index before = s.cost[at(k - 1, i - 1)];
        if (before == none) continue;
        const Index first = s.run_start[static_cast<std::size_t>(i - 1)];
        const Index words = s.run_start[static_cast<std::size_t>(j)] - first;
        const Index total = before + words * sorted[first] + overhead;
        if (total < best) {
          best = total;
          from = i;
        }
      }
      s.cost[at(k, j)] = best;
      s.choice[at(k, j)] = from;
    }
  }
  Index buckets = 1;
  for (Index k = 2; k <= K; ++k)
    if (s.cost[at(k, runs)] < s.cost[at(buckets, runs)]) buckets = k;
  starts.resize(static_cast<std::size_t>(buckets + 1));
  starts[static_cast<std::size_t>(buckets)] = count;
  for (Index k = buckets, j = runs; k >= 1; --k) {
    const Index i = s.choice[at(k, j)];
    starts[static_cast<std::size_t>(k - 1)] = s.run_start[static_cast<std::size_t>(i - 1)];
    j = i - 1;
  }
}

}  // namespace detail

template <class Scalar>
class CharBiLSTM {
 public:
  using scalar_type = Scalar;
  using Layer = LSTM<Scalar>;
  static constexpr Index default_char_dim = 25;  ///< C of Lample et al. (2016)
  static constexpr Index default_hidden = 25;    ///< H per direction, Lample et al. (2016)
  static constexpr Index default_max_buckets = 8;
  static constexpr Index default_bucket_overhead = 32;

  /// Words of one length bucket: a padded time-major batch (B words in sorted order, T = the
  /// longest), for each direction d (0: forwards, 1: each word reversed).
  struct Bucket {
    Index first = 0;          ///< sorted position of its first word
    Index column_offset = 0;  ///< its first column among the batch's columns (all buckets')
    SequenceLengths lengths;  ///< its words' lengths
    Tensor3<Scalar> h[2];     ///< (H, B, T) the LSTM's outputs
    typename Layer::Workspace lstm[2];
    Tensor3<Scalar> dh[2];  ///< (H, B, T) backward: d_out at each word's last step, else 0
    Tensor3<Scalar> x[2];   ///< (C, B, T) plain path only: the character vectors
    Tensor3<Scalar> dx[2];  ///< (C, B, T) the gradient at them (sized by LSTM::backward_prepare;
                            ///< written by the plain path only)

    Index size() const { return lengths.batch_size(); }
    Index columns() const { return lengths.batch_size() * lengths.max_length(); }
  };

  /// A part of the recurrence stages: a group of one bucket's words in one direction.
  struct RecurrencePart {
    Index bucket = 0;
    int direction = 0;
    Part group;
  };

  /// What a forward pass leaves for backward, and both passes' scratch. Owned by the caller.
  struct Workspace {
    std::vector<Index> order;           ///< sorted position → word
    std::vector<Index> sorted_lengths;  ///< lengths in sorted order
    std::vector<Index> starts;          ///< bucket k: sorted positions [starts[k], starts[k+1])
    detail::LengthBucketScratch plan;
    std::vector<Bucket> buckets;  ///< the first bucket_count() hold this batch
    std::vector<Index> lengths;   ///< the batch's lengths, as given (backward checks them)
    std::vector<RecurrencePart> recurrence_parts;
    std::vector<kernels::gemm::GemmWorkspace<Scalar>> part_gemm;
    // The batch's distinct characters ("used"), and what is computed once per character.
    std::vector<Index> used;           ///< the ids of the batch's characters, ascending
    std::vector<std::int32_t> slot;    ///< V entries: id → its index in `used`, or -1
    Tensor2<Scalar> used_vectors;      ///< [C x U] their table columns
    Tensor2<Scalar> projected[2];      ///< [4H x U] W·e + b of each, per direction
    Tensor2<Scalar> gate_sums[2];      ///< [4H x U] backward: δz summed over each's steps
    Tensor2<Scalar> char_grad;         ///< [C x U] backward: the gradient at each's vector
    std::vector<Index> touched_merge;  ///< backward: scratch of the touched-columns merge
    Index words = 0;                   ///< W of the batch cached (0: none)
    Index columns = 0;                 ///< Σ_k B_k·T_k, the buckets' columns

    Index bucket_count() const { return static_cast<Index>(starts.size()) - 1; }
    Bucket& bucket(Index k) { return buckets[static_cast<std::size_t>(k)]; }
    const Bucket& bucket(Index k) const { return buckets[static_cast<std::size_t>(k)]; }
    kernels::gemm::GemmWorkspace<Scalar>& gemm(int part) {
      return part_gemm[static_cast<std::size_t>(part)];
    }
    void reserve_parts(int parts) {
      if (part_gemm.size() < static_cast<std::size_t>(parts))
        part_gemm.resize(static_cast<std::size_t>(parts));
    }
  };

  Param<Scalar> table;    ///< [C x V] character vectors (sparse)
  BiLSTM<Scalar> bilstm;  ///< In = C, H per direction
  /// The bucket plan (see the file comment): at most this many buckets, each costing this many
  /// padded character steps. They change results only by rounding (which words share a
  /// product), never with the thread count.
  Index max_buckets = default_max_buckets;
  Index bucket_overhead = default_bucket_overhead;

  /// An empty layer; assign a constructed one before use.
  CharBiLSTM() { table.sparse = true; }

  /// A layer over `vocab_size` character ids (CharVocabulary::size()), with `char_dim` (C)
  /// dimensions per character and `hidden` (H) units per direction, initialised from `rng`
  /// (the table first, then the forward LSTM, then the backward one).
  CharBiLSTM(Index vocab_size, Index char_dim, Index hidden, Rng& rng)
      : table("table", char_dim, vocab_size) {
    require(vocab_size >= 1 && char_dim >= 1 && hidden >= 1,
            "CharBiLSTM: vocabulary size, character dimension and hidden size must be at least 1 "
            "(got " +
                std::to_string(vocab_size) + ", " + std::to_string(char_dim) + ", " +
                std::to_string(hidden) + ")");
    table.sparse = true;
    init_uniform(table.value, std::sqrt(3.0 / static_cast<double>(char_dim)), rng);
    bilstm = make_bilstm<Scalar>(char_dim, hidden, rng);
  }

  /// A zero layer of the given shape without gradient buffers (see ShapesOnly in param.hpp).
  CharBiLSTM(Index vocab_size, Index char_dim, Index hidden, ShapesOnly)
      : table("table", char_dim, vocab_size, shapes_only) {
    require(vocab_size >= 1 && char_dim >= 1 && hidden >= 1,
            "CharBiLSTM: vocabulary size, character dimension and hidden size must be at least 1");
    table.sparse = true;
    bilstm = make_bilstm<Scalar>(char_dim, hidden, shapes_only);
  }

  Index vocab_size() const { return table.value.cols(); }
  Index char_dim() const { return table.value.rows(); }
  Index hidden_size() const { return bilstm.forward_layer.hidden_size(); }
  Index output_size() const { return 2 * hidden_size(); }
  ParamList<Scalar> params() {
    ParamList<Scalar> list{&table};
    append_params(list, bilstm.params());
    return list;
  }

  // ----- forward ---------------------------------------------------------------------------------

  void forward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
               Tensor2<Scalar>& out, Workspace& ws,
               ExecutionContext& context = ExecutionContext::serial()) const {
    prepare_forward(ids, lengths, out, ws);
    if (!fast()) {
      forward_plain(ids, out, ws);
      return;
    }
    // 1. W·e + b of every distinct character, and the packing of U, per direction.
    ws.reserve_parts(2);
    context.run(2, [&](Part part) {
      const int d = part.index;
      project_characters(d, ws, ws.gemm(d));
      for (Index k = 0; k < ws.bucket_count(); ++k)
        layer(d).forward_pack(ws.bucket(k).lengths, ws.bucket(k).lstm[d]);
    });
    // 2. Per bucket, direction and group of words: their columns of W·x + b (copies of the
    //    characters' columns), the recurrence, their rows of `out`.
    plan_recurrence(context, ws);
    context.run(static_cast<int>(ws.recurrence_parts.size()), [&](Part part) {
      const RecurrencePart& r = ws.recurrence_parts[static_cast<std::size_t>(part.index)];
      Bucket& bucket = ws.bucket(r.bucket);
      const Range words = Range{0, bucket.size()}.share(r.group);
      gather_projection(ids, r.direction, ws, bucket, words);
      layer(r.direction)
          .forward_sequences(bucket.lengths, bucket.h[r.direction], bucket.lstm[r.direction],
                             words);
      write_output(ws, bucket, r.direction, words, out);
    });
  }

  // ----- backward --------------------------------------------------------------------------------

  void backward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                const Tensor2<Scalar>& d_out, Workspace& ws,
                ExecutionContext& context = ExecutionContext::serial()) {
    prepare_backward(ids, lengths, d_out, ws);
    if (!fast()) {
      backward_plain(ids, d_out, ws);
      return;
    }
    const Index N = ws.columns;
    const int column_parts = context.parts_for(N, Layer::columns_per_part);
    // 1. Each bucket's dh, and the packing of both Uᵀ.
    context.run_kinds({column_parts, column_parts, 1, 1}, [&](int kind, Part part) {
      if (kind < 2) {
        fill_output_gradient(kind, d_out, Range{0, N}.share(part), ws);
      } else {
        for (Index k = 0; k < ws.bucket_count(); ++k)
          layer(kind - 2).backward_pack(ws.bucket(k).lengths, ws.bucket(k).lstm[kind - 2]);
      }
    });
    // 2. The recurrences back through time.
    plan_recurrence(context, ws);
    context.run(static_cast<int>(ws.recurrence_parts.size()), [&](Part part) {
      const RecurrencePart& r = ws.recurrence_parts[static_cast<std::size_t>(part.index)];
      Bucket& bucket = ws.bucket(r.bucket);
      layer(r.direction)
          .backward_sequences(bucket.lengths, bucket.dh[r.direction], bucket.lstm[r.direction],
                              Range{0, bucket.size()}.share(r.group));
    });
    // 3. By rows of the 4H gate rows, per direction: dU (every bucket, in bucket order), the
    //    per-character sums of δz, and from them dW and db.
    const Index tiles =
        std::max(bilstm.forward_layer.row_tiles(), bilstm.backward_layer.row_tiles());
    const int row_parts = context.parts_per_copy(tiles, 1, 2);
    ws.reserve_parts(2 * row_parts);
    context.run_kinds({row_parts, row_parts}, [&](int d, Part part) {
      Layer& l = layer(d);
      const Range rows = l.tile_rows(Range{0, l.row_tiles()}.share(part));
      auto& gemm = ws.gemm(d * row_parts + part.index);
      for (Index k = 0; k < ws.bucket_count(); ++k)
        l.backward_recurrent_weights(ws.bucket(k).lstm[d], rows, gemm);
      sum_gate_gradients(ids, d, rows, ws);
      input_weight_gradients(d, rows, ws, gemm);
    });
    // 4. The table's gradient, by distinct characters.
    if (table.frozen) return;
    const Index U = static_cast<Index>(ws.used.size());
    const int char_parts = context.parts_for(U, chars_per_part);
    ws.reserve_parts(char_parts);
    context.run(char_parts, [&](Part part) {
      add_table_gradient(Range{0, U}.share(part), ws, ws.gemm(part.index));
    });
  }

  // ----- checks ----------------------------------------------------------------------------------

  /// Throws unless ids is (W, L) for this batch and every id of a real character is in [0, V).
  void check_ids(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                 const char* pass) const {
    // Messages are built only on failure: this runs in every training step.
    const auto who = [pass] { return std::string("CharBiLSTM: ") + pass + ": "; };
    if (vocab_size() < 1 || hidden_size() < 1)
      require(false, who() + "the layer is empty (default-constructed)");
    if (bilstm.input_size() != char_dim() || bilstm.backward_layer.hidden_size() != hidden_size()) {
      require(false, who() + "the BiLSTM reads " + std::to_string(bilstm.input_size()) +
                         " features with " + std::to_string(hidden_size()) + " + " +
                         std::to_string(bilstm.backward_layer.hidden_size()) +
                         " units; it must read the " + std::to_string(char_dim()) +
                         " of a character vector, with as many units in both directions");
    }
    detail::check_char_ids(ids, lengths, vocab_size(), "CharBiLSTM", pass);
  }

 private:
  /// Distinct characters per part of the table-gradient stage, at least.
  static constexpr Index chars_per_part = 32;

  bool fast() const {
    return bilstm.forward_layer.kernel == LstmKernel::fast &&
           bilstm.backward_layer.kernel == LstmKernel::fast;
  }
  const Layer& layer(int direction) const {
    return direction == 0 ? bilstm.forward_layer : bilstm.backward_layer;
  }
  Layer& layer(int direction) {
    return direction == 0 ? bilstm.forward_layer : bilstm.backward_layer;
  }

  /// The serial start of a forward pass: checks, the sort, the bucket plan, the sizes.
  void prepare_forward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                       Tensor2<Scalar>& out, Workspace& ws) const {
    check_ids(ids, lengths, "forward");
    detail::require_lazily(max_buckets >= 1 && bucket_overhead >= 0, [&] {
      return "CharBiLSTM: forward: max_buckets must be at least 1 and bucket_overhead at least 0 "
             "(got " +
             std::to_string(max_buckets) + ", " + std::to_string(bucket_overhead) + ")";
    });
    const Index W = lengths.batch_size(), C = char_dim();
    ws.words = 0;  // until the caches below hold this batch
    ws.lengths.assign(lengths.lengths().begin(), lengths.lengths().end());
    ws.order.resize(static_cast<std::size_t>(W));
    std::iota(ws.order.begin(), ws.order.end(), Index(0));
    std::sort(ws.order.begin(), ws.order.end(), [&](Index a, Index b) {
      if (lengths[a] != lengths[b]) return lengths[a] > lengths[b];
      for (Index p = 0; p < lengths[a]; ++p)
        if (ids(a, p) != ids(b, p)) return ids(a, p) < ids(b, p);
      return a < b;
    });
    ws.sorted_lengths.resize(static_cast<std::size_t>(W));
    for (Index i = 0; i < W; ++i)
      ws.sorted_lengths[static_cast<std::size_t>(i)] =
          lengths[ws.order[static_cast<std::size_t>(i)]];
    detail::plan_length_buckets(ws.sorted_lengths.data(), W, max_buckets, bucket_overhead,
                                ws.starts, ws.plan);
    const Index K = ws.bucket_count();
    if (ws.buckets.size() < static_cast<std::size_t>(K))
      ws.buckets.resize(static_cast<std::size_t>(K));
    Index columns = 0;
    for (Index k = 0; k < K; ++k) {
      Bucket& bucket = ws.bucket(k);
      bucket.first = ws.starts[static_cast<std::size_t>(k)];
      bucket.column_offset = columns;
      const Index size = ws.starts[static_cast<std::size_t>(k + 1)] - bucket.first;
      bucket.lengths.assign(static_cast<std::size_t>(size), [&](std::size_t b) {
        return ws.sorted_lengths[static_cast<std::size_t>(bucket.first) + b];
      });
      for (int d = 0; d < 2; ++d)
        layer(d).forward_prepare(bucket.lengths, bucket.h[d], bucket.lstm[d]);
      columns += bucket.columns();
    }
    ws.columns = columns;
    collect_characters(ids, lengths, ws);
    const auto U = static_cast<Index>(ws.used.size());
    ws.used_vectors.resize(C, U);
    for (Index u = 0; u < U; ++u) {
      const Scalar* vector = table.value.data() + ws.used[static_cast<std::size_t>(u)] * C;
      std::copy(vector, vector + C, ws.used_vectors.data() + u * C);
    }
    for (int d = 0; d < 2; ++d) ws.projected[d].resize(4 * hidden_size(), U);
    out.resize(output_size(), W);
    ws.words = W;
  }

  /// ws.used = the distinct ids of the batch's characters, ascending; ws.slot[id] = the index of
  /// id in ws.used (-1 for the ids not used). O(characters + U log U), no allocation once the
  /// slots exist.
  void collect_characters(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                          Workspace& ws) const {
    if (ws.slot.size() != static_cast<std::size_t>(vocab_size())) {
      ws.slot.assign(static_cast<std::size_t>(vocab_size()), -1);
      ws.used.clear();
    }
    for (Index id : ws.used) ws.slot[static_cast<std::size_t>(id)] = -1;  // the last batch's
    ws.used.clear();
    for (Index w = 0; w < lengths.batch_size(); ++w)
      for (Index p = 0; p < lengths[w]; ++p) {
        std::int32_t& slot = ws.slot[static_cast<std::size_t>(ids(w, p))];
        if (slot < 0) {
          slot = 0;
          ws.used.push_back(ids(w, p));
        }
      }
    std::sort(ws.used.begin(), ws.used.end());
    for (std::size_t u = 0; u < ws.used.size(); ++u)
      ws.slot[static_cast<std::size_t>(ws.used[u])] = static_cast<std::int32_t>(u);
  }

  /// The serial start of a backward pass: checks against the cached forward pass, sizes the
  /// backward buffers, records the table columns the batch touches.
  void prepare_backward(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                        const Tensor2<Scalar>& d_out, Workspace& ws) {
    check_ids(ids, lengths, "backward");
    const Index W = lengths.batch_size();
    detail::require_lazily(d_out.dim(0) == output_size() && d_out.dim(1) == W, [&] {
      return "CharBiLSTM: backward: d_out has shape " + shape_string(d_out.shape()) +
             ", expected (" + std::to_string(output_size()) + ", " + std::to_string(W) + ")";
    });
    detail::require_lazily(ws.words == W && ws.lengths == lengths.lengths(), [] {
      return std::string(
          "CharBiLSTM: backward: the workspace holds no forward pass over this batch (call "
          "forward with the same ids, lengths and workspace first)");
    });
    detail::require_lazily(
        table.frozen || (table.grad.rows() == char_dim() && table.grad.cols() == vocab_size()), [] {
          return std::string(
              "CharBiLSTM: backward: table.grad does not have the shape of "
              "table.value");
        });
    for (Index k = 0; k < ws.bucket_count(); ++k) {
      Bucket& bucket = ws.bucket(k);
      for (int d = 0; d < 2; ++d) {
        bucket.dh[d].resize(hidden_size(), bucket.size(), bucket.lengths.max_length());
        layer(d).backward_prepare(bucket.lengths, bucket.dx[d], bucket.lstm[d]);
      }
    }
    const auto U = static_cast<Index>(ws.used.size());
    for (int d = 0; d < 2; ++d) ws.gate_sums[d].resize(4 * hidden_size(), U);
    ws.char_grad.resize(char_dim(), U);
    if (!table.frozen) record_touched(ws);
  }

  /// Calls f(bucket, local columns) for the part of each bucket inside `columns` (the batch's
  /// columns: bucket k's are [column_offset, column_offset + B_k·T_k)).
  template <class F>
  static void for_each_bucket_columns(Workspace& ws, Range columns, F&& f) {
    for (Index k = 0; k < ws.bucket_count(); ++k) {
      Bucket& bucket = ws.bucket(k);
      const Index first = std::max(columns.first, bucket.column_offset);
      const Index last = std::min(columns.last, bucket.column_offset + bucket.columns());
      if (first < last) f(bucket, Range{first - bucket.column_offset, last - bucket.column_offset});
    }
  }

  /// The id of the character at step t of word b of a bucket, read in direction d (1: the
  /// word reversed).
  static Index char_at(const Tensor2<std::int32_t>& ids, int d, const Workspace& ws,
                       const Bucket& bucket, Index b, Index t) {
    const Index w = ws.order[static_cast<std::size_t>(bucket.first + b)];
    return ids(w, d == 0 ? t : bucket.lengths[b] - 1 - t);
  }

  /// projected[d] = W·e + b for every distinct character's vector e: the input projection of
  /// every step that reads it. (A column of W·X sums over the same C products in the same order
  /// whichever columns a product holds, kernels/gemm.hpp, so this is bit for bit the projection
  /// of the steps themselves, at U columns instead of one per character.)
  void project_characters(int d, Workspace& ws, kernels::gemm::GemmWorkspace<Scalar>& gemm) const {
    namespace g = kernels::gemm;
    const Layer& l = layer(d);
    const Index U = ws.used_vectors.dim(1);
    g::gemm(l.W.value.rows(), U, char_dim(), l.W.value.data(), l.W.value.rows(), g::Op::none,
            ws.used_vectors.data(), char_dim(), g::Op::none, ws.projected[d].data(),
            l.W.value.rows(), g::Update::overwrite, gemm,
            g::Extras<Scalar>{l.b.value.data(), nullptr});
  }

  /// The input projection of a bucket's `words` in direction d, written into the LSTM's cache
  /// where its forward_project would write it (cache.gates): at every real step the column of
  /// the character read there, 0 at padded steps.
  void gather_projection(const Tensor2<std::int32_t>& ids, int d, const Workspace& ws,
                         Bucket& bucket, Range words) const {
    const Index G = 4 * hidden_size(), B = bucket.size();
    Scalar* gates = bucket.lstm[d].cache.gates.data();
    const Scalar* projected = ws.projected[d].data();
    for (Index t = 0; t < bucket.lengths.max_length(); ++t)
      for (Index b = words.first; b < words.last; ++b) {
        Scalar* column = gates + (b + B * t) * G;
        if (t < bucket.lengths[b]) {
          const Index u = ws.slot[static_cast<std::size_t>(char_at(ids, d, ws, bucket, b, t))];
          std::copy(projected + u * G, projected + (u + 1) * G, column);
        } else {
          std::fill(column, column + G, Scalar(0));
        }
      }
  }

  /// Rows `rows` of gate_sums[d]: for every distinct character, δz summed over the steps that
  /// read it (every bucket, word and step, in that order).
  void sum_gate_gradients(const Tensor2<std::int32_t>& ids, int d, Range rows,
                          Workspace& ws) const {
    const Index G = 4 * hidden_size(), U = static_cast<Index>(ws.used.size());
    const Index r0 = rows.first, n = rows.size();
    Scalar* sums = ws.gate_sums[d].data();
    for (Index u = 0; u < U; ++u) std::fill(sums + u * G + r0, sums + u * G + r0 + n, Scalar(0));
    for (Index k = 0; k < ws.bucket_count(); ++k) {
      const Bucket& bucket = ws.bucket(k);
      const Index B = bucket.size();
      const Scalar* dz = bucket.lstm[d].cache.gate_grad.data();
      for (Index b = 0; b < B; ++b)
        for (Index t = 0; t < bucket.lengths[b]; ++t) {
          const Index u = ws.slot[static_cast<std::size_t>(char_at(ids, d, ws, bucket, b, t))];
          const Scalar* from = dz + (b + B * t) * G + r0;
          Scalar* to = sums + u * G + r0;
          for (Index i = 0; i < n; ++i) to[i] += from[i];
        }
    }
  }

  /// Rows `rows` of dW and db of direction d from the per-character sums of δz:
  /// dW += S·Eᵀ (E = the characters' vectors [C x U]), db += S·1.
  void input_weight_gradients(int d, Range rows, Workspace& ws,
                              kernels::gemm::GemmWorkspace<Scalar>& gemm) {
    namespace g = kernels::gemm;
    if (rows.size() <= 0) return;
    Layer& l = layer(d);
    const Index G = l.W.value.rows(), U = static_cast<Index>(ws.used.size());
    g::gemm(rows.size(), char_dim(), U, ws.gate_sums[d].data() + rows.first, G, g::Op::none,
            ws.used_vectors.data(), char_dim(), g::Op::transpose, l.W.grad.data() + rows.first, G,
            g::Update::accumulate, gemm, g::Extras<Scalar>{nullptr, l.b.grad.data() + rows.first});
  }

  /// The table gradient of the distinct characters `chars`: Wᵀ·S of both directions, added
  /// into their table columns.
  void add_table_gradient(Range chars, Workspace& ws, kernels::gemm::GemmWorkspace<Scalar>& gemm) {
    namespace g = kernels::gemm;
    if (chars.size() <= 0) return;
    const Index C = char_dim(), G = 4 * hidden_size();
    Scalar* grad = ws.char_grad.data() + chars.first * C;
    for (int d = 0; d < 2; ++d) {
      const Layer& l = layer(d);
      g::gemm(C, chars.size(), G, l.W.value.data(), G, g::Op::transpose,
              ws.gate_sums[d].data() + chars.first * G, G, g::Op::none, grad, C,
              d == 0 ? g::Update::overwrite : g::Update::accumulate, gemm);
    }
    for (Index u = chars.first; u < chars.last; ++u) {
      const Scalar* from = ws.char_grad.data() + u * C;
      Scalar* to = table.grad.data() + ws.used[static_cast<std::size_t>(u)] * C;
      for (Index i = 0; i < C; ++i) to[i] += from[i];
    }
  }

  /// x[d] of a bucket's `columns`: the vector of the word's character t (d = 0) or n-1-t (d = 1)
  /// at step t, 0 at padded steps.
  void gather(const Tensor2<std::int32_t>& ids, int d, const Workspace& ws, Bucket& bucket,
              Range columns) const {
    const Index C = char_dim();
    Scalar* x = bucket.x[d].data();
    for_each_token_column(bucket.lengths, columns, [&](Index c, Index b, Index t, bool real) {
      Scalar* column = x + c * C;
      if (real) {
        const Index w = ws.order[static_cast<std::size_t>(bucket.first + b)];
        const Index p = d == 0 ? t : bucket.lengths[b] - 1 - t;
        const Scalar* vector = table.value.data() + ids(w, p) * C;
        std::copy(vector, vector + C, column);
      } else {
        std::fill(column, column + C, Scalar(0));
      }
    });
  }

  /// Rows d·H .. d·H+H-1 of out's columns of a bucket's `words`: their last step's state.
  void write_output(const Workspace& ws, const Bucket& bucket, int d, Range words,
                    Tensor2<Scalar>& out) const {
    const Index H = hidden_size();
    for (Index b = words.first; b < words.last; ++b) {
      const Index w = ws.order[static_cast<std::size_t>(bucket.first + b)];
      const Scalar* state = bucket.h[d].step(bucket.lengths[b] - 1).col(b).data();
      std::copy(state, state + H, out.data() + w * 2 * H + d * H);
    }
  }

  /// dh[d] of `columns` (the batch's): d_out's rows of direction d at each word's last step, 0
  /// at every other step.
  void fill_output_gradient(int d, const Tensor2<Scalar>& d_out, Range columns,
                            Workspace& ws) const {
    const Index H = hidden_size();
    for_each_bucket_columns(ws, columns, [&](Bucket& bucket, Range local) {
      Scalar* dh = bucket.dh[d].data();
      for_each_token_column(bucket.lengths, local, [&](Index c, Index b, Index t, bool) {
        Scalar* column = dh + c * H;
        if (t == bucket.lengths[b] - 1) {
          const Index w = ws.order[static_cast<std::size_t>(bucket.first + b)];
          const Scalar* g = d_out.data() + w * 2 * H + d * H;
          std::copy(g, g + H, column);
        } else {
          std::fill(column, column + H, Scalar(0));
        }
      });
    });
  }

  /// The recurrence parts of both directions of every bucket: groups of at least
  /// LSTM::sequences_per_part words, as many as the threads can use; the largest buckets first.
  void plan_recurrence(const ExecutionContext& context, Workspace& ws) const {
    ws.recurrence_parts.clear();
    // Buckets by decreasing work (insertion sort of at most max_buckets entries, in place).
    for (Index k = 0; k < ws.bucket_count(); ++k) {
      const Bucket& bucket = ws.bucket(k);
      const int groups = context.parts_per_copy(bucket.size(), Layer::sequences_per_part, 2);
      for (int d = 0; d < 2; ++d)
        for (int g = 0; g < groups; ++g) ws.recurrence_parts.push_back({k, d, Part{g, groups}});
    }
    const auto work = [&](const RecurrencePart& r) {
      const Bucket& bucket = ws.bucket(r.bucket);
      const Range words = Range{0, bucket.size()}.share(r.group);
      return words.size() * bucket.lengths.max_length();
    };
    auto& parts = ws.recurrence_parts;
    for (std::size_t i = 1; i < parts.size(); ++i)
      for (std::size_t j = i; j > 0 && work(parts[j - 1]) < work(parts[j]); --j)
        std::swap(parts[j - 1], parts[j]);
  }

  /// The plain path's table gradient: for every character of the batch (bucket, word,
  /// position order), the forward and the backward direction's gradient at its vector.
  void add_table_gradient_plain(const Tensor2<std::int32_t>& ids, Workspace& ws) {
    const Index C = char_dim();
    for (Index k = 0; k < ws.bucket_count(); ++k) {
      const Bucket& bucket = ws.bucket(k);
      const Index B = bucket.size();
      for (Index b = 0; b < B; ++b) {
        const Index length = bucket.lengths[b];
        for (Index t = 0; t < length; ++t) {
          const Scalar* f = bucket.dx[0].data() + (b + B * t) * C;
          const Scalar* r = bucket.dx[1].data() + (b + B * (length - 1 - t)) * C;
          Scalar* g = table.grad.data() + char_at(ids, 0, ws, bucket, b, t) * C;
          for (Index i = 0; i < C; ++i) g[i] += f[i] + r[i];
        }
      }
    }
  }

  /// The whole forward pass on the calling thread through the LSTMs' own passes (any kernel).
  void forward_plain(const Tensor2<std::int32_t>& ids, Tensor2<Scalar>& out, Workspace& ws) const {
    for (Index k = 0; k < ws.bucket_count(); ++k) {
      Bucket& bucket = ws.bucket(k);
      for (int d = 0; d < 2; ++d) {
        bucket.x[d].resize(char_dim(), bucket.size(), bucket.lengths.max_length());
        gather(ids, d, ws, bucket, Range{0, bucket.columns()});
        layer(d).forward(bucket.x[d], bucket.lengths, bucket.h[d], bucket.lstm[d]);
        write_output(ws, bucket, d, Range{0, bucket.size()}, out);
      }
    }
  }

  /// The whole backward pass on the calling thread through the LSTMs' own passes.
  void backward_plain(const Tensor2<std::int32_t>& ids, const Tensor2<Scalar>& d_out,
                      Workspace& ws) {
    for (int d = 0; d < 2; ++d) fill_output_gradient(d, d_out, Range{0, ws.columns}, ws);
    for (Index k = 0; k < ws.bucket_count(); ++k) {
      Bucket& bucket = ws.bucket(k);
      for (int d = 0; d < 2; ++d)
        layer(d).backward(bucket.x[d], bucket.lengths, bucket.dh[d], bucket.dx[d], bucket.lstm[d]);
    }
    if (!table.frozen) add_table_gradient_plain(ids, ws);
  }

  /// Merges the batch's characters (ws.used, sorted) into table.touched_columns (sorted,
  /// unique), through a scratch vector kept in the workspace.
  void record_touched(Workspace& ws) {
    auto& touched = table.touched_columns;
    auto& merged = ws.touched_merge;
    merged.resize(touched.size() + ws.used.size());
    const auto end = std::set_union(touched.begin(), touched.end(), ws.used.begin(), ws.used.end(),
                                    merged.begin());
    touched.assign(merged.begin(), end);
  }
};

}  // namespace lstmner
