#pragma once
/// \file detail/model_file.hpp
/// A Tagger's model file inside serialize.hpp's container (docs/model-format.md): what its
/// payload holds, the named fields of its header, and its reading in two passes.
///
/// Payload, format 2 (what this version writes):
///   string    "lstmner.Tagger"
///   header    u64 field count, then per field: string name, u8 type, u8 flags, u64 value size,
///             the value (type 1 int: i64; 2 unsigned: u64; 3 real: f64; 4 bool: u8 0/1;
///             5 text: the bytes). Flag bit 0 "required": a reader that does not know the field
///             must refuse the file. Every field is listed once in model_fields() below.
///   vocabulary  Vocabulary::save
///   strings   the tags, in config.train_scheme (a tag's id is its index)
///   chars     CharVocabulary::save, when char_encoder is not none
///   strings   the pretrained-vector block's words (VectorVocabulary::words), when vector_dim > 0
///   u64       parameter count, then each parameter as a named matrix, in slot order
///             (parameter_shapes() in network.hpp: the blocks', the encoder's layers', the head's)
/// Format 1 (what lstmner wrote before) has the configuration as fixed-order values
/// (read_config_v1), the two schemes as u32 after it, and the casing class count as a u64
/// between the tags and the parameters; this version reads it and never writes it.
///
/// Unknown fields: a field this version does not know is skipped, unless its writer marked it
/// required (it changes what the model computes: a shape, an output head); then the file is
/// refused with an error naming the field. A field the file lacks takes the value listed for it
/// in model_fields() ("when absent": what files written before the field existed meant).
/// Adding a field is one line in model_fields() (with the TaggerConfig member it fills).
///
/// Reading, in two passes (ModelFile): the constructor checks every byte of the payload —
/// every declared size against the bytes present, every field, the vocabulary (no duplicates),
/// the tags (valid in the scheme, no duplicates, at most SentenceEncoder::max_tags), and every
/// parameter's name, shape (against the configuration) and values (finite) — while allocating
/// nothing the file's sizes decide (the vocabulary's duplicate check aside: 8 bytes per entry).
/// Only then do vocabulary(), tags() and read_parameters() build the model from the checked bytes.
/// A hostile file is therefore rejected before any of its declared sizes is allocated or
/// initialised.

#include <lstmner/blocks/vectors_block.hpp>
#include <lstmner/casing.hpp>
#include <lstmner/char_vocabulary.hpp>
#include <lstmner/network.hpp>
#include <lstmner/param.hpp>
#include <lstmner/sentence_encoder.hpp>
#include <lstmner/serialize.hpp>
#include <lstmner/tag_scheme.hpp>
#include <lstmner/tagger_config.hpp>
#include <lstmner/vocabulary.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace lstmner {
namespace detail {

/// What a model file states besides its vocabulary, tags and weights.
struct ModelHeader {
  TaggerConfig config;
  TagScheme input_scheme = TagScheme::IOB2;   ///< the scheme of the training data
  TagScheme output_scheme = TagScheme::IOB2;  ///< the scheme predict() returns
  std::uint64_t casing_classes = num_casing_classes;
  /// The pretrained-vector block's vector size (0: no such block).
  std::uint64_t vector_dim = 0;
};

/// A field the reader must know to use the model (flag bit 0), or one it may skip.
enum class FieldNeed : std::uint8_t { optional = 0, required = 1 };

/// Every field of a format-2 header, in the order written: field(name, member, when absent,
/// need). `Header` is ModelHeader or const ModelHeader.
template <class Header, class Field>
void model_fields(Header& h, Field&& field) {
  auto& c = h.config;
  constexpr FieldNeed required = FieldNeed::required, optional = FieldNeed::optional;
  field("embedding_dim", c.embedding_dim, 100, required);
  field("hidden_dim", c.hidden_dim, 100, required);
  field("casing_dim", c.casing_dim, 16, required);
  field("casing_classes", h.casing_classes, std::uint64_t{9}, required);
  field("lowercase", c.lowercase, true, required);
  field("normalize_digits", c.normalize_digits, true, required);
  field("train_scheme", c.train_scheme, TagScheme::IOBES, required);
  field("constrained_decoding", c.constrained_decoding, true, required);
  field("input_scheme", h.input_scheme, TagScheme::IOB2, required);
  field("output_scheme", h.output_scheme, TagScheme::IOB2, required);
  field("lstm_layers", c.lstm_layers, 1, required);
  field("output", c.output, OutputKind::softmax, required);
  field("char_encoder", c.char_encoder, CharEncoderKind::none, required);
  field("char_embedding_dim", c.char_embedding_dim, 25, required);
  field("char_hidden_dim", c.char_hidden_dim, 25, required);
  field("vector_dim", h.vector_dim, std::uint64_t{0}, required);
  field("doc_context_dim", c.doc_context_dim, 0, required);
  // How the model was trained: kept for the record, not needed to tag.
  field("min_word_count", c.min_word_count, 1, optional);
  field("dropout", c.dropout, 0.5, optional);
  field("singleton_unk", c.singleton_unk, 0.5, optional);
  field("word_dropout", c.word_dropout, 0.0, optional);
  field("optimizer", c.optimizer, OptimizerKind::Adam, optional);
  field("learning_rate", c.learning_rate, 1e-3, optional);
  field("momentum", c.momentum, 0.9, optional);
  field("clip_norm", c.clip_norm, 5.0, optional);
  field("batch_size", c.batch_size, 32, optional);
  field("max_batch_tokens", c.max_batch_tokens, 8192, optional);
  field("epochs", c.epochs, 30, optional);
  field("patience", c.patience, 5, optional);
  field("seed", c.seed, std::uint64_t{1}, optional);
  field("min_char_count", c.min_char_count, 1, optional);
  field("word_vectors", c.word_vectors, std::string(), optional);
  field("max_word_vectors", c.max_word_vectors, std::uint64_t{0}, optional);
  field("freeze_word_vectors", c.freeze_word_vectors, false, optional);
  field("average_checkpoints", c.average_checkpoints, 0, optional);
  // The machine's, not the model's: always written as 0 (every core), which a loaded model uses.
  field("threads", c.threads, 0, optional);
}

/// The value types of header fields.
enum class FieldType : std::uint8_t {
  integer = 1,
  unsigned_integer = 2,
  real = 3,
  boolean = 4,
  text = 5
};

inline const char* field_type_name(std::uint8_t type) {
  switch (type) {
    case 1:
      return "an integer";
    case 2:
      return "an unsigned integer";
    case 3:
      return "a real number";
    case 4:
      return "a boolean";
    case 5:
      return "text";
  }
  return "an unknown type";
}

/// How each member type is stored: its FieldType, its bytes, and back.
template <class T>
struct FieldCodec;

template <>
struct FieldCodec<int> {
  static constexpr FieldType type = FieldType::integer;
  static void write(BinaryWriter& out, int v) { out.write_i64(v); }
  static int read(BinaryReader& in, const std::string& field) {
    const std::int64_t v = in.read_i64(field);
    if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
      in.fail("field '" + field + "' is " + std::to_string(v) + ", outside the range of an int");
    return static_cast<int>(v);
  }
};
template <>
struct FieldCodec<std::uint64_t> {
  static constexpr FieldType type = FieldType::unsigned_integer;
  static void write(BinaryWriter& out, std::uint64_t v) { out.write_u64(v); }
  static std::uint64_t read(BinaryReader& in, const std::string& field) {
    return in.read_u64(field);
  }
};
template <>
struct FieldCodec<double> {
  static constexpr FieldType type = FieldType::real;
  static void write(BinaryWriter& out, double v) { out.write_f64(v); }
  static double read(BinaryReader& in, const std::string& field) { return in.read_f64(field); }
};
template <>
struct FieldCodec<bool> {
  static constexpr FieldType type = FieldType::boolean;
  static void write(BinaryWriter& out, bool v) { out.write_bool(v); }
  static bool read(BinaryReader& in, const std::string& field) { return in.read_bool(field); }
};
template <>
struct FieldCodec<std::string> {
  static constexpr FieldType type = FieldType::text;
  static std::string text(const std::string& v) { return v; }
  static std::string parse(const std::string& v) { return v; }
};
/// Enumerations are stored by name (their to_string and its parse function), so that their
/// numbering never matters: a new enumerator is one more name in that pair.
template <class Enum, Enum (*parse_name)(const std::string&)>
struct EnumFieldCodec {
  static constexpr FieldType type = FieldType::text;
  static std::string text(Enum v) { return to_string(v); }
  static Enum parse(const std::string& name) { return parse_name(name); }
};
template <>
struct FieldCodec<TagScheme> : EnumFieldCodec<TagScheme, parse_tag_scheme> {};
template <>
struct FieldCodec<OutputKind> : EnumFieldCodec<OutputKind, parse_output_kind> {};
template <>
struct FieldCodec<CharEncoderKind> : EnumFieldCodec<CharEncoderKind, parse_char_encoder> {};
template <>
struct FieldCodec<OptimizerKind> : EnumFieldCodec<OptimizerKind, parse_optimizer> {};

template <class T>
void write_field_value(BinaryWriter& out, const T& value) {
  if constexpr (FieldCodec<T>::type == FieldType::text) {
    const std::string text = FieldCodec<T>::text(value);
    out.write_u64(text.size());
    for (char ch : text) out.write_u8(static_cast<std::uint8_t>(ch));
  } else {
    BinaryWriter value_bytes;
    FieldCodec<T>::write(value_bytes, value);
    out.write_u64(value_bytes.size());
    for (char ch : value_bytes.buffer()) out.write_u8(static_cast<std::uint8_t>(ch));
  }
}

/// Writes a format-2 header: every field of model_fields().
inline void write_header(BinaryWriter& out, const ModelHeader& header) {
  std::uint64_t count = 0;
  model_fields(header, [&](const char*, const auto&, const auto&, FieldNeed) { ++count; });
  out.write_u64(count);
  model_fields(header, [&](const char* name, const auto& member, const auto&, FieldNeed need) {
    using T = std::decay_t<decltype(member)>;
    out.write_string(name);
    out.write_u8(static_cast<std::uint8_t>(FieldCodec<T>::type));
    out.write_u8(static_cast<std::uint8_t>(need));
    write_field_value(out, member);
  });
}

/// The most fields a header may have (there are a few dozen at most).
inline constexpr std::uint64_t max_header_fields = 1024;

/// Reads a format-2 header (see the file comment for missing and unknown fields).
inline ModelHeader read_header(BinaryReader& in) {
  struct Entry {
    std::string_view name;
    std::uint8_t type = 0, flags = 0;
    std::string_view value;
    std::size_t offset = 0;  ///< of the value, in the file
    bool used = false;
  };
  const std::uint64_t count = in.read_u64("header field count");
  // A field takes at least 18 bytes (name length, type, flags, value size).
  if (count > max_header_fields || count > in.remaining() / 18) {
    in.fail("the header declares " + std::to_string(count) + " fields (at most " +
            std::to_string(max_header_fields) + ", and " + std::to_string(in.remaining()) +
            " bytes are left)");
  }
  std::vector<Entry> entries(static_cast<std::size_t>(count));
  for (Entry& e : entries) {
    e.name = in.read_string_view("header field name");
    const std::string field(e.name);
    e.type = in.read_u8("field '" + field + "' (type)");
    e.flags = in.read_u8("field '" + field + "' (flags)");
    const std::uint64_t size = in.read_u64("field '" + field + "' (value size)");
    e.offset = in.position();
    in.skip(size, "field '" + field + "'");
    e.value = in.bytes().substr(e.offset, static_cast<std::size_t>(size));
  }
  for (std::size_t i = 0; i < entries.size(); ++i)
    for (std::size_t j = i + 1; j < entries.size(); ++j)
      if (entries[i].name == entries[j].name)
        in.fail("header field '" + std::string(entries[i].name) + "' appears twice");

  const std::string source = in.source();
  ModelHeader header;
  model_fields(header, [&](const char* name, auto& member, const auto& absent, FieldNeed) {
    using T = std::decay_t<decltype(member)>;
    auto it = std::find_if(entries.begin(), entries.end(),
                           [&](const Entry& e) { return e.name == name; });
    if (it == entries.end()) {
      member = absent;
      return;
    }
    it->used = true;
    // The value's own reader, so that its messages give offsets into the file.
    BinaryReader value(it->value, source, container_header_size + it->offset);
    const std::string field = std::string("field '") + name + "'";
    if (it->type != static_cast<std::uint8_t>(FieldCodec<T>::type)) {
      value.fail(field + " holds " + field_type_name(it->type) + ", expected " +
                 field_type_name(static_cast<std::uint8_t>(FieldCodec<T>::type)));
    }
    if constexpr (FieldCodec<T>::type == FieldType::text) {
      try {
        member = FieldCodec<T>::parse(std::string(it->value));
      } catch (const std::invalid_argument&) {
        value.fail(field + " is '" + std::string(it->value) + "', not a value this build knows");
      }
    } else {
      member = FieldCodec<T>::read(value, name);
      if (value.remaining() != 0)
        value.fail(field + " has " + std::to_string(it->value.size()) + " bytes, expected " +
                   std::to_string(value.position()));
    }
  });
  for (const Entry& e : entries) {
    if (e.used || (e.flags & 1u) == 0) continue;  // an unknown optional field is skipped
    BinaryReader(e.value, source, container_header_size + e.offset)
        .fail("the model needs header field '" + std::string(e.name) +
              "', which this build of lstmner does not know (the file was written by a newer "
              "lstmner)");
  }
  return header;
}

/// A scheme stored as format 1's u32 code (0 IOB1, 1 IOB2, 2 IOBES).
inline TagScheme read_scheme_v1(BinaryReader& in, const std::string& field) {
  const std::uint32_t code = in.read_u32(field);
  if (code > static_cast<std::uint32_t>(TagScheme::IOBES)) {
    in.fail("bad " + field + " code " + std::to_string(code));
  }
  return static_cast<TagScheme>(code);
}

/// Format 1's configuration: fixed-order values (written by lstmner before format 2).
inline TaggerConfig read_config_v1(BinaryReader& in) {
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
  c.train_scheme = read_scheme_v1(in, "config.train_scheme");
  c.constrained_decoding = in.read_u8("config.constrained_decoding") != 0;
  c.seed = in.read_u64("config.seed");
  in.read_i32("config.threads");  // read, then not used: the machine's, not the model's
  return c;
}

/// The name of what a Tagger's model file holds (its payload's first string).
inline constexpr std::string_view tagger_model_kind = "lstmner.Tagger";

/// Writes a Tagger's payload in format 2.
template <class Scalar>
std::string write_model(const ModelHeader& header, const Vocabulary& words,
                        const std::vector<std::string>& tags, const CharVocabulary& chars,
                        const VectorVocabulary& vectors,
                        const std::vector<const Param<Scalar>*>& params) {
  BinaryWriter out;
  out.write_string(tagger_model_kind);
  write_header(out, header);
  words.save(out);
  out.write_strings(tags);
  if (header.config.char_encoder != CharEncoderKind::none) chars.save(out);
  if (header.vector_dim > 0) out.write_strings(vectors.words());
  out.write_u64(params.size());
  for (const auto* p : params) out.write_matrix(p->name, p->value);
  return out.take();
}

/// A Tagger's payload, checked in full by the constructor before anything is built from it.
class ModelFile {
 public:
  /// Checks every byte of `payload`, a format-`version` payload read from `source` (named in
  /// messages). Throws std::runtime_error naming the file, the byte offset and the field.
  ModelFile(std::string_view payload, std::uint32_t version, std::string source)
      : payload_(payload), source_(std::move(source)) {
    BinaryReader in(payload_, source_, container_header_size);
    const std::string_view kind = in.read_string_view("model kind");
    if (kind != tagger_model_kind) {
      in.fail("holds a '" + std::string(kind) + "', not a " + std::string(tagger_model_kind));
    }
    if (version == 1) {
      header_.config = read_config_v1(in);
      header_.input_scheme = read_scheme_v1(in, "input scheme");
      header_.output_scheme = read_scheme_v1(in, "output scheme");
    } else {
      header_ = read_header(in);
    }
    header_.config.threads = 0;  // the machine's, not the file's
    try {
      header_.config.validate();
    } catch (const std::invalid_argument& e) {
      in.fail(std::string("the stored configuration is invalid: ") + e.what());
    }

    vocabulary_at_ = in.position();
    const Vocabulary::Summary words = Vocabulary::check(in);
    if (words.size < 2 || words.unknown_id != 1) {
      in.fail("the word vocabulary lacks <pad> and <unk> at ids 0 and 1");
    }

    tags_at_ = in.position();
    const std::size_t num_tags = check_tags(in);

    const TaggerConfig& config = header_.config;
    if (version >= 2 && config.char_encoder != CharEncoderKind::none) {
      chars_ = CharVocabulary::load(in);  // checks it; its size is bounded by its bytes
      if (chars_.size() <= static_cast<std::size_t>(CharVocabulary::reserved))
        in.fail("the character vocabulary is empty, but the model has a character encoder");
    }
    if (header_.vector_dim > 0) {
      if (header_.vector_dim > max_vector_dim) {
        in.fail("field 'vector_dim' is " + std::to_string(header_.vector_dim) + ", more than " +
                std::to_string(max_vector_dim));
      }
      vectors_at_ = in.position();
      vector_words_ = check_vector_words(in);
      if (vector_words_ == 0) in.fail("the pretrained-vector block has no words");
    }

    if (version == 1) header_.casing_classes = in.read_u64("casing classes");
    if (header_.casing_classes != static_cast<std::uint64_t>(num_casing_classes)) {
      in.fail(std::to_string(header_.casing_classes) + " casing classes, this version has " +
              std::to_string(num_casing_classes));
    }
    shape_.vocabulary_size = static_cast<Index>(words.size);
    shape_.casing_classes = num_casing_classes;
    shape_.num_tags = static_cast<Index>(num_tags);
    shape_.embedding_dim = config.embedding_dim;
    shape_.casing_dim = config.casing_dim;
    shape_.doc_context_dim = config.doc_context_dim;
    shape_.hidden_dim = config.hidden_dim;
    shape_.lstm_layers = config.lstm_layers;
    shape_.char_encoder = config.char_encoder;
    shape_.char_vocabulary_size = static_cast<Index>(chars_.size());
    shape_.char_embedding_dim = config.char_embedding_dim;
    shape_.char_hidden_dim = config.char_hidden_dim;
    shape_.vector_vocabulary_size =
        vector_words_ == 0 ? 0 : static_cast<Index>(VectorVocabulary::reserved + vector_words_);
    shape_.vector_dim = static_cast<Index>(header_.vector_dim);
    shape_.freeze_vectors = config.freeze_word_vectors;
    shape_.dropout = config.dropout;
    shape_.output = config.output;

    const std::vector<ParamShape> expected = parameter_shapes(shape_);
    const std::uint64_t count = in.read_u64("parameter count");
    if (count != expected.size()) {
      in.fail(std::to_string(count) + " parameters, the configuration needs " +
              std::to_string(expected.size()));
    }
    parameters_at_ = in.position();
    for (const ParamShape& p : expected) in.check_matrix(p.name, p.rows, p.cols);
    in.expect_end();
  }

  const ModelHeader& header() const { return header_; }
  /// The network's sizes: the header's, the vocabulary's and the tag set's.
  const NetworkShape& shape() const { return shape_; }

  Vocabulary vocabulary() const {
    BinaryReader in = reader_at(vocabulary_at_);
    return Vocabulary::load(in);
  }

  std::vector<std::string> tags() const {
    BinaryReader in = reader_at(tags_at_);
    return in.read_strings("tags");
  }

  /// The character vocabulary (empty without a character encoder).
  const CharVocabulary& chars() const { return chars_; }

  /// The pretrained-vector block's vocabulary (empty without that block).
  VectorVocabulary vectors() const {
    if (vector_words_ == 0) return VectorVocabulary();
    BinaryReader in = reader_at(vectors_at_);
    return VectorVocabulary(in.read_strings("vector words"));
  }

  /// Reads the weights into `params`, which must be parameter_shapes(shape()) (a network of
  /// shape(), e.g. made with shapes_only).
  template <class Scalar>
  void read_parameters(const ParamList<Scalar>& params) const {
    BinaryReader in = reader_at(parameters_at_);
    for (auto* p : params) in.read_matrix_into(p->name, p->value);
    in.expect_end();
  }

 private:
  BinaryReader reader_at(std::size_t position) const {
    return BinaryReader(payload_.substr(position), source_, container_header_size + position);
  }

  /// Checks the tag list (count, bytes, each tag valid in the training scheme, no duplicates)
  /// without keeping it, and returns the number of tags.
  std::size_t check_tags(BinaryReader& in) const {
    const std::uint64_t count = in.read_u64("tags (string count)");
    if (count == 0) in.fail("the model has no tags");
    if (count > SentenceEncoder::max_tags) {
      in.fail(std::to_string(count) + " tags, more than the " +
              std::to_string(SentenceEncoder::max_tags) + " a model may have");
    }
    std::vector<std::string_view> tags;
    tags.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) {
      const std::string_view tag = in.read_list_string("tags", i);
      const std::string problem = tag_problem(tag, header_.config.train_scheme);
      if (!problem.empty()) in.fail("tag " + std::to_string(i) + ": " + problem);
      tags.push_back(tag);
    }
    std::sort(tags.begin(), tags.end());
    for (std::size_t i = 1; i < tags.size(); ++i)
      if (tags[i] == tags[i - 1]) in.fail("tag '" + std::string(tags[i]) + "' appears twice");
    return tags.size();
  }

  /// Checks the vector block's word list (count, bytes, no duplicates) without keeping it, and
  /// returns the number of words.
  static std::size_t check_vector_words(BinaryReader& in) {
    const std::uint64_t count = in.read_u64("vector words (string count)");
    if (count > in.remaining() / 8) {
      in.truncated(
          "list of strings", "vector words",
          std::to_string(count) + " strings need at least " + std::to_string(count) + " x 8 bytes");
    }
    if (count > static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max()) - 2)
      in.fail("more vector words than int32 ids");
    std::vector<std::string_view> words;
    words.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i)
      words.push_back(in.read_list_string("vector words", i));
    std::sort(words.begin(), words.end());
    for (std::size_t i = 1; i < words.size(); ++i)
      if (words[i] == words[i - 1])
        in.fail("vector word '" + std::string(words[i]) + "' appears twice");
    return words.size();
  }

  /// The largest vector size a file may declare (word2vec's and GloVe's are at most 300).
  static constexpr std::uint64_t max_vector_dim = 65536;

  std::string_view payload_;
  std::string source_;
  ModelHeader header_;
  NetworkShape shape_;
  CharVocabulary chars_;
  std::size_t vector_words_ = 0;
  std::size_t vocabulary_at_ = 0, tags_at_ = 0, vectors_at_ = 0, parameters_at_ = 0;
};

}  // namespace detail
}  // namespace lstmner
