#pragma once
// What the model-file fuzz targets require of every model that loads.

#include <lstmner/tagger.hpp>

#include "fuzz_support.hpp"

#include <string>
#include <vector>

namespace lstmner_fuzz {

inline void check_loaded(lstmner::Tagger<float> tagger) {
  using namespace lstmner;
  tagger.set_threads(1);  // no worker threads per input
  FUZZ_CHECK(!tagger.tags().empty());
  FUZZ_CHECK(!tagger.network().has_gradients());
  const std::vector<std::vector<std::string>> sentences = {
      {"EU", "rejects", "German", "call", "."}, {}, {"Peter", "Blackburn", "Zürich", "1996"}};
  const auto tags = tagger.predict(sentences);
  FUZZ_CHECK(tags.size() == sentences.size());
  for (std::size_t s = 0; s < tags.size(); ++s) {
    FUZZ_CHECK(tags[s].size() == sentences[s].size());
    for (const std::string& t : tags[s]) FUZZ_CHECK(tag_problem(t, tagger.output_scheme()).empty());
  }
  (void)tagger.entities(sentences[0]);
  // Saved again (format 2), it loads again and tags the same.
  Tagger<float> again = Tagger<float>::from_bytes(tagger.to_bytes(), "again.model");
  again.set_threads(1);
  FUZZ_CHECK(again.predict(sentences) == tags);
}

}  // namespace lstmner_fuzz
