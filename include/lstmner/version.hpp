#pragma once
/// \file version.hpp
/// The library version, defined once; CMake reads it from here.

#define LSTMNER_VERSION_MAJOR 0
#define LSTMNER_VERSION_MINOR 1
#define LSTMNER_VERSION_PATCH 0

namespace lstmner {

/// "major.minor.patch", for logs and model files.
inline constexpr const char* version_string = "0.1.0";

inline constexpr int version_major = LSTMNER_VERSION_MAJOR;
inline constexpr int version_minor = LSTMNER_VERSION_MINOR;
inline constexpr int version_patch = LSTMNER_VERSION_PATCH;

}  // namespace lstmner
