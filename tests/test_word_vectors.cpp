#include <lstmner/random.hpp>
#include <lstmner/word_vectors.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

using namespace lstmner;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

/// A fresh directory under the system's temporary directory, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    Rng rng(
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
    path_ = fs::temp_directory_path() / ("lstmner-test-vectors-" + std::to_string(rng.next()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  /// Writes `bytes` to a file `name` in the directory and returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    const fs::path file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
    return file.string();
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct Entry {
  std::string word;
  std::vector<float> values;
};

/// A word2vec binary file: header, then word, space, little-endian float32s, and '\n' when
/// `newlines` (as word2vec.c writes it).
std::string binary_file(const std::vector<Entry>& entries, bool newlines = true,
                        std::string header = "") {
  if (header.empty()) {
    header = std::to_string(entries.size()) + " " +
             std::to_string(entries.empty() ? 0 : entries[0].values.size()) + "\n";
  }
  std::string out = header;
  for (const Entry& e : entries) {
    out += e.word + " ";
    for (float v : e.values) {
      std::uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      for (int k = 0; k < 4; ++k) out.push_back(static_cast<char>((bits >> (8 * k)) & 0xFF));
    }
    if (newlines) out += "\n";
  }
  return out;
}

std::string error_of(std::string_view bytes, const WordVectorReadOptions& options = {}) {
  try {
    parse_word_vectors(bytes, "v.txt", options);
  } catch (const WordVectorError& e) {
    return e.what();
  }
  return "(read)";
}

const std::vector<Entry> sample = {
    {"the", {0.5f, -1.25f, 3.0f}},
    {",", {0.0f, 2.0f, -0.125f}},
    {"Zürich", {1e-3f, -2.5e2f, 7.0f}},
    {"日本", {-0.0f, 0.25f, 1.5f}},
};

void require_sample(const WordVectors& v, std::size_t count = 4) {
  REQUIRE(v.dim() == 3);
  REQUIRE(v.size() == static_cast<Index>(count));
  for (std::size_t i = 0; i < count; ++i) {
    CAPTURE(i);
    REQUIRE(v.words()[i] == sample[i].word);
    for (Index k = 0; k < 3; ++k)
      REQUIRE(v.vectors()(k, static_cast<Index>(i)) ==
              sample[i].values[static_cast<std::size_t>(k)]);
  }
}

const std::string glove_text =
    "the 0.5 -1.25 3\n"
    ", 0 2.0 -0.125\n"
    "Zürich 1e-3 -2.5E+02 +7\n"
    "日本 -0 0.25 1.5\n";

}  // namespace

TEST_CASE("word vectors: GloVe text, fastText .vec and word2vec binary read the same vectors") {
  TempDir dir;
  SECTION("GloVe text (no header)") {
    const WordVectors v = read_word_vectors(dir.write("glove.txt", glove_text));
    require_sample(v);
    REQUIRE(v.format() == WordVectorFormat::text);
  }
  SECTION("fastText .vec: a header, a blank after every vector's last value") {
    const std::string vec =
        "4 3\n"
        "the 0.5 -1.25 3 \n"
        ", 0 2.0 -0.125 \n"
        "Zürich 1e-3 -2.5E+02 +7 \n"
        "日本 -0 0.25 1.5 \n";
    const WordVectors v = read_word_vectors(dir.write("cc.vec", vec));
    require_sample(v);
    REQUIRE(v.format() == WordVectorFormat::text_header);
    REQUIRE(parse_word_vectors(vec, "x", {WordVectorFormat::text_header, 0}).size() == 4);
  }
  SECTION("word2vec binary, with and without the newline after each vector") {
    for (bool newlines : {true, false}) {
      CAPTURE(newlines);
      const std::string path = dir.write("w2v.bin", binary_file(sample, newlines));
      const WordVectors v = read_word_vectors(path);
      require_sample(v);
      REQUIRE(v.format() == WordVectorFormat::binary);
      require_sample(read_word_vectors(path, {WordVectorFormat::binary, 0}));
    }
  }
  SECTION("tolerated: a byte-order mark, CRLF, tabs, no final newline, blank lines at the end") {
    const std::string messy =
        "\xEF\xBB\xBFthe 0.5\t-1.25  3\r\n"
        ", 0 2.0 -0.125\r\n"
        "Zürich\t1e-3 -2.5E+02 +7  \r\n"
        "日本 -0 0.25 1.5\n\n  \n";
    require_sample(parse_word_vectors(messy, "messy.txt"));
    require_sample(parse_word_vectors(glove_text.substr(0, glove_text.size() - 1), "x"));
  }
  SECTION("max_words keeps the first N and reads no further") {
    for (const auto& bytes : {glove_text, binary_file(sample), "4 3\n" + glove_text}) {
      const WordVectors v = parse_word_vectors(bytes, "x", {WordVectorFormat::automatic, 2});
      require_sample(v, 2);
    }
    // What follows the limit is not looked at: not even a damaged line.
    REQUIRE(parse_word_vectors(glove_text + "bad 1 2 x\n", "x", {WordVectorFormat::automatic, 4})
                .size() == 4);
    REQUIRE(
        parse_word_vectors("9 3\n" + glove_text, "x", {WordVectorFormat::automatic, 3}).size() ==
        3);
  }
  SECTION("a word with spaces in it (glove.840B has a few)") {
    const WordVectors v = parse_word_vectors("the 1 2\n. . . 3 4\nat name@x.com 5 6\n", "x");
    REQUIRE(v.words() == std::vector<std::string>{"the", ". . .", "at name@x.com"});
    REQUIRE(v.vectors()(0, 1) == 3.0f);
    REQUIRE(v.vectors()(1, 2) == 6.0f);
  }
  SECTION("numbers: tiny values underflow to 0") {
    const std::string tiny_fraction = "0." + std::string(400, '0') + "1";
    const WordVectors v =
        parse_word_vectors("a 1e-400 -1e-50 3.4e38 " + tiny_fraction + " -1000e-500\n", "x");
    REQUIRE(v.vectors()(0, 0) == 0.0f);
    REQUIRE(v.vectors()(1, 0) == -0.0f);
    REQUIRE(v.vectors()(2, 0) == 3.4e38f);
    REQUIRE(v.vectors()(3, 0) == 0.0f);
    REQUIRE(v.vectors()(4, 0) == 0.0f);
    REQUIRE_THAT(error_of("a 1" + std::string(400, '0') + "\n"),
                 Catch::EndsWith("is out of range"));
    REQUIRE_THAT(error_of("a 0.1e400\n"), Catch::EndsWith("is out of range"));
  }
}

TEST_CASE("word vectors: text errors name the file and line") {
  struct Case {
    std::string bytes;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "v.txt: the file is empty"},
      {"\xEF\xBB\xBF", "v.txt: the file is empty"},
      {"\n\n", "v.txt:1: a blank line before the first vector"},
      {"the\n", "v.txt:1: the first line has a word and no values: not a vector file"},
      {"the 1 2\na 1 0.1x\n", "v.txt:2: value 2 ('0.1x') is not a number"},
      {"the 1 2\na 1 -\n", "v.txt:2: value 2 ('-') is not a number"},
      {"the 1 2\na 1 ++2\n", "v.txt:2: value 2 ('++2') is not a number"},
      {"the 1 2\na 1 0x10\n", "v.txt:2: value 2 ('0x10') is not a number"},
      {"the 1 2\na nan 1\n", "v.txt:2: value 1 ('nan') is not finite"},
      {"the 1 2\na 1 -inf\n", "v.txt:2: value 2 ('-inf') is not finite"},
      {"the 1 2\na 1 1e39\n", "v.txt:2: value 2 ('1e39') is out of float range"},
      {"the 1 2\na 1 1e400\n", "v.txt:2: value 2 ('1e400') is out of range"},
      {"the 1 2\na 1\n", "v.txt:2: the vector has 1 values, expected 2 (the dimension of line 1)"},
      {"the 1 2\na 1 2 3\n",
       "v.txt:2: the vector has 3 values, expected 2 (the dimension of line 1)"},
      {"the 1 2\n 1 2\n", "v.txt:2: the line starts with a blank: the word is empty"},
      {"the 1 2\na 3 4\nthe 5 6\n", "v.txt:3: the word 'the' appears twice (first on line 1)"},
      {"the 1 2\n\na 3 4\n", "v.txt:2: a blank line between vectors"},
      {"the 1 2\na 3 4\x00\n"s, "v.txt:2: value 2 ('4\\x00') is not a number"},
      // With a header.
      {"3 2\nthe 1.000000 2.000000\na 3.000000 4.000000\n",
       "v.txt:1: the header declares 3 vectors, but the file ends after 2 (at line 3)"},
      {"1 2\nthe 1 2\na 3 4\n", "v.txt:3: more vectors than the 1 the header (line 1) declares"},
      {"2 3\nthe 1.5 2.5\na 3.5 4.5\n",
       "v.txt:2: the vector has 2 values, expected 3 (the header's dimension)"},
      {"2 2\nthe 1 2\nthe 3 4\n", "v.txt:3: the word 'the' appears twice (first on line 2)"},
      {"2 0\n", "v.txt:1: the header declares dimension 0"},
      {"0 2\n", "v.txt:1: the header declares 0 vectors: the file holds no vectors"},
      {"99999999999999999999999 3\nthe 1 2 3\n",
       "v.txt:1: the header's numbers do not fit in 64 bits: not a vector file"},
      {"1000000000 3\nthe 1 2 3\n",
       "v.txt:1: the header declares 1000000000 vectors of dimension 3, which need at least 8 "
       "bytes each, but only 10 bytes follow"},
      {"1000000000 300\nthe 1 2 3\n",
       "v.txt:1: the header declares dimension 300, but the 10 bytes after it cannot hold even "
       "one such vector"},
      {"1 18446744073709551615\nthe 1\n",
       "v.txt:1: the header declares dimension 18446744073709551615, but the 6 bytes after it "
       "cannot hold even one such vector"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.bytes);
    REQUIRE(error_of(c.bytes) == "lstmner: read_word_vectors: " + c.message);
  }
  // The header is required when the format says so.
  REQUIRE(error_of("the 1 2\n", {WordVectorFormat::text_header, 0}) ==
          "lstmner: read_word_vectors: v.txt:1: expected a header line 'count dim' (text with a "
          "header format), found 'the 1 2'");
  // Forced to text, a header-like first line is a vector of dimension 1.
  REQUIRE(parse_word_vectors("12 3\n7 4\n", "x", {WordVectorFormat::text, 0}).dim() == 1);
}

TEST_CASE("word vectors: binary errors name the entry and the byte offset") {
  const std::string good = binary_file(sample);  // header "4 3\n" (4 bytes), entries of 16+ bytes
  const std::string prefix = "lstmner: read_word_vectors: v.txt: ";
  const WordVectorReadOptions binary{WordVectorFormat::binary, 0};
  SECTION("truncated in the values, in the word, and before an entry") {
    // 77 bytes: the header (4), "the " + 12 + '\n' (17), ", " + 12 + '\n' (15),
    // "Zürich " + 12 + '\n' (21), then entry 3 at byte 57: "日本 " (7) and its values at 64.
    REQUIRE(good.size() == 77);
    REQUIRE(error_of(good.substr(0, 72), binary) ==
            prefix +
                "entry 3, byte 64: truncated: the vector of '日本' needs 12 bytes, 8 are left");
    REQUIRE(error_of(good.substr(0, 60), binary) ==
            prefix + "entry 3, byte 57: truncated in the word (no space after it)");
    // Line ends after the third vector: enough bytes for the header's count, but no vector.
    const std::string three =
        binary_file({sample[0], sample[1], sample[2]}, true, "4 3\n") + std::string(30, '\n');
    REQUIRE_THAT(error_of(three),
                 Catch::StartsWith(prefix + "entry 3, byte " + std::to_string(three.size()) +
                                   ": truncated: the header declares 4 "
                                   "vectors, the file ends after 3"));
  }
  SECTION("a header that declares fewer vectors than follow") {
    const std::string more = binary_file(sample, true, "3 3\n");
    const std::size_t entry3 = more.size() - (std::string("日本").size() + 1 + 12 + 1);
    REQUIRE(error_of(more, binary) == prefix + "entry 3, byte " + std::to_string(entry3) +
                                          ": more data after the 3 vectors the header declares");
  }
  SECTION("absurd header sizes are rejected before allocating") {
    REQUIRE(error_of(binary_file(sample, true, "4000000 3\n")) ==
            prefix.substr(0, prefix.size() - 2) +
                ":1: the header declares 4000000 vectors of dimension 3, which need at least 8 "
                "bytes each, but only 73 bytes follow");
    REQUIRE(error_of(binary_file(sample, true, "10 3\n"), binary) ==
            prefix.substr(0, prefix.size() - 2) +
                ":1: the header declares 10 vectors of dimension 3, which need at least 14 bytes "
                "each, but only 73 bytes follow");
    // Detected as binary after the (looser) text bound has passed: the binary bound applies.
    REQUIRE_THAT(error_of(binary_file(sample, true, "6 3\n")),
                 Catch::Contains("6 vectors of dimension 3, which need at least 14 bytes each in "
                                 "word2vec binary, but only 73 bytes follow"));
  }
  SECTION("a value that is not finite, a duplicated word, an empty word, a newline in a word") {
    std::vector<Entry> bad = sample;
    bad[1].values[2] = std::numeric_limits<float>::quiet_NaN();
    // Entry 1 starts at 21: ", " then values at 23: the third at 31.
    REQUIRE(error_of(binary_file(bad), binary) ==
            prefix + "entry 1, byte 31: value 3 of ',' is not finite (NaN or infinite)");
    bad = sample;
    bad[2].word = "the";
    REQUIRE(error_of(binary_file(bad), binary) ==
            prefix + "entry 2, byte 36: the word 'the' appears twice (first as entry 0)");
    bad = sample;
    bad[1].word = "";
    REQUIRE(error_of(binary_file(bad), binary) ==
            prefix + "entry 1, byte 21: empty word (a space where it should be)");
    bad = sample;
    bad[1].word = "a\nb";
    REQUIRE(error_of(binary_file(bad), binary) ==
            prefix + "entry 1, byte 21: a newline inside the word 'a'");
  }
  SECTION("a file detected as binary says so in its errors") {
    REQUIRE_THAT(error_of(good.substr(0, good.size() - 5)),
                 Catch::EndsWith("(the file was read as word2vec binary: its first vector is not "
                                 "a text line; pass the format to read it as text)"));
  }
}

TEST_CASE("word vectors: lookup falls back exact -> lower-cased -> digits and says which") {
  const WordVectors v = parse_word_vectors(
      "Paris 1 0\nthe 2 0\nApple 3 0\napple 4 0\n2000 5 0\n1996 6 0\nU.S. 7 0\nB-52 8 0\n", "x");
  const auto hit = [&](const std::string& word) {
    const VectorLookup r = v.lookup(word);
    return std::make_pair(r.found() ? v.words()[static_cast<std::size_t>(r.index)] : "-",
                          std::string(to_string(r.match)));
  };
  using P = std::pair<std::string, std::string>;
  REQUIRE(hit("Paris") == P{"Paris", "exact"});
  REQUIRE(hit("PARIS") == P{"Paris", "lowercase"});
  REQUIRE(hit("paris") == P{"Paris", "lowercase"});
  REQUIRE(hit("The") == P{"the", "lowercase"});
  REQUIRE(hit("apple") == P{"apple", "exact"});
  REQUIRE(hit("APPLE") == P{"Apple", "lowercase"});  // the first in the file of that form
  REQUIRE(hit("1996") == P{"1996", "exact"});
  REQUIRE(hit("1984") == P{"2000", "digits"});  // the first year-like word
  REQUIRE(hit("b-17") == P{"B-52", "digits"});
  REQUIRE(hit("u.s.") == P{"U.S.", "lowercase"});
  REQUIRE(hit("Zürich") == P{"-", "none"});
  REQUIRE_FALSE(v.lookup("Zürich"));
  REQUIRE(v.find("PARIS") == std::nullopt);
  REQUIRE(v.find("the") == Index{1});
  REQUIRE(v.vector(4)(0) == 5.0f);
  REQUIRE_THROWS_WITH(v.vector(8), Catch::Contains("vector 8 is outside [0, 8)"));

  // Built from memory: the same lookup; a duplicate or a count mismatch is rejected.
  Matrix<float> m(2, 2);
  m << 1, 2, 3, 4;
  const WordVectors built({"Bonn", "bonn"}, m);
  REQUIRE(built.lookup("BONN").index == 0);
  REQUIRE(built.format() == WordVectorFormat::automatic);
  REQUIRE_THROWS_WITH(WordVectors({"a", "a"}, m), Catch::Contains("'a' is given twice"));
  REQUIRE_THROWS_WITH(WordVectors({"a"}, m), Catch::Contains("1 words for 2 vectors"));
}

TEST_CASE("word vectors: files are streamed in chunks; the results equal reading from memory") {
  TempDir dir;
  Rng rng(3);
  // ~2.3 MB of text and binary (more than two 1 MiB chunks), and one line longer than a chunk.
  std::vector<Entry> entries;
  for (int i = 0; i < 20000; ++i) {
    Entry e{"w" + std::to_string(i) + (i % 7 == 0 ? "é" : ""), {}};
    for (int k = 0; k < 12; ++k) e.values.push_back(static_cast<float>(rng.uniform(-1, 1)));
    entries.push_back(std::move(e));
  }
  std::string text;
  for (const Entry& e : entries) {
    text += e.word;
    for (float x : e.values) {
      char buffer[32];
      std::snprintf(buffer, sizeof buffer, " %.9g", static_cast<double>(x));
      text += buffer;
    }
    text += "\n";
  }
  const std::string binary = binary_file(entries);
  for (const std::string& bytes : {text, binary}) {
    const WordVectors from_file = read_word_vectors(dir.write("big", bytes));
    const WordVectors from_memory = parse_word_vectors(bytes, "big");
    REQUIRE(from_file.size() == 20000);
    REQUIRE(from_file.words() == from_memory.words());
    REQUIRE(from_file.vectors() == from_memory.vectors());
    for (std::size_t i : {std::size_t{0}, std::size_t{12345}, std::size_t{19999}}) {
      for (Index k = 0; k < 12; ++k)
        REQUIRE(from_file.vectors()(k, static_cast<Index>(i)) ==
                entries[i].values[static_cast<std::size_t>(k)]);
    }
    // A limited read of a big file.
    REQUIRE(read_word_vectors(dir.write("big", bytes), {WordVectorFormat::automatic, 10})
                .words()
                .back() == "w9");
  }
  std::string long_line = "long";
  for (int k = 0; k < 300000; ++k) long_line += " 0.25";
  const WordVectors wide = read_word_vectors(dir.write("wide.txt", long_line + "\n"));
  REQUIRE(wide.dim() == 300000);
  REQUIRE(wide.vectors()(299999, 0) == 0.25f);
}

TEST_CASE("word vectors: missing, directory and device paths are clear errors") {
  TempDir dir;
  const std::string missing = (dir.path() / "nope.txt").string();
  REQUIRE_THROWS_WITH(read_word_vectors(missing),
                      "lstmner: read_word_vectors: " + missing + ": no such file");
  REQUIRE_THROWS_WITH(read_word_vectors(dir.path().string()), Catch::EndsWith(": is a directory"));
  if (fs::exists("/dev/zero")) {
    REQUIRE_THROWS_WITH(read_word_vectors("/dev/zero"), Catch::EndsWith(": is not a regular file"));
  }
}

TEST_CASE("word vectors: damaged files are read or rejected, never anything else") {
  const std::vector<std::string> originals = {glove_text, "4 3\n" + glove_text, binary_file(sample),
                                              binary_file(sample, false)};
  Rng rng(11);
  int rejected = 0, read = 0;
  for (int trial = 0; trial < 4000; ++trial) {
    std::string bytes = originals[static_cast<std::size_t>(trial) % originals.size()];
    const int edits = 1 + static_cast<int>(rng.below(4));
    for (int e = 0; e < edits; ++e) {
      const auto at = static_cast<std::size_t>(rng.below(bytes.size()));
      switch (rng.below(3)) {
        case 0:
          bytes[at] = static_cast<char>(rng.below(256));
          break;
        case 1:
          bytes.erase(at, 1 + rng.below(8));
          break;
        default:
          bytes.insert(at, 1, " \n0-.e9\xFF"[rng.below(8)]);
          break;
      }
      if (bytes.empty()) bytes = "x";
    }
    for (std::size_t max_words : {std::size_t{0}, std::size_t{2}}) {
      try {
        const WordVectors v =
            parse_word_vectors(bytes, "fuzz", {WordVectorFormat::automatic, max_words});
        REQUIRE(v.dim() >= 1);
        REQUIRE(v.vectors().cols() == v.size());
        REQUIRE(v.vectors().allFinite());
        ++read;
      } catch (const WordVectorError& e) {
        REQUIRE_THAT(e.what(), Catch::StartsWith("lstmner: read_word_vectors: fuzz"));
        ++rejected;
      }
    }
  }
  REQUIRE(rejected > 100);
  REQUIRE(read > 100);
}
