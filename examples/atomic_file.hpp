#pragma once
// write_file_atomically(): the tools' way to write an output file (a report, a tuning summary):
// the text goes to a temporary file beside the target, which is then renamed over it, so a
// reader never sees half a file, and a crash leaves the old one in place.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include <unistd.h>

/// Writes `text` to `path` atomically; std::runtime_error naming the file and the system's
/// reason on failure.
inline void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) {
      const std::string reason = std::strerror(errno);
      std::remove(temporary.c_str());
      throw std::runtime_error("cannot write " + path + ": " + reason);
    }
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) {
    std::remove(temporary.c_str());
    throw std::runtime_error("cannot write " + path + ": " + ec.message());
  }
}
