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
/// Threads: a Tagger runs on `config().threads` threads (0, the default: every core this process
/// may use; set_threads() changes it), through one ExecutionContext (execution_context.hpp) that
/// it creates on first use and that training and prediction share. The same seed gives the same
/// model, and the same model the same tags, on any number of threads.
///
/// Thread safety: `predict`, `entities` and `evaluate` are const, and any number of threads may
/// call them on one Tagger at once. Their scratch memory (buffers for the largest batch seen) is
/// kept in a pool inside the Tagger and reused by later calls. While one call uses the Tagger's
/// threads, a concurrent call runs on its own calling thread.

#include <lstmner/batch.hpp>
#include <lstmner/blocks/vectors_block.hpp>
#include <lstmner/conll.hpp>
#include <lstmner/decode.hpp>
#include <lstmner/detail/model_file.hpp>
#include <lstmner/detail/object_pool.hpp>
#include <lstmner/detail/prediction.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/metrics.hpp>
#include <lstmner/network.hpp>
#include <lstmner/sentence_encoder.hpp>
#include <lstmner/serialize.hpp>
#include <lstmner/tag_scheme.hpp>
#include <lstmner/tagger_config.hpp>
#include <lstmner/trainer.hpp>
#include <lstmner/version.hpp>
#include <lstmner/vocabulary.hpp>
#include <lstmner/word_vectors.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lstmner {

namespace detail {

/// A Tagger's ExecutionContext, made on first use (from any thread) with the thread count it is
/// asked for; copies start without one.
class LazyContext {
 public:
  LazyContext() = default;
  LazyContext(const LazyContext&) {}
  LazyContext& operator=(const LazyContext&) {
    reset();
    return *this;
  }

  ExecutionContext& get(int threads) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!context_) context_ = std::make_unique<ExecutionContext>(threads);
    return *context_;
  }
  /// Drops the context (its threads end); the next get() makes a new one.
  void reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    context_.reset();
  }

 private:
  std::mutex mutex_;
  std::unique_ptr<ExecutionContext> context_;
};

}  // namespace detail

/// A named entity found in a sentence: tokens [begin, end) and their text joined by spaces, and
/// the probability that the sentence contains exactly this entity (output_head.hpp).
struct EntitySpan {
  std::string type;
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string text;
  double confidence = 0.0;
};

/// One of the n best tag sequences of a sentence: its tags (in the output scheme), its score s(y)
/// and its probability exp(s(y) − log Z).
struct ScoredTagging {
  std::vector<std::string> tags;
  double score = 0.0;
  double probability = 0.0;
};

/// What Tagger::tag asks for besides the best tags.
struct TaggingOptions {
  std::size_t nbest = 0;    ///< the k best sequences (0: none)
  bool confidences = true;  ///< each entity's confidence
};

/// Everything Tagger::tag finds in one sentence.
struct TaggedSentence {
  std::vector<std::string> tags;  ///< the best sequence, in the output scheme
  std::vector<EntitySpan> entities;
  std::vector<ScoredTagging> nbest;  ///< best first; empty unless asked for
};

template <class Scalar = float>
class Tagger {
 public:
  /// Reserved word ids: 0 pads, 1 stands for every word not in the vocabulary.
  static constexpr std::int32_t pad_id = SentenceEncoder::pad_id;
  static constexpr std::int32_t unk_id = SentenceEncoder::unk_id;

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
    tagger.encoder_.build(train, config);
    Rng init_rng(config.seed);
    Matrix<Scalar> vector_table;
    if (!config.word_vectors.empty()) {
      const WordVectors vectors = read_word_vectors(
          config.word_vectors, {WordVectorFormat::automatic, config.max_word_vectors});
      auto [vocabulary, table] =
          build_vector_table<Scalar>(vectors, tagger.encoder_.training_words(), init_rng);
      tagger.encoder_.set_vectors(std::move(vocabulary));
      vector_table = std::move(table);
      tagger.vector_dim_ = vectors.dim();
    }
    const std::vector<EncodedSentence> encoded = tagger.encoder_.encode_training_data(train);

    tagger.network_ = TaggerNetwork<Scalar>(tagger.network_shape(), init_rng);
    if (auto* vectors = dynamic_cast<EmbeddingBlock<Scalar>*>(tagger.network_.block("vectors")))
      vectors->embedding.table.value = vector_table;
    tagger.rules_ = make_transition_rules(tagger.tags(), config.train_scheme);
    tagger.network_.head->set_training_rules(tagger.decoding_rules());

    Trainer<Scalar> trainer(tagger.network_, config, unk_id, tagger.context());
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

  /// Tags of many sentences at once (batched by length internally; faster than one at a time),
  /// on the Tagger's threads (detail/prediction.hpp says how the work is shared out).
  std::vector<std::vector<std::string>> predict(
      const std::vector<std::vector<std::string>>& sentences) const {
    std::vector<std::vector<std::string>> result(sentences.size());
    run_prediction(sentences, nullptr, [&](std::size_t i, TaggedSentence& analyzed) {
      result[i] = std::move(analyzed.tags);
    });
    return result;
  }

  /// The best tags, the entities (with confidences) and, when asked, the n best tag sequences of
  /// many sentences (batched and threaded like predict).
  std::vector<TaggedSentence> tag(const std::vector<std::vector<std::string>>& sentences,
                                  const TaggingOptions& options = {}) const {
    std::vector<TaggedSentence> result(sentences.size());
    run_prediction(sentences, &options, [&](std::size_t i, TaggedSentence& analyzed) {
      result[i] = std::move(analyzed);
    });
    return result;
  }

  /// The same for one sentence.
  TaggedSentence tag(const std::vector<std::string>& tokens,
                     const TaggingOptions& options = {}) const {
    return tag(std::vector<std::vector<std::string>>{tokens}, options).front();
  }

  /// The entities of one tokenised sentence, with their confidences.
  std::vector<EntitySpan> entities(const std::vector<std::string>& tokens) const {
    return tag(tokens).entities;
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
  const std::vector<std::string>& tags() const { return encoder_.tags(); }
  const Vocabulary& words() const { return encoder_.words(); }
  /// How sentences become ids (vocabularies, character and vector lookups).
  const SentenceEncoder& encoder() const { return encoder_; }
  TagScheme input_scheme() const { return input_scheme_; }
  TagScheme output_scheme() const { return output_scheme_; }
  void set_output_scheme(TagScheme scheme) { output_scheme_ = scheme; }
  /// The layer stack, for inspection (parameters, shapes).
  const TaggerNetwork<Scalar>& network() const { return network_; }
  TaggerNetwork<Scalar>& network() { return network_; }
  bool trained() const { return !tags().empty(); }

  /// The threads predict() and evaluate() run on: 1..ExecutionContext::max_threads, or 0 for
  /// every core this process may use (the default, also for a loaded model). Not thread-safe:
  /// call it while no other thread uses this Tagger.
  void set_threads(int threads) {
    TaggerConfig config = config_;
    config.threads = threads;
    config.validate();
    config_ = config;
    context_.reset();
  }
  /// The number of threads the Tagger runs on (config().threads, with 0 resolved).
  int threads() const { return context().threads(); }

  /// Sentences per forward pass in predict(). 32 measured fastest on CoNLL-2003 (batches of 128
  /// were 1.6x slower: their per-step buffers outgrow L2) and keeps the scratch memory small.
  std::size_t prediction_batch_size = 32;
  /// A batch is split where padding its sentences to the longest would add more than this
  /// fraction of steps (split_padded_batches): a few sentences of mixed length are then tagged
  /// in groups of similar length.
  double prediction_max_padding = 0.25;

  // ----- model files ---------------------------------------------------------------------------

  /// Writes the model atomically (temporary file + rename): a crash never leaves a half-written
  /// file in place of a good one.
  void save(const std::string& path) const {
    require_trained("save");
    BinaryWriter out;
    out.write_string(model_kind);
    detail::write_config(out, config_);
    out.write_u32(static_cast<std::uint32_t>(input_scheme_));
    out.write_u32(static_cast<std::uint32_t>(output_scheme_));
    words().save(out);
    out.write_strings(tags());
    const NetworkShape& shape = network_.shape;
    out.write_u64(static_cast<std::uint64_t>(shape.casing_classes));
    const auto params = network_.params();  // read-only: the const overload
    out.write_u64(params.size());
    for (const auto* p : params) out.write_matrix(p->name, p->value);
    save_container(path, out.buffer());
  }

  /// Reads a model written by save(). Throws std::runtime_error naming the file and what is wrong
  /// (missing, not a model, other version, truncated, corrupted) — never crashes. The loaded
  /// Tagger runs on every available core (config().threads = 0; set_threads() changes it).
  static Tagger load(const std::string& path) {
    const std::string payload = load_container(path);
    BinaryReader in(payload, path, container_header_size);
    const std::string kind = in.read_string("model kind");
    if (kind != model_kind) {
      in.fail("holds a '" + kind + "', not a " + std::string(model_kind));
    }
    Tagger tagger;
    tagger.config_ = detail::read_config(in);
    tagger.config_.threads = 0;  // the machine's, not the file's
    tagger.input_scheme_ = detail::read_scheme(in, "input scheme");
    tagger.output_scheme_ = detail::read_scheme(in, "output scheme");
    Vocabulary words = Vocabulary::load(in);
    std::vector<std::string> tags = in.read_strings("tags");
    if (tags.empty()) in.fail("the model has no tags");
    if (!words.has_unknown() || words.unknown_id() != unk_id || words.size() < 2) {
      in.fail("the word vocabulary lacks <pad> and <unk> at ids 0 and 1");
    }
    tagger.encoder_ = SentenceEncoder(std::move(words), std::move(tags), tagger.config_);
    NetworkShape shape = tagger.network_shape();
    shape.casing_classes = static_cast<Index>(in.read_u64("casing classes"));
    if (shape.casing_classes != num_casing_classes) {
      in.fail(std::to_string(shape.casing_classes) + " casing classes, this version has " +
              std::to_string(num_casing_classes));
    }
    Rng rng(0);  // shapes only; every value is overwritten below
    tagger.network_ = TaggerNetwork<Scalar>(shape, rng);
    auto params = tagger.network_.params();
    const std::uint64_t count = in.read_u64("parameter count");
    if (count != params.size()) {
      in.fail(std::to_string(count) + " parameters, the configuration needs " +
              std::to_string(params.size()));
    }
    for (auto* p : params) in.read_matrix_into(p->name, p->value);
    in.expect_end();
    tagger.rules_ = make_transition_rules(tagger.tags(), tagger.config_.train_scheme);
    tagger.network_.head->set_training_rules(tagger.decoding_rules());
    return tagger;
  }

 private:
  static constexpr const char* model_kind = "lstmner.Tagger";

  /// What one thread needs to tag a batch. Kept between predict() calls (in scratch_), so its
  /// buffers are sized once for the largest batch instead of regrown, page by page, every call.
  struct PredictionScratch {
    Batch batch;
    typename TaggerNetwork<Scalar>::Workspace network;
    std::vector<std::int32_t> ids;
    std::vector<std::string> tags;
    std::vector<ScoredPath> paths;
    TaggedSentence analyzed;
  };

  /// Tags `sentences` (empty ones get no tags) and hands each one's analysis to
  /// deliver(index, analyzed): tags only without `options`.
  template <class Deliver>
  void run_prediction(const std::vector<std::vector<std::string>>& sentences,
                      const TaggingOptions* options, Deliver&& deliver) const {
    require_trained("predict");
    require(prediction_batch_size >= 1,
            "Tagger::predict: prediction_batch_size must be at least 1");
    require(prediction_max_padding >= 0.0,  // false for NaN too
            "Tagger::predict: prediction_max_padding must be at least 0");
    const detail::PredictionPlan plan =
        detail::plan_prediction(sentences, prediction_batch_size, prediction_max_padding);
    std::vector<EncodedSentence> encoded(plan.source.size());  // filled batch by batch
    std::vector<char> delivered(sentences.size(), 0);
    detail::run_prediction(plan, context(), [&](std::size_t k, ExecutionContext& stages) {
      const std::vector<std::size_t>& indices = plan.batches[k];
      for (std::size_t i : indices) encoded[i] = encoder_.encode(sentences[plan.source[i]], false);
      auto lease = scratch_.acquire();
      predict_batch(encoded, indices, sentences, plan.source, options, *lease, stages,
                    [&](std::size_t i, TaggedSentence& analyzed) {
                      delivered[plan.source[i]] = 1;
                      deliver(plan.source[i], analyzed);
                    });
    });
    TaggedSentence empty;
    for (std::size_t i = 0; i < sentences.size(); ++i)
      if (!delivered[i]) deliver(i, empty);
  }

  /// The rules decoding follows: the training scheme's, or none (argmax / unconstrained).
  const TransitionRules& decoding_rules() const {
    static const TransitionRules none;
    return config_.constrained_decoding ? rules_ : none;
  }

  ExecutionContext& context() const { return context_.get(config_.threads); }

  /// Tags the sentences `indices` of `encoded` (the network's stages on `stages`) and hands each
  /// one's analysis, in output_scheme(), to `deliver(index, analyzed)`.
  template <class Deliver>
  void predict_batch(const std::vector<EncodedSentence>& encoded,
                     const std::vector<std::size_t>& indices,
                     const std::vector<std::vector<std::string>>& sentences,
                     const std::vector<std::size_t>& source, const TaggingOptions* options,
                     PredictionScratch& scratch, ExecutionContext& stages,
                     Deliver&& deliver) const {
    Batch& batch = scratch.batch;
    fill_batch(encoded, indices, batch);
    network_.forward(batch, scratch.network, stages, nullptr);
    auto& head_state = *scratch.network.head;
    const OutputHead<Scalar>& head = *network_.head;
    const TransitionRules& rules = decoding_rules();
    const Index K = network_.num_tags();
    const Index B = batch.batch_size();
    for (Index b = 0; b < B; ++b) {
      const Index length = batch.lengths[b];
      const std::size_t index = indices[static_cast<std::size_t>(b)];
      // The scores of sentence b: columns b, b+B, b+2B, ... of the (K, B*T) matrix.
      const typename OutputHead<Scalar>::SentenceScores scores(
          scratch.network.scores.data() + b * K, K, length, Eigen::OuterStride<>(B * K));
      head.decode(scores, rules, scratch.ids, head_state);
      TaggedSentence& out = scratch.analyzed;
      out.tags = tag_names(scratch.ids, scratch.tags);
      out.entities.clear();
      out.nbest.clear();
      if (options != nullptr) {
        const std::vector<std::string>& tokens = sentences[source[index]];
        if (options->confidences) {
          for (const EntityConfidence& e : head.entity_confidences(
                   scores, rules, scratch.ids, tags(), config_.train_scheme, head_state)) {
            out.entities.push_back(entity_span(e.entity, tokens, e.confidence));
          }
        } else {
          for (const Entity& e : decode_entities(out.tags, output_scheme_))
            out.entities.push_back(entity_span(e, tokens, 0.0));
        }
        if (options->nbest > 0) {
          const double log_z = head.log_partition(scores, rules, head_state);
          head.nbest(scores, rules, static_cast<Index>(options->nbest), scratch.paths, head_state);
          for (const ScoredPath& path : scratch.paths) {
            ScoredTagging scored;
            scored.tags = tag_names(path.tags, scratch.tags);
            scored.score = path.score;
            scored.probability = std::exp(path.score - log_z);
            out.nbest.push_back(std::move(scored));
          }
        }
      }
      deliver(index, out);
    }
  }

  /// The tag strings of `ids`, in output_scheme() (`scratch` holds them in the training scheme).
  std::vector<std::string> tag_names(const std::vector<std::int32_t>& ids,
                                     std::vector<std::string>& scratch) const {
    scratch.clear();
    for (std::int32_t id : ids) scratch.push_back(tags()[static_cast<std::size_t>(id)]);
    return convert_tags(scratch, config_.train_scheme, output_scheme_);
  }

  static EntitySpan entity_span(const Entity& e, const std::vector<std::string>& tokens,
                                double confidence) {
    EntitySpan span;
    span.type = e.type;
    span.begin = e.begin;
    span.end = e.end;
    span.confidence = confidence;
    for (std::size_t i = e.begin; i < e.end; ++i) {
      span.text += (i > e.begin ? " " : "");
      span.text += tokens[i];
    }
    return span;
  }

  NetworkShape network_shape() const {
    NetworkShape shape;
    shape.vocabulary_size = static_cast<Index>(words().size());
    shape.casing_classes = num_casing_classes;
    shape.num_tags = static_cast<Index>(tags().size());
    shape.embedding_dim = config_.embedding_dim;
    shape.casing_dim = config_.casing_dim;
    shape.hidden_dim = config_.hidden_dim;
    shape.lstm_layers = config_.lstm_layers;
    shape.char_encoder = config_.char_encoder;
    shape.char_vocabulary_size = static_cast<Index>(encoder_.chars().size());
    shape.char_embedding_dim = config_.char_embedding_dim;
    shape.char_hidden_dim = config_.char_hidden_dim;
    shape.vector_vocabulary_size = encoder_.vectors().empty() ? 0 : encoder_.vectors().size();
    shape.vector_dim = vector_dim_;
    shape.freeze_vectors = config_.freeze_word_vectors;
    shape.dropout = config_.dropout;
    shape.output = config_.output;
    return shape;
  }

  void require_trained(const std::string& what) const {
    if (!trained())
      throw std::logic_error("lstmner: Tagger::" + what + ": the tagger is not trained");
  }

  TaggerConfig config_;
  TagScheme input_scheme_ = TagScheme::IOB2;
  TagScheme output_scheme_ = TagScheme::IOB2;
  SentenceEncoder encoder_;
  TaggerNetwork<Scalar> network_;
  Index vector_dim_ = 0;  ///< the pretrained vectors' size (0: no vectors block)
  TransitionRules rules_;
  /// The threads; made on first use. mutable: how the Tagger computes, not what it is (a copy
  /// makes its own).
  mutable detail::LazyContext context_;
  /// Prediction scratch not in use; each batch being tagged takes one. mutable: scratch memory,
  /// not part of the tagger's value (a copy starts with none).
  mutable detail::ObjectPool<PredictionScratch> scratch_;
};

}  // namespace lstmner
