#pragma once
// Fixtures shared by the tests of the character-level word encoders (test_char_cnn.cpp,
// test_char_bilstm.cpp): a batch of words as those layers take it, and random inputs.

#include <lstmner/random.hpp>
#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <cstddef>
#include <cstdint>
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

}  // namespace lstmner_test
