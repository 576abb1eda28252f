#pragma once
/// \file metrics/detail/text.hpp
/// Text helpers of the report formatters: printf into a std::string, and the length in characters
/// and left padding of a UTF-8 string (seqeval's column widths).

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace lstmner {

namespace detail {

template <class... Args>
std::string format_c(const char* format, Args... args) {
  char buffer[256];
  const int n = std::snprintf(buffer, sizeof buffer, format, args...);
  if (n < 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buffer)
    return std::string(buffer, static_cast<std::size_t>(n));
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), format, args...);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

/// Characters of a UTF-8 string (Python's len()), for seqeval's column widths.
inline std::size_t utf8_length(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

inline std::string pad_left(const std::string& s, std::size_t width) {
  const std::size_t len = utf8_length(s);
  return len >= width ? s : std::string(width - len, ' ') + s;
}

}  // namespace detail

}  // namespace lstmner
