#pragma once
/// \file metrics/prediction_file.hpp
/// read_prediction_file(): conlleval's input format (token lines ending in a gold and a predicted
/// tag, blank lines between sentences), read line by line as conlleval reads it; and
/// scan_prediction_file(), the same reader handing each token over instead of keeping it (with
/// the Scorer, a file of any size is scored in the memory of one line). Part of metrics.hpp.

#include <lstmner/metrics/conlleval_counter.hpp>

#include <cstddef>
#include <istream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lstmner {

struct PredictionFileOptions {
  /// conlleval -d: the field separator (conlleval's default is one space; each occurrence
  /// separates, so two spaces make an empty field, as in Perl's split).
  std::string delimiter = " ";
  /// conlleval -r: tags carry no prefix; every tag other than the outside tag becomes B-tag.
  bool raw = false;
  /// conlleval -o: the outside tag in raw mode.
  std::string outside_tag = "O";
  /// First field of the lines that conlleval treats as a sentence break.
  std::string boundary = "-X-";
  /// First field of document lines, left out of `gold` / `predicted` (conlleval counts them).
  std::string docstart = "-DOCSTART-";
};

/// A prediction file read line by line as conlleval reads it.
struct PredictionFile {
  /// Every line fed to conlleval's counter (-DOCSTART- lines counted as tokens, as conlleval does).
  ConllevalCounter conlleval;
  /// Sentences of gold (last-but-one field) and predicted (last field) tags, -DOCSTART- lines
  /// left out: the input of evaluate() in the seqeval modes.
  std::vector<std::vector<std::string>> gold, predicted;
  /// The first field of every token line of those sentences (the word, when `fields` > 2), and
  /// the 1-based line number of each sentence's first token.
  std::vector<std::vector<std::string>> tokens;
  std::vector<std::size_t> first_lines;
  /// Fields of the file's token lines (set by its first non-empty line; 0 for an empty file).
  std::size_t fields = 0;
  std::size_t lines = 0;
};

/// One token line of a prediction file, as scan_prediction_file hands it over (views into the
/// line, valid during the call).
struct PredictionToken {
  std::string_view word;  ///< the first field
  std::string_view gold, predicted;
  std::size_t line = 0;  ///< 1-based
};

/// Reads conlleval's input format: fields split on `delimiter` (trailing empty fields dropped),
/// the last two fields gold and predicted tag, blank lines (or lines starting with -X-) between
/// sentences. A trailing CR is removed from every line (conlleval would keep it in the last tag).
/// Throws std::runtime_error naming `name` and the line, where conlleval stops with an error:
/// a non-empty line with a different number of fields than the file's first line, or fewer
/// than two fields.
///
/// This form keeps nothing: it hands every token of a sentence to `on_token(PredictionToken)`
/// and calls `on_sentence_end()` after each sentence (-DOCSTART- lines are neither; they end the
/// sentence before them), and returns the file with empty `gold`, `predicted`, `tokens` and
/// `first_lines`. Its memory is
/// that of the longest line.
template <class OnToken, class OnSentenceEnd>
PredictionFile scan_prediction_file(std::istream& in, const std::string& name,
                                    const PredictionFileOptions& options, OnToken&& on_token,
                                    OnSentenceEnd&& on_sentence_end) {
  if (options.delimiter.empty())
    throw std::invalid_argument("lstmner: read_prediction_file: empty delimiter");
  PredictionFile file;
  std::string line;
  std::vector<std::string_view> fields;
  bool in_sentence = false;
  std::optional<std::size_t> field_count;  // conlleval's $nbrOfFeatures (set by the first line)
  std::string raw_gold, raw_predicted;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error("lstmner: read_prediction_file: " + name + ":" +
                             std::to_string(file.lines) + ": " + what);
  };
  auto end_sentence = [&]() {
    if (in_sentence) on_sentence_end();
    in_sentence = false;
  };
  while (std::getline(in, line)) {
    ++file.lines;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // Perl's split(/$delimiter/, $line): every occurrence separates, trailing empties go.
    fields.clear();
    std::string_view rest(line);
    for (;;) {
      const std::size_t pos = rest.find(options.delimiter);
      if (pos == std::string_view::npos) {
        fields.push_back(rest);
        break;
      }
      fields.push_back(rest.substr(0, pos));
      rest.remove_prefix(pos + options.delimiter.size());
    }
    while (!fields.empty() && fields.back().empty()) fields.pop_back();

    if (!field_count) {
      if (!fields.empty()) field_count = file.fields = fields.size();
    } else if (!fields.empty() && fields.size() != *field_count) {
      fail("unexpected number of features: " + std::to_string(fields.size()) + " (" +
           std::to_string(*field_count) + ")");
    }
    if (fields.empty() || fields[0] == options.boundary) {
      file.conlleval.add_boundary();
      end_sentence();
      continue;
    }
    if (fields.size() < 2) fail("unexpected number of features in line " + line);
    std::string_view gold = fields[fields.size() - 2];
    std::string_view predicted = fields.back();
    if (options.raw) {
      raw_gold = gold == options.outside_tag || gold == "O" ? "O" : "B-" + std::string(gold);
      raw_predicted = predicted == options.outside_tag || predicted == "O"
                          ? "O"
                          : "B-" + std::string(predicted);
      gold = raw_gold;
      predicted = raw_predicted;
    }
    file.conlleval.add(gold, predicted);
    if (fields[0] == options.docstart) {
      end_sentence();
    } else {
      on_token(PredictionToken{fields[0], gold, predicted, file.lines});
      in_sentence = true;
    }
  }
  if (in.bad()) throw std::runtime_error("lstmner: read_prediction_file: " + name + ": read error");
  end_sentence();
  return file;
}

/// The same, keeping every sentence's tags, tokens and first line in the returned file's `gold`,
/// `predicted`, `tokens` and `first_lines`.
inline PredictionFile read_prediction_file(std::istream& in, const std::string& name,
                                           const PredictionFileOptions& options = {}) {
  std::vector<std::vector<std::string>> gold, predicted, tokens;
  std::vector<std::size_t> first_lines;
  std::vector<std::string> gold_sentence, predicted_sentence, token_sentence;
  PredictionFile file = scan_prediction_file(
      in, name, options,
      [&](const PredictionToken& token) {
        if (gold_sentence.empty()) first_lines.push_back(token.line);
        gold_sentence.emplace_back(token.gold);
        predicted_sentence.emplace_back(token.predicted);
        token_sentence.emplace_back(token.word);
      },
      [&]() {
        gold.push_back(std::move(gold_sentence));
        predicted.push_back(std::move(predicted_sentence));
        tokens.push_back(std::move(token_sentence));
        gold_sentence.clear();
        predicted_sentence.clear();
        token_sentence.clear();
      });
  file.gold = std::move(gold);
  file.predicted = std::move(predicted);
  file.tokens = std::move(tokens);
  file.first_lines = std::move(first_lines);
  return file;
}

}  // namespace lstmner
