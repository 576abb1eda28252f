#pragma once
/// \file metrics/detail/json.hpp
/// JSON text for to_json(): numbers in shortest round-trip form, escaped strings.

#include <lstmner/metrics/detail/text.hpp>

#include <charconv>
#include <string>
#include <string_view>

namespace lstmner {

namespace detail {

inline std::string json_number(double value) {
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  std::string s(buffer, result.ptr);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += format_c("\\u%04x", static_cast<unsigned>(c));
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace detail

}  // namespace lstmner
