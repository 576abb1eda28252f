// lstmner-train: trains a BiLSTM tagger on CoNLL files, reports dev F1 after every epoch, keeps
// the best model, prints the test report in conlleval's format and optionally writes the metrics
// as JSON, a line of JSON per epoch (--progress) and an HTML report. SIGTERM or SIGINT stops
// training after the current batch and still writes the metrics of the epochs completed. Run
// with --help for the options; docs/tools.md describes them.

#include <lstmner/tagger.hpp>

#include "atomic_file.hpp"
#include "report/pages.hpp"
#include "tool_main.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <unordered_set>

namespace {

using lstmner::TaggerConfig;

struct Options {
  std::string data_dir, train, dev, test, model, metrics_json, scheme, optimizer, char_encoder,
      output;
  std::string progress, report;
  bool quiet = false;
  bool benchmark = false;
};

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

/// Errors of the analysis listed in the metrics JSON (and so in the report); errors_total
/// gives the full count.
constexpr std::size_t listed_errors = 100;

/// The signal that asked training to stop (SIGTERM or SIGINT), 0 while none has.
volatile std::sig_atomic_t stop_signal = 0;

extern "C" void request_stop(int signal_number) {
  if (stop_signal != 0) {  // a second signal: stop at once, the default way
    std::signal(signal_number, SIG_DFL);
    std::raise(signal_number);
    return;
  }
  stop_signal = signal_number;
}

/// Thrown from the batch callback when a stop was requested; training unwinds to run().
struct Interrupted {};

std::string format_duration(double seconds) {
  char buf[32];
  if (seconds >= 60) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(seconds) / 60,
                  static_cast<int>(seconds) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", seconds);
  }
  return buf;
}

/// One progress bar line, redrawn in place on a terminal.
void draw_progress(const lstmner::BatchProgress& p, int epochs) {
  const double fraction =
      p.tokens_total ? static_cast<double>(p.tokens_done) / static_cast<double>(p.tokens_total) : 1;
  const int width = 30;
  const int filled = static_cast<int>(fraction * width);
  const double rate = p.seconds > 0 ? static_cast<double>(p.tokens_done) / p.seconds : 0;
  const double left = rate > 0 ? static_cast<double>(p.tokens_total - p.tokens_done) / rate : 0;
  std::fprintf(stderr, "\r  epoch %d/%d [%s%s] %3.0f%%  loss %.4f  %6.0f tok/s  %s left ", p.epoch,
               epochs, std::string(static_cast<std::size_t>(filled), '#').c_str(),
               std::string(static_cast<std::size_t>(width - filled), '.').c_str(), 100 * fraction,
               p.mean_loss, rate, format_duration(left).c_str());
  if (p.batch == p.batches) std::fprintf(stderr, "\r%*s\r", 100, "");
  std::fflush(stderr);
}

nlohmann::json report_json(const lstmner::EvaluationReport& report) {
  return nlohmann::json::parse(lstmner::to_json(report));
}

nlohmann::json epoch_json(const lstmner::EpochSummary& e) {
  return {{"epoch", e.epoch},
          {"train_loss", e.train_loss},
          {"dev_precision", e.dev_precision},
          {"dev_recall", e.dev_recall},
          {"dev_f1", e.dev_f1},
          {"train_seconds", e.train_seconds},
          {"eval_seconds", e.eval_seconds},
          {"tokens_per_second", e.tokens_per_second},
          {"best", e.best}};
}

/// The test report and error analysis of the tagger on `data` (conlleval rules). The report is
/// what Tagger::evaluate() returns: predictions converted to the data's scheme, then scored.
std::pair<lstmner::EvaluationReport, lstmner::ErrorAnalysis> evaluate_and_analyze(
    const lstmner::Tagger<float>& tagger, const lstmner::ConllDocument& data,
    const std::unordered_set<std::string>& training_words) {
  std::vector<std::vector<std::string>> words, gold;
  for (const auto& s : data.sentences) {
    if (s.tags.size() != s.words.size())
      throw std::runtime_error(data.source + " line " + std::to_string(s.first_line) +
                               ": the sentence has no gold tags");
    words.push_back(s.words);
    gold.push_back(s.tags);
  }
  std::vector<std::vector<std::string>> predicted =
      tagger.predict(words, lstmner::Tagger<float>::document_starts(data));
  if (data.scheme != tagger.output_scheme())
    for (auto& tags : predicted)
      tags = lstmner::convert_tags(tags, tagger.output_scheme(), data.scheme);
  lstmner::AnalysisOptions options;
  options.training_words = &training_words;
  lstmner::ErrorAnalysis analysis = lstmner::analyze(gold, predicted, words, options);
  return {analysis.report, std::move(analysis)};
}

nlohmann::json config_json(const TaggerConfig& c) {
  return {{"embedding_dim", c.embedding_dim},
          {"hidden_dim", c.hidden_dim},
          {"casing_dim", c.casing_dim},
          {"doc_context_dim", c.doc_context_dim},
          {"lowercase", c.lowercase},
          {"normalize_digits", c.normalize_digits},
          {"min_word_count", c.min_word_count},
          {"dropout", c.dropout},
          {"singleton_unk", c.singleton_unk},
          {"word_dropout", c.word_dropout},
          {"optimizer", lstmner::to_string(c.optimizer)},
          {"learning_rate", c.learning_rate},
          {"momentum", c.momentum},
          {"clip_norm", c.clip_norm},
          {"batch_size", c.batch_size},
          {"max_batch_tokens", c.max_batch_tokens},
          {"epochs", c.epochs},
          {"patience", c.patience},
          {"train_scheme", lstmner::to_string(c.train_scheme)},
          {"constrained_decoding", c.constrained_decoding},
          {"seed", c.seed},
          {"threads", c.threads},
          {"lstm_layers", c.lstm_layers},
          {"output", lstmner::to_string(c.output)},
          {"char_encoder", lstmner::to_string(c.char_encoder)},
          {"char_embedding_dim", c.char_embedding_dim},
          {"char_hidden_dim", c.char_hidden_dim},
          {"min_char_count", c.min_char_count},
          {"word_vectors", c.word_vectors},
          {"max_word_vectors", c.max_word_vectors},
          {"freeze_word_vectors", c.freeze_word_vectors},
          {"average_checkpoints", c.average_checkpoints}};
}

int run(int argc, char** argv) {
  Options opt;
  TaggerConfig config;  // the library's defaults are the tool's defaults
  opt.scheme = lstmner::to_string(config.train_scheme);
  opt.optimizer = lstmner::to_string(config.optimizer);
  opt.char_encoder = lstmner::to_string(config.char_encoder);
  opt.output = lstmner::to_string(config.output);
  CLI::App app{"lstmner-train: train a BiLSTM named-entity tagger on CoNLL files"};
  app.option_defaults()->always_capture_default();
  app.add_option("--data", opt.data_dir,
                 "Directory with train.txt, valid.txt and test.txt (default: $LSTMNER_DATA)");
  app.add_option("--train", opt.train, "Training file (CoNLL)");
  app.add_option("--dev", opt.dev, "Development file, scored after every epoch");
  app.add_option("--test", opt.test, "Test file, scored once at the end");
  app.add_option("--model", opt.model, "Where to save the best model");
  app.add_option("--metrics-json", opt.metrics_json,
                 "Write config, per-epoch figures, final metrics and the error analysis of the "
                 "test set (else dev) to this JSON file");
  app.add_option("--progress", opt.progress,
                 "Write one JSON line per epoch to this file as training goes (for lstmner-tune)");
  app.add_option("--report", opt.report,
                 "Write an HTML report: training curves, per-type scores, confusion heat map, "
                 "error classes and examples");
  app.add_option("--epochs", config.epochs, "Maximum number of epochs")
      ->check(CLI::Range(1, 100000));
  app.add_option("--patience", config.patience,
                 "Stop after N epochs without a better dev F1 (0: never)");
  app.add_option("--average", config.average_checkpoints,
                 "Score and keep the mean of the last N epochs' weights (0: off)")
      ->check(CLI::Range(0, 100));
  app.add_option("--batch-size", config.batch_size, "Sentences per batch")
      ->check(CLI::Range(1, 65536));
  app.add_option("--max-batch-tokens", config.max_batch_tokens,
                 "Tokens per batch at most (sentences x the longest): bounds training memory; a "
                 "longer sentence is trained on in pieces")
      ->check(CLI::PositiveNumber);
  app.add_option("--lr", config.learning_rate, "Learning rate");
  app.add_option("--optimizer", opt.optimizer, "adam or sgd")
      ->check(CLI::IsMember({"adam", "sgd"}));
  app.add_option("--clip", config.clip_norm, "Clip the global gradient norm to this (0: off)");
  app.add_option("--emb-dim", config.embedding_dim, "Word embedding size");
  app.add_option("--hidden", config.hidden_dim, "LSTM hidden size per direction");
  app.add_option("--casing-dim", config.casing_dim, "Casing feature embedding size (0: off)");
  app.add_option("--doc-context-dim", config.doc_context_dim,
                 "Document-context feature embedding size (0: off): how each word is cased "
                 "elsewhere in its -DOCSTART- document")
      ->check(CLI::Range(0, 256));
  app.add_option(
         "--char-encoder", opt.char_encoder,
         "Character-level word encoder: bilstm (char BiLSTM, Lample et al.), cnn (char CNN, "
         "Ma & Hovy) or none")
      ->check(CLI::IsMember({"none", "bilstm", "cnn"}, CLI::ignore_case));
  app.add_option("--char-dim", config.char_embedding_dim, "Character embedding size");
  app.add_option("--char-hidden", config.char_hidden_dim,
                 "Char BiLSTM units per direction, or char CNN filters");
  app.add_option("--embeddings", config.word_vectors,
                 "Pretrained word vectors (GloVe/word2vec text, fastText .vec, word2vec binary): "
                 "an extra input block over training and vector words");
  app.add_option("--max-vectors", config.max_word_vectors,
                 "Read only the first N vectors of --embeddings (0: all)");
  app.add_flag("--freeze-embeddings", config.freeze_word_vectors,
               "Keep the pretrained vectors fixed (default: fine-tune them)");
  app.add_option("--layers", config.lstm_layers, "Stacked BiLSTM layers")->check(CLI::Range(1, 8));
  app.add_option("--output", opt.output, "Output layer: softmax or crf")
      ->check(CLI::IsMember({"softmax", "crf"}, CLI::ignore_case));
  app.add_option("--dropout", config.dropout, "Dropout on embeddings and LSTM outputs");
  app.add_option("--singleton-unk", config.singleton_unk,
                 "Probability of replacing a training singleton by <unk>");
  app.add_option("--word-dropout", config.word_dropout,
                 "Probability of replacing any training word by <unk>");
  app.add_option("--min-count", config.min_word_count, "Words rarer than this map to <unk>");
  app.add_option("--scheme", opt.scheme, "Tag scheme the network predicts (iobes, iob2 or iob1)")
      ->check(CLI::IsMember({"iob1", "iob2", "bio", "iobes"}, CLI::ignore_case));
  app.add_flag("!--no-lowercase", config.lowercase, "Keep the case of words (default: fold it)");
  app.add_flag("!--no-digit-norm", config.normalize_digits, "Keep digits (default: map to 0)");
  app.add_flag("!--no-constrained", config.constrained_decoding,
               "Decode by argmax instead of constrained Viterbi");
  app.add_option("--seed", config.seed,
                 "Random seed: same seed, same model (on any number of threads)");
  app.add_option("--threads", config.threads,
                 "Threads for training and tagging; 0 = every available core (the default)")
      ->check(CLI::Range(0, 1024));
  app.add_flag("-q,--quiet", opt.quiet, "No progress bar");
  app.add_flag("--benchmark", opt.benchmark,
               "Print machine-readable timing lines (epoch seconds, tokens/s, tagging tokens/s)");
  parse_command_line(app, "lstmner-train", argc, argv);

  config.train_scheme = lstmner::parse_tag_scheme(opt.scheme);
  config.optimizer = lstmner::parse_optimizer(opt.optimizer);
  config.char_encoder = lstmner::parse_char_encoder(lowercase(opt.char_encoder));
  config.output = lstmner::parse_output_kind(lowercase(opt.output));
  try {
    config.validate();
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());  // an option out of range is a command-line mistake
  }

  if (opt.data_dir.empty() && opt.train.empty()) {
    if (const char* env = std::getenv("LSTMNER_DATA")) opt.data_dir = env;
  }
  if (!opt.data_dir.empty()) {
    const std::filesystem::path dir(opt.data_dir);
    if (opt.train.empty()) opt.train = (dir / "train.txt").string();
    if (opt.dev.empty()) opt.dev = (dir / "valid.txt").string();
    if (opt.test.empty()) opt.test = (dir / "test.txt").string();
  }
  if (opt.train.empty()) {
    throw UsageError("no training data: pass --train FILE or --data DIR (or set LSTMNER_DATA)");
  }

  const auto train = lstmner::read_conll(opt.train);
  std::optional<lstmner::ConllDocument> dev, test;
  if (!opt.dev.empty()) dev = lstmner::read_conll(opt.dev);
  if (!opt.test.empty()) test = lstmner::read_conll(opt.test);
  std::size_t train_tokens = 0;
  for (const auto& s : train.sentences) train_tokens += s.words.size();
  std::cerr << "train: " << opt.train << " (" << train.sentences.size() << " sentences, "
            << train_tokens << " tokens, " << lstmner::to_string(train.scheme) << ")\n";

  std::ofstream progress;
  if (!opt.progress.empty()) {
    progress.open(opt.progress, std::ios::binary | std::ios::trunc);
    if (!progress) throw std::runtime_error("cannot write " + opt.progress);
  }
  std::signal(SIGTERM, request_stop);
  std::signal(SIGINT, request_stop);

  const bool tty = isatty(fileno(stderr)) != 0;
  const bool bar = !opt.quiet && tty;
  lstmner::TrainingCallbacks callbacks;
  callbacks.on_batch = [&](const lstmner::BatchProgress& p) {
    if (stop_signal != 0) {
      if (bar) std::fprintf(stderr, "\r%*s\r", 100, "");
      throw Interrupted{};
    }
    if (bar) draw_progress(p, config.epochs);
  };
  lstmner::TrainingHistory history;  // filled epoch by epoch, so an interrupted run keeps it
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  callbacks.on_epoch = [&](const lstmner::EpochSummary& e) {
    history.epochs.push_back(e);
    if (e.best) {
      history.best_epoch = e.epoch;
      history.best_dev_f1 = e.dev_f1;
    }
    if (progress.is_open()) {
      nlohmann::ordered_json line = {{"epoch", e.epoch}};  // epoch first, for people reading it
      const nlohmann::json fields = epoch_json(e);
      for (const auto& [key, value] : fields.items())
        if (key != "epoch") line[key] = value;
      line["elapsed_seconds"] = elapsed();
      progress << line.dump() << "\n";
      progress.flush();
      if (!progress) throw std::runtime_error("cannot write " + opt.progress);
    }
    std::fprintf(stderr, "epoch %3d  loss %.4f", e.epoch, e.train_loss);
    if (e.dev_f1 >= 0) {
      std::fprintf(stderr, "  dev P %6.2f R %6.2f F1 %6.2f", e.dev_precision, e.dev_recall,
                   e.dev_f1);
    }
    std::fprintf(stderr, "  %s (%.0f tok/s)%s\n", format_duration(e.train_seconds).c_str(),
                 e.tokens_per_second, e.best ? "  *" : "");
    if (opt.benchmark) {
      std::printf("benchmark: epoch %d train_seconds %.3f tokens_per_second %.0f\n", e.epoch,
                  e.train_seconds, e.tokens_per_second);
    }
  };

  nlohmann::json metrics;
  metrics["config"] = config_json(config);
  metrics["train_file"] = opt.train;
  if (dev) metrics["dev_file"] = opt.dev;
  if (test) metrics["test_file"] = opt.test;
  double training_seconds = -1;  // set when training ends
  auto write_outputs = [&]() -> bool {
    metrics["epochs"] = nlohmann::json::array();
    for (const auto& e : history.epochs) metrics["epochs"].push_back(epoch_json(e));
    metrics["epochs_run"] = history.epochs.size();
    metrics["best_epoch"] = history.best_epoch;
    metrics["best_dev_f1"] = history.best_dev_f1;
    metrics["stopped_early"] = history.stopped_early;
    metrics["total_seconds"] = training_seconds >= 0 ? training_seconds : elapsed();
    if (!opt.metrics_json.empty()) {
      try {
        write_file_atomically(opt.metrics_json, metrics.dump(2) + "\n");
      } catch (const std::exception& e) {
        std::cerr << "lstmner-train: error: " << e.what() << "\n";
        return false;
      }
    }
    if (!opt.report.empty()) write_file_atomically(opt.report, report::train_page(metrics));
    return true;
  };

  std::optional<lstmner::Tagger<float>> tagger;
  try {
    lstmner::TrainingHistory result;
    tagger.emplace(
        lstmner::Tagger<float>::train(train, dev ? &*dev : nullptr, config, callbacks, &result));
    history = std::move(result);
  } catch (const Interrupted&) {
    metrics["interrupted"] = true;
    metrics["signal"] = stop_signal == SIGTERM ? "SIGTERM" : "SIGINT";
    const bool written = write_outputs();
    std::fprintf(stderr,
                 "interrupted (%s) after %zu complete epochs; best epoch %d (dev F1 %.2f); no "
                 "model saved\n",
                 stop_signal == SIGTERM ? "SIGTERM" : "SIGINT", history.epochs.size(),
                 history.best_epoch, history.best_dev_f1);
    return written ? 128 + static_cast<int>(stop_signal) : 1;
  }
  metrics["interrupted"] = false;
  training_seconds = elapsed();
  std::fprintf(stderr, "best epoch %d (dev F1 %.2f), %s in all\n", history.best_epoch,
               history.best_dev_f1, format_duration(training_seconds).c_str());

  if (!opt.model.empty()) {
    tagger->save(opt.model);
    std::cerr << "model saved to " << opt.model << "\n";
  }

  std::unordered_set<std::string> training_words;
  for (const auto& s : train.sentences) training_words.insert(s.words.begin(), s.words.end());
  if (dev) {
    auto [report, analysis] = evaluate_and_analyze(*tagger, *dev, training_words);
    metrics["dev"] = report_json(report);
    if (!test) {
      metrics["analysis"] = nlohmann::json::parse(lstmner::to_json(analysis, listed_errors));
      metrics["analysis_set"] = "dev";
    }
  }
  if (test) {
    const auto t1 = std::chrono::steady_clock::now();
    const auto report = tagger->evaluate(*test);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::cout << lstmner::format_conlleval(report);
    metrics["test"] = report_json(report);
    metrics["test_tagging_tokens_per_second"] = static_cast<double>(report.tokens) / seconds;
    if (opt.benchmark) {
      std::printf("benchmark: tagging tokens %zu seconds %.4f tokens_per_second %.0f threads %d\n",
                  report.tokens, seconds, static_cast<double>(report.tokens) / seconds,
                  tagger->threads());
    }
    const auto analysis = evaluate_and_analyze(*tagger, *test, training_words).second;
    metrics["analysis"] = nlohmann::json::parse(lstmner::to_json(analysis, listed_errors));
    metrics["analysis_set"] = "test";
  }
  return write_outputs() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("lstmner-train", argc, argv, run);
}
