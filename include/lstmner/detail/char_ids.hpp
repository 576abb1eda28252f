#pragma once
/// \file detail/char_ids.hpp
/// The check of a batch of character ids that the character-level word encoders (char_cnn.hpp,
/// char_bilstm.hpp) run at the start of every forward and backward pass.

#include <lstmner/sequence_lengths.hpp>
#include <lstmner/tensor.hpp>

#include <cstdint>
#include <string>

namespace lstmner {
namespace detail {

/// Throws std::invalid_argument ("lstmner: <layer>: <pass>: ...") unless `lengths` holds at
/// least one word, `ids` is (W, L) for it (W words, L the longest) and every id of a real
/// character is in [0, vocab_size). Padded positions are not read. Messages are built only on
/// failure: this runs in every training step, which must not allocate.
inline void check_char_ids(const Tensor2<std::int32_t>& ids, const SequenceLengths& lengths,
                           Index vocab_size, const char* layer, const char* pass) {
  const auto who = [layer, pass] { return std::string(layer) + ": " + pass + ": "; };
  if (lengths.batch_size() < 1) require(false, who() + "no word lengths given");
  if (ids.dim(0) != lengths.batch_size() || ids.dim(1) != lengths.max_length()) {
    require(false, who() + "ids of shape " + shape_string(ids.shape()) +
                       " do not match a batch of " + std::to_string(lengths.batch_size()) +
                       " words of at most " + std::to_string(lengths.max_length()) +
                       " characters (expected (" + std::to_string(lengths.batch_size()) + ", " +
                       std::to_string(lengths.max_length()) + "))");
  }
  for (Index w = 0; w < lengths.batch_size(); ++w) {
    for (Index p = 0; p < lengths[w]; ++p) {
      const Index id = ids(w, p);
      if (id >= 0 && id < vocab_size) continue;
      require(false, who() + "id " + std::to_string(id) + " of character " + std::to_string(p) +
                         " of word " + std::to_string(w) +
                         " is outside the character vocabulary [0, " + std::to_string(vocab_size) +
                         ")");
    }
  }
}

}  // namespace detail
}  // namespace lstmner
