#include <lstmner/conll_stream.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace lstmner;

namespace {

/// Everything a reader gives for one input: the sentences of all windows, the output written
/// window by window (each token predicted "P"), and the error it stopped on ("" when none).
struct Streamed {
  std::vector<Sentence> sentences;
  std::vector<std::string> empty_documents;
  std::string written;
  std::string error;
  std::size_t largest_window = 0;
};

std::vector<std::vector<std::string>> predictions_for(const std::vector<Sentence>& sentences) {
  std::vector<std::vector<std::string>> tags;
  for (const Sentence& s : sentences) tags.emplace_back(s.size(), "P");
  return tags;
}

Streamed stream(const std::string& text, std::size_t max_sentences,
                const ConllReadOptions& options = {}) {
  std::istringstream in(text);
  ConllStreamReader reader(in, "<test>", options);
  ConllWindow window;
  Streamed out;
  std::ostringstream written;
  try {
    while (reader.read(max_sentences, window)) {
      out.largest_window = std::max(out.largest_window, window.sentences.size());
      write_conll(written, window, predictions_for(window.sentences));
      for (Sentence& s : window.sentences) out.sentences.push_back(std::move(s));
      if (window.empty_document) out.empty_documents.push_back(*window.empty_document);
    }
    REQUIRE(window.sentences.empty());
    REQUIRE(!window.empty_document);
  } catch (const ConllError& e) {
    out.error = e.what();
  }
  out.written = written.str();
  return out;
}

/// read_conll on the whole input: its sentences and its error ("" when none).
std::pair<std::vector<Sentence>, std::string> whole(const std::string& text,
                                                    const ConllReadOptions& options = {}) {
  std::istringstream in(text);
  try {
    return {read_conll(in, "<test>", options).sentences, ""};
  } catch (const ConllError& e) {
    return {{}, e.what()};
  }
}

std::string written_whole(const std::string& text, const ConllReadOptions& options = {}) {
  std::istringstream in(text);
  const ConllDocument doc = read_conll(in, "<test>", options);
  std::ostringstream out;
  write_conll(out, doc, predictions_for(doc.sentences));
  return out.str();
}

void require_same(const std::vector<Sentence>& a, const std::vector<Sentence>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t s = 0; s < a.size(); ++s) {
    INFO("sentence " << s);
    REQUIRE(a[s].words == b[s].words);
    REQUIRE(a[s].tags == b[s].tags);
    REQUIRE(a[s].columns == b[s].columns);
    REQUIRE(a[s].first_line == b[s].first_line);
    REQUIRE(a[s].starts_document == b[s].starts_document);
    REQUIRE(a[s].docstart_line == b[s].docstart_line);
  }
}

/// A file of the sample corpus (LSTMNER_SAMPLE_DATA is set by CTest).
std::filesystem::path sample_data(const std::string& name) {
  const char* env = std::getenv("LSTMNER_SAMPLE_DATA");
  return std::filesystem::path(env ? env : "examples/data/sample") / name;
}

const std::size_t window_sizes[] = {0, 1, 2, 3, 5, 1000};

/// The -DOCSTART- lines of written output, in order.
std::vector<std::string> docstart_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("-DOCSTART- ", 0) == 0) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("ConllStreamReader: windows of any size give read_conll's sentences and output") {
  const std::string text =
      "\xEF\xBB\xBF-DOCSTART- -X- O O\r\n\r\nEU NNP B-ORG \r\nrejects VBZ O\r\n\r\n\r\n"
      "German JJ B-MISC\ncall NN O\n\n\n\n-DOCSTART- -X- O O\nPeter NNP B-PER\n"
      "Blackburn NNP I-PER\n-DOCSTART- -X- O O\n\nBRUSSELS NNP B-LOC\n \t \n1996-08-22 CD O";
  const auto [reference, error] = whole(text);
  REQUIRE(error.empty());
  REQUIRE(reference.size() == 5);
  for (std::size_t max : window_sizes) {
    INFO("window " << max);
    const Streamed s = stream(text, max);
    REQUIRE(s.error.empty());
    require_same(s.sentences, reference);
    REQUIRE(s.empty_documents.empty());
    REQUIRE(s.written == written_whole(text));
    if (max != 0) REQUIRE(s.largest_window <= max);
  }
  REQUIRE(stream(text, 1).largest_window == 1);
  REQUIRE(stream(text, 0).largest_window == 5);
}

TEST_CASE("ConllStreamReader: the sample corpus, window by window, is read_conll's") {
  for (const char* file : {"train.txt", "test.txt"}) {
    const auto path = sample_data(file);
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    const auto [reference, error] = whole(text.str());
    REQUIRE(error.empty());
    REQUIRE(reference.size() > 50);
    for (std::size_t max : {0, 1, 7, 32}) {
      const Streamed s = stream(text.str(), static_cast<std::size_t>(max));
      require_same(s.sentences, reference);
      REQUIRE(s.written == written_whole(text.str()));
    }
  }
}

TEST_CASE("ConllStreamReader: errors name the line of the whole input, as read_conll's do") {
  std::string text = "-DOCSTART- -X- O O\n\n";
  for (int i = 0; i < 20; ++i) text += "EU NNP B-ORG\nrejects VBZ O\n\n\n";
  // Line 83 starts a sentence of 4 fields; line 85 has 3. Windows of 1 sentence put it in the
  // 21st window, whose own lines are numbered differently.
  text += "German JJ I-NP B-MISC\ncall NN I-NP O\nto TO O\n\n";
  const auto [reference, error] = whole(text);
  REQUIRE(error ==
          "lstmner: read_conll: <test>:85: 3 fields, but the sentence starting at line "
          "83 has 4");
  for (std::size_t max : window_sizes) {
    INFO("window " << max);
    const Streamed s = stream(text, max);
    REQUIRE(s.error == error);
    if (max == 1) REQUIRE(s.sentences.size() == 20);  // every window before the bad one
  }
  // The ConllError carries the same line as data.
  std::istringstream in(text);
  ConllStreamReader reader(in, "<test>");
  ConllWindow window;
  try {
    while (reader.read(1, window)) {
    }
    FAIL("no exception");
  } catch (const ConllError& e) {
    REQUIRE(e.line() == 85);
    REQUIRE(e.source() == "<test>");
  }

  const char nul[] = "EU B-ORG\n\nbad\0line O\n";
  for (const std::string& bad : {std::string(nul, sizeof nul - 1), std::string("EU X-ORG\n")}) {
    const auto [sentences, message] = whole(bad);
    REQUIRE(!message.empty());
    for (std::size_t max : window_sizes) REQUIRE(stream(bad, max).error == message);
  }
}

TEST_CASE("ConllStreamReader: every -DOCSTART- line is kept, empty documents too") {
  // read_conll keeps only the -DOCSTART- line a sentence follows; the stream reader keeps the
  // others as empty documents, in their place.
  const std::string text =
      "-DOCSTART- a\n\n-DOCSTART- b\n\nEU B-ORG\n\n-DOCSTART- c\n\n\n-DOCSTART- d\n"
      "Peter B-PER\n-DOCSTART- e\n\n";
  const auto [reference, error] = whole(text);
  REQUIRE(reference.size() == 2);
  for (std::size_t max : window_sizes) {
    INFO("window " << max);
    const Streamed s = stream(text, max);
    require_same(s.sentences, reference);
    REQUIRE(s.empty_documents ==
            std::vector<std::string>{"-DOCSTART- a", "-DOCSTART- c", "-DOCSTART- e"});
    REQUIRE(s.written ==
            "-DOCSTART- a O\n\n-DOCSTART- b O\n\nEU B-ORG P\n\n-DOCSTART- c O\n\n"
            "-DOCSTART- d O\n\nPeter B-PER P\n\n-DOCSTART- e O\n\n");
  }
  // Nothing but blank lines is nothing; a lone -DOCSTART- line is an empty document.
  REQUIRE(stream("\n\n \n", 1).written.empty());
  REQUIRE(stream("-DOCSTART-", 1).written == "-DOCSTART- O\n\n");
}

TEST_CASE("ConllStreamReader: a byte-order mark counts only at the start of the input") {
  const std::string text =
      "A O\n\n\xEF\xBB\xBF"
      "B O\n";
  const auto [reference, error] = whole(text);
  REQUIRE(reference.size() == 2);
  REQUIRE(reference[1].words[0] ==
          "\xEF\xBB\xBF"
          "B");
  for (std::size_t max : window_sizes) require_same(stream(text, max).sentences, reference);
}

TEST_CASE("ConllStreamReader: runs of blank lines are skipped, line numbers still count them") {
  const std::string text =
      std::string(100000, '\n') + "EU B-ORG\n" + std::string(5000, '\n') + "rejects O\nx\n";
  const Streamed s = stream(text, 1);
  REQUIRE(s.sentences.size() == 1);
  REQUIRE(s.sentences[0].first_line == 100001);
  // 100000 blank lines, EU (100001), 5000 blank lines, rejects (105002), x (105003).
  REQUIRE(s.error ==
          "lstmner: read_conll: <test>:105003: 1 fields, but the sentence starting at "
          "line 105002 has 2");
  REQUIRE(s.error == whole(text).second);
}

TEST_CASE("ConllStreamReader: lenient mode is refused") {
  std::istringstream in("EU B-ORG\n");
  ConllReadOptions lenient;
  lenient.lenient = true;
  REQUIRE_THROWS_AS(ConllStreamReader(in, "<test>", lenient), std::invalid_argument);
}

// Random inputs built from the lines that matter (blank and almost blank lines, -DOCSTART- lines,
// token lines of 2 or 3 fields, bad tags, a NUL byte, a BOM), against read_conll on the whole.
// And the property GNU parallel --pipe --recend '\n\n' relies on: cut the input after any blank
// line, read and write the two pieces apart, and the outputs put together are the output of the
// whole.
TEST_CASE("ConllStreamReader: random inputs, against read_conll and cut at any blank line") {
  const std::vector<std::string> lines = {"",
                                          "",
                                          "  ",
                                          "\r",
                                          "-DOCSTART- -X- O O",
                                          "-DOCSTART-\r",
                                          "EU B-ORG",
                                          "rejects O",
                                          "German I-MISC",
                                          "call O\r",
                                          "to O \t",
                                          "x y O",
                                          "bad X-ORG",
                                          "-DOCSTART-x O"};
  std::mt19937 rng(7);
  int cut_checks = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    std::string text;
    if (trial % 10 == 0) text = "\xEF\xBB\xBF";
    const int n = static_cast<int>(rng() % 30);
    std::vector<std::string> docstarts;  // the trimmed -DOCSTART- lines, computed apart
    for (int i = 0; i < n; ++i) {
      std::string line = lines[rng() % lines.size()];
      if (rng() % 400 == 0) line = std::string("nul\0 O", 6);
      if (line.rfind("-DOCSTART- ", 0) == 0 || line == "-DOCSTART-\r")
        docstarts.push_back(line == "-DOCSTART-\r" ? "-DOCSTART-" : line);
      text += line;
      if (i + 1 < n || rng() % 2) text += '\n';
    }
    INFO("input: " << text);
    ConllReadOptions options;
    if (trial % 2) options.tag_column = std::nullopt;  // as lstmner-tag reads
    const auto [reference, error] = whole(text, options);
    std::string written;
    for (std::size_t max : {0, 1, 2, 4}) {
      INFO("window " << max);
      const Streamed s = stream(text, max, options);
      REQUIRE(s.error == error);
      if (!error.empty()) continue;
      require_same(s.sentences, reference);
      std::vector<std::string> kept = docstart_lines(s.written);
      for (std::string& line : kept) line.erase(line.size() - 2);  // the " O" written after it
      REQUIRE(kept == docstarts);
      if (written.empty()) written = s.written;
      REQUIRE(s.written == written);
    }
    if (!error.empty() || text.rfind("\xEF\xBB\xBF", 0) == 0) continue;
    for (std::size_t at = text.find("\n\n"); at != std::string::npos;
         at = text.find("\n\n", at + 1)) {
      const std::string first = text.substr(0, at + 2), second = text.substr(at + 2);
      REQUIRE(stream(first, 3, options).written + stream(second, 3, options).written == written);
      ++cut_checks;
    }
  }
  REQUIRE(cut_checks > 500);
}
