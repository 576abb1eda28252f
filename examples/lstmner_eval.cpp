// lstmner-eval: scores a prediction file like conlleval (default) or seqeval.
//
//   lstmner-eval [FILE|-] [--format conlleval|seqeval|json] [--mode conlleval|seqeval|strict]
//                [--scheme iob1|iob2|iobes] [--digits N] [-d DELIM] [-r] [-o OTAG]
//
// Input is conlleval's format: fields separated by single spaces, the last two fields the gold
// and the predicted tag, blank lines between sentences, -DOCSTART- lines allowed. The default
// output is byte for byte what `perl conlleval < FILE` prints. --format seqeval prints seqeval's
// classification_report (scored in seqeval's default mode unless --mode says otherwise);
// --mode strict --scheme X scores like seqeval's mode='strict', scheme=X. Exit status: 0 on
// success, 1 on unreadable or malformed input (with a message naming file and line), 2 on a bad
// command line (tool_main.hpp). The file streams through the scorer, so any size is scored in the
// memory of one line.

#include <lstmner/metrics.hpp>

#include "tool_main.hpp"

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

namespace {

int run(int argc, char** argv) {
  CLI::App app{"Score predicted entity tags against gold tags, like conlleval or seqeval"};
  std::string input = "-";
  std::string format = "conlleval";
  std::string mode_name;
  std::string scheme_name;
  int digits = 2;
  lstmner::PredictionFileOptions file_options;
  app.add_option("file", input, "prediction file (tokens, gold tag, predicted tag); - for stdin");
  app.add_option("--format", format, "output: conlleval (default), seqeval or json")
      ->check(CLI::IsMember({"conlleval", "seqeval", "json"}));
  app.add_option("--mode", mode_name,
                 "scoring rules: conlleval (default for conlleval and json output), seqeval "
                 "(seqeval's default mode; default for seqeval output) or strict")
      ->check(CLI::IsMember({"conlleval", "seqeval", "default", "strict"}));
  app.add_option("--scheme", scheme_name,
                 "strict mode's tag scheme: iob1, iob2 (bio) or iobes; detected when omitted")
      ->check(CLI::IsMember({"iob1", "iob2", "bio", "iobes"}, CLI::ignore_case));
  app.add_option("--digits", digits, "decimals in the seqeval table (default 2)")
      ->check(CLI::Range(0, 20));
  app.add_option("-d,--delimiter", file_options.delimiter,
                 "field separator (conlleval -d; default one space)");
  app.add_flag("-r,--raw", file_options.raw,
               "tags have no B-/I- prefix; every non-outside tag is a one-token entity "
               "(conlleval -r)");
  app.add_option("-o,--outside-tag", file_options.outside_tag,
                 "the outside tag in raw mode (conlleval -o; default O)");
  parse_command_line(app, "lstmner-eval", argc, argv);
  if (file_options.delimiter.empty()) throw UsageError("the delimiter must not be empty");

  lstmner::ScoringOptions options;
  if (!mode_name.empty()) {
    options.mode = lstmner::parse_scoring_mode(mode_name);
  } else if (format == "seqeval") {
    options.mode = lstmner::ScoringMode::Seqeval;
  }
  if (!scheme_name.empty()) {
    if (options.mode != lstmner::ScoringMode::SeqevalStrict)
      throw UsageError("--scheme only applies to --mode strict");
    options.scheme = lstmner::parse_tag_scheme(scheme_name);
  }

  // The file streams through the scorer token by token: memory stays that of one line (plus
  // one entry per entity type), whatever the file's size.
  std::ifstream file;
  std::istream* in = &std::cin;
  std::string name = "<stdin>";
  if (input != "-") {
    errno = 0;
    file.open(input, std::ios::binary);
    if (!file) {
      throw std::runtime_error("cannot open '" + input +
                               "': " + std::strerror(errno != 0 ? errno : ENOENT));
    }
    in = &file;
    name = input;
  }
  lstmner::Scorer scorer(options);
  const lstmner::PredictionFile scanned = lstmner::scan_prediction_file(
      *in, name, file_options,
      [&](const lstmner::PredictionToken& t) { scorer.add(t.gold, t.predicted); },
      [&] { scorer.end_sentence(); });
  // conlleval's own counts include the -DOCSTART- lines, as conlleval counts them.
  const lstmner::EvaluationReport report = options.mode == lstmner::ScoringMode::Conlleval
                                               ? scanned.conlleval.report()
                                               : scorer.report();
  if (format == "conlleval") {
    std::cout << lstmner::format_conlleval(report);
  } else if (format == "seqeval") {
    std::cout << lstmner::format_seqeval(report, digits) << '\n';
  } else {
    std::cout << lstmner::to_json(report);
  }
  std::cout.flush();
  if (!std::cout) throw std::runtime_error("cannot write the report");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("lstmner-eval", argc, argv, run);
}
