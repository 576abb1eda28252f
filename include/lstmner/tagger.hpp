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

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
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
    const std::vector<EncodedSentence> encoded =
        split_long_sentences(tagger.encoder_.encode_training_data(train),
                             static_cast<std::size_t>(config.max_batch_tokens));

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
    tagger.network_.release_gradients();  // a trained Tagger predicts; it keeps none
    return tagger;
  }

  /// Tags of one tokenised sentence, in output_scheme(). An empty sentence gives no tags.
  /// (With a document-context block the sentence is its own document.)
  std::vector<std::string> predict(const std::vector<std::string>& tokens) const {
    return predict(std::vector<std::vector<std::string>>{tokens}).front();
  }

  /// Tags of many sentences at once (batched by length internally; faster than one at a time),
  /// on the Tagger's threads (detail/prediction.hpp says how the work is shared out).
  /// Documents: with a document-context block (config().doc_context_dim > 0) a token's features
  /// depend on its document; `starts_document` (one flag per sentence, as
  /// Sentence::starts_document) says which sentences open one. Without it, or empty, the
  /// sentences of the call are one document. Models without that block ignore it.
  std::vector<std::vector<std::string>> predict(
      const std::vector<std::vector<std::string>>& sentences,
      const std::vector<bool>& starts_document = {}) const {
    std::vector<std::vector<std::string>> result(sentences.size());
    run_prediction(
        sentences, starts_document, nullptr,
        [&](std::size_t i, TaggedSentence& analyzed) { result[i] = std::move(analyzed.tags); });
    return result;
  }

  /// The best tags, the entities (with confidences) and, when asked, the n best tag sequences of
  /// many sentences (batched and threaded like predict; documents as there).
  std::vector<TaggedSentence> tag(const std::vector<std::vector<std::string>>& sentences,
                                  const TaggingOptions& options = {},
                                  const std::vector<bool>& starts_document = {}) const {
    std::vector<TaggedSentence> result(sentences.size());
    run_prediction(
        sentences, starts_document, &options,
        [&](std::size_t i, TaggedSentence& analyzed) { result[i] = std::move(analyzed); });
    return result;
  }

  /// The same for one sentence.
  TaggedSentence tag(const std::vector<std::string>& tokens,
                     const TaggingOptions& options = {}) const {
    return tag(std::vector<std::vector<std::string>>{tokens}, options).front();
  }

  /// The entities of one tokenised sentence, with their confidences, decoded in the scheme of the
  /// tags (in IOBES, `S-LOC S-LOC` is two entities).
  std::vector<EntitySpan> entities(const std::vector<std::string>& tokens) const {
    return tag(tokens).entities;
  }

  /// Entity-level scores of the predictions on `data` against its own tags (conlleval rules by
  /// default). Predictions are compared in the scheme of `data`. Its documents are cut at its
  /// -DOCSTART- lines (document_starts()).
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
    std::vector<std::vector<std::string>> predicted = predict(words, document_starts(data));
    if (data.scheme != output_scheme_) {
      for (auto& tags : predicted) tags = convert_tags(tags, output_scheme_, data.scheme);
    }
    return lstmner::evaluate(gold, predicted, options);
  }

  /// Which sentences of `data` open a document (Sentence::starts_document), for predict().
  static std::vector<bool> document_starts(const ConllDocument& data) {
    std::vector<bool> starts(data.sentences.size());
    for (std::size_t i = 0; i < starts.size(); ++i) starts[i] = data.sentences[i].starts_document;
    return starts;
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
  /// The most tokens (sentences x the longest) a batch holds: what bounds predict()'s scratch
  /// memory, about prediction_max_tokens x 8.5 KB per thread for the default model (hidden 100;
  /// docs/reliability.md). A sentence longer than this is tagged in pieces of this many tokens,
  /// each on its own (an entity can be cut where two pieces meet); CoNLL-2003's longest
  /// sentence has 124 tokens.
  std::size_t prediction_max_tokens = 4096;

  // ----- model files ---------------------------------------------------------------------------

  /// Writes the model atomically (temporary file + rename): a crash never leaves a half-written
  /// file in place of a good one. The file keeps the permissions of the one it replaces.
  void save(const std::string& path) const {
    require_trained("save");
    save_container(path, model_payload());
  }

  /// The bytes save() writes, in memory.
  std::string to_bytes() const {
    require_trained("to_bytes");
    return encode_container(model_payload());
  }

  /// Reads a model written by save() (by this version, or by one that wrote format 1). Throws
  /// std::runtime_error naming the file and what is wrong (missing, not a model, other version,
  /// truncated, corrupted, inconsistent) — never crashes, and checks every size the file declares
  /// against the bytes it holds before allocating anything of that size
  /// (detail/model_file.hpp). The loaded Tagger runs on every available core (config().threads
  /// = 0; set_threads() changes it) and has no gradient buffers (training allocates them).
  static Tagger load(const std::string& path) { return from_bytes(read_model_file(path), path); }

  /// The same from the bytes of a model file in memory; `name` stands for the file in messages.
  static Tagger from_bytes(std::string_view bytes, const std::string& name = "<memory>") {
    const ContainerView container = open_container(bytes, name);
    const detail::ModelFile file(container.payload, container.version, name);  // checks it all
    Tagger tagger;
    tagger.config_ = file.header().config;
    tagger.input_scheme_ = file.header().input_scheme;
    tagger.output_scheme_ = file.header().output_scheme;
    tagger.encoder_ = SentenceEncoder(file.vocabulary(), file.tags(), tagger.config_, file.chars());
    tagger.encoder_.set_vectors(file.vectors());
    tagger.vector_dim_ = file.shape().vector_dim;
    tagger.network_ = TaggerNetwork<Scalar>(file.shape(), shapes_only);
    file.read_parameters(tagger.network_.params());
    tagger.rules_ = make_transition_rules(tagger.tags(), tagger.config_.train_scheme);
    tagger.network_.head->set_training_rules(tagger.decoding_rules());
    return tagger;
  }

 private:
  /// Training sentences longer than `max_tokens`, cut into pieces of at most that many tokens
  /// (what keeps a training batch within TaggerConfig::max_batch_tokens).
  static std::vector<EncodedSentence> split_long_sentences(std::vector<EncodedSentence> data,
                                                           std::size_t max_tokens) {
    bool any = false;
    for (const EncodedSentence& s : data) any = any || s.size() > max_tokens;
    if (!any) return data;
    std::vector<EncodedSentence> pieces;
    auto slice = [](const auto& v, std::size_t begin, std::size_t end) {
      using V = std::decay_t<decltype(v)>;
      return v.empty() ? V()
                       : V(v.begin() + static_cast<std::ptrdiff_t>(begin),
                           v.begin() + static_cast<std::ptrdiff_t>(end));
    };
    for (EncodedSentence& s : data) {
      if (s.size() <= max_tokens) {
        pieces.push_back(std::move(s));
        continue;
      }
      for (std::size_t begin = 0; begin < s.size(); begin += max_tokens) {
        const std::size_t end = std::min(s.size(), begin + max_tokens);
        EncodedSentence piece;
        piece.words = slice(s.words, begin, end);
        piece.casing = slice(s.casing, begin, end);
        piece.tags = slice(s.tags, begin, end);
        piece.singleton = slice(s.singleton, begin, end);
        piece.vectors = slice(s.vectors, begin, end);
        piece.doc_context = slice(s.doc_context, begin, end);
        if (!s.char_offsets.empty()) {  // token i's characters: [char_offsets[i], [i + 1])
          const std::int32_t first = s.char_offsets[begin];
          piece.chars = slice(s.chars, static_cast<std::size_t>(first),
                              static_cast<std::size_t>(s.char_offsets[end]));
          for (std::size_t i = begin; i <= end; ++i)
            piece.char_offsets.push_back(s.char_offsets[i] - first);
        }
        pieces.push_back(std::move(piece));
      }
    }
    return pieces;
  }

  std::string model_payload() const {
    detail::ModelHeader header;
    header.config = config_;
    header.config.threads = 0;  // the machine's, not the model's: a loaded model uses every core
    header.input_scheme = input_scheme_;
    header.output_scheme = output_scheme_;
    header.casing_classes = static_cast<std::uint64_t>(network_.shape.casing_classes);
    header.vector_dim = static_cast<std::uint64_t>(network_.shape.vector_dim);
    return detail::write_model<Scalar>(header, words(), tags(), encoder_.chars(),
                                       encoder_.vectors(), network_.params());
  }

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
  /// deliver(index, analyzed): tags only without `options`. A sentence longer than
  /// prediction_max_tokens is tagged in pieces of that many tokens, each on its own; its tags and
  /// entities are those of its pieces, one after the other, and it gets no n-best list.
  template <class Deliver>
  void run_prediction(const std::vector<std::vector<std::string>>& sentences,
                      const std::vector<bool>& starts_document, const TaggingOptions* options,
                      Deliver&& deliver) const {
    require_trained("predict");
    if (!starts_document.empty() && starts_document.size() != sentences.size()) {
      require(false, "Tagger::predict: " + std::to_string(starts_document.size()) +
                         " document flags for " + std::to_string(sentences.size()) + " sentences");
    }
    // Document-context classes need the whole document: computed here, before the batches.
    const std::vector<std::vector<std::int32_t>> doc_context =
        encoder_.uses_doc_context() ? doc_context_ids(sentences, starts_document)
                                    : std::vector<std::vector<std::int32_t>>();
    require(prediction_batch_size >= 1,
            "Tagger::predict: prediction_batch_size must be at least 1");
    require(prediction_max_padding >= 0.0,  // false for NaN too
            "Tagger::predict: prediction_max_padding must be at least 0");
    require(prediction_max_tokens >= 1,
            "Tagger::predict: prediction_max_tokens must be at least 1");
    const detail::PredictionPlan plan = detail::plan_prediction(
        sentences, prediction_batch_size, prediction_max_padding, prediction_max_tokens);
    const std::size_t P = plan.source.size();
    auto is_piece = [&](std::size_t i) {
      return plan.length[i] != sentences[plan.source[i]].size();
    };
    std::vector<EncodedSentence> encoded(P);                // filled batch by batch
    std::vector<std::vector<std::string>> piece_tokens(P);  // only for pieces of a sentence
    std::vector<TaggedSentence> piece_results(P);           // likewise
    std::vector<char> delivered(sentences.size(), 0);
    detail::run_prediction(plan, context(), [&](std::size_t k, ExecutionContext& stages) {
      const std::vector<std::size_t>& indices = plan.batches[k];
      for (std::size_t i : indices) {
        const std::vector<std::string>& sentence = sentences[plan.source[i]];
        const std::vector<std::int32_t>* sentence_context =
            doc_context.empty() ? nullptr : &doc_context[plan.source[i]];
        if (is_piece(i)) {
          const auto first = sentence.begin() + static_cast<std::ptrdiff_t>(plan.begin[i]);
          piece_tokens[i].assign(first, first + static_cast<std::ptrdiff_t>(plan.length[i]));
          std::vector<std::int32_t> piece_context;
          if (sentence_context != nullptr) {
            const auto c = sentence_context->begin() + static_cast<std::ptrdiff_t>(plan.begin[i]);
            piece_context.assign(c, c + static_cast<std::ptrdiff_t>(plan.length[i]));
          }
          encoded[i] = encoder_.encode(piece_tokens[i], false,
                                       sentence_context != nullptr ? &piece_context : nullptr);
        } else {
          encoded[i] = encoder_.encode(sentence, false, sentence_context);
        }
      }
      auto lease = scratch_.acquire();
      predict_batch(
          encoded, indices,
          [&](std::size_t i) -> const std::vector<std::string>& {
            return is_piece(i) ? piece_tokens[i] : sentences[plan.source[i]];
          },
          options, *lease, stages,
          [&](std::size_t i, TaggedSentence& analyzed) {
            encoded[i] = EncodedSentence();  // tagged: its ids are not needed again
            if (is_piece(i)) {
              piece_results[i] = std::move(analyzed);
              piece_tokens[i] = std::vector<std::string>();
              return;
            }
            delivered[plan.source[i]] = 1;
            deliver(plan.source[i], analyzed);
          });
    });
    // The sentences tagged in pieces: their pieces are consecutive in the plan, in order.
    for (std::size_t i = 0; i < P;) {
      if (!is_piece(i)) {
        ++i;
        continue;
      }
      const std::size_t s = plan.source[i];
      TaggedSentence whole;
      for (; i < P && plan.source[i] == s; ++i) {
        TaggedSentence& piece = piece_results[i];
        for (EntitySpan& e : piece.entities) {
          e.begin += plan.begin[i];
          e.end += plan.begin[i];
          whole.entities.push_back(std::move(e));
        }
        std::move(piece.tags.begin(), piece.tags.end(), std::back_inserter(whole.tags));
        piece = TaggedSentence();
      }
      delivered[s] = 1;
      deliver(s, whole);
    }
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
  /// tokens_of(index) is the tokens of encoded[index].
  template <class TokensOf, class Deliver>
  void predict_batch(const std::vector<EncodedSentence>& encoded,
                     const std::vector<std::size_t>& indices, TokensOf&& tokens_of,
                     const TaggingOptions* options, PredictionScratch& scratch,
                     ExecutionContext& stages, Deliver&& deliver) const {
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
        const std::vector<std::string>& tokens = tokens_of(index);
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
    shape.doc_context_dim = config_.doc_context_dim;
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
