#pragma once
// Shared helpers for lstmner's tests.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <string>

namespace lstmner_test {

/// The exit status of a test executable whose test cases skipped themselves (CTest's
/// SKIP_RETURN_CODE for it, set in tests/CMakeLists.txt).
inline constexpr int skip_exit_code = 77;

/// Why a test case of this run skipped itself; empty when none did.
inline std::string& skip_reason() {
  static std::string reason;
  return reason;
}

/// Marks the running test case as skipped for `reason`: it is printed, and the executable exits
/// with skip_exit_code when nothing failed (catch_main.cpp). The test case returns after it.
inline void skip(const std::string& reason) {
  if (skip_reason().empty()) skip_reason() = reason;
  WARN("SKIPPED: " << reason);
}

/// The CoNLL-2003 directory named by LSTMNER_DATA, when it holds every one of `files` (paths in
/// it); otherwise the test is skipped (skip(), naming what is missing) and nothing is returned.
/// Test cases that call it are tagged [conll2003]: CTest runs them as a test of their own
/// (lstmner_add_test(... CONLL2003)), which shows as skipped without the data.
inline std::optional<std::filesystem::path> conll2003_dir(
    std::initializer_list<const char*> files = {"train.txt", "valid.txt", "test.txt"}) {
  const char* env = std::getenv("LSTMNER_DATA");
  if (env == nullptr || *env == '\0') {
    skip(
        "CoNLL-2003 not found: set LSTMNER_DATA to the directory holding train.txt, valid.txt "
        "and test.txt");
    return std::nullopt;
  }
  const std::filesystem::path dir(env);
  for (const char* file : files) {
    if (!std::filesystem::exists(dir / file)) {
      skip("CoNLL-2003: " + (dir / file).string() + " not found (LSTMNER_DATA=" + env + ")");
      return std::nullopt;
    }
  }
  return dir;
}

/// A file under tests/data (LSTMNER_TEST_DATA is set by CTest).
inline std::filesystem::path test_data(const std::string& name) {
  const char* env = std::getenv("LSTMNER_TEST_DATA");
  return std::filesystem::path(env ? env : "tests/data") / name;
}

}  // namespace lstmner_test
