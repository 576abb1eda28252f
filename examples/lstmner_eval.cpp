// lstmner-eval: scores a prediction file like conlleval (default) or seqeval, analyses its
// errors, writes an HTML report, and compares two systems by a paired bootstrap.
//
//   lstmner-eval [FILE|-] [--format conlleval|seqeval|json] [--mode conlleval|seqeval|strict]
//                [--scheme iob1|iob2|iobes] [--digits N] [-d DELIM] [-r] [-o OTAG]
//                [--analysis [--max-errors N]] [--train FILE] [--report OUT.html]
//   lstmner-eval --compare A B [--samples N] [--seed S] [--format json] [--mode ...]
//
// Input is conlleval's format: fields separated by single spaces, the last two fields the gold
// and the predicted tag, blank lines between sentences, -DOCSTART- lines allowed. The default
// output is byte for byte what `perl conlleval < FILE` prints. --format seqeval prints seqeval's
// classification_report (scored in seqeval's default mode unless --mode says otherwise);
// --mode strict --scheme X scores like seqeval's mode='strict', scheme=X. --analysis adds the
// error analysis (metrics/analysis.hpp); --compare runs metrics/bootstrap.hpp's paired bootstrap.
// Exit status: 0 on success, 1 on unreadable or malformed input (with a message naming file and
// line), 2 on a bad command line (tool_main.hpp). Without --analysis, --report and --compare the
// file streams through the scorer, so any size is scored in the memory of one line.

#include <lstmner/conll.hpp>
#include <lstmner/metrics.hpp>

#include "atomic_file.hpp"
#include "report/pages.hpp"
#include "tool_main.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

/// Opens `input` (or standard input for "-"); a failure names the file and the system's reason.
std::istream& open_input(const std::string& input, std::ifstream& file) {
  if (input == "-") return std::cin;
  errno = 0;
  file.open(input, std::ios::binary);
  if (!file)
    throw std::runtime_error("cannot open '" + input +
                             "': " + std::strerror(errno != 0 ? errno : ENOENT));
  return file;
}

lstmner::PredictionFile read_file(const std::string& input,
                                  const lstmner::PredictionFileOptions& options) {
  std::ifstream file;
  std::istream& in = open_input(input, file);
  return lstmner::read_prediction_file(in, input == "-" ? "<stdin>" : input, options);
}

/// Both files must hold the same sentences with the same gold tags (and words).
void check_same_gold(const lstmner::PredictionFile& a, const std::string& name_a,
                     const lstmner::PredictionFile& b, const std::string& name_b) {
  if (a.gold.size() != b.gold.size())
    throw std::runtime_error(name_a + " has " + std::to_string(a.gold.size()) + " sentences but " +
                             name_b + " has " + std::to_string(b.gold.size()));
  for (std::size_t s = 0; s < a.gold.size(); ++s) {
    const bool words = a.fields > 2 && b.fields > 2;
    if (a.gold[s] != b.gold[s] || (words && a.tokens[s] != b.tokens[s]))
      throw std::runtime_error("the gold " + std::string(words ? "words or tags" : "tags") +
                               " differ: " + name_a + ":" + std::to_string(a.first_lines[s]) +
                               " and " + name_b + ":" + std::to_string(b.first_lines[s]) +
                               " (sentence " + std::to_string(s + 1) + ")");
  }
}

std::string percent(double fraction) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", 100 * fraction);
  return buffer;
}

std::string comparison_text(const lstmner::BootstrapComparison& r, const std::string& a,
                            const std::string& b, lstmner::ScoringMode mode) {
  std::string out = "paired bootstrap over " + std::to_string(r.sentences) +
                    " sentences: " + std::to_string(r.samples) + " samples, seed " +
                    std::to_string(r.seed) + ", " + lstmner::to_string(mode) + " rules\n";
  out += "A: " + a + "  precision " + percent(r.a.precision) + "%  recall " + percent(r.a.recall) +
         "%  F1 " + percent(r.a.f1) + "\n";
  out += "B: " + b + "  precision " + percent(r.b.precision) + "%  recall " + percent(r.b.recall) +
         "%  F1 " + percent(r.b.f1) + "\n";
  char line[256];
  std::snprintf(line, sizeof line,
                "F1(A) - F1(B) = %.2f points, %.0f%% interval [%.2f, %.2f]; p = %.4f "
                "(two-sided); A higher in %.1f%% of the samples\n",
                100 * r.difference, 100 * r.confidence, 100 * r.low, 100 * r.high, r.p_value,
                100 * r.a_wins);
  return out + line;
}

std::string comparison_json(const lstmner::BootstrapComparison& r, const std::string& a,
                            const std::string& b, lstmner::ScoringMode mode) {
  auto prf = [](const lstmner::PRF& s) {
    return nlohmann::json{{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}};
  };
  nlohmann::json j = {{"mode", lstmner::to_string(mode)},
                      {"a", {{"file", a}, {"scores", prf(r.a)}}},
                      {"b", {{"file", b}, {"scores", prf(r.b)}}},
                      {"sentences", r.sentences},
                      {"samples", r.samples},
                      {"seed", r.seed},
                      {"confidence", r.confidence},
                      {"f1_difference", r.difference},
                      {"interval", {r.low, r.high}},
                      {"p_value", r.p_value},
                      {"p_value_kind", "two-sided, shifted bootstrap distribution"},
                      {"a_wins", r.a_wins}};
  return j.dump(2) + "\n";
}

int run(int argc, char** argv) {
  CLI::App app{"Score predicted entity tags against gold tags, like conlleval or seqeval"};
  std::string input = "-";
  std::string format = "conlleval";
  std::string mode_name;
  std::string scheme_name;
  int digits = 2;
  bool analysis = false;
  std::size_t max_errors = std::numeric_limits<std::size_t>::max();
  std::string train_file, report_file;
  std::vector<std::string> compare;
  std::size_t samples = 10000;
  std::uint64_t seed = 1;
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
  app.add_flag("--analysis", analysis,
               "after the report, the error analysis: entity error classes, tag confusion, "
               "breakdowns and every error (with --format json: one JSON object with all of it)");
  app.add_option("--max-errors", max_errors, "list at most N errors in --analysis (default all)");
  app.add_option("--train", train_file,
                 "training file (CoNLL): adds the breakdown by whether an entity's words occur "
                 "in it to --analysis and --report");
  app.add_option("--report", report_file,
                 "write an HTML report (scores, error classes, confusion heat map, breakdowns, "
                 "errors) to this file");
  app.add_option("--compare", compare,
                 "compare two prediction files of the same gold tags by a paired bootstrap over "
                 "sentences")
      ->expected(2);
  app.add_option("--samples", samples, "bootstrap samples for --compare (default 10000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100000000}));
  app.add_option("--seed", seed, "random seed of --compare's resampling (default 1)");
  parse_command_line(app, "lstmner-eval", argc, argv);
  if (file_options.delimiter.empty()) throw UsageError("the delimiter must not be empty");
  const bool comparing = !compare.empty();
  if (comparing && (app.count("file") > 0 || analysis || !report_file.empty()))
    throw UsageError("--compare takes no other input file, --analysis or --report");
  if (comparing && format == "seqeval") throw UsageError("--compare prints text or --format json");
  if (!train_file.empty() && !analysis && report_file.empty())
    throw UsageError("--train only applies to --analysis and --report");
  if (app.count("--max-errors") > 0 && !analysis)
    throw UsageError("--max-errors only applies to --analysis");
  if (!comparing && (app.count("--samples") > 0 || app.count("--seed") > 0))
    throw UsageError("--samples and --seed only apply to --compare");

  {
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

    if (comparing) {
      const lstmner::PredictionFile a = read_file(compare[0], file_options);
      const lstmner::PredictionFile b = read_file(compare[1], file_options);
      check_same_gold(a, compare[0], b, compare[1]);
      lstmner::BootstrapOptions bootstrap;
      bootstrap.scoring = options;
      bootstrap.samples = samples;
      bootstrap.seed = seed;
      const auto r = lstmner::paired_bootstrap(a.gold, a.predicted, b.predicted, bootstrap);
      std::cout << (format == "json" ? comparison_json(r, compare[0], compare[1], options.mode)
                                     : comparison_text(r, compare[0], compare[1], options.mode));
      std::cout.flush();
      if (!std::cout) throw std::runtime_error("cannot write the comparison");
      return 0;
    }

    if (!analysis && report_file.empty()) {
      // The file streams through the scorer token by token: memory stays that of one line
      // (plus one entry per entity type), whatever the file's size.
      std::ifstream input_file;
      std::istream& in = open_input(input, input_file);
      lstmner::Scorer scorer(options);
      const lstmner::PredictionFile scanned = lstmner::scan_prediction_file(
          in, input == "-" ? "<stdin>" : input, file_options,
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

    const lstmner::PredictionFile file = read_file(input, file_options);
    const lstmner::EvaluationReport report =
        options.mode == lstmner::ScoringMode::Conlleval
            ? file.conlleval.report()
            : lstmner::evaluate(file.gold, file.predicted, options);

    std::optional<lstmner::ErrorAnalysis> errors;
    if (analysis || !report_file.empty()) {
      std::unordered_set<std::string> training_words;
      lstmner::AnalysisOptions analysis_options;
      analysis_options.scoring = options;
      if (!train_file.empty()) {
        if (file.fields < 3 && !file.gold.empty())
          throw std::runtime_error("--train needs the words: " + input +
                                   " has only the two tag columns");
        lstmner::ConllReadOptions read_options;
        read_options.tag_column = std::nullopt;
        read_options.keep_columns = false;
        for (const auto& s : lstmner::read_conll(train_file, read_options).sentences)
          training_words.insert(s.words.begin(), s.words.end());
        analysis_options.training_words = &training_words;
      }
      const std::vector<std::vector<std::string>> no_tokens;
      errors = lstmner::analyze(file.gold, file.predicted,
                                file.fields > 2 ? file.tokens : no_tokens, analysis_options);
      // Conlleval counts -DOCSTART- lines as tokens: show its report, as the plain output does.
      errors->report = report;
    }

    if (analysis && format == "json") {
      std::cout << lstmner::to_json(*errors, max_errors);
    } else {
      if (format == "conlleval") {
        std::cout << lstmner::format_conlleval(report);
      } else if (format == "seqeval") {
        std::cout << lstmner::format_seqeval(report, digits) << '\n';
      } else {
        std::cout << lstmner::to_json(report);
      }
      if (analysis) std::cout << "\n" << lstmner::format_analysis(*errors, max_errors);
    }
    std::cout.flush();
    if (!std::cout) throw std::runtime_error("cannot write the report");
    if (!report_file.empty()) {
      const auto data = nlohmann::json::parse(lstmner::to_json(*errors));
      write_file_atomically(report_file,
                            report::eval_page(data, input == "-" ? "standard input" : input));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("lstmner-eval", argc, argv, run);
}
