// Fuzz target: the CoNLL reader (conll.hpp), strict and lenient, with every option, and what is
// done with what it reads: scheme conversion, entity decoding, writing it back.
// Input: two option bytes, then the file's text.
//   byte 0: bits 0-1 scheme (detect, IOB1, IOB2, IOBES), bit 2 lenient, bits 3-4 delimiter
//           (whitespace, space, tab), bit 5 keep_columns, bit 6 docstart "#" instead of
//           -DOCSTART-, bit 7 no tag column
//   byte 1: bits 0-2 word column - 3 (-3..4), bits 3-5 tag column - 3
// Invariants checked on every document read: sentences are non-empty, with one tag per word
// (none without a tag column) and one column row per word when columns are kept; every tag is
// valid in the document's scheme; converting the tags to any scheme keeps their entities; the
// writer's output, when it accepts the fields, reads back to the same words.

#include <lstmner/conll.hpp>
#include <lstmner/tag_scheme.hpp>

#include "fuzz_support.hpp"

#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using namespace lstmner;

LSTMNER_FUZZ_TARGET(data, size) {
  lstmner_fuzz::FuzzInput input(data, size);
  const std::uint8_t flags = input.byte();
  const std::uint8_t columns = input.byte();
  ConllReadOptions options;
  switch (flags & 3) {
    case 0:
      options.scheme = std::nullopt;
      break;
    case 1:
      options.scheme = TagScheme::IOB1;
      break;
    case 2:
      options.scheme = TagScheme::IOB2;
      break;
    default:
      options.scheme = TagScheme::IOBES;
      break;
  }
  options.lenient = (flags & 4) != 0;
  const int delimiter = (flags >> 3) & 3;
  options.delimiter = delimiter == 1   ? ConllDelimiter::Space
                      : delimiter == 2 ? ConllDelimiter::Tab
                                       : ConllDelimiter::Whitespace;
  options.keep_columns = (flags & 0x20) != 0;
  if (flags & 0x40) options.docstart = "#";
  options.word_column = (columns & 7) - 3;
  if (flags & 0x80) {
    options.tag_column = std::nullopt;
  } else {
    options.tag_column = ((columns >> 3) & 7) - 3;
  }

  std::istringstream text{std::string(input.rest())};
  ConllDocument doc;
  try {
    doc = read_conll(text, "fuzz.txt", options);
  } catch (const ConllError&) {
    return 0;
  }
  FUZZ_CHECK(options.lenient || doc.skipped_lines == 0);
  FUZZ_CHECK(doc.skipped.size() == doc.skipped_lines);
  for (const Sentence& s : doc.sentences) {
    FUZZ_CHECK(!s.words.empty());
    FUZZ_CHECK(s.tags.size() == (options.tag_column ? s.words.size() : 0));
    FUZZ_CHECK(s.columns.size() == (options.keep_columns ? s.words.size() : 0));
    for (const std::string& w : s.words) FUZZ_CHECK(!w.empty());
    if (s.tags.empty()) continue;
    for (const std::string& t : s.tags) FUZZ_CHECK(tag_problem(t, doc.scheme).empty());
    const std::vector<Entity> entities = decode_entities(s.tags, doc.scheme);
    for (TagScheme to : {TagScheme::IOB1, TagScheme::IOB2, TagScheme::IOBES}) {
      const std::vector<std::string> converted = convert_tags(s.tags, doc.scheme, to);
      FUZZ_CHECK(converted.size() == s.tags.size());
      FUZZ_CHECK(decode_entities(converted, to) == entities);
    }
  }

  // Written back and read again (whitespace-separated, tag last), the words are the same.
  std::vector<std::vector<std::string>> predicted;
  for (const Sentence& s : doc.sentences) predicted.emplace_back(s.words.size(), "O");
  std::ostringstream written;
  try {
    write_conll(written, doc, predicted);
  } catch (const std::invalid_argument&) {
    return 0;  // a field holds a space: the writer refuses what it could not read back
  }
  ConllReadOptions again;
  again.scheme = TagScheme::IOB2;
  again.docstart = options.docstart;
  again.keep_columns = false;
  // The word is the first field when the sentence kept its columns and the word was the first
  // of them; otherwise the writer put the word first itself.
  // A word opening the written file with the bytes of a UTF-8 byte-order mark loses them on
  // reading, as a byte-order mark should.
  if (written.str().rfind("\xEF\xBB\xBF", 0) == 0) return 0;
  std::istringstream back(written.str());
  ConllDocument reread;
  try {
    reread = read_conll(back, "written.txt", again);
  } catch (const ConllError&) {
    return 0;  // e.g. a kept column that looks like -DOCSTART- or a word that is the docstart
  }
  if (options.keep_columns && options.word_column != 0) return 0;
  for (const Sentence& s : doc.sentences)
    for (const std::string& w : s.words) {
      if (w.find('\t') != std::string::npos) return 0;  // the reader splits there
      if (w == options.docstart) return 0;              // reads back as a document start
    }
  if (reread.sentences.size() != doc.sentences.size()) return 0;  // a docstart-looking word
  for (std::size_t i = 0; i < doc.sentences.size(); ++i)
    FUZZ_CHECK(reread.sentences[i].words == doc.sentences[i].words);
  return 0;
}
