// Catch2's main(), shared by every test executable, with one addition: a test case that skips
// itself (lstmner_test::skip, e.g. for CoNLL-2003 data that is absent) makes the executable exit
// with status 77 when nothing failed, which CTest reports as "Skipped" (SKIP_RETURN_CODE 77 in
// tests/CMakeLists.txt) instead of "Passed".
#define CATCH_CONFIG_RUNNER
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <iostream>

int main(int argc, char** argv) {
  const int failed = Catch::Session().run(argc, argv);
  if (failed == 0 && !lstmner_test::skip_reason().empty()) {
    std::cout << "SKIPPED: " << lstmner_test::skip_reason() << "\n";
    return lstmner_test::skip_exit_code;
  }
  return failed;
}
