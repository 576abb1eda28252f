#pragma once
/// \file tagger.hpp
/// `Tagger<Scalar>`: a bidirectional-LSTM named-entity tagger — train it on CoNLL data, save it,
/// load it, tag text. The one header a user includes.
///
///   auto train = lstmner::read_conll("train.txt");
///   auto dev = lstmner::read_conll("valid.txt");
///   auto tagger = lstmner::Tagger<float>::train(train, &dev, lstmner::TaggerConfig{});
///   tagger.save("ner.model");
///   auto tags = tagger.predict({"EU", "rejects", "German", "call"});  // I-ORG O I-MISC O
///
/// Schemes: training data may be IOB1, IOB2 or IOBES (detected by conll.hpp). The network predicts
/// in `config.train_scheme` (IOBES by default); predictions are converted back to the scheme of the
/// training data (`output_scheme()`, changeable), losslessly, since constrained decoding emits only
/// well-formed sequences.
///
/// Thread safety: `predict`, `entities` and `evaluate` are const, and any number of threads may
/// call them on one Tagger at once. Their scratch memory (buffers for the largest batch seen, and a
/// worker thread when prediction_threads >= 2) is kept in a pool inside the Tagger and reused by
/// later calls; each concurrent call takes its own, so the pool holds one per concurrent caller.

#include <lstmner/batch.hpp>
#include <lstmner/casing.hpp>
#include <lstmner/conll.hpp>
#include <lstmner/decode.hpp>
#include <lstmner/metrics.hpp>
#include <lstmner/network.hpp>
#include <lstmner/serialize.hpp>
#include <lstmner/tag_scheme.hpp>
#include <lstmner/tagger_config.hpp>
#include <lstmner/trainer.hpp>
#include <lstmner/version.hpp>
#include <lstmner/vocabulary.hpp>

#include <lstmner/parallel.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace lstmner {

namespace detail {

/// Objects kept for reuse: acquire() hands out one (made when none is free) that returns to the
/// pool when the Lease ends. Thread-safe. Copies and moves of a pool start empty, so an object
/// is never shared between two owners.
template <class T>
class ObjectPool {
 public:
  class Lease {
   public:
    Lease(ObjectPool& pool, std::unique_ptr<T> object) : pool_(pool), object_(std::move(object)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(std::move(object_)); }
    T& operator*() const { return *object_; }

   private:
    ObjectPool& pool_;
    std::unique_ptr<T> object_;
  };

  ObjectPool() = default;
  ObjectPool(const ObjectPool&) {}
  ObjectPool& operator=(const ObjectPool&) {
    clear();
    return *this;
  }

  Lease acquire() {
    std::unique_ptr<T> object;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!free_.empty()) {
        object = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!object) object = std::make_unique<T>();
    return Lease(*this, std::move(object));
  }

  /// Drops every free object (their memory goes back to the system).
  void clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    free_.clear();
  }

 private:
  void give_back(std::unique_ptr<T> object) noexcept {
    try {
      std::lock_guard<std::mutex> lock(mutex_);
      free_.push_back(std::move(object));
    } catch (...) {  // no room to keep it: let it go
    }
  }

  std::mutex mutex_;
  std::vector<std::unique_ptr<T>> free_;
};

}  // namespace detail

/// A named entity found in a sentence: tokens [begin, end) and their text joined by spaces.
struct EntitySpan {
  std::string type;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
};

template <class Scalar = float>
class Tagger {
 public:
  /// Reserved word ids: 0 pads, 1 stands for every word not in the vocabulary.
  static constexpr std::int32_t pad_id = 0;
  static constexpr std::int32_t unk_id = 1;

  /// Trains a tagger on `train` (tagged CoNLL data), choosing the best epoch by entity F1 on `dev`
  /// (nullptr: no dev set, every epoch runs and the last weights are kept).
  static Tagger train(const ConllDocument& train, const ConllDocument* dev,
                      const TaggerConfig& config, const TrainingCallbacks& callbacks = {},
                      TrainingHistory* history = nullptr) {
    config.validate();
    Tagger tagger;
    tagger.config_ = config;
    tagger.input_scheme_ = train.scheme;
    tagger.output_scheme_ = train.scheme;
    tagger.build_vocabularies(train);
    const std::vector<EncodedSentence> encoded = tagger.encode_training_data(train);

    Rng init_rng(config.seed);
    tagger.network_ =
        TaggerNetwork<Scalar>(tagger.network_shape(), config.dropout, config.threads, init_rng);
    tagger.rules_ = make_transition_rules(tagger.tags_, config.train_scheme);
    tagger.prediction_threads = config.threads;

    Trainer<Scalar> trainer(tagger.network_, config, unk_id);
    std::function<DevScores()> score_dev;
    if (dev != nullptr && !dev->sentences.empty()) {
      score_dev = [&] {
        const EvaluationReport report = tagger.evaluate(*dev);
        return DevScores{100.0 * report.micro.precision, 100.0 * report.micro.recall,
                         100.0 * report.micro.f1};
      };
    }
    TrainingHistory result = trainer.fit(encoded, score_dev, callbacks);
    if (history != nullptr) *history = std::move(result);
    return tagger;
  }

  /// Tags of one tokenised sentence, in output_scheme(). An empty sentence gives no tags.
  std::vector<std::string> predict(const std::vector<std::string>& tokens) const {
    return predict(std::vector<std::vector<std::string>>{tokens}).front();
  }

  /// Tags of many sentences at once (batched by length internally; faster than one at a time).
  /// With prediction_threads >= 2 the batches are shared out between the calling thread and a
  /// worker; every batch is computed the same way whichever thread runs it, so the tags do not
  /// depend on the thread count.
  std::vector<std::vector<std::string>> predict(
      const std::vector<std::vector<std::string>>& sentences) const {
    require_trained("predict");
    require(prediction_batch_size >= 1,
            "Tagger::predict: prediction_batch_size must be at least 1");
    require(prediction_max_padding >= 0.0,  // false for NaN too
            "Tagger::predict: prediction_max_padding must be at least 0");
    std::vector<std::vector<std::string>> result(sentences.size());
    std::vector<std::size_t> source, lengths;  // sentence i of the batches is sentences[source[i]]
    for (std::size_t i = 0; i < sentences.size(); ++i) {
      if (sentences[i].empty()) continue;
      source.push_back(i);
      lengths.push_back(sentences[i].size());
    }
    if (source.empty()) return result;
    const auto batches = split_padded_batches(
        lengths, bucket_by_length(lengths, prediction_batch_size), prediction_max_padding);
    std::vector<EncodedSentence> encoded(source.size());  // filled batch by batch, in the jobs

    auto lease = contexts_.acquire();
    PredictionContext& context = *lease;
    const bool data_parallel = prediction_threads >= 2 && batches.size() >= 2;
    // A single batch of several sentences still uses both cores, one LSTM direction each.
    const bool direction_parallel =
        prediction_threads >= 2 && batches.size() == 1 && batches.front().size() >= 2;
    context.scratch[0].network.single_threaded = !direction_parallel;
    context.scratch[1].network.single_threaded = true;

    // Longest batches first: the first batch sizes every buffer, later ones fit in it; and the
    // thread that finishes early takes the short batches left at the end.
    std::atomic<std::size_t> next{0};
    auto work = [&](PredictionScratch& scratch) {
      scratch.decoder.set_rules(rules_);
      for (std::size_t k = next++; k < batches.size(); k = next++) {
        const std::vector<std::size_t>& indices = batches[batches.size() - 1 - k];
        for (std::size_t i : indices) encoded[i] = encode(sentences[source[i]], false);
        predict_batch(encoded, indices, scratch, [&](std::size_t i, std::vector<std::string> tags) {
          result[source[i]] = std::move(tags);
        });
      }
    };
    auto first = [&] { work(context.scratch[0]); };
    auto second = [&] { work(context.scratch[1]); };
    detail::run_pair(context.worker, data_parallel, first, second);
    return result;
  }

  /// The entities of one tokenised sentence.
  std::vector<EntitySpan> entities(const std::vector<std::string>& tokens) const {
    const std::vector<std::string> tags = predict(tokens);
    std::vector<EntitySpan> spans;
    for (const Entity& e : extract_entities(tags)) {
      EntitySpan span;
      span.type = e.type;
      span.begin = e.begin;
      span.end = e.end;
      for (std::size_t i = e.begin; i < e.end; ++i) {
        span.text += (i > e.begin ? " " : "");
        span.text += tokens[i];
      }
      spans.push_back(std::move(span));
    }
    return spans;
  }

  /// Entity-level scores of the predictions on `data` against its own tags (conlleval rules by
  /// default). Predictions are compared in the scheme of `data`.
  EvaluationReport evaluate(const ConllDocument& data, const ScoringOptions& options = {}) const {
    std::vector<std::vector<std::string>> words, gold;
    words.reserve(data.sentences.size());
    gold.reserve(data.sentences.size());
    for (const Sentence& s : data.sentences) {
      require(s.tags.size() == s.words.size(), "Tagger::evaluate: '" + data.source + "' line " +
                                                   std::to_string(s.first_line) +
                                                   ": the sentence has no gold tags");
      words.push_back(s.words);
      gold.push_back(s.tags);
    }
    std::vector<std::vector<std::string>> predicted = predict(words);
    if (data.scheme != output_scheme_) {
      for (auto& tags : predicted) tags = convert_tags(tags, output_scheme_, data.scheme);
    }
    return lstmner::evaluate(gold, predicted, options);
  }

  const TaggerConfig& config() const { return config_; }
  /// The tag set the network predicts, in config().train_scheme.
  const std::vector<std::string>& tags() const { return tags_; }
  const Vocabulary& words() const { return words_; }
  TagScheme input_scheme() const { return input_scheme_; }
  TagScheme output_scheme() const { return output_scheme_; }
  void set_output_scheme(TagScheme scheme) { output_scheme_ = scheme; }
  /// The layer stack, for inspection (parameters, shapes).
  const TaggerNetwork<Scalar>& network() const { return network_; }
  TaggerNetwork<Scalar>& network() { return network_; }
  bool trained() const { return !tags_.empty(); }

  /// Sentences per forward pass in predict(). 32 measured fastest on CoNLL-2003 (batches of 128
  /// were 1.6x slower: their per-step buffers outgrow L2) and keeps the scratch memory small.
  std::size_t prediction_batch_size = 32;
  /// A batch is split where padding its sentences to the longest would add more than this
  /// fraction of steps (split_padded_batches): a few sentences of mixed length are then tagged
  /// in groups of similar length.
  double prediction_max_padding = 0.25;
  /// Threads predict() runs on: 1, or 2 (the calling thread and one persistent worker; more acts
  /// as 2). train() and load() set it from config().threads.
  int prediction_threads = 1;

  // ----- model files ---------------------------------------------------------------------------

  /// Writes the model atomically (temporary file + rename): a crash never leaves a half-written
  /// file in place of a good one.
  void save(const std::string& path) const {
    require_trained("save");
    BinaryWriter out;
    out.write_string(model_kind);
    write_config(out, config_);
    out.write_u32(static_cast<std::uint32_t>(input_scheme_));
    out.write_u32(static_cast<std::uint32_t>(output_scheme_));
    words_.save(out);
    out.write_strings(tags_);
    const NetworkShape& shape = network_.shape;
    out.write_u64(static_cast<std::uint64_t>(shape.casing_classes));
    const auto params = network_.params();  // read-only: the const overload
    out.write_u64(params.size());
    for (const auto* p : params) out.write_matrix(p->name, p->value);
    save_container(path, out.buffer());
  }

  /// Reads a model written by save(). Throws std::runtime_error naming the file and what is wrong
  /// (missing, not a model, other version, truncated, corrupted) — never crashes.
  static Tagger load(const std::string& path) {
    const std::string payload = load_container(path);
    BinaryReader in(payload, path, container_header_size);
    const std::string kind = in.read_string("model kind");
    if (kind != model_kind) {
      in.fail("holds a '" + kind + "', not a " + std::string(model_kind));
    }
    Tagger tagger;
    tagger.config_ = read_config(in);
    tagger.input_scheme_ = read_scheme(in, "input scheme");
    tagger.output_scheme_ = read_scheme(in, "output scheme");
    tagger.words_ = Vocabulary::load(in);
    tagger.tags_ = in.read_strings("tags");
    if (tagger.tags_.empty()) in.fail("the model has no tags");
    if (!tagger.words_.has_unknown() || tagger.words_.unknown_id() != unk_id ||
        tagger.words_.size() < 2) {
      in.fail("the word vocabulary lacks <pad> and <unk> at ids 0 and 1");
    }
    NetworkShape shape = tagger.network_shape();
    shape.casing_classes = static_cast<Index>(in.read_u64("casing classes"));
    if (shape.casing_classes != num_casing_classes) {
      in.fail(std::to_string(shape.casing_classes) + " casing classes, this version has " +
              std::to_string(num_casing_classes));
    }
    Rng rng(0);  // shapes only; every value is overwritten below
    tagger.network_ =
        TaggerNetwork<Scalar>(shape, tagger.config_.dropout, tagger.config_.threads, rng);
    auto params = tagger.network_.params();
    const std::uint64_t count = in.read_u64("parameter count");
    if (count != params.size()) {
      in.fail(std::to_string(count) + " parameters, the configuration needs " +
              std::to_string(params.size()));
    }
    for (auto* p : params) in.read_matrix_into(p->name, p->value);
    in.expect_end();
    tagger.rules_ = make_transition_rules(tagger.tags_, tagger.config_.train_scheme);
    tagger.prediction_threads = tagger.config_.threads;
    return tagger;
  }

 private:
  static constexpr const char* model_kind = "lstmner.Tagger";

  /// What one thread needs to tag a batch. Kept between predict() calls (in contexts_), so its
  /// buffers are sized once for the largest batch instead of regrown, page by page, every call.
  struct PredictionScratch {
    Batch batch;
    typename TaggerNetwork<Scalar>::Workspace network;
    ConstrainedDecoder decoder;
    std::vector<std::int32_t> ids;
    std::vector<std::string> tags;
  };

  /// One predict() call's state: a scratch for each of its two threads and the worker thread.
  struct PredictionContext {
    PredictionScratch scratch[2];
    detail::WorkerSlot worker;
  };

  /// Tags the sentences `indices` of `encoded` and hands each one's tags, in output_scheme(), to
  /// `deliver(index, tags)`.
  template <class Deliver>
  void predict_batch(const std::vector<EncodedSentence>& encoded,
                     const std::vector<std::size_t>& indices, PredictionScratch& scratch,
                     Deliver&& deliver) const {
    Batch& batch = scratch.batch;
    fill_batch(encoded, indices, batch);
    network_.forward(batch, scratch.network, nullptr);
    const Index K = network_.shape.num_tags;
    const Index B = batch.batch_size();
    for (Index b = 0; b < B; ++b) {
      const Index length = batch.lengths[b];
      // The scores of sentence b: columns b, b+B, b+2B, ... of the (K, B*T) matrix. Decoding
      // reads them as they are: the best path under raw scores is the best under log-softmax
      // (ConstrainedDecoder), and so is each token's argmax.
      const Eigen::Map<const Matrix<Scalar>, 0, Eigen::OuterStride<>> scores(
          scratch.network.scores.data() + b * K, K, length, Eigen::OuterStride<>(B * K));
      if (config_.constrained_decoding) {
        scratch.decoder.decode(scores, length, scratch.ids);
      } else {
        scratch.ids = argmax_decode(scores, length);
      }
      scratch.tags.clear();
      for (std::int32_t id : scratch.ids)
        scratch.tags.push_back(tags_[static_cast<std::size_t>(id)]);
      deliver(indices[static_cast<std::size_t>(b)],
              convert_tags(scratch.tags, config_.train_scheme, output_scheme_));
    }
  }

  NetworkShape network_shape() const {
    NetworkShape shape;
    shape.vocabulary_size = static_cast<Index>(words_.size());
    shape.casing_classes = num_casing_classes;
    shape.num_tags = static_cast<Index>(tags_.size());
    shape.embedding_dim = config_.embedding_dim;
    shape.casing_dim = config_.casing_dim;
    shape.hidden_dim = config_.hidden_dim;
    return shape;
  }

  WordNormalization normalization() const {
    WordNormalization n;
    n.lowercase = config_.lowercase;
    n.digits_to_zero = config_.normalize_digits;
    return n;
  }

  void require_trained(const std::string& what) const {
    if (!trained())
      throw std::logic_error("lstmner: Tagger::" + what + ": the tagger is not trained");
  }

  void build_vocabularies(const ConllDocument& train) {
    require(!train.sentences.empty(), "Tagger::train: '" + train.source + "' has no sentences");
    std::map<std::string, std::size_t> counts;
    std::map<std::string, std::size_t> tag_set;
    const WordNormalization norm = normalization();
    for (const Sentence& s : train.sentences) {
      require(s.tags.size() == s.words.size() && !s.words.empty(),
              "Tagger::train: '" + train.source + "' line " + std::to_string(s.first_line) +
                  ": a training sentence needs one tag per word");
      for (const auto& w : s.words) ++counts[norm.apply(w)];
      for (const auto& t : convert_tags(s.tags, train.scheme, config_.train_scheme)) ++tag_set[t];
    }
    words_ = Vocabulary::build(counts, static_cast<std::size_t>(config_.min_word_count),
                               {"<pad>", "<unk>"}, norm, "<unk>");
    // Tag ids: O first, then the rest in string order — the same data always gives the same ids.
    tags_.clear();
    if (tag_set.count("O")) tags_.push_back("O");
    for (const auto& [tag, n] : tag_set)
      if (tag != "O") tags_.push_back(tag);
    tag_ids_.clear();
    for (std::size_t i = 0; i < tags_.size(); ++i)
      tag_ids_[tags_[i]] = static_cast<std::int32_t>(i);
  }

  std::vector<EncodedSentence> encode_training_data(const ConllDocument& train) const {
    std::vector<EncodedSentence> encoded;
    encoded.reserve(train.sentences.size());
    for (const Sentence& s : train.sentences) {
      EncodedSentence e = encode(s.words, true);
      for (const auto& t : convert_tags(s.tags, train.scheme, config_.train_scheme))
        e.tags.push_back(tag_ids_.at(t));
      encoded.push_back(std::move(e));
    }
    return encoded;
  }

  /// Word and casing ids of `tokens`; with `mark_singletons` (training data) also which words
  /// occur once in the training data. A word already mapped to <unk> (rarer than
  /// min_word_count) is not marked: replacing it by <unk> would change nothing.
  EncodedSentence encode(const std::vector<std::string>& tokens, bool mark_singletons) const {
    EncodedSentence e;
    e.words.reserve(tokens.size());
    e.casing.reserve(tokens.size());
    for (const auto& token : tokens) {
      const std::int32_t id = words_.id(token);
      e.words.push_back(id);
      e.casing.push_back(static_cast<std::int32_t>(casing_class(token)));
      if (mark_singletons) e.singleton.push_back(id != unk_id && words_.count(id) == 1 ? 1 : 0);
    }
    return e;
  }

  static void write_config(BinaryWriter& out, const TaggerConfig& c) {
    out.write_i32(c.embedding_dim);
    out.write_i32(c.hidden_dim);
    out.write_i32(c.casing_dim);
    out.write_u8(c.lowercase);
    out.write_u8(c.normalize_digits);
    out.write_i32(c.min_word_count);
    out.write_f64(c.dropout);
    out.write_f64(c.singleton_unk);
    out.write_f64(c.word_dropout);
    out.write_u32(static_cast<std::uint32_t>(c.optimizer));
    out.write_f64(c.learning_rate);
    out.write_f64(c.momentum);
    out.write_f64(c.clip_norm);
    out.write_i32(c.batch_size);
    out.write_i32(c.epochs);
    out.write_i32(c.patience);
    out.write_u32(static_cast<std::uint32_t>(c.train_scheme));
    out.write_u8(c.constrained_decoding);
    out.write_u64(c.seed);
    out.write_i32(c.threads);
  }

  static TaggerConfig read_config(BinaryReader& in) {
    TaggerConfig c;
    c.embedding_dim = in.read_i32("config.embedding_dim");
    c.hidden_dim = in.read_i32("config.hidden_dim");
    c.casing_dim = in.read_i32("config.casing_dim");
    c.lowercase = in.read_u8("config.lowercase") != 0;
    c.normalize_digits = in.read_u8("config.normalize_digits") != 0;
    c.min_word_count = in.read_i32("config.min_word_count");
    c.dropout = in.read_f64("config.dropout");
    c.singleton_unk = in.read_f64("config.singleton_unk");
    c.word_dropout = in.read_f64("config.word_dropout");
    const std::uint32_t optimizer = in.read_u32("config.optimizer");
    if (optimizer > 1) in.fail("bad optimizer code " + std::to_string(optimizer));
    c.optimizer = static_cast<OptimizerKind>(optimizer);
    c.learning_rate = in.read_f64("config.learning_rate");
    c.momentum = in.read_f64("config.momentum");
    c.clip_norm = in.read_f64("config.clip_norm");
    c.batch_size = in.read_i32("config.batch_size");
    c.epochs = in.read_i32("config.epochs");
    c.patience = in.read_i32("config.patience");
    c.train_scheme = read_scheme(in, "config.train_scheme");
    c.constrained_decoding = in.read_u8("config.constrained_decoding") != 0;
    c.seed = in.read_u64("config.seed");
    c.threads = in.read_i32("config.threads");
    try {
      c.validate();
    } catch (const std::invalid_argument& e) {
      in.fail(std::string("the stored configuration is invalid: ") + e.what());
    }
    return c;
  }

  static TagScheme read_scheme(BinaryReader& in, const std::string& field) {
    const std::uint32_t code = in.read_u32(field);
    if (code > static_cast<std::uint32_t>(TagScheme::IOBES)) {
      in.fail("bad " + field + " code " + std::to_string(code));
    }
    return static_cast<TagScheme>(code);
  }

  TaggerConfig config_;
  TagScheme input_scheme_ = TagScheme::IOB2;
  TagScheme output_scheme_ = TagScheme::IOB2;
  Vocabulary words_;
  std::vector<std::string> tags_;
  std::unordered_map<std::string, std::int32_t> tag_ids_;
  TaggerNetwork<Scalar> network_;
  TransitionRules rules_;
  /// Prediction contexts not in use; each predict() call takes one. mutable: scratch memory, not
  /// part of the tagger's value (a copy starts with none).
  mutable detail::ObjectPool<PredictionContext> contexts_;
};

}  // namespace lstmner
