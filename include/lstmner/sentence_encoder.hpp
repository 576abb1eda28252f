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
/// always gives the same ids. All const members may be called from several threads at once.

#include <lstmner/batch.hpp>
#include <lstmner/casing.hpp>
#include <lstmner/conll.hpp>
#include <lstmner/tag_scheme.hpp>
#include <lstmner/tagger_config.hpp>
#include <lstmner/vocabulary.hpp>

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
  /// The most tags a tag set may have: the decoder keeps a tags x tags table of transitions.
  static constexpr std::size_t max_tags = 4096;

  SentenceEncoder() = default;
  /// An encoder over a stored vocabulary and tag set (a loaded model's).
  SentenceEncoder(Vocabulary words, std::vector<std::string> tags, const TaggerConfig& config)
      : words_(std::move(words)), tags_(std::move(tags)), config_(config) {
    index_tags();
  }

  /// Builds the vocabulary and the tag set from the training data (tags in config.train_scheme).
  void build(const ConllDocument& train, const TaggerConfig& config) {
    config_ = config;
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
    require(tag_set.size() <= max_tags,
            "Tagger::train: '" + train.source + "' has " + std::to_string(tag_set.size()) +
                " distinct tags, more than the " + std::to_string(max_tags) + " a model may have");
    tags_.clear();
    if (tag_set.count("O")) tags_.push_back("O");
    for (const auto& [tag, n] : tag_set)
      if (tag != "O") tags_.push_back(tag);
    index_tags();
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

  /// Every training sentence encoded, with its tag ids (converted to config.train_scheme).
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

  const Vocabulary& words() const { return words_; }
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
  std::unordered_map<std::string, std::int32_t> tag_ids_;
  TaggerConfig config_;
};

}  // namespace lstmner
