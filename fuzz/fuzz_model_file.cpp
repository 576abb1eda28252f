// Fuzz target: the model loader on raw bytes (Tagger::from_bytes: the container, then the
// payload). Input: a model file. Most mutations fail the container's checksums; the payload
// itself is fuzzed behind a valid container by fuzz_model_payload.
// Invariants for every file that loads: it tags (one tag per token, valid in its output scheme),
// and saved again it loads again and tags the same.

#include <lstmner/tagger.hpp>

#include "fuzz_support.hpp"
#include "fuzz_tagger.hpp"

#include <stdexcept>
#include <string_view>

LSTMNER_FUZZ_TARGET(data, size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    lstmner_fuzz::check_loaded(lstmner::Tagger<float>::from_bytes(bytes, "fuzz.model"));
  } catch (const std::runtime_error&) {
    // a rejected file: what the loader is for
  }
  return 0;
}
