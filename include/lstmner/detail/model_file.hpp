#pragma once
/// \file detail/model_file.hpp
/// How a Tagger's configuration is laid out in its model file (the fields in a fixed order;
/// serialize.hpp's container around them). Reading validates every field and throws
/// std::runtime_error naming the file and the field.

#include <lstmner/serialize.hpp>
#include <lstmner/tag_scheme.hpp>
#include <lstmner/tagger_config.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace lstmner {
namespace detail {

inline void write_config(BinaryWriter& out, const TaggerConfig& c) {
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
  out.write_i32(0);  // threads: the machine's, not the model's (a loaded Tagger uses every core)
}

inline TagScheme read_scheme(BinaryReader& in, const std::string& field) {
  const std::uint32_t code = in.read_u32(field);
  if (code > static_cast<std::uint32_t>(TagScheme::IOBES)) {
    in.fail("bad " + field + " code " + std::to_string(code));
  }
  return static_cast<TagScheme>(code);
}

inline TaggerConfig read_config(BinaryReader& in) {
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
  c.threads = in.read_i32("config.threads");  // checked, then not used (see write_config)
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    in.fail(std::string("the stored configuration is invalid: ") + e.what());
  }
  return c;
}
}  // namespace detail
}  // namespace lstmner
