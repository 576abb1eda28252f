// Fuzz target: the model loader on a payload in a valid container (checksums computed here, so
// that every mutation reaches the payload's reader, as a deliberately edited file would).
// Input: one byte whose lowest bit picks the format version (0: format 2, 1: format 1), then the
// payload. Invariants as in fuzz_model_file.

#include <lstmner/tagger.hpp>

#include "fuzz_support.hpp"
#include "fuzz_tagger.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

LSTMNER_FUZZ_TARGET(data, size) {
  lstmner_fuzz::FuzzInput input(data, size);
  const std::uint32_t version = (input.byte() & 1) != 0 ? 1 : 2;
  const std::string file = lstmner::encode_container(input.rest(), version);
  try {
    lstmner_fuzz::check_loaded(lstmner::Tagger<float>::from_bytes(file, "fuzz.model"));
  } catch (const std::runtime_error&) {
    // a rejected payload: what the loader is for
  }
  return 0;
}
