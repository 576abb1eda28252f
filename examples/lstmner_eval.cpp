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
// command line.

#include <lstmner/metrics.hpp>

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <optional>
#include <string>

int main(int argc, char** argv) {
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
      ->check(CLI::IsMember({"iob1", "iob2", "bio", "iobes", "IOB1", "IOB2", "BIO", "IOBES"}));
  app.add_option("--digits", digits, "decimals in the seqeval table (default 2)")
      ->check(CLI::Range(0, 20));
  app.add_option("-d,--delimiter", file_options.delimiter,
                 "field separator (conlleval -d; default one space)");
  app.add_flag("-r,--raw", file_options.raw,
               "tags have no B-/I- prefix; every non-outside tag is a one-token entity "
               "(conlleval -r)");
  app.add_option("-o,--outside-tag", file_options.outside_tag,
                 "the outside tag in raw mode (conlleval -o; default O)");
  CLI11_PARSE(app, argc, argv);
  if (file_options.delimiter.empty()) {
    std::cerr << "lstmner-eval: the delimiter must not be empty\n";
    return 2;
  }

  try {
    lstmner::ScoringOptions options;
    if (!mode_name.empty()) {
      options.mode = lstmner::parse_scoring_mode(mode_name);
    } else if (format == "seqeval") {
      options.mode = lstmner::ScoringMode::Seqeval;
    }
    if (!scheme_name.empty()) {
      if (options.mode != lstmner::ScoringMode::SeqevalStrict) {
        std::cerr << "lstmner-eval: --scheme only applies to --mode strict\n";
        return 2;
      }
      options.scheme = lstmner::parse_tag_scheme(scheme_name);
    }

    std::optional<lstmner::PredictionFile> file;
    if (input == "-") {
      file = lstmner::read_prediction_file(std::cin, "<stdin>", file_options);
    } else {
      std::ifstream in(input, std::ios::binary);
      if (!in) {
        std::cerr << "lstmner-eval: cannot open '" << input << "'\n";
        return 1;
      }
      file = lstmner::read_prediction_file(in, input, file_options);
    }

    const lstmner::EvaluationReport report =
        options.mode == lstmner::ScoringMode::Conlleval
            ? file->conlleval.report()
            : lstmner::evaluate(file->gold, file->predicted, options);
    if (format == "conlleval") {
      std::cout << lstmner::format_conlleval(report);
    } else if (format == "seqeval") {
      std::cout << lstmner::format_seqeval(report, digits) << '\n';
    } else {
      std::cout << lstmner::to_json(report);
    }
    std::cout.flush();
    if (!std::cout) {
      std::cerr << "lstmner-eval: error writing the report\n";
      return 1;
    }
  } catch (const std::exception& e) {
    std::cerr << "lstmner-eval: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
