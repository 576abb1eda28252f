// Runs a fuzz target over files, without libFuzzer: the CTest tests fuzz_replay_<target> feed it
// the committed corpus and every regression input (fuzz/corpus/<target>, fuzz/regressions/
// <target>), so that the normal and sanitizer builds re-check every input that once found a bug.
//   replay_fuzz_<target> FILE_OR_DIRECTORY...
// Files in a directory are run in name order; names starting with '.' are skipped (.gitkeep).
// Exit status 0 when every input ran (a finding aborts the process), 1 when a path is unreadable.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    std::error_code error;
    if (fs::is_directory(path, error)) {
      std::vector<fs::path> entries;
      for (const auto& entry : fs::directory_iterator(path))
        if (entry.is_regular_file() && entry.path().filename().string().rfind('.', 0) != 0)
          entries.push_back(entry.path());
      std::sort(entries.begin(), entries.end());
      files.insert(files.end(), entries.begin(), entries.end());
    } else if (fs::is_regular_file(path, error)) {
      files.push_back(path);
    } else {
      std::cerr << "replay: " << path.string() << ": no such file or directory\n";
      return 1;
    }
  }
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::cerr << "replay: cannot read " << file.string() << "\n";
      return 1;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::cout << "replay: " << files.size() << " inputs, no finding\n";
  return 0;
}
