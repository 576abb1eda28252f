// Fuzz target: the character vocabulary's loader (char_vocabulary.hpp, CharVocabulary::load), on
// the bytes of its part of a model file.
// Invariants for every vocabulary that loads: saved again, it is the same bytes and loads to an
// equal vocabulary; every code point has its own id; encoding any word gives one id per
// character, each in range.

#include <lstmner/char_vocabulary.hpp>

#include "fuzz_support.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

using namespace lstmner;

LSTMNER_FUZZ_TARGET(data, size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  BinaryReader in(bytes, "fuzz.model");
  CharVocabulary vocabulary;
  try {
    vocabulary = CharVocabulary::load(in);
  } catch (const std::runtime_error&) {
    return 0;
  }
  BinaryWriter out;
  vocabulary.save(out);
  FUZZ_CHECK(std::string_view(out.buffer()) == bytes.substr(0, in.position()));
  BinaryReader again(out.buffer(), "again");
  FUZZ_CHECK(CharVocabulary::load(again) == vocabulary);
  for (std::size_t i = 0; i < vocabulary.code_points().size(); ++i) {
    const auto id = static_cast<std::int32_t>(i) + CharVocabulary::reserved;
    FUZZ_CHECK(vocabulary.id(vocabulary.code_points()[i]) == id);
  }
  for (const std::string_view word : {std::string_view("Zürich"), bytes.substr(0, 16)}) {
    for (std::int32_t id : vocabulary.encode(word))
      FUZZ_CHECK(id >= 0 && static_cast<std::size_t>(id) < vocabulary.size());
  }
  return 0;
}
