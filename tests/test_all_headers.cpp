// Every public header, included here and again in all_headers_second_tu.cpp: if a header defines
// a non-inline function or variable, linking the two translation units fails.
#include "lstmner_all_headers.hpp"

#include <catch2/catch.hpp>

int lstmner_second_translation_unit_version();

TEST_CASE("every header compiles on its own and links from two translation units") {
  REQUIRE(lstmner_second_translation_unit_version() ==
          lstmner::version_major * 10000 + lstmner::version_minor * 100 + lstmner::version_patch);
}
