// Every public header, included here and again in all_headers_second_tu.cpp: if a header defines
// a non-inline function or variable, linking the two translation units fails. Each header is also
// compiled alone in a translation unit of its own (tests/CMakeLists.txt generates one .cpp per
// header into the object library lstmner_each_header, linked into this test): a header that does
// not include what it uses fails to build.
#include "lstmner_all_headers.hpp"

#include <catch2/catch.hpp>

int lstmner_second_translation_unit_version();

TEST_CASE("every header compiles on its own and links from two translation units") {
  REQUIRE(lstmner_second_translation_unit_version() ==
          lstmner::version_major * 10000 + lstmner::version_minor * 100 + lstmner::version_patch);
}
