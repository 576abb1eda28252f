// lstmner-train: trains a BiLSTM tagger on CoNLL files, reports dev F1 after every epoch, keeps
// the best model, prints the test report in conlleval's format and optionally writes the metrics
// as JSON. Run with --help for the options; docs/tools.md describes them.

#include <lstmner/tagger.hpp>

#include "tool_main.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace {

using lstmner::TaggerConfig;

struct Options {
  std::string data_dir, train, dev, test, model, metrics_json, scheme, optimizer;
  bool quiet = false;
  bool benchmark = false;
};

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

nlohmann::json config_json(const TaggerConfig& c) {
  return {{"embedding_dim", c.embedding_dim},
          {"hidden_dim", c.hidden_dim},
          {"casing_dim", c.casing_dim},
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
          {"threads", c.threads}};
}

int run(int argc, char** argv) {
  Options opt;
  TaggerConfig config;  // the library's defaults are the tool's defaults
  opt.scheme = lstmner::to_string(config.train_scheme);
  opt.optimizer = lstmner::to_string(config.optimizer);
  CLI::App app{"lstmner-train: train a BiLSTM named-entity tagger on CoNLL files"};
  app.option_defaults()->always_capture_default();
  app.add_option("--data", opt.data_dir,
                 "Directory with train.txt, valid.txt and test.txt (default: $LSTMNER_DATA)");
  app.add_option("--train", opt.train, "Training file (CoNLL)");
  app.add_option("--dev", opt.dev, "Development file, scored after every epoch");
  app.add_option("--test", opt.test, "Test file, scored once at the end");
  app.add_option("--model", opt.model, "Where to save the best model");
  app.add_option("--metrics-json", opt.metrics_json,
                 "Write config, per-epoch figures and final metrics to this JSON file");
  app.add_option("--epochs", config.epochs, "Maximum number of epochs")
      ->check(CLI::Range(1, 100000));
  app.add_option("--patience", config.patience,
                 "Stop after N epochs without a better dev F1 (0: never)");
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

  const bool tty = isatty(fileno(stderr)) != 0;
  lstmner::TrainingCallbacks callbacks;
  if (!opt.quiet && tty) {
    callbacks.on_batch = [&](const lstmner::BatchProgress& p) { draw_progress(p, config.epochs); };
  }
  callbacks.on_epoch = [&](const lstmner::EpochSummary& e) {
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

  lstmner::TrainingHistory history;
  const auto t0 = std::chrono::steady_clock::now();
  const auto tagger =
      lstmner::Tagger<float>::train(train, dev ? &*dev : nullptr, config, callbacks, &history);
  const double total_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "best epoch %d (dev F1 %.2f), %s in all\n", history.best_epoch,
               history.best_dev_f1, format_duration(total_seconds).c_str());

  if (!opt.model.empty()) {
    tagger.save(opt.model);
    std::cerr << "model saved to " << opt.model << "\n";
  }

  nlohmann::json metrics;
  metrics["config"] = config_json(config);
  metrics["train_file"] = opt.train;
  metrics["epochs"] = nlohmann::json::array();
  for (const auto& e : history.epochs) {
    metrics["epochs"].push_back({{"epoch", e.epoch},
                                 {"train_loss", e.train_loss},
                                 {"dev_precision", e.dev_precision},
                                 {"dev_recall", e.dev_recall},
                                 {"dev_f1", e.dev_f1},
                                 {"train_seconds", e.train_seconds},
                                 {"eval_seconds", e.eval_seconds},
                                 {"tokens_per_second", e.tokens_per_second},
                                 {"best", e.best}});
  }
  metrics["best_epoch"] = history.best_epoch;
  metrics["stopped_early"] = history.stopped_early;
  metrics["total_seconds"] = total_seconds;
  if (dev) metrics["dev"] = report_json(tagger.evaluate(*dev));
  if (test) {
    const auto t1 = std::chrono::steady_clock::now();
    const auto report = tagger.evaluate(*test);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    std::cout << lstmner::format_conlleval(report);
    metrics["test"] = report_json(report);
    metrics["test_tagging_tokens_per_second"] = static_cast<double>(report.tokens) / seconds;
    if (opt.benchmark) {
      std::printf("benchmark: tagging tokens %zu seconds %.4f tokens_per_second %.0f threads %d\n",
                  report.tokens, seconds, static_cast<double>(report.tokens) / seconds,
                  tagger.threads());
    }
  }
  // Atomically, like the model: a reader never sees half a file.
  if (!opt.metrics_json.empty())
    lstmner::write_file_atomically(opt.metrics_json, metrics.dump(2) + "\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return run_tool("lstmner-train", argc, argv, run);
}
