#pragma once
// Shared helpers for lstmner's tests.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace lstmner_test {

/// The CoNLL-2003 directory (train.txt, valid.txt, test.txt) named by LSTMNER_DATA, or nothing.
/// Tests that need it call this and return early; the WARN makes the skip visible in the output.
inline std::optional<std::filesystem::path> conll2003_dir() {
  const char* env = std::getenv("LSTMNER_DATA");
  if (env != nullptr && *env != '\0') {
    std::filesystem::path dir(env);
    if (std::filesystem::exists(dir / "train.txt")) return dir;
  }
  WARN(
      "SKIPPED: CoNLL-2003 not found (set LSTMNER_DATA to the directory holding train.txt, "
      "valid.txt and test.txt)");
  return std::nullopt;
}

/// A file under tests/data (LSTMNER_TEST_DATA is set by CTest).
inline std::filesystem::path test_data(const std::string& name) {
  const char* env = std::getenv("LSTMNER_TEST_DATA");
  return std::filesystem::path(env ? env : "tests/data") / name;
}

}  // namespace lstmner_test
