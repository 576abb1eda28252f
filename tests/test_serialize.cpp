#include <lstmner/serialize.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace lstmner;
namespace fs = std::filesystem;

namespace {

/// A fresh, empty directory under the system's temporary directory, removed at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device seed;
    path = fs::temp_directory_path() /
           ("lstmner_test_serialize_" + std::to_string(seed()) + std::to_string(seed()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path))
      names.push_back(e.path().filename().string());
    return names;
  }
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// A payload shaped like a small model: header fields, strings, and two matrices.
std::string sample_payload() {
  BinaryWriter out;
  out.write_string("lstmner.Test");
  out.write_u32(7);
  out.write_i32(-3);
  out.write_f64(0.25);
  out.write_strings({"<pad>", "<unk>", "Zürich", ""});
  Matrix<float> w(3, 2);
  w << 1, 2, 3, 4, 5, 6;
  out.write_matrix("lstm.fw.W", w);
  Matrix<double> b(4, 1);
  b << -1.5, 0, 1e-300, 7;
  out.write_matrix("dense.b", b);
  return out.take();
}

/// Reads everything sample_payload() wrote; throws on any inconsistency.
void read_sample_payload(const std::string& payload) {
  BinaryReader in(payload, "sample");
  if (in.read_string("kind") != "lstmner.Test") in.fail("wrong kind");
  in.read_u32("u32");
  in.read_i32("i32");
  in.read_f64("f64");
  in.read_strings("words");
  Matrix<float> w(3, 2);
  in.read_matrix_into("lstm.fw.W", w);
  Matrix<double> b(4, 1);
  in.read_matrix_into("dense.b", b);
  in.expect_end();
}

}  // namespace

TEST_CASE("crc32 matches the standard check value and can be computed in pieces") {
  REQUIRE(crc32("") == 0u);
  REQUIRE(crc32("123456789") == 0xCBF43926u);
  REQUIRE(crc32("a") == 0xE8B7BE43u);
  const std::string text = "The quick brown fox jumps over the lazy dog";
  REQUIRE(crc32(text) == 0x414FA339u);
  const std::uint32_t first = crc32_update(0, text.data(), 10);
  REQUIRE(crc32_update(first, text.data() + 10, text.size() - 10) == crc32(text));
}

TEST_CASE("the writer is little-endian whatever the host") {
  BinaryWriter out;
  out.write_u32(0x01020304u);
  out.write_u64(0x1122334455667788ull);
  out.write_i32(-2);
  out.write_f32(1.0f);  // 0x3F800000
  const std::string& b = out.buffer();
  REQUIRE(b.size() == 4 + 8 + 4 + 4);
  const std::vector<unsigned> expected = {0x04, 0x03, 0x02, 0x01, 0x88, 0x77, 0x66,
                                          0x55, 0x44, 0x33, 0x22, 0x11, 0xFE, 0xFF,
                                          0xFF, 0xFF, 0x00, 0x00, 0x80, 0x3F};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("byte " << i);
    REQUIRE(static_cast<unsigned char>(b[i]) == expected[i]);
  }
}

TEST_CASE("every value type survives a write and a read bit for bit") {
  BinaryWriter out;
  out.write_u8(250);
  out.write_bool(true);
  out.write_bool(false);
  out.write_u32(std::numeric_limits<std::uint32_t>::max());
  out.write_u64(std::numeric_limits<std::uint64_t>::max() - 5);
  out.write_i32(std::numeric_limits<std::int32_t>::min());
  out.write_i64(-1234567890123LL);
  out.write_f32(-0.0f);
  out.write_f32(std::numeric_limits<float>::denorm_min());
  out.write_f64(std::numeric_limits<double>::infinity());
  out.write_f64(0.1);
  out.write_string(std::string("a\0b", 3));
  out.write_string("");
  out.write_strings({"O", "B-PER", "naïve", std::string(1000, 'x')});
  Matrix<float> wf(2, 3);
  wf << 0.1f, -2.5f, 3e-20f, 4e20f, -0.0f, 6.0f;
  Matrix<double> wd(3, 1);
  wd << 1.0 / 3.0, -1e300, 5e-324;
  Matrix<double> empty(0, 4);
  out.write_matrix("wf", wf);
  out.write_matrix("wd", wd);
  out.write_matrix("empty", empty);
  out.write_matrix("wf again", wf);

  const std::string bytes = out.take();
  BinaryReader in(bytes, "round trip");
  REQUIRE(in.read_u8("u8") == 250);
  REQUIRE(in.read_bool("t"));
  REQUIRE_FALSE(in.read_bool("f"));
  REQUIRE(in.read_u32("u32") == std::numeric_limits<std::uint32_t>::max());
  REQUIRE(in.read_u64("u64") == std::numeric_limits<std::uint64_t>::max() - 5);
  REQUIRE(in.read_i32("i32") == std::numeric_limits<std::int32_t>::min());
  REQUIRE(in.read_i64("i64") == -1234567890123LL);
  const float negative_zero = in.read_f32("f32");
  REQUIRE(negative_zero == 0.0f);
  REQUIRE(std::signbit(negative_zero));
  REQUIRE(in.read_f32("denorm") == std::numeric_limits<float>::denorm_min());
  REQUIRE(in.read_f64("inf") == std::numeric_limits<double>::infinity());
  REQUIRE(in.read_f64("0.1") == 0.1);
  REQUIRE(in.read_string("nul") == std::string("a\0b", 3));
  REQUIRE(in.read_string("empty").empty());
  REQUIRE(in.read_strings("tags") ==
          std::vector<std::string>{"O", "B-PER", "naïve", std::string(1000, 'x')});
  Matrix<float> wf2(2, 3);
  in.read_matrix_into("wf", wf2);
  REQUIRE((wf2.array() == wf.array()).all());
  const Matrix<double> wd2 = in.read_matrix<double>("wd");
  REQUIRE(wd2.rows() == 3);
  REQUIRE((wd2.array() == wd.array()).all());
  const Matrix<double> empty2 = in.read_matrix<double>("empty");
  REQUIRE(empty2.rows() == 0);
  REQUIRE(empty2.cols() == 4);
  // A float matrix read as double converts exactly.
  const Matrix<double> widened = in.read_matrix<double>("wf again");
  REQUIRE((widened.array() == wf.cast<double>().array()).all());
  REQUIRE(in.remaining() == 0);
  REQUIRE_NOTHROW(in.expect_end());
}

TEST_CASE("the reader names the file, the byte and the field when data ends early") {
  const std::string payload = sample_payload();
  // Every prefix of a valid payload: never a crash, never an out-of-bounds read (ASan), always a
  // message that says where it stopped.
  for (std::size_t k = 0; k < payload.size(); ++k) {
    INFO("prefix of " << k << " bytes");
    const std::string prefix = payload.substr(0, k);
    REQUIRE_THROWS_WITH(read_sample_payload(prefix),
                        Catch::StartsWith("model file 'sample': truncated at byte ") &&
                            Catch::Contains(" while reading "));
  }
  REQUIRE_NOTHROW(read_sample_payload(payload));

  // One exact message.
  BinaryWriter out;
  out.write_u32(1);
  out.write_u8(9);
  const std::string bytes = out.take();
  BinaryReader in(bytes, "m.bin", container_header_size);
  in.read_u32("version");
  REQUIRE_THROWS_WITH(in.read_u32("hidden size"),
                      "model file 'm.bin': truncated at byte 28 while reading u32 'hidden size' "
                      "(needs 4 bytes, 1 left)");
}

TEST_CASE("absurd lengths are rejected before anything is allocated") {
  SECTION("a string claiming 2^63 bytes") {
    BinaryWriter out;
    out.write_u64(std::uint64_t{1} << 63);
    out.write_string("tiny");
    const std::string bytes = out.take();
    BinaryReader in(bytes, "m.bin");
    REQUIRE_THROWS_WITH(in.read_string("word"),
                        Catch::Contains("truncated at byte 8 while reading string 'word'") &&
                            Catch::Contains("needs 9223372036854775808 bytes, 12 left"));
  }
  SECTION("a list claiming 2^40 strings") {
    BinaryWriter out;
    out.write_u64(std::uint64_t{1} << 40);
    out.write_string("a");
    const std::string bytes = out.take();
    BinaryReader in(bytes, "m.bin");
    REQUIRE_THROWS_WITH(in.read_strings("vocabulary"),
                        Catch::Contains("while reading list of strings 'vocabulary'"));
  }
  SECTION("a matrix whose rows x cols overflows 64 bits") {
    BinaryWriter out;
    out.write_string("W");
    out.write_u8(1);
    out.write_u64(std::uint64_t{1} << 40);
    out.write_u64(std::uint64_t{1} << 40);
    out.write_f32(1.0f);
    const std::string bytes = out.take();
    BinaryReader in(bytes, "m.bin");
    REQUIRE_THROWS_WITH(in.read_matrix<float>("W"),
                        Catch::Contains("matrix 'W' declares 1099511627776 x 1099511627776") &&
                            Catch::Contains("more than the largest dimension (2147483647)"));
  }
  SECTION("a matrix of dimensions under the limit whose values are not there") {
    BinaryWriter out;
    out.write_string("W");
    out.write_u8(2);
    out.write_u64(0x7FFFFFFF);
    out.write_u64(0x7FFFFFFF);
    out.write_f64(1.0);
    const std::string bytes = out.take();
    BinaryReader in(bytes, "m.bin");
    REQUIRE_THROWS_WITH(in.read_matrix<float>("W"),
                        Catch::Contains("truncated at byte") &&
                            Catch::Contains("while reading matrix 'W'") &&
                            Catch::Contains("2147483647 x 2147483647 values of 8 bytes"));
  }
  SECTION("a matrix with 0 rows and an absurd column count (or the other way round)") {
    // rows * cols = 0 needs no bytes, so the byte bound alone let the other dimension through,
    // cast to a negative Index. Each dimension is bounded on its own.
    for (const bool rows_zero : {true, false}) {
      BinaryWriter out;
      out.write_string("W");
      out.write_u8(1);
      out.write_u64(rows_zero ? 0 : std::uint64_t{1} << 63);
      out.write_u64(rows_zero ? std::uint64_t{1} << 63 : 0);
      const std::string bytes = out.take();
      BinaryReader in(bytes, "m.bin");
      REQUIRE_THROWS_WITH(in.read_matrix<float>("W"),
                          Catch::Contains("more than the largest dimension"));
      BinaryReader again(bytes, "m.bin");
      Matrix<float> m(0, 3);
      REQUIRE_THROWS_WITH(again.read_matrix_into("W", m),
                          Catch::Contains("more than the largest dimension"));
      BinaryReader checked(bytes, "m.bin");
      REQUIRE_THROWS_WITH(checked.check_matrix("W", 0, 3),
                          Catch::Contains("more than the largest dimension"));
    }
  }
}

TEST_CASE("the reader rejects wrong names, shapes, scalar tags, booleans and trailing data") {
  Matrix<float> w = Matrix<float>::Ones(2, 2);
  BinaryWriter out;
  out.write_matrix("lstm.fw.W", w);
  const std::string bytes = out.take();
  {
    BinaryReader in(bytes, "m.bin");
    Matrix<float> target(2, 2);
    REQUIRE_THROWS_WITH(in.read_matrix_into("lstm.fw.U", target),
                        "model file 'm.bin', byte 0: expected matrix 'lstm.fw.U', found "
                        "'lstm.fw.W'");
  }
  {
    BinaryReader in(bytes, "m.bin");
    Matrix<float> target(3, 2);
    REQUIRE_THROWS_WITH(in.read_matrix_into("lstm.fw.W", target),
                        Catch::Contains("matrix 'lstm.fw.W' is 2 x 2 in the file, the model "
                                        "expects 3 x 2"));
  }
  {
    std::string bad_tag = bytes;
    bad_tag[8 + 9] = 7;  // after the name's length (8) and text (9 bytes)
    BinaryReader in(bad_tag, "m.bin");
    REQUIRE_THROWS_WITH(in.read_matrix<float>("lstm.fw.W"),
                        Catch::Contains("unknown scalar type tag 7"));
  }
  {
    Matrix<double> with_nan(1, 2);
    with_nan << 1.0, std::numeric_limits<double>::quiet_NaN();
    BinaryWriter nan_out;
    nan_out.write_matrix("b", with_nan);
    const std::string nan_bytes = nan_out.take();
    BinaryReader in(nan_bytes, "m.bin");
    REQUIRE_THROWS_WITH(in.read_matrix<double>("b"),
                        Catch::Contains("matrix 'b' holds a non-finite value at (0, 1)"));
  }
  {
    BinaryWriter b;
    b.write_u8(2);
    const std::string two = b.take();
    BinaryReader in(two, "m.bin");
    REQUIRE_THROWS_WITH(in.read_bool("config.lowercase"),
                        Catch::Contains("bool 'config.lowercase' is 2, not 0 or 1"));
  }
  {
    BinaryReader in(bytes, "m.bin");
    in.read_string("name only");
    REQUIRE_THROWS_WITH(in.expect_end(), Catch::Contains("unexpected bytes after the end"));
  }
}

TEST_CASE("container: layout and round trip") {
  const std::string payload = sample_payload();
  const std::string file = encode_container(payload);
  REQUIRE(file.size() == container_header_size + payload.size() + container_trailer_size);
  REQUIRE(file.substr(0, 8) == std::string("\x89LSTMNER"));
  REQUIRE(decode_container(file, "m.bin") == payload);
  REQUIRE(decode_container(encode_container(""), "m.bin").empty());
}

TEST_CASE("container: every changed byte is detected with the message for its region") {
  const std::string payload = sample_payload();
  const std::string good = encode_container(payload);
  const std::size_t payload_end = container_header_size + payload.size();
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (unsigned char flip : {0x01, 0x80, 0xFF}) {
      std::string bad = good;
      bad[i] = static_cast<char>(static_cast<unsigned char>(bad[i]) ^ flip);
      INFO("byte " << i << " xor " << unsigned(flip));
      if (i < 8) {
        REQUIRE_THROWS_WITH(decode_container(bad, "m.bin"),
                            "model file 'm.bin': not an lstmner model file (it does not start "
                            "with the magic bytes \\x89LSTMNER)");
      } else if (i < 12) {
        REQUIRE_THROWS_WITH(decode_container(bad, "m.bin"),
                            Catch::StartsWith("model file 'm.bin': format version ") &&
                                Catch::Contains("reads only versions 1 to 2"));
      } else if (i < container_header_size) {
        REQUIRE_THROWS_WITH(decode_container(bad, "m.bin"),
                            Catch::StartsWith("model file 'm.bin': corrupted header"));
      } else {
        REQUIRE(i < payload_end + container_trailer_size);
        REQUIRE_THROWS_WITH(decode_container(bad, "m.bin"),
                            Catch::StartsWith("model file 'm.bin': corrupted: checksum mismatch"));
      }
    }
  }
}

TEST_CASE("container: truncation at every offset and trailing bytes are reported as such") {
  const std::string good = encode_container(sample_payload());
  for (std::size_t k = 0; k < good.size(); ++k) {
    INFO("truncated to " << k << " bytes");
    REQUIRE_THROWS_WITH(decode_container(good.substr(0, k), "m.bin"),
                        Catch::StartsWith("model file 'm.bin': truncated: the file has " +
                                          std::to_string(k) + " bytes"));
  }
  REQUIRE_THROWS_WITH(decode_container(good + "xyz", "m.bin"),
                      Catch::StartsWith("model file 'm.bin': 3 trailing bytes after the end"));
}

TEST_CASE("container: other versions and other files are named for what they are") {
  REQUIRE(open_container(encode_container("payload"), "m.bin").version == 2);
  REQUIRE(open_container(encode_container("payload", 1), "m.bin").version == 1);
  REQUIRE(open_container(encode_container("payload", 1), "m.bin").payload == "payload");
  REQUIRE_THROWS_WITH(decode_container(encode_container("payload", 3), "m.bin"),
                      "model file 'm.bin': format version 3, but this build of lstmner reads only "
                      "versions 1 to 2 (the file was written by a newer lstmner)");
  REQUIRE_THROWS_WITH(
      decode_container(encode_container("payload", 0), "m.bin"),
      Catch::Contains("format version 0") && Catch::Contains("no lstmner ever wrote that version"));
  REQUIRE_THROWS_WITH(decode_container("EU rejects German call\n", "train.txt"),
                      Catch::Contains("'train.txt': not an lstmner model file"));
  REQUIRE_THROWS_WITH(decode_container(std::string(100, '\0'), "zeros"),
                      Catch::Contains("not an lstmner model file"));
}

TEST_CASE("container files: save, load, replace, and every failure named") {
  TempDir dir;
  const std::string path = (dir.path / "model.bin").string();
  const std::string payload = sample_payload();

  save_container(path, payload);
  REQUIRE(load_container(path) == payload);
  REQUIRE(dir.entries() == std::vector<std::string>{"model.bin"});  // no temporary file left

  // Replacing an existing model.
  save_container(path, "second");
  REQUIRE(load_container(path) == "second");
  REQUIRE(dir.entries() == std::vector<std::string>{"model.bin"});

  SECTION("missing file") {
    REQUIRE_THROWS_WITH(load_container((dir.path / "none.bin").string()),
                        Catch::EndsWith("none.bin': does not exist"));
  }
  SECTION("a directory, a device") {
    REQUIRE_THROWS_WITH(load_container(dir.path.string()), Catch::EndsWith("': is a directory"));
    if (fs::exists("/dev/zero")) {
      REQUIRE_THROWS_WITH(load_container("/dev/zero"),
                          "model file '/dev/zero': is not a regular file");
    }
  }
  SECTION("damaged files on disk") {
    const std::string good = read_file(path);
    std::string flipped = good;
    flipped[container_header_size + 1] ^= 0x10;
    write_file(path, flipped);
    REQUIRE_THROWS_WITH(load_container(path), Catch::Contains("checksum mismatch"));
    write_file(path, good.substr(0, good.size() - 1));
    REQUIRE_THROWS_WITH(load_container(path), Catch::Contains("truncated"));
    write_file(path, "");
    REQUIRE_THROWS_WITH(load_container(path), Catch::Contains("truncated: the file has 0 bytes"));
    write_file(path, "-DOCSTART- -X- -X- O\n");
    REQUIRE_THROWS_WITH(load_container(path), Catch::Contains("not an lstmner model file"));
  }
  SECTION("a failed save removes its temporary file and leaves the old model intact") {
    // The target is a non-empty directory: the temporary file is written, the rename fails.
    const fs::path blocked = dir.path / "blocked";
    fs::create_directories(blocked / "inside");
    REQUIRE_THROWS_WITH(save_container(blocked.string(), payload),
                        Catch::Contains("blocked': cannot replace the file"));
    auto names = dir.entries();
    std::sort(names.begin(), names.end());
    REQUIRE(names == std::vector<std::string>{"blocked", "model.bin"});
    REQUIRE(load_container(path) == "second");
  }
  SECTION("a directory that does not exist") {
    REQUIRE_THROWS_WITH(save_container((dir.path / "no" / "such" / "m.bin").string(), payload),
                        Catch::Contains("cannot create a temporary file in"));
  }
}

TEST_CASE("random damage inside a payload never crashes the reader") {
  // Checksums catch damage in files; this checks the reader itself on payloads whose checksum
  // was recomputed after the damage, as a deliberately edited file would have.
  const std::string payload = sample_payload();
  std::mt19937 rng(12345);
  std::uniform_int_distribution<std::size_t> position(0, payload.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = payload;
    const int changes = 1 + trial % 4;
    for (int c = 0; c < changes; ++c) bad[position(rng)] = static_cast<char>(byte(rng));
    const std::string decoded = decode_container(encode_container(bad), "m.bin");
    try {
      read_sample_payload(decoded);
    } catch (const std::runtime_error&) {
      ++rejected;
    }
  }
  // Most damage hits a length, a name or a value the reader checks; some hits plain values
  // (the u32, the f64) that have no wrong value.
  REQUIRE(rejected > 500);
}
