#pragma once
/// \file tagger_config.hpp
/// Every knob of a Tagger: model shape, training, and text normalisation, with validation.
///
/// The defaults are the configuration that meets the documented CoNLL-2003 accuracy
/// (docs/accuracy.md): a user who changes nothing gets that F1.

#include <lstmner/tag_scheme.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace lstmner {

enum class OptimizerKind { Adam, Sgd };

inline std::string to_string(OptimizerKind kind) {
  return kind == OptimizerKind::Adam ? "adam" : "sgd";
}

inline OptimizerKind parse_optimizer(const std::string& name) {
  if (name == "adam") return OptimizerKind::Adam;
  if (name == "sgd") return OptimizerKind::Sgd;
  throw std::invalid_argument("lstmner: unknown optimizer '" + name + "' (expected adam or sgd)");
}

/// The output head of a network (heads/): per-token softmax, or a linear-chain CRF.
enum class OutputKind { softmax, crf };

inline std::string to_string(OutputKind kind) {
  return kind == OutputKind::softmax ? "softmax" : "crf";
}

inline OutputKind parse_output_kind(const std::string& name) {
  if (name == "softmax") return OutputKind::softmax;
  if (name == "crf") return OutputKind::crf;
  throw std::invalid_argument("lstmner: unknown output head '" + name +
                              "' (expected softmax or crf)");
}

/// The character-level word encoder of a network (blocks/char_block.hpp): none, a character
/// BiLSTM (Lample et al. 2016) or a character CNN (Ma & Hovy 2016).
enum class CharEncoderKind { none, bilstm, cnn };

inline std::string to_string(CharEncoderKind kind) {
  switch (kind) {
    case CharEncoderKind::none:
      return "none";
    case CharEncoderKind::bilstm:
      return "bilstm";
    case CharEncoderKind::cnn:
      return "cnn";
  }
  return "?";
}

inline CharEncoderKind parse_char_encoder(const std::string& name) {
  if (name == "none") return CharEncoderKind::none;
  if (name == "bilstm") return CharEncoderKind::bilstm;
  if (name == "cnn") return CharEncoderKind::cnn;
  throw std::invalid_argument("lstmner: unknown character encoder '" + name +
                              "' (expected none, bilstm or cnn)");
}

struct TaggerConfig {
  // --- model shape ---------------------------------------------------------------------------
  int embedding_dim = 100;  ///< word embedding size
  int hidden_dim = 100;     ///< LSTM hidden size per direction
  int casing_dim = 16;      ///< casing-feature embedding size (Huang et al. 2015); 0 disables it
  /// Document-context feature embedding size (blocks/doc_context.hpp: how the token's word is
  /// cased elsewhere in its document); 0 disables it.
  int doc_context_dim = 0;
  int lstm_layers = 1;  ///< stacked BiLSTM layers, dropout between them
  CharEncoderKind char_encoder = CharEncoderKind::none;  ///< the character-level word encoder
  int char_embedding_dim = 25;                           ///< character vector size
  int char_hidden_dim = 25;  ///< char BiLSTM units per direction, or char CNN filters
  int min_char_count = 1;    ///< rarer training characters map to the unknown character
  /// Pretrained word vectors (GloVe / word2vec text, fastText .vec, word2vec binary) for an
  /// extra input block over training ∪ vector words (blocks/vectors_block.hpp); empty: none.
  /// Read by Tagger::train; the model then holds the table.
  std::string word_vectors;
  std::size_t max_word_vectors = 0;         ///< keep only the first N vectors of the file; 0 = all
  bool freeze_word_vectors = false;         ///< keep the vectors fixed instead of fine-tuning them
  OutputKind output = OutputKind::softmax;  ///< the output head: per-token softmax or a CRF

  // --- text normalisation (applied to words before the vocabulary lookup) ----------------------
  bool lowercase = true;         ///< casing lives in the casing feature, so words can be folded
  bool normalize_digits = true;  ///< every digit becomes '0' ("1996" and "1997" share a vector)
  int min_word_count = 1;        ///< rarer training words map to the unknown entry

  // --- regularisation ----------------------------------------------------------------------------
  double dropout = 0.5;        ///< on the embeddings and on the BiLSTM outputs
  double singleton_unk = 0.5;  ///< probability of replacing a training-set singleton by <unk>
  double word_dropout = 0.0;   ///< probability of replacing any training word by <unk>

  // --- optimisation ------------------------------------------------------------------------------
  OptimizerKind optimizer = OptimizerKind::Adam;
  double learning_rate = 1e-3;
  double momentum = 0.9;   ///< SGD only
  double clip_norm = 5.0;  ///< global gradient-norm clip; 0 disables
  int batch_size = 32;
  /// The most tokens (sentences x the longest) a training batch holds: a batch of longer
  /// sentences is cut into smaller ones, and a longer sentence is trained on in pieces of this
  /// many tokens. It bounds training memory (docs/reliability.md); CoNLL-2003's batches of 32
  /// never reach it.
  int max_batch_tokens = 8192;
  int epochs = 30;
  int patience = 5;  ///< stop after this many epochs without a better dev F1; 0 = never
  /// Checkpoint averaging: score (and keep) the mean of the weights at the end of the last N
  /// epochs instead of the last epoch's; 0 or 1 = off. Training goes on from its own weights.
  int average_checkpoints = 0;

  // --- output ------------------------------------------------------------------------------------
  TagScheme train_scheme = TagScheme::IOBES;  ///< the scheme the output layer predicts
  bool constrained_decoding = true;  ///< Viterbi over softmax scores, well-formed tags only

  // --- reproducibility and parallelism
  // -------------------------------------------------------------
  std::uint64_t seed = 1;
  /// Threads for training and tagging, 1..1024; 0 = every core this process may use
  /// (available_cores() in execution_context.hpp); more than that are capped at the available
  /// cores (more threads than cores only take turns). Results do not depend on it.
  int threads = 0;

  /// Throws std::invalid_argument naming the first field out of range.
  void validate() const {
    auto check = [](bool ok, const std::string& field, const std::string& rule) {
      if (!ok) throw std::invalid_argument("lstmner: TaggerConfig." + field + " " + rule);
    };
    auto probability = [&](double p, const std::string& field) {
      check(std::isfinite(p) && p >= 0.0 && p < 1.0, field,
            "must be in [0, 1), got " + std::to_string(p));
    };
    check(embedding_dim >= 1 && embedding_dim <= 4096, "embedding_dim", "must be in 1..4096");
    check(hidden_dim >= 1 && hidden_dim <= 4096, "hidden_dim", "must be in 1..4096");
    check(casing_dim >= 0 && casing_dim <= 256, "casing_dim", "must be in 0..256");
    check(doc_context_dim >= 0 && doc_context_dim <= 256, "doc_context_dim", "must be in 0..256");
    check(lstm_layers >= 1 && lstm_layers <= 8, "lstm_layers", "must be in 1..8");
    check(char_embedding_dim >= 1 && char_embedding_dim <= 1024, "char_embedding_dim",
          "must be in 1..1024");
    check(char_hidden_dim >= 1 && char_hidden_dim <= 1024, "char_hidden_dim", "must be in 1..1024");
    check(min_char_count >= 1, "min_char_count", "must be at least 1");
    check(min_word_count >= 1, "min_word_count", "must be at least 1");
    probability(dropout, "dropout");
    probability(singleton_unk, "singleton_unk");
    probability(word_dropout, "word_dropout");
    check(std::isfinite(learning_rate) && learning_rate > 0.0, "learning_rate", "must be positive");
    check(std::isfinite(momentum) && momentum >= 0.0 && momentum < 1.0, "momentum",
          "must be in [0, 1)");
    check(std::isfinite(clip_norm) && clip_norm >= 0.0, "clip_norm",
          "must be >= 0 (0 disables clipping)");
    check(batch_size >= 1 && batch_size <= 65536, "batch_size", "must be in 1..65536");
    check(max_batch_tokens >= 1, "max_batch_tokens", "must be at least 1");
    check(epochs >= 1, "epochs", "must be at least 1");
    check(patience >= 0, "patience", "must be >= 0 (0 disables early stopping)");
    check(average_checkpoints >= 0 && average_checkpoints <= 100, "average_checkpoints",
          "must be in 0..100");
    check(threads >= 0 && threads <= 1024, "threads",
          "must be in 0..1024 (0 = every available core)");
  }
};

}  // namespace lstmner
