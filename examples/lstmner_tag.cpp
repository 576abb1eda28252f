// lstmner-tag: tags text with a saved model.
//
//   lstmner-tag --model M [FILE|-]                       raw text, one sentence per line
//   lstmner-tag --model M --input-format conll FILE      CoNLL columns, every column kept
//   ... --output-format json                             one JSON object per sentence
//
// Raw text is split by lstmner's tokenizer (include/lstmner/tokenizer.hpp), which splits like
// CoNLL-2003. CoNLL input keeps every input column, -DOCSTART- lines and the blank lines between
// sentences, and gets the predicted tag appended, so the output scores directly with lstmner-eval
// or conlleval.

#include <lstmner/tagger.hpp>
#include <lstmner/tokenizer.hpp>

#include "tool_main.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string model, input = "-", input_format = "text", output_format = "conll", scheme;
  int word_column = 0;
  int threads = 0;  // 0: every available core
  std::size_t chunk = 1024;
  bool benchmark = false;
};

using Clock = std::chrono::steady_clock;

/// Sentences of raw text, tagged in chunks so that long inputs stream through in bounded memory.
class TextTagger {
 public:
  TextTagger(const lstmner::Tagger<float>& tagger, const Options& opt, std::ostream& out)
      : tagger_(tagger), opt_(opt), out_(out) {}

  void add_line(const std::string& line) {
    lines_.push_back(line);
    if (lines_.size() >= opt_.chunk) flush();
  }

  void flush() {
    std::vector<std::vector<lstmner::TextToken>> tokens;
    std::vector<std::vector<std::string>> words;
    for (const auto& line : lines_) {
      tokens.push_back(lstmner::tokenize(line));
      std::vector<std::string> w;
      for (const auto& t : tokens.back()) w.push_back(t.text);
      words.push_back(std::move(w));
    }
    const auto t0 = Clock::now();
    const auto tags = tagger_.predict(words);
    seconds_ += std::chrono::duration<double>(Clock::now() - t0).count();
    for (std::size_t s = 0; s < lines_.size(); ++s) {
      tokens_done_ += words[s].size();
      if (opt_.output_format == "json") {
        write_json(lines_[s], tokens[s], words[s], tags[s]);
      } else {
        for (std::size_t i = 0; i < words[s].size(); ++i)
          out_ << words[s][i] << ' ' << tags[s][i] << '\n';
        out_ << '\n';
      }
    }
    lines_.clear();
  }

  std::size_t tokens() const { return tokens_done_; }
  double seconds() const { return seconds_; }

 private:
  void write_json(const std::string& line, const std::vector<lstmner::TextToken>& tokens,
                  const std::vector<std::string>& words, const std::vector<std::string>& tags) {
    nlohmann::json j;
    j["text"] = line;
    j["tokens"] = words;
    j["tags"] = tags;
    j["entities"] = nlohmann::json::array();
    // Spans in the scheme of the tags (IOBES: S-LOC S-LOC is two entities, not one).
    for (const auto& e : lstmner::decode_entities(tags, tagger_.output_scheme())) {
      const std::size_t begin_byte = tokens[e.begin].begin, end_byte = tokens[e.end - 1].end;
      j["entities"].push_back({{"type", e.type},
                               {"begin", e.begin},
                               {"end", e.end},
                               {"text", line.substr(begin_byte, end_byte - begin_byte)},
                               {"begin_byte", begin_byte},
                               {"end_byte", end_byte}});
    }
    out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }

  const lstmner::Tagger<float>& tagger_;
  const Options& opt_;
  std::ostream& out_;
  std::vector<std::string> lines_;
  std::size_t tokens_done_ = 0;
  double seconds_ = 0.0;
};

int tag_conll(const lstmner::Tagger<float>& tagger, const Options& opt, std::istream& in,
              const std::string& name, std::ostream& out, std::size_t& tokens, double& seconds) {
  lstmner::ConllReadOptions read;
  read.word_column = opt.word_column;
  read.tag_column = std::nullopt;  // keep every column as it is; the prediction goes after them
  const auto doc = lstmner::read_conll(in, name, read);
  std::vector<std::vector<std::string>> words;
  for (const auto& s : doc.sentences) {
    words.push_back(s.words);
    tokens += s.words.size();
  }
  const auto t0 = Clock::now();
  const auto tags = tagger.predict(words);
  seconds += std::chrono::duration<double>(Clock::now() - t0).count();
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
    lstmner::write_conll(out, doc, tags);
  }
  return 0;
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
  app.add_option("--chunk", opt.chunk, "Raw text: sentences tagged per batch")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--threads", opt.threads,
                 "Threads to tag on (batches shared out among them); 0 = every available core. "
                 "The tags do not depend on it")
      ->check(CLI::Range(0, 1024));
  app.add_flag("--benchmark", opt.benchmark, "Print tagging speed (tokens/s) to stderr");
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
  std::size_t tokens = 0;
  double seconds = 0.0;
  if (opt.input_format == "conll") {
    tag_conll(tagger, opt, *in, name, std::cout, tokens, seconds);
  } else {
    TextTagger text(tagger, opt, std::cout);
    std::string line;
    while (std::getline(*in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      text.add_line(line);
    }
    if (in->bad()) throw std::runtime_error("cannot read '" + name + "'");
    text.flush();
    tokens = text.tokens();
    seconds = text.seconds();
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write the output");
  if (opt.benchmark) {
    std::cerr << "benchmark: tagged " << tokens << " tokens in " << seconds
              << " s: " << static_cast<long>(static_cast<double>(tokens) / std::max(seconds, 1e-9))
              << " tokens/s\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("lstmner-tag", argc, argv, run);
}
