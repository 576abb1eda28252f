#pragma once
// write_file_atomically(): the tools' way to write an output file (a report, a tuning summary,
// the metrics JSON): lstmner::write_file_atomically (serialize.hpp), the way a model is saved —
// a temporary file beside the target with the old file's permissions, flushed, then renamed over
// it — so a reader never sees half a file, and a crash leaves the old one in place.

#include <lstmner/serialize.hpp>

#include <string>

/// Writes `text` to `path` atomically; std::runtime_error naming the file and the system's
/// reason on failure.
inline void write_file_atomically(const std::string& path, const std::string& text) {
  lstmner::write_file_atomically(path, text);
}
