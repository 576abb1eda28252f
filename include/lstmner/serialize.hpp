#pragma once
/// \file serialize.hpp
/// Binary model files: a little-endian writer and a bounds-checked reader for the payload, and an
/// atomic, checksummed container around it.
///
/// Payload encoding (`BinaryWriter` / `BinaryReader`), all integers and floats little-endian,
/// whatever the host:
///   u8, u32, u64, i32, i64, f32, f64   1, 4, 8, 4, 8, 4, 8 bytes (floats as their IEEE-754 bits)
///   bool                               u8, 0 or 1
///   string                             u64 byte length, then the bytes (no terminator)
///   strings                            u64 count, then each string
///   matrix                             string name, u8 scalar tag (1 = f32, 2 = f64), u64 rows,
///                                      u64 cols, then rows*cols values in column-major order
/// The reader never reads past the end of its buffer and checks every length against the bytes
/// left *before* allocating, so a corrupted length field cannot make it allocate gigabytes; a
/// matrix dimension is at most 2^31 - 1 (the largest vocabulary an int32 id can index). Views
/// (read_string_view, check_matrix) read without allocating at all, for callers that check a
/// whole file before building anything from it (detail/model_file.hpp). Every error is a
/// std::runtime_error that names the file, the byte offset and the field, e.g.
///   model file 'm.bin': truncated at byte 1234 while reading matrix 'lstm.fw.W' (...)
///
/// Container (`save_container` / `load_container`), versions 1 and 2 (the same container; the
/// version says how its payload is laid out: docs/model-format.md):
///   offset  size  field
///   0       8     magic bytes 89 4C 53 54 4D 4E 45 52 ("\x89LSTMNER")
///   8       4     u32 format version (2; 1 is read too)
///   12      8     u64 payload size n
///   20      4     u32 CRC-32 of bytes 0..19 (the header)
///   24      n     payload
///   24+n    4     u32 CRC-32 of the payload
/// The first magic byte has its high bit set, so no text file starts like a model file and a
/// transfer that strips the 8th bit is detected (the trick PNG uses). The header has its own
/// checksum so that a damaged size field is reported as corruption rather than as truncation.
/// CRC-32 is the IEEE 802.3 polynomial (reflected, 0xEDB88320), as in zlib, PNG and gzip; it
/// detects every error confined to 32 consecutive bits, in particular every changed byte.
///
/// `save_container` writes a temporary file in the target's directory, gives it the permissions of
/// the file it replaces, fsyncs it, renames it over the target and fsyncs the directory: a crash
/// (even SIGKILL) leaves either the old file or the new one, never a half-written model, and at
/// worst a hidden temporary file `.<name>.tmp-<pid>-<n>-<attempt>` that no later save reuses
/// (each opens its own with O_EXCL). On failure the temporary file is removed and the old file is
/// untouched.
///
/// Dependencies: the standard library, Eigen and tensor.hpp (for the matrix aliases); POSIX for
/// fsync (a portable fallback without fsync is used elsewhere).

#include <lstmner/tensor.hpp>

#include <Eigen/Core>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define LSTMNER_HAVE_POSIX_FILES 1
#endif

namespace lstmner {

// ----- constants of the container format ---------------------------------------------------------

/// The first 8 bytes of every model file.
inline constexpr std::array<unsigned char, 8> container_magic = {0x89, 'L', 'S', 'T',
                                                                 'M',  'N', 'E', 'R'};
/// The format version this build writes; it reads every version from
/// oldest_container_format_version to this one.
inline constexpr std::uint32_t container_format_version = 2;
inline constexpr std::uint32_t oldest_container_format_version = 1;
/// Bytes before the payload: magic, version, payload size, header CRC.
inline constexpr std::size_t container_header_size = 8 + 4 + 8 + 4;
/// Bytes after the payload: its CRC.
inline constexpr std::size_t container_trailer_size = 4;

/// Scalar type tags stored with every matrix.
enum class ScalarTag : std::uint8_t { Float32 = 1, Float64 = 2 };

template <class Scalar>
constexpr ScalarTag scalar_tag_of() {
  static_assert(std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>,
                "model files store float or double matrices");
  return std::is_same_v<Scalar, float> ? ScalarTag::Float32 : ScalarTag::Float64;
}

// ----- CRC-32
// -------------------------------------------------------------------------------------

namespace detail {

/// The 256-entry table of the reflected CRC-32 (polynomial 0xEDB88320), built at compile time.
struct Crc32Table {
  std::array<std::uint32_t, 256> entries{};
  constexpr Crc32Table() {
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
      entries[i] = c;
    }
  }
};

inline constexpr Crc32Table crc32_table{};

}  // namespace detail

/// Continues a CRC-32 over `size` more bytes; start with crc = 0. crc32 of "123456789" is
/// 0xCBF43926 (the standard check value).
inline std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) {
    crc = detail::crc32_table.entries[(crc ^ bytes[i]) & 0xFFu] ^ (crc >> 8);
  }
  return ~crc;
}

inline std::uint32_t crc32(std::string_view bytes) {
  return crc32_update(0, bytes.data(), bytes.size());
}

// ----- little-endian helpers
// ----------------------------------------------------------------------

namespace detail {

template <class UInt>
void append_le(std::string& out, UInt value) {
  static_assert(std::is_unsigned_v<UInt>, "append_le takes unsigned integers");
  for (std::size_t i = 0; i < sizeof(UInt); ++i) {
    out.push_back(static_cast<char>(static_cast<unsigned char>(value >> (8 * i))));
  }
}

template <class UInt>
UInt decode_le(const char* bytes) {
  UInt value = 0;
  for (std::size_t i = 0; i < sizeof(UInt); ++i) {
    value |= static_cast<UInt>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return value;
}

template <class Float>
using FloatBits = std::conditional_t<sizeof(Float) == 4, std::uint32_t, std::uint64_t>;

template <class Float>
FloatBits<Float> float_bits(Float value) {
  static_assert(std::numeric_limits<Float>::is_iec559, "model files store IEEE-754 floats");
  FloatBits<Float> bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

template <class Float>
Float float_from_bits(FloatBits<Float> bits) {
  Float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

inline std::string hex32(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
  return text;
}

}  // namespace detail

// ----- writer
// -------------------------------------------------------------------------------------

/// Appends values to a byte buffer in the payload encoding described at the top of this file.
class BinaryWriter {
 public:
  void write_u8(std::uint8_t v) { buffer_.push_back(static_cast<char>(v)); }
  void write_bool(bool v) { write_u8(v ? 1 : 0); }
  void write_u32(std::uint32_t v) { detail::append_le(buffer_, v); }
  void write_u64(std::uint64_t v) { detail::append_le(buffer_, v); }
  void write_i32(std::int32_t v) { write_u32(static_cast<std::uint32_t>(v)); }
  void write_i64(std::int64_t v) { write_u64(static_cast<std::uint64_t>(v)); }
  void write_f32(float v) { write_u32(detail::float_bits(v)); }
  void write_f64(double v) { write_u64(detail::float_bits(v)); }

  void write_string(std::string_view s) {
    write_u64(s.size());
    buffer_.append(s.data(), s.size());
  }

  void write_strings(const std::vector<std::string>& strings) {
    write_u64(strings.size());
    for (const auto& s : strings) write_string(s);
  }

  /// A named float or double matrix with its shape; the name is checked again when reading.
  template <class Derived>
  void write_matrix(std::string_view name, const Eigen::MatrixBase<Derived>& m) {
    using Scalar = typename Derived::Scalar;
    write_string(name);
    write_u8(static_cast<std::uint8_t>(scalar_tag_of<Scalar>()));
    write_u64(static_cast<std::uint64_t>(m.rows()));
    write_u64(static_cast<std::uint64_t>(m.cols()));
    buffer_.reserve(buffer_.size() + static_cast<std::size_t>(m.size()) * sizeof(Scalar));
    for (Index c = 0; c < m.cols(); ++c) {
      for (Index r = 0; r < m.rows(); ++r) detail::append_le(buffer_, detail::float_bits(m(r, c)));
    }
  }

  const std::string& buffer() const { return buffer_; }
  /// Moves the buffer out; the writer is empty afterwards.
  std::string take() { return std::move(buffer_); }
  std::size_t size() const { return buffer_.size(); }

 private:
  std::string buffer_;
};

// ----- reader
// -------------------------------------------------------------------------------------

/// Reads the payload encoding back from a byte buffer it does not own (the buffer must outlive the
/// reader; constructing one from a temporary std::string does not compile). Every read is
/// bounds-checked and throws std::runtime_error naming the source, the byte offset and the field.
class BinaryReader {
 public:
  /// `source` names the file in messages ("model file '<source>'"). `base_offset` is added to
  /// every reported offset: pass container_header_size when the bytes are a container's payload,
  /// so that messages give offsets into the file.
  BinaryReader(std::string_view bytes, std::string source, std::size_t base_offset = 0)
      : bytes_(bytes), source_(std::move(source)), base_offset_(base_offset) {}
  BinaryReader(std::string&& bytes, std::string source, std::size_t base_offset = 0) = delete;

  std::uint8_t read_u8(std::string_view field) { return take_le<std::uint8_t>("u8", field); }
  std::uint32_t read_u32(std::string_view field) { return take_le<std::uint32_t>("u32", field); }
  std::uint64_t read_u64(std::string_view field) { return take_le<std::uint64_t>("u64", field); }
  std::int32_t read_i32(std::string_view field) {
    return static_cast<std::int32_t>(take_le<std::uint32_t>("i32", field));
  }
  std::int64_t read_i64(std::string_view field) {
    return static_cast<std::int64_t>(take_le<std::uint64_t>("i64", field));
  }
  float read_f32(std::string_view field) {
    return detail::float_from_bits<float>(take_le<std::uint32_t>("f32", field));
  }
  double read_f64(std::string_view field) {
    return detail::float_from_bits<double>(take_le<std::uint64_t>("f64", field));
  }
  bool read_bool(std::string_view field) {
    const std::uint8_t v = take_le<std::uint8_t>("bool", field);
    if (v > 1) fail("bool '" + std::string(field) + "' is " + std::to_string(v) + ", not 0 or 1");
    return v == 1;
  }

  std::string read_string(std::string_view field) { return std::string(read_string_view(field)); }

  /// A string as a view into the reader's bytes (no allocation).
  std::string_view read_string_view(std::string_view field) {
    const std::uint64_t length = take_le<std::uint64_t>("string length", field);
    need(length, "string", field);
    const std::string_view s(bytes_.data() + position_, static_cast<std::size_t>(length));
    position_ += static_cast<std::size_t>(length);
    last_string_length_ = static_cast<std::size_t>(length);
    return s;
  }
  /// The length of the last string read.
  std::size_t last_string_length() const { return last_string_length_; }

  /// Skips `length` bytes of a field (throws when fewer are left).
  void skip(std::uint64_t length, std::string_view field) {
    field_start_ = position_;
    need(length, "bytes of", field);
    position_ += static_cast<std::size_t>(length);
  }

  std::vector<std::string> read_strings(std::string_view field) {
    const std::uint64_t count = take_le<std::uint64_t>("string count", field);
    // Every string takes at least its 8-byte length: bound the count before reserving.
    if (count > remaining() / 8) {
      truncated(
          "list of strings", field,
          std::to_string(count) + " strings need at least " + std::to_string(count) + " x 8 bytes");
    }
    std::vector<std::string> strings;
    strings.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t i = 0; i < count; ++i) strings.emplace_back(read_list_string(field, i));
    return strings;
  }

  /// String `index` of the list `field`, as a view: read_string_view, but the field's name
  /// ("field[index]") is only spelled out when the string is not there.
  std::string_view read_list_string(std::string_view field, std::uint64_t index) {
    if (remaining() >= 8) {
      const auto length = detail::decode_le<std::uint64_t>(bytes_.data() + position_);
      if (length <= remaining() - 8) {
        field_start_ = position_;
        position_ += 8;
        const std::string_view s(bytes_.data() + position_, static_cast<std::size_t>(length));
        position_ += static_cast<std::size_t>(length);
        last_string_length_ = static_cast<std::size_t>(length);
        return s;
      }
    }
    return read_string_view(std::string(field) + "[" + std::to_string(index) + "]");  // throws
  }

  /// Reads a matrix written under `name`, of any shape; converts the stored scalar type to Scalar.
  template <class Scalar>
  Matrix<Scalar> read_matrix(std::string_view name) {
    const MatrixHeader header = read_matrix_header(name);
    Matrix<Scalar> m(header.rows, header.cols);
    read_matrix_values(name, header, m);
    return m;
  }

  /// Reads a matrix written under `name` into `m`, whose shape must match the stored one: this is
  /// how a model checks that a file fits the architecture its configuration describes.
  template <class Scalar>
  void read_matrix_into(std::string_view name, Matrix<Scalar>& m) {
    const MatrixHeader header = read_matrix_header(name);
    check_shape(name, header, m.rows(), m.cols());
    read_matrix_values(name, header, m);
  }

  /// Checks, without allocating, that a matrix written under `name` is `rows` x `cols`, fully
  /// present and finite, and moves past it: what read_matrix_into would accept.
  void check_matrix(std::string_view name, Index rows, Index cols) {
    const MatrixHeader header = read_matrix_header(name);
    check_shape(name, header, rows, cols);
    for_each_value(name, header, [](Index, Index, double) {});
  }

  /// Throws unless every byte has been read.
  void expect_end() const {
    if (remaining() != 0) {
      throw std::runtime_error(context() + ": " + std::to_string(remaining()) +
                               " unexpected bytes after the end of the model data (at byte " +
                               std::to_string(base_offset_ + position_) + ")");
    }
  }

  /// "model file '<source>'".
  std::string context() const { return "model file '" + source_ + "'"; }
  /// "model file '<source>', byte N", N being where the last field read starts: the prefix for
  /// a caller's own complaint about a value it just read.
  std::string where() const {
    return context() + ", byte " + std::to_string(base_offset_ + field_start_);
  }
  /// Throws std::runtime_error("<context()>: truncated at byte <position> while reading <kind>
  /// '<field>' (<detail>)"): the complaint about a length the bytes left cannot hold.
  [[noreturn]] void truncated(const char* kind, std::string_view field,
                              const std::string& detail) const {
    throw std::runtime_error(context() + ": truncated at byte " +
                             std::to_string(base_offset_ + position_) + " while reading " + kind +
                             " '" + std::string(field) + "' (" + detail + ")");
  }
  /// Throws std::runtime_error("<where()>: <what>").
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(where() + ": " + what);
  }

  std::size_t position() const { return position_; }
  std::size_t remaining() const { return bytes_.size() - position_; }
  /// Every byte the reader reads from.
  std::string_view bytes() const { return bytes_; }
  const std::string& source() const { return source_; }

 private:
  struct MatrixHeader {
    ScalarTag tag;
    Index rows;
    Index cols;
  };

  /// The largest matrix dimension a file may declare: 2^31 - 1, the most ids an int32 indexes.
  static constexpr std::uint64_t max_dimension = 0x7FFFFFFF;

  void check_shape(std::string_view name, const MatrixHeader& header, Index rows, Index cols) {
    if (header.rows != rows || header.cols != cols) {
      fail("matrix '" + std::string(name) + "' is " + std::to_string(header.rows) + " x " +
           std::to_string(header.cols) + " in the file, the model expects " + std::to_string(rows) +
           " x " + std::to_string(cols));
    }
  }

  template <class UInt>
  UInt take_le(const char* kind, std::string_view field) {
    field_start_ = position_;
    if (remaining() < sizeof(UInt)) {
      truncated(kind, field,
                "needs " + std::to_string(sizeof(UInt)) + " bytes, " + std::to_string(remaining()) +
                    " left");
    }
    const UInt v = detail::decode_le<UInt>(bytes_.data() + position_);
    position_ += sizeof(UInt);
    return v;
  }

  /// Throws unless `length` more bytes are there.
  void need(std::uint64_t length, const char* kind, std::string_view field) {
    if (length > remaining()) {
      truncated(
          kind, field,
          "needs " + std::to_string(length) + " bytes, " + std::to_string(remaining()) + " left");
    }
  }

  MatrixHeader read_matrix_header(std::string_view name) {
    const std::string stored = read_string(std::string(name) + " (name)");
    if (stored != name) {
      fail("expected matrix '" + std::string(name) + "', found '" + stored + "'");
    }
    const std::uint8_t tag = read_u8(std::string(name) + " (scalar type)");
    if (tag != static_cast<std::uint8_t>(ScalarTag::Float32) &&
        tag != static_cast<std::uint8_t>(ScalarTag::Float64)) {
      fail("matrix '" + std::string(name) + "' has unknown scalar type tag " + std::to_string(tag) +
           " (1 = float, 2 = double)");
    }
    const std::uint64_t rows = read_u64(std::string(name) + " (rows)");
    const std::uint64_t cols = read_u64(std::string(name) + " (cols)");
    // Each dimension on its own first: with the other one 0, the byte count below is 0 whatever
    // this one says, and it must still fit an Index.
    if (rows > max_dimension || cols > max_dimension) {
      fail("matrix '" + std::string(name) + "' declares " + std::to_string(rows) + " x " +
           std::to_string(cols) + ", more than the largest dimension (" +
           std::to_string(max_dimension) + ")");
    }
    const std::uint64_t element_size = tag == 1 ? 4 : 8;
    // rows * cols * element_size <= remaining, checked without overflowing.
    const std::uint64_t capacity = remaining() / element_size;
    if (rows != 0 && cols > capacity / rows) {
      truncated("matrix", name,
                std::to_string(rows) + " x " + std::to_string(cols) + " values of " +
                    std::to_string(element_size) + " bytes, " + std::to_string(remaining()) +
                    " bytes left");
    }
    return {static_cast<ScalarTag>(tag), static_cast<Index>(rows), static_cast<Index>(cols)};
  }

  template <class Scalar>
  void read_matrix_values(std::string_view name, const MatrixHeader& header, Matrix<Scalar>& m) {
    for_each_value(name, header,
                   [&](Index r, Index c, double value) { m(r, c) = static_cast<Scalar>(value); });
  }

  /// Calls f(row, col, value) for every stored value (column-major), after checking it is
  /// finite, and moves past them (read_matrix_header has checked that they are all there).
  template <class F>
  void for_each_value(std::string_view name, const MatrixHeader& header, F&& f) {
    field_start_ = position_;
    const char* p = bytes_.data() + position_;
    for (Index c = 0; c < header.cols; ++c) {
      for (Index r = 0; r < header.rows; ++r) {
        double value;
        if (header.tag == ScalarTag::Float32) {
          value = detail::float_from_bits<float>(detail::decode_le<std::uint32_t>(p));
          p += 4;
        } else {
          value = detail::float_from_bits<double>(detail::decode_le<std::uint64_t>(p));
          p += 8;
        }
        // Trained weights are always finite (training stops on a non-finite loss): a NaN here
        // means the file was edited or damaged in a way its checksum did not reveal.
        if (!std::isfinite(value)) {
          fail("matrix '" + std::string(name) + "' holds a non-finite value at (" +
               std::to_string(r) + ", " + std::to_string(c) + ")");
        }
        f(r, c, value);
      }
    }
    position_ = static_cast<std::size_t>(p - bytes_.data());
  }

  std::string_view bytes_;
  std::string source_;
  std::size_t base_offset_ = 0;
  std::size_t position_ = 0;
  std::size_t field_start_ = 0;
  std::size_t last_string_length_ = 0;
};

// ----- container
// ----------------------------------------------------------------------------------

/// The complete bytes of a model file holding `payload`, marked with format `version`.
inline std::string encode_container(std::string_view payload,
                                    std::uint32_t version = container_format_version) {
  std::string out;
  out.reserve(container_header_size + payload.size() + container_trailer_size);
  out.append(reinterpret_cast<const char*>(container_magic.data()), container_magic.size());
  detail::append_le(out, version);
  detail::append_le(out, static_cast<std::uint64_t>(payload.size()));
  detail::append_le(out, crc32(out));
  out.append(payload.data(), payload.size());
  detail::append_le(out, crc32(payload));
  return out;
}

/// A checked container: its format version and a view of its payload inside the file's bytes.
struct ContainerView {
  std::uint32_t version = 0;
  std::string_view payload;
};

/// Checks the model-file bytes `file` read from `path` (used in messages) and returns a view of
/// its payload, without copying. Throws std::runtime_error("model file '<path>': ...") when they
/// are not a complete, intact model file of a version this build reads: not a model file, other
/// version, truncated, trailing bytes, checksum mismatch.
inline ContainerView open_container(std::string_view file, const std::string& path) {
  const std::string where = "model file '" + path + "'";
  const std::size_t size = file.size();
  const std::size_t minimum = container_header_size + container_trailer_size;
  auto truncated = [&](const std::string& detail) {
    throw std::runtime_error(where + ": truncated: the file has " + std::to_string(size) +
                             " bytes, " + detail);
  };
  const auto* magic = reinterpret_cast<const char*>(container_magic.data());
  const std::size_t magic_bytes = std::min(size, container_magic.size());
  if (file.substr(0, magic_bytes) != std::string_view(magic, magic_bytes)) {
    throw std::runtime_error(where +
                             ": not an lstmner model file (it does not start with the magic "
                             "bytes \\x89LSTMNER)");
  }
  if (size < 12) truncated("a model file has at least " + std::to_string(minimum));
  const auto version = detail::decode_le<std::uint32_t>(file.data() + 8);
  if (version < oldest_container_format_version || version > container_format_version) {
    throw std::runtime_error(
        where + ": format version " + std::to_string(version) + ", but this build of lstmner " +
        "reads only versions " + std::to_string(oldest_container_format_version) + " to " +
        std::to_string(container_format_version) +
        (version > container_format_version ? " (the file was written by a newer lstmner)"
                                            : " (no lstmner ever wrote that version)"));
  }
  if (size < container_header_size)
    truncated("a model file has at least " + std::to_string(minimum));
  const auto header_crc = detail::decode_le<std::uint32_t>(file.data() + 20);
  if (header_crc != crc32(file.substr(0, 20))) {
    throw std::runtime_error(where + ": corrupted header (checksum mismatch: stored " +
                             detail::hex32(header_crc) + ", computed " +
                             detail::hex32(crc32(file.substr(0, 20))) + ")");
  }
  const auto payload_size = detail::decode_le<std::uint64_t>(file.data() + 12);
  const std::uint64_t available = size - container_header_size;
  if (payload_size > available || available - payload_size < container_trailer_size) {
    // Report the expected size without overflowing on absurd sizes (the header CRC makes them
    // unlikely, but a deliberately crafted file could still hold one).
    const bool representable = payload_size <= std::numeric_limits<std::uint64_t>::max() - minimum;
    truncated("the header announces " + std::to_string(payload_size) + " payload bytes" +
              (representable ? ", so " + std::to_string(payload_size + minimum) + " bytes in all"
                             : std::string()));
  }
  const std::uint64_t extra = available - payload_size - container_trailer_size;
  if (extra != 0) {
    throw std::runtime_error(where + ": " + std::to_string(extra) +
                             " trailing bytes after the end of the model (the file has " +
                             std::to_string(size) + " bytes, the header announces " +
                             std::to_string(payload_size + minimum) + ")");
  }
  const std::string_view payload = file.substr(container_header_size, payload_size);
  const auto stored = detail::decode_le<std::uint32_t>(file.data() + container_header_size +
                                                       static_cast<std::size_t>(payload_size));
  const std::uint32_t computed = crc32(payload);
  if (stored != computed) {
    throw std::runtime_error(where + ": corrupted: checksum mismatch (stored " +
                             detail::hex32(stored) + ", computed " + detail::hex32(computed) + ")");
  }
  return {version, payload};
}

/// open_container's payload, copied.
inline std::string decode_container(std::string_view file, const std::string& path) {
  return std::string(open_container(file, path).payload);
}

namespace detail {

inline std::string errno_text(int error) {
  return std::generic_category().message(error);
}

/// A name for the temporary file next to `target`: hidden, unique in this process.
inline std::filesystem::path temporary_path_for(const std::filesystem::path& target,
                                                unsigned attempt) {
  static std::atomic<unsigned long> counter{0};
#ifdef LSTMNER_HAVE_POSIX_FILES
  const long pid = static_cast<long>(::getpid());
#else
  const long pid = 0;
#endif
  const std::string name = "." + target.filename().string() + ".tmp-" + std::to_string(pid) + "-" +
                           std::to_string(counter.fetch_add(1)) + "-" + std::to_string(attempt);
  return target.parent_path() / name;
}

}  // namespace detail

/// The steps of save_container, in order, for tests that stop a save part way (see
/// detail::save_step_hook).
enum class SaveStep { temporary_created, written, flushed, renamed };

namespace detail {

/// Called at each SaveStep of every save_container when set: the crash-safety test kills its
/// process there (tests/test_model_file.cpp). Not for anything else.
inline void (*save_step_hook)(SaveStep) = nullptr;

inline void save_step(SaveStep step) {
  if (save_step_hook != nullptr) save_step_hook(step);
}

}  // namespace detail

namespace detail {

/// Writes `bytes` to `path` atomically (see save_container); `where` starts every message.
inline void write_atomically(const std::string& path, std::string_view bytes,
                             const std::string& where) {
  const std::filesystem::path target(path);
  if (target.filename().empty()) throw std::runtime_error(where + ": not a file name");
  const std::filesystem::path directory =
      target.parent_path().empty() ? std::filesystem::path(".") : target.parent_path();
#ifdef LSTMNER_HAVE_POSIX_FILES
  std::filesystem::path temp;
  int fd = -1;
  for (unsigned attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = detail::temporary_path_for(target, attempt);
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) {
    throw std::runtime_error(where + ": cannot create a temporary file in '" + directory.string() +
                             "': " + detail::errno_text(errno));
  }
  auto fail = [&](const std::string& step, int error) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    throw std::runtime_error(where + ": " + step + ": " + detail::errno_text(error));
  };
  // A file saved over another keeps the old file's permission bits (not its owner: only root
  // could give the new file another owner).
  struct stat old_status {};
  if (::stat(target.c_str(), &old_status) == 0 && S_ISREG(old_status.st_mode) &&
      ::fchmod(fd, old_status.st_mode & 07777) != 0) {
    fail("cannot give the new file the permissions of the old one", errno);
  }
  detail::save_step(SaveStep::temporary_created);
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", errno);
    }
    written += static_cast<std::size_t>(n);
  }
  detail::save_step(SaveStep::written);
  if (::fsync(fd) != 0) fail("cannot flush to disk", errno);
  const int closed = ::close(fd);
  fd = -1;
  if (closed != 0) fail("cannot close the temporary file", errno);
  detail::save_step(SaveStep::flushed);
  if (::rename(temp.c_str(), target.c_str()) != 0) fail("cannot replace the file", errno);
  detail::save_step(SaveStep::renamed);
  // Make the rename itself durable. Failing to open or sync a directory (some file systems do not
  // allow it) does not undo a completed, atomic rename, so it is not an error.
  const int dir_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    (void)::fsync(dir_fd);
    ::close(dir_fd);
  }
#else
  const std::filesystem::path temp = detail::temporary_path_for(target, 0);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      out.close();
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      throw std::runtime_error(where + ": cannot write '" + temp.string() + "'");
    }
  }
  std::error_code error;
  std::filesystem::rename(temp, target, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw std::runtime_error(where + ": cannot replace the file: " + error.message());
  }
#endif
}

}  // namespace detail

/// Writes `payload` as a model file at `path`, atomically: temporary file in the same directory
/// (with the permissions of the file it replaces, when there is one), fsync, rename over `path`,
/// fsync of the directory. Throws std::runtime_error naming the file and the system error; the
/// temporary file is removed on every failure.
inline void save_container(const std::string& path, std::string_view payload) {
  detail::write_atomically(path, encode_container(payload), "model file '" + path + "'");
}

/// Writes any file the way save_container writes a model (the tools' JSON outputs): a reader
/// sees the old file or the new one, never half of one. Throws std::runtime_error("'<path>':
/// <what failed>: <the system's reason>").
inline void write_file_atomically(const std::string& path, std::string_view bytes) {
  detail::write_atomically(path, bytes, "'" + path + "'");
}

/// Every byte of the model file at `path`, read with one allocation of the file's size. Throws
/// std::runtime_error naming the file and the reason: missing, a directory or other non-regular
/// file, unreadable (with the system's reason, e.g. "Permission denied").
inline std::string read_model_file(const std::string& path) {
  const std::string where = "model file '" + path + "'";
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    const bool missing = !error || error == std::errc::no_such_file_or_directory;
    throw std::runtime_error(where + (missing ? ": does not exist" : ": " + error.message()));
  }
  if (std::filesystem::is_directory(status)) throw std::runtime_error(where + ": is a directory");
  // A device or a pipe could stream forever (/dev/zero): model files are regular files.
  if (!std::filesystem::is_regular_file(status)) {
    throw std::runtime_error(where + ": is not a regular file");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(
        where + ": cannot open: " +
        (errno != 0 ? detail::errno_text(errno) : std::string("unknown error")));
  }
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  std::string file;
  if (!error && size <= std::numeric_limits<std::size_t>::max() / 2) {
    file.resize(static_cast<std::size_t>(size));
    in.read(file.data(), static_cast<std::streamsize>(file.size()));
    file.resize(static_cast<std::size_t>(in.gcount()));
  }
  // A file that grew while being read: the rest, in chunks (its checksum then fails, most likely).
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
    file.append(chunk, static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) throw std::runtime_error(where + ": read error");
  return file;
}

/// Reads the model file at `path` and returns its payload: read_model_file's and
/// decode_container's failures.
inline std::string load_container(const std::string& path) {
  std::string file = read_model_file(path);
  const ContainerView view = open_container(file, path);
  const std::size_t size = view.payload.size();
  file.erase(0, container_header_size);  // the payload in place, without a second copy
  file.resize(size);
  return file;
}

}  // namespace lstmner
