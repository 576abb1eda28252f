// lstmner-tag: tags text with a saved model, as a stream (a filter: stdin to stdout).
//
//   lstmner-tag --model M [FILE|-]                       raw text, one sentence per line
//   lstmner-tag --model M --input-format conll FILE      CoNLL columns, every column kept
//   ... --output-format json                             one JSON object per sentence
//
// Raw text is split by lstmner's tokenizer (include/lstmner/tokenizer.hpp), which splits like
// CoNLL-2003. CoNLL input keeps every input column, -DOCSTART- lines and the blank lines between
// sentences, and gets the predicted tag appended, so the output scores directly with lstmner-eval
// or conlleval.
//
// The input is read a window of --window sentences at a time (conll_stream.hpp for CoNLL), the
// window is tagged on all threads, written in input order and flushed, then the next is read:
// memory is bounded by the window, whatever the size of the input (docs/tools.md states the
// bound), and the output is the same for every window size.
//
// Documents (for a model with a document-context block, blocks/doc_context.hpp): in CoNLL input
// a document runs from one -DOCSTART- line to the next; in raw text, from one blank line to the
// next. A window's last document, which the next window may continue, is held back and tagged
// with the next window, so every document is tagged whole — unless it is longer than the window
// (or the input has no document boundaries at all): then each window's part of it is a document
// of its own, and only then do the tags depend on --window.

#include <lstmner/conll_stream.hpp>
#include <lstmner/tagger.hpp>
#include <lstmner/tokenizer.hpp>

#include "tool_main.hpp"

#include <unistd.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string model, input = "-", input_format = "text", output_format = "conll", scheme;
  int word_column = 0;
  int threads = 0;            // 0: every available core
  std::size_t window = 1024;  // sentences per window; 0: the whole input at once
  bool benchmark = false;
  bool quiet = false;
};

using Clock = std::chrono::steady_clock;

/// Tokens done and tokens/s on one line of standard error, redrawn at most every half second,
/// when standard error is a terminal (never in a pipe or a log file).
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}

  void update(std::size_t tokens) {
    tokens_ = tokens;
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    draw("\r");
  }
  void finish() {
    if (enabled_ && tokens_ > 0) draw("\n");
  }

 private:
  void draw(const char* end) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    std::fprintf(stderr, "\rlstmner-tag: %zu tokens, %.0f tokens/s   %s", tokens_,
                 static_cast<double>(tokens_) / std::max(seconds, 1e-9), end);
    std::fflush(stderr);
  }

  bool enabled_;
  Clock::time_point start_ = Clock::now(), last_ = start_;
  std::size_t tokens_ = 0;
};

/// What the tagging loops count.
struct Totals {
  std::size_t tokens = 0;
  double seconds = 0.0;  // in Tagger::predict only
};

std::vector<std::vector<std::string>> timed_predict(
    const lstmner::Tagger<float>& tagger, const std::vector<std::vector<std::string>>& words,
    const std::vector<bool>& starts_document, Totals& totals) {
  const auto t0 = Clock::now();
  auto tags = tagger.predict(words, starts_document);
  totals.seconds += std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& w : words) totals.tokens += w.size();
  return tags;
}

/// How many of the `count` sentences read so far to tag now: all of them, unless documents
/// matter (`documents`), more input may follow (`more`) and a document other than the first
/// starts among them (starts(i)): then those before the last document start, the rest being
/// held back for the next window.
template <class Starts>
std::size_t ready_sentences(std::size_t count, bool documents, bool more, Starts&& starts) {
  if (!documents || !more) return count;
  for (std::size_t j = count; j-- > 1;)
    if (starts(j)) return j;
  return count;
}

void end_window(std::ostream& out, Progress& progress, const Totals& totals) {
  out.flush();
  if (!out) throw std::runtime_error("cannot write the output");
  progress.update(totals.tokens);
}

void write_text_json(std::ostream& out, lstmner::TagScheme scheme, const std::string& line,
                     const std::vector<lstmner::TextToken>& tokens,
                     const std::vector<std::string>& words, const std::vector<std::string>& tags) {
  nlohmann::json j;
  j["text"] = line;
  j["tokens"] = words;
  j["tags"] = tags;
  j["entities"] = nlohmann::json::array();
  // Spans in the scheme of the tags (IOBES: S-LOC S-LOC is two entities, not one).
  for (const auto& e : lstmner::decode_entities(tags, scheme)) {
    const std::size_t begin_byte = tokens[e.begin].begin, end_byte = tokens[e.end - 1].end;
    j["entities"].push_back({{"type", e.type},
                             {"begin", e.begin},
                             {"end", e.end},
                             {"text", line.substr(begin_byte, end_byte - begin_byte)},
                             {"begin_byte", begin_byte},
                             {"end_byte", end_byte}});
  }
  out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

/// Raw text, one sentence per line: a window of lines at a time.
void tag_text(const lstmner::Tagger<float>& tagger, const Options& opt, std::istream& in,
              const std::string& name, std::ostream& out, Progress& progress, Totals& totals) {
  const bool documents = tagger.config().doc_context_dim > 0;
  // The lines read and not yet written (a held-back document first), their tokens and words.
  std::vector<std::string> lines;
  std::vector<std::vector<lstmner::TextToken>> tokens;
  std::vector<std::vector<std::string>> words;
  std::string line;
  bool more = true;
  while (more || !lines.empty()) {
    const std::size_t held = lines.size();
    while (more && (opt.window == 0 || lines.size() < held + opt.window)) {
      if (!std::getline(in, line)) {
        more = false;
        break;
      }
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
    if (in.bad()) throw std::runtime_error("cannot read '" + name + "'");
    if (lines.empty()) break;
    tokens.resize(lines.size());
    words.resize(lines.size());
    for (std::size_t s = held; s < lines.size(); ++s) {
      tokens[s] = lstmner::tokenize(lines[s]);
      words[s].clear();
      for (const auto& t : tokens[s]) words[s].push_back(t.text);
    }
    // A line after a blank one opens a document.
    auto starts = [&](std::size_t s) { return s == 0 || words[s - 1].empty(); };
    const std::size_t ready = ready_sentences(lines.size(), documents, more, starts);
    std::vector<bool> starts_document(ready);
    for (std::size_t s = 0; s < ready; ++s) starts_document[s] = starts(s);
    std::vector<std::vector<std::string>> batch(std::make_move_iterator(words.begin()),
                                                std::make_move_iterator(words.begin() + ready));
    const auto tags = timed_predict(tagger, batch, starts_document, totals);
    for (std::size_t s = 0; s < ready; ++s) {
      if (opt.output_format == "json") {
        write_text_json(out, tagger.output_scheme(), lines[s], tokens[s], batch[s], tags[s]);
      } else {
        for (std::size_t i = 0; i < batch[s].size(); ++i)
          out << batch[s][i] << ' ' << tags[s][i] << '\n';
        out << '\n';
      }
    }
    lines.erase(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(ready));
    tokens.erase(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(ready));
    words.erase(words.begin(), words.begin() + static_cast<std::ptrdiff_t>(ready));
    end_window(out, progress, totals);
  }
}

/// CoNLL: a window of sentences at a time (lstmner::ConllStreamReader).
void tag_conll(const lstmner::Tagger<float>& tagger, const Options& opt, std::istream& in,
               const std::string& name, std::ostream& out, Progress& progress, Totals& totals) {
  lstmner::ConllReadOptions read;
  read.word_column = opt.word_column;
  read.tag_column = std::nullopt;  // keep every column as it is; the prediction goes after them
  lstmner::ConllStreamReader reader(in, name, read);
  const bool documents = tagger.config().doc_context_dim > 0;
  lstmner::ConllWindow next, window;  // window: what is tagged now (a held-back document first)
  std::vector<lstmner::Sentence> held;
  std::vector<std::vector<std::string>> words;
  bool more = true;
  while (more) {
    more = reader.read(opt.window, next);
    if (!more && held.empty()) break;
    held.insert(held.end(), std::make_move_iterator(next.sentences.begin()),
                std::make_move_iterator(next.sentences.end()));
    // An empty document ends the window (the reader stops there): nothing is held back.
    const std::size_t ready =
        ready_sentences(held.size(), documents, more && !next.empty_document,
                        [&](std::size_t s) { return held[s].starts_document; });
    window.sentences.assign(
        std::make_move_iterator(held.begin()),
        std::make_move_iterator(held.begin() + static_cast<std::ptrdiff_t>(ready)));
    held.erase(held.begin(), held.begin() + static_cast<std::ptrdiff_t>(ready));
    window.empty_document = next.empty_document;
    words.resize(window.sentences.size());
    std::vector<bool> starts_document(window.sentences.size());
    for (std::size_t s = 0; s < words.size(); ++s) {
      words[s] = window.sentences[s].words;
      starts_document[s] = window.sentences[s].starts_document;
    }
    const auto tags = timed_predict(tagger, words, starts_document, totals);
    if (opt.output_format == "json") {
      for (std::size_t s = 0; s < words.size(); ++s) {
        nlohmann::json j;
        j["tokens"] = words[s];
        j["tags"] = tags[s];
        j["entities"] = nlohmann::json::array();
        for (const auto& e : lstmner::decode_entities(tags[s], tagger.output_scheme())) {
          std::string text;
          for (std::size_t i = e.begin; i < e.end; ++i)
            text += (i > e.begin ? " " : "") + words[s][i];
          j["entities"].push_back(
              {{"type", e.type}, {"begin", e.begin}, {"end", e.end}, {"text", text}});
        }
        out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
      }
    } else {
      lstmner::write_conll(out, window, tags);
    }
    end_window(out, progress, totals);
  }
}

int run(int argc, char** argv) {
  Options opt;
  CLI::App app{"lstmner-tag: tag text with a model trained by lstmner-train"};
  app.option_defaults()->always_capture_default();
  app.add_option("--model,-m", opt.model, "Model file written by lstmner-train")->required();
  app.add_option("input", opt.input, "Input file, or - for standard input");
  app.add_option("--input-format", opt.input_format,
                 "text: one sentence per line, tokenised here; conll: one token per line")
      ->check(CLI::IsMember({"text", "conll"}));
  app.add_option("--output-format", opt.output_format,
                 "conll: token columns plus the predicted tag; json: one object per sentence")
      ->check(CLI::IsMember({"conll", "json"}));
  app.add_option("--word-column", opt.word_column, "CoNLL input: the column holding the word");
  app.add_option("--scheme", opt.scheme,
                 "Tag scheme of the output (default: the scheme of the model's training data)")
      ->check(CLI::IsMember({"iob1", "iob2", "bio", "iobes"}, CLI::ignore_case));
  app.add_option("--window,--chunk", opt.window,
                 "Sentences (raw text: lines) read, tagged together and written before the next "
                 "are read; memory grows with it. 0 = the whole input at once. The tags do not "
                 "depend on it (with a document-context model: unless a document is longer)")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--threads", opt.threads,
                 "Threads to tag on (batches shared out among them); 0 = every available core. "
                 "The tags do not depend on it")
      ->check(CLI::Range(0, 1024));
  app.add_flag("--benchmark", opt.benchmark, "Print tagging speed (tokens/s) to stderr");
  app.add_flag("--quiet,-q", opt.quiet,
               "No progress line (shown on stderr only when stderr is a terminal)");
  parse_command_line(app, "lstmner-tag", argc, argv);

  auto tagger = lstmner::Tagger<float>::load(opt.model);
  if (!opt.scheme.empty()) tagger.set_output_scheme(lstmner::parse_tag_scheme(opt.scheme));
  tagger.set_threads(opt.threads);

  std::ifstream file;
  std::istream* in = &std::cin;
  std::string name = "<stdin>";
  if (opt.input != "-") {
    errno = 0;
    file.open(opt.input, std::ios::binary);
    if (!file) {
      throw std::runtime_error("cannot open input file '" + opt.input +
                               "': " + std::strerror(errno != 0 ? errno : ENOENT));
    }
    in = &file;
    name = opt.input;
  }
  std::ios::sync_with_stdio(false);
  Progress progress(!opt.quiet && isatty(fileno(stderr)) != 0);
  Totals totals;
  if (opt.input_format == "conll") {
    tag_conll(tagger, opt, *in, name, std::cout, progress, totals);
  } else {
    tag_text(tagger, opt, *in, name, std::cout, progress, totals);
  }
  progress.finish();
  if (opt.benchmark) {
    std::cerr << "benchmark: tagged " << totals.tokens << " tokens in " << totals.seconds << " s: "
              << static_cast<long>(static_cast<double>(totals.tokens) /
                                   std::max(totals.seconds, 1e-9))
              << " tokens/s\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("lstmner-tag", argc, argv, run);
}
