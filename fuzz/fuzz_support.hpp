#pragma once
// Shared by lstmner's fuzz targets (fuzz/fuzz_*.cpp). A target is a function
//   LSTMNER_FUZZ_TARGET(data, size) { ... }
// that libFuzzer calls with every input it makes (fuzz build: clang's -fsanitize=fuzzer), and that
// replay_main.cpp calls with the committed corpus and regression inputs (every other build, as
// CTest tests). An input the library rejects with its documented exception is fine; a crash, a
// sanitizer report, a leak, an allocation over libFuzzer's -malloc_limit_mb, or a violated
// FUZZ_CHECK (an invariant the target states) is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#define LSTMNER_FUZZ_TARGET(data, size) \
  extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)

namespace lstmner_fuzz {

[[noreturn]] inline void violated(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, condition);
  std::abort();
}

/// Reads option bytes off the front of an input; the rest is the text under test. Past the end,
/// bytes read as 0, so every input, even an empty one, is a valid choice of options.
class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size)
      : bytes_(reinterpret_cast<const char*>(data), size) {}

  std::uint8_t byte() {
    if (bytes_.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(bytes_.front());
    bytes_.remove_prefix(1);
    return b;
  }
  std::string_view rest() const { return bytes_; }

 private:
  std::string_view bytes_;
};

}  // namespace lstmner_fuzz

#define FUZZ_CHECK(condition)                                                   \
  do {                                                                          \
    if (!(condition)) ::lstmner_fuzz::violated(#condition, __FILE__, __LINE__); \
  } while (0)
