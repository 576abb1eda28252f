#pragma once
/// \file sentence_encoder.hpp
/// `SentenceEncoder`: turns sentences into the ids a TaggerNetwork reads — the word vocabulary
/// built from the training data, the tag set, and the casing class of every token.
///
///   SentenceEncoder encoder;
///   encoder.build(train, config);                    // vocabulary and tag set, from train
///   auto ids = encoder.encode(tokens, false);        // word and casing ids of one sentence
///   auto tagged = encoder.encode_training_data(train);  // + tag ids and singleton marks
///
/// Words are normalised (config.lowercase, config.normalize_digits) before the lookup; training
/// words rarer than config.min_word_count map to <unk>. Reserved word ids: 0 pads, 1 is <unk>.
/// Tag ids: O first, then the other tags of config.train_scheme in string order, so the same data
/// always gives the same ids. With a character encoder (config.char_encoder), every token also
/// gets the ids of its characters (Unicode code points, case kept; char_vocabulary.hpp), from a
/// character vocabulary built from the training words. With a document-context block
/// (config.doc_context_dim > 0) every token also gets its document-context class
/// (blocks/doc_context.hpp), computed over its document: encode() takes the classes computed
/// by the caller over the whole document (doc_context_ids), or, given none, takes the sentence
/// alone as its document; encode_training_data() cuts the data into its -DOCSTART- documents.
/// All const members may be called from several threads at once.

#include <lstmner/batch.hpp>
#include <lstmner/blocks/doc_context.hpp>
#include <lstmner/blocks/vectors_block.hpp>
#include <lstmner/casing.hpp>
#include <lstmner/char_vocabulary.hpp>
#include <lstmner/conll.hpp>
#include <lstmner/tag_scheme.hpp>
#include <lstmner/tagger_config.hpp>
#include <lstmner/vocabulary.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lstmner {

class SentenceEncoder {
 public:
  /// Reserved word ids: 0 pads, 1 stands for every word not in the vocabulary.
  static constexpr std::int32_t pad_id = 0;
  static constexpr std::int32_t unk_id = 1;
  /// The most tags a tag set may have (256 entity types in IOBES; CoNLL-2003 has 4): the
  /// decoders keep tags x tags tables, 4 MB of floats at this size, so that a model file's tag
  /// count cannot make loading or tagging allocate much more than the file's size.
  static constexpr std::size_t max_tags = 1024;

  SentenceEncoder() = default;
  /// An encoder over a stored vocabulary and tag set (a loaded model's).
  SentenceEncoder(Vocabulary words, std::vector<std::string> tags, const TaggerConfig& config,
                  CharVocabulary chars = {})
      : words_(std::move(words)),
        tags_(std::move(tags)),
        chars_(std::move(chars)),
        config_(config) {
    index_tags();
  }

  /// Builds the vocabulary and the tag set from the training data (tags in config.train_scheme).
  void build(const ConllDocument& train, const TaggerConfig& config) {
    config_ = config;
    require(!train.sentences.empty(), "Tagger::train: '" + train.source + "' has no sentences");
    std::map<std::string, std::size_t> counts, raw_counts;
    std::map<std::string, std::size_t> tag_set;
    const WordNormalization norm = normalization();
    for (const Sentence& s : train.sentences) {
      require(s.tags.size() == s.words.size() && !s.words.empty(),
              "Tagger::train: '" + train.source + "' line " + std::to_string(s.first_line) +
                  ": a training sentence needs one tag per word");
      for (const auto& w : s.words) {
        ++counts[norm.apply(w)];
        ++raw_counts[w];
      }
      for (const auto& t : convert_tags(s.tags, train.scheme, config_.train_scheme)) ++tag_set[t];
    }
    words_ = Vocabulary::build(counts, static_cast<std::size_t>(config_.min_word_count),
                               {"<pad>", "<unk>"}, norm, "<unk>");
    require(tag_set.size() <= max_tags,
            "Tagger::train: '" + train.source + "' has " + std::to_string(tag_set.size()) +
                " distinct tags, more than the " + std::to_string(max_tags) + " a model may have");
    chars_ = config_.char_encoder == CharEncoderKind::none
                 ? CharVocabulary{}
                 : CharVocabulary::build_from_words(
                       raw_counts, static_cast<std::size_t>(config_.min_char_count));
    // The training words, most frequent first (ties in string order), for the vectors block.
    training_words_.clear();
    for (const auto& [word, count] : raw_counts) training_words_.push_back(word);
    std::stable_sort(training_words_.begin(), training_words_.end(),
                     [&](const std::string& a, const std::string& b) {
                       return raw_counts.at(a) > raw_counts.at(b);
                     });
    tags_.clear();
    if (tag_set.count("O")) tags_.push_back("O");
    for (const auto& [tag, n] : tag_set)
      if (tag != "O") tags_.push_back(tag);
    index_tags();
  }

  /// Word and casing ids of `tokens`; with `mark_singletons` (training data) also which words
  /// occur once in the training data. A word already mapped to <unk> (rarer than
  /// min_word_count) is not marked: replacing it by <unk> would change nothing. With a
  /// document-context block, `doc_context` holds the tokens' classes computed over their
  /// document (one per token); nullptr: the sentence is its own document.
  EncodedSentence encode(const std::vector<std::string>& tokens, bool mark_singletons,
                         const std::vector<std::int32_t>* doc_context = nullptr) const {
    EncodedSentence e;
    if (uses_doc_context()) {
      if (doc_context != nullptr) {
        if (doc_context->size() != tokens.size())
          require(false, "SentenceEncoder::encode: " + std::to_string(doc_context->size()) +
                             " document-context classes for " + std::to_string(tokens.size()) +
                             " tokens");
        e.doc_context = *doc_context;
      } else {
        std::vector<std::vector<std::int32_t>> ids;
        document_context_ids([&](std::size_t) -> const std::vector<std::string>& { return tokens; },
                             0, 1, ids);
        e.doc_context = std::move(ids.front());
      }
    }
    e.words.reserve(tokens.size());
    e.casing.reserve(tokens.size());
    for (const auto& token : tokens) {
      const std::int32_t id = words_.id(token);
      e.words.push_back(id);
      e.casing.push_back(static_cast<std::int32_t>(casing_class(token)));
      if (mark_singletons) e.singleton.push_back(id != unk_id && words_.count(id) == 1 ? 1 : 0);
    }
    if (!vectors_.empty()) {
      e.vectors.reserve(tokens.size());
      for (const auto& token : tokens) e.vectors.push_back(vectors_.id(token));
    }
    if (uses_chars()) {
      e.char_offsets.reserve(tokens.size() + 1);
      e.char_offsets.push_back(0);
      for (const auto& token : tokens) {
        for_each_code_point(token, [&](char32_t c) { e.chars.push_back(chars_.id(c)); });
        if (static_cast<std::int32_t>(e.chars.size()) == e.char_offsets.back())
          e.chars.push_back(CharVocabulary::unknown_id);  // an empty token: one unknown character
        e.char_offsets.push_back(static_cast<std::int32_t>(e.chars.size()));
      }
    }
    return e;
  }

  /// Every training sentence encoded, with its tag ids (converted to config.train_scheme).
  std::vector<EncodedSentence> encode_training_data(const ConllDocument& train) const {
    std::vector<EncodedSentence> encoded;
    encoded.reserve(train.sentences.size());
    const std::vector<std::vector<std::int32_t>> context = document_context(train);
    for (std::size_t i = 0; i < train.sentences.size(); ++i) {
      const Sentence& s = train.sentences[i];
      EncodedSentence e = encode(s.words, true, context.empty() ? nullptr : &context[i]);
      for (const auto& t : convert_tags(s.tags, train.scheme, config_.train_scheme))
        e.tags.push_back(tag_ids_.at(t));
      encoded.push_back(std::move(e));
    }
    return encoded;
  }

  /// Whether sentences carry document-context classes (config.doc_context_dim > 0).
  bool uses_doc_context() const { return config_.doc_context_dim > 0; }

  /// The document-context classes of every sentence of `data`, its documents cut at its
  /// -DOCSTART- lines (Sentence::starts_document); empty without a document-context block.
  std::vector<std::vector<std::int32_t>> document_context(const ConllDocument& data) const {
    if (!uses_doc_context()) return {};
    return doc_context_ids(
        data.sentences.size(),
        [&](std::size_t i) -> const std::vector<std::string>& { return data.sentences[i].words; },
        [&](std::size_t i) { return data.sentences[i].starts_document; });
  }

  const Vocabulary& words() const { return words_; }
  /// The character vocabulary (empty without a character encoder).
  const CharVocabulary& chars() const { return chars_; }
  bool uses_chars() const { return chars_.size() > CharVocabulary::reserved; }
  /// The pretrained-vector block's vocabulary (empty without one).
  const VectorVocabulary& vectors() const { return vectors_; }
  void set_vectors(VectorVocabulary vectors) { vectors_ = std::move(vectors); }
  /// The training words, as written, most frequent first (after build()).
  const std::vector<std::string>& training_words() const { return training_words_; }
  /// The tag set the network predicts, in config.train_scheme; a tag's id is its index.
  const std::vector<std::string>& tags() const { return tags_; }

  WordNormalization normalization() const {
    WordNormalization n;
    n.lowercase = config_.lowercase;
    n.digits_to_zero = config_.normalize_digits;
    return n;
  }

 private:
  void index_tags() {
    tag_ids_.clear();
    for (std::size_t i = 0; i < tags_.size(); ++i)
      tag_ids_[tags_[i]] = static_cast<std::int32_t>(i);
  }

  Vocabulary words_;
  std::vector<std::string> tags_;
  CharVocabulary chars_;
  VectorVocabulary vectors_;
  std::vector<std::string> training_words_;
  std::unordered_map<std::string, std::int32_t> tag_ids_;
  TaggerConfig config_;
};

}  // namespace lstmner
