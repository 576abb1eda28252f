// Fuzz target: the pretrained word-vector reader (word_vectors.hpp: GloVe / word2vec text,
// fastText .vec with its header, word2vec binary), on bytes in memory.
// Input: one option byte, then the file.
//   byte 0: bits 0-1 format (automatic, text, text with a header, binary), bit 2 max_words 3
// Invariants for every file read: one finite vector of dim values per word, words unique, and
// every word found again by lookup, exactly, at its own index.

#include <lstmner/word_vectors.hpp>

#include "fuzz_support.hpp"

#include <cmath>
#include <string>

using namespace lstmner;

LSTMNER_FUZZ_TARGET(data, size) {
  lstmner_fuzz::FuzzInput input(data, size);
  const std::uint8_t flags = input.byte();
  WordVectorReadOptions options;
  options.format = static_cast<WordVectorFormat>(flags & 3);
  if (flags & 4) options.max_words = 3;
  WordVectors vectors;
  try {
    vectors = parse_word_vectors(input.rest(), "fuzz.vec", options);
  } catch (const WordVectorError&) {
    return 0;
  }
  FUZZ_CHECK(vectors.size() == static_cast<Index>(vectors.words().size()));
  FUZZ_CHECK(vectors.size() >= 1 && vectors.dim() >= 1);
  FUZZ_CHECK(options.max_words == 0 || vectors.size() <= 3);
  FUZZ_CHECK(vectors.vectors().allFinite());
  for (Index i = 0; i < vectors.size(); ++i) {
    const auto hit = vectors.find(vectors.words()[static_cast<std::size_t>(i)]);
    FUZZ_CHECK(hit.has_value() && *hit == i);
    (void)vectors.lookup(vectors.words()[static_cast<std::size_t>(i)]);
  }
  return 0;
}
