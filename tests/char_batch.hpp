#pragma once
// Fixtures shared by the tests of the character-level word encoders (test_char_cnn.cpp,
// test_char_bilstm.cpp): a batch of words as those layers take it, random inputs, and the
// checks of the character-id validation the encoders share.

#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lstmner_test {

/// A batch of words as the layers take it: ids (W, L) and the words' lengths; padding holds
/// whatever the test put there (never read by the layers).
struct CharBatch {
  lstmner::Tensor2<std::int32_t> ids;
  lstmner::SequenceLengths lengths;
};

/// Words with the given lengths and random character ids in [1, vocab); padding holds `pad`.
inline CharBatch random_char_batch(const std::vector<lstmner::Index>& lengths, lstmner::Index vocab,
                                   lstmner::Rng& rng, std::int32_t pad = 0) {
  using lstmner::Index;
  CharBatch batch;
  batch.lengths = lstmner::SequenceLengths(lengths);
  const auto W = static_cast<Index>(lengths.size());
  batch.ids.resize(W, batch.lengths.max_length());
  batch.ids.setConstant(pad);
  for (Index w = 0; w < W; ++w)
    for (Index p = 0; p < lengths[static_cast<std::size_t>(w)]; ++p)
      batch.ids(w, p) =
          static_cast<std::int32_t>(1 + rng.below(static_cast<std::uint64_t>(vocab - 1)));
  return batch;
}

/// A (rows, cols) tensor of values drawn uniformly from [-1, 1).
template <class Scalar>
lstmner::Tensor2<Scalar> random_matrix(lstmner::Index rows, lstmner::Index cols,
                                       lstmner::Rng& rng) {
  lstmner::Tensor2<Scalar> t(typename lstmner::Tensor2<Scalar>::Shape{rows, cols});
  for (lstmner::Index i = 0; i < t.size(); ++i)
    t.data()[i] = static_cast<Scalar>(rng.uniform(-1.0, 1.0));
  return t;
}

/// The id checks every character encoder runs (include/lstmner/detail/char_ids.hpp), through
/// `encoder`'s forward (`name` its class, its vocabulary 4 characters): an id outside the
/// vocabulary, named by word and character, and ids whose shape does not match the lengths.
/// Returns the valid batch of words of lengths {2, 3} it used.
template <class Encoder>
CharBatch require_char_id_checks(const Encoder& encoder, typename Encoder::Workspace& ws,
                                 const std::string& name, lstmner::Rng& rng) {
  lstmner::Tensor2<typename Encoder::scalar_type> out;
  CharBatch batch = random_char_batch({2, 3}, 4, rng);
  batch.ids(0, 1) = 9;
  REQUIRE_THROWS_WITH(encoder.forward(batch.ids, batch.lengths, out, ws),
                      "lstmner: " + name +
                          ": forward: id 9 of character 1 of word 0 is outside the character "
                          "vocabulary [0, 4)");
  batch.ids(0, 1) = 1;
  const lstmner::SequenceLengths other({2, 4});
  REQUIRE_THROWS_WITH(encoder.forward(batch.ids, other, out, ws),
                      Catch::Contains("ids of shape (2, 3) do not match a batch of 2 words of at "
                                      "most 4 characters"));
  return batch;
}

}  // namespace lstmner_test
