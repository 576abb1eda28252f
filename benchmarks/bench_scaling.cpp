// bench_scaling: the scaling model of docs/performance.md — what a training epoch and tagging
// would take on N cores, predicted from work measured on this machine, and measured with real
// threads where the machine has the cores.
//
//   bench_scaling [--data DIR] [--threads 1,2,4,8,16,32] [--measure 1,2] [--batches 60]
//
// Prediction, for each N of --threads: the training steps of --batches batches of CoNLL-2003
// (DIR or $LSTMNER_DATA; the sample corpus without them) run on an ExecutionContext of N threads
// with a stage recorder, which runs every stage's parts one after the other, cut exactly as for
// N threads, and records how long each part took. A step at N threads is then predicted as
//     serial time (everything outside the stages: batching, <unk> replacement, Adam's bookkeeping)
//   + for every stage, the time its parts take when N threads take them in order from a shared
//     counter, as the context hands them out (list scheduling of the measured part times)
//   + a hand-off per stage: h(N), measured for N up to this machine's cores, beyond that
//     h(cores) + 0.1 µs per further thread (the shared counter's cache line, a guess).
// Tagging the test set is predicted the same way from each batch's measured time (batches run
// whole on one thread each). The model ignores what more threads share: memory bandwidth and the
// last-level cache; parts run as fast as they do alone.
//
// Measurement, for each N of --measure (default: 1 up to this machine's available cores): the
// same steps and the same tagging with a real ExecutionContext of N threads.

#include <lstmner/batch.hpp>
#include <lstmner/execution_context.hpp>
#include <lstmner/network.hpp>
#include <lstmner/sentence_encoder.hpp>
#include <lstmner/tagger.hpp>
#include <lstmner/trainer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <numeric>
#include <queue>
#include <sstream>
#include <string>
#include <vector>

namespace {

using lstmner::ExecutionContext;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) values.push_back(std::stoi(item));
  return values;
}

/// How long `part_seconds`, taken in order by `threads` threads (each takes the next part when
/// it is free), keep the last thread busy.
double makespan(const std::vector<double>& part_seconds, int threads) {
  std::priority_queue<double, std::vector<double>, std::greater<double>> free_at;
  for (int i = 0; i < threads; ++i) free_at.push(0.0);
  double end = 0.0;
  for (double seconds : part_seconds) {
    const double start = free_at.top();
    free_at.pop();
    free_at.push(start + seconds);
    end = std::max(end, start + seconds);
  }
  return end;
}

/// Busy-waits for `seconds` (a part of known length).
void spin_for(double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
  }
}

/// The cost of handing out a stage of `threads` parts: the wall time of a stage whose parts each
/// take 20 µs, less those 20 µs (median of rounds).
double measure_handoff(int threads) {
  constexpr double part = 20e-6;
  ExecutionContext context(threads);
  std::vector<double> rounds;
  for (int round = 0; round < 21; ++round) {
    const auto start = Clock::now();
    for (int i = 0; i < 200; ++i) context.run(threads, [](lstmner::Part) { spin_for(part); });
    rounds.push_back(seconds_since(start) / 200 - part);
  }
  std::sort(rounds.begin(), rounds.end());
  return std::max(0.0, rounds[rounds.size() / 2]);
}

struct Setup {
  lstmner::ConllDocument train, test;
  lstmner::TaggerConfig config;
  lstmner::SentenceEncoder encoder;
  std::vector<lstmner::EncodedSentence> encoded;
  lstmner::NetworkShape shape;
  std::vector<std::vector<std::size_t>> batches;  ///< every batch of one epoch
};

/// Training steps over the first `count` batches on `context`; returns each step's wall time.
std::vector<double> train_steps(const Setup& s, ExecutionContext& context, std::size_t count) {
  lstmner::Rng init(s.config.seed);
  lstmner::TaggerNetwork<float> network(s.shape, init);
  lstmner::Trainer<float> trainer(network, s.config, lstmner::SentenceEncoder::unk_id, context);
  const auto params = network.params();
  double loss = 0.0;
  // Warm-up: the buffers grow to the largest batch.
  for (std::size_t i = 0; i < std::min<std::size_t>(count, 5); ++i)
    trainer.train_step(s.encoded, s.batches[i], params, &loss);
  std::vector<double> seconds;
  for (std::size_t i = 0; i < count; ++i) {
    const auto start = Clock::now();
    trainer.train_step(s.encoded, s.batches[i], params, &loss);
    seconds.push_back(seconds_since(start));
  }
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir;
  if (const char* env = std::getenv("LSTMNER_DATA")) data_dir = env;
  std::vector<int> predict_threads{1, 2, 4, 8, 16, 32};
  std::vector<int> measure_threads;
  for (int n = 1; n <= lstmner::available_cores(); ++n) measure_threads.push_back(n);
  std::size_t batch_count = 60;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--data" && has_value) {
      data_dir = argv[++i];
    } else if (arg == "--threads" && has_value) {
      predict_threads = parse_list(argv[++i]);
    } else if (arg == "--measure" && has_value) {
      measure_threads = parse_list(argv[++i]);
    } else if (arg == "--batches" && has_value) {
      batch_count = static_cast<std::size_t>(std::stoul(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "usage: bench_scaling [--data DIR] [--threads 1,2,4,...] [--measure 1,2,...] "
                   "[--batches N]\n");
      return 2;
    }
  }
  namespace fs = std::filesystem;
  if (data_dir.empty() || !fs::exists(fs::path(data_dir) / "train.txt")) {
    const char* sample = std::getenv("LSTMNER_SAMPLE_DATA");
    data_dir = sample ? sample : "examples/data/sample";
    std::printf("(CoNLL-2003 not found: using the sample corpus in %s)\n", data_dir.c_str());
  }

  Setup s;
  s.train = lstmner::read_conll((fs::path(data_dir) / "train.txt").string());
  s.test = lstmner::read_conll((fs::path(data_dir) / "test.txt").string());
  s.encoder.build(s.train, s.config);
  s.encoded = s.encoder.encode_training_data(s.train);
  s.shape.vocabulary_size = static_cast<lstmner::Index>(s.encoder.words().size());
  s.shape.casing_classes = lstmner::num_casing_classes;
  s.shape.num_tags = static_cast<lstmner::Index>(s.encoder.tags().size());
  s.shape.embedding_dim = s.config.embedding_dim;
  s.shape.casing_dim = s.config.casing_dim;
  s.shape.hidden_dim = s.config.hidden_dim;
  s.shape.lstm_layers = s.config.lstm_layers;
  s.shape.dropout = s.config.dropout;
  s.shape.output = s.config.output;
  lstmner::Rng order(s.config.seed);
  s.batches =
      lstmner::bucket_by_length(s.encoded, static_cast<std::size_t>(s.config.batch_size), &order);
  batch_count = std::min(batch_count, s.batches.size());
  const double steps_per_epoch = static_cast<double>(s.batches.size());

  // A tagger to tag the test set with (its weights do not change the time a batch takes).
  lstmner::TaggerConfig tag_config = s.config;
  tag_config.epochs = 1;
  tag_config.threads = 1;
  lstmner::ConllDocument small = s.train;
  small.sentences.resize(std::min<std::size_t>(small.sentences.size(), 2000));
  auto tagger = lstmner::Tagger<float>::train(small, nullptr, tag_config);
  std::vector<std::vector<std::string>> test_words;
  std::size_t test_tokens = 0;
  for (const auto& sentence : s.test.sentences) {
    test_words.push_back(sentence.words);
    test_tokens += sentence.words.size();
  }
  const auto plan = lstmner::detail::plan_prediction(test_words, tagger.prediction_batch_size,
                                                     tagger.prediction_max_padding);
  std::vector<double> batch_seconds;  // each batch tagged alone, longest first (as predict does)
  tagger.set_threads(1);
  for (int round = 0; round < 2; ++round) {  // the first round sizes the buffers
    batch_seconds.clear();
    for (const auto& batch : plan.batches) {
      std::vector<std::vector<std::string>> words;
      for (std::size_t i : batch) words.push_back(test_words[plan.source[i]]);
      const auto start = Clock::now();
      tagger.predict(words);
      batch_seconds.push_back(seconds_since(start));
    }
  }

  const int cores = lstmner::available_cores();
  std::vector<double> handoff(static_cast<std::size_t>(cores + 1), 0.0);
  for (int n = 2; n <= cores; ++n) handoff[static_cast<std::size_t>(n)] = measure_handoff(n);
  auto handoff_at = [&](int n) {
    if (n <= 1) return 0.0;
    if (n <= cores) return handoff[static_cast<std::size_t>(n)];
    return handoff[static_cast<std::size_t>(std::max(cores, 2))] + 0.1e-6 * (n - cores);
  };

  std::printf("- data: %s (%zu training batches of %d; %zu timed); test set %zu tokens\n",
              data_dir.c_str(), s.batches.size(), s.config.batch_size, batch_count, test_tokens);
  std::printf("- this machine: %d available cores; hand-off of an empty stage:", cores);
  for (int n = 2; n <= cores; ++n) std::printf(" %d threads %.2f us;", n, 1e6 * handoff_at(n));
  std::printf(
      "\n\n| threads | step, predicted (ms) | epoch, predicted (s) | speed-up | stages per step | "
      "serial share | tagging, predicted (tok/s) | epoch, measured (s) | tagging, measured "
      "(tok/s) |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");

  double one_thread_step = 0.0;
  for (int n : predict_threads) {
    ExecutionContext context(n);
    std::vector<std::vector<double>> stages;
    const ExecutionContext::StageRecorder recorder = [&](const std::vector<double>& parts) {
      stages.push_back(parts);
    };
    context.set_stage_recorder(&recorder);
    // The recorded steps: every stage of every step, then the step's own wall time.
    lstmner::Rng init(s.config.seed);
    lstmner::TaggerNetwork<float> network(s.shape, init);
    lstmner::Trainer<float> trainer(network, s.config, lstmner::SentenceEncoder::unk_id, context);
    const auto params = network.params();
    double loss = 0.0;
    for (std::size_t i = 0; i < std::min<std::size_t>(batch_count, 5); ++i)
      trainer.train_step(s.encoded, s.batches[i], params, &loss);
    double predicted_total = 0.0, serial_total = 0.0, wall_total = 0.0;
    std::size_t stage_count = 0;
    for (std::size_t i = 0; i < batch_count; ++i) {
      stages.clear();
      const auto start = Clock::now();
      trainer.train_step(s.encoded, s.batches[i], params, &loss);
      const double wall = seconds_since(start);
      double in_stages = 0.0, predicted_stages = 0.0;
      for (const auto& parts : stages) {
        in_stages += std::accumulate(parts.begin(), parts.end(), 0.0);
        predicted_stages += makespan(parts, n) + (parts.size() > 1 ? handoff_at(n) : 0.0);
      }
      const double serial = std::max(0.0, wall - in_stages);
      predicted_total += serial + predicted_stages;
      serial_total += serial;
      wall_total += wall;
      stage_count += stages.size();
    }
    const double step = predicted_total / static_cast<double>(batch_count);
    if (n == 1) one_thread_step = step;
    const double tag_seconds = makespan(batch_seconds, n) + handoff_at(n);

    // Measured with real threads.
    std::string measured_epoch = "—", measured_tagging = "—";
    if (std::find(measure_threads.begin(), measure_threads.end(), n) != measure_threads.end()) {
      ExecutionContext real(n);
      std::vector<double> seconds = train_steps(s, real, batch_count);
      const double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) /
                          static_cast<double>(seconds.size());
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f", mean * steps_per_epoch);
      measured_epoch = buf;
      tagger.set_threads(n);
      tagger.predict(test_words);  // sizes every thread's scratch
      std::vector<double> rounds;
      for (int round = 0; round < 3; ++round) {
        const auto start = Clock::now();
        tagger.predict(test_words);
        rounds.push_back(seconds_since(start));
      }
      std::sort(rounds.begin(), rounds.end());
      std::snprintf(buf, sizeof buf, "%.0fk", static_cast<double>(test_tokens) / rounds[1] / 1e3);
      measured_tagging = buf;
    }
    std::printf("| %d | %.3f | %.2f | %.2fx | %.0f | %.1f%% | %.0fk | %s | %s |\n", n, 1e3 * step,
                step * steps_per_epoch, one_thread_step / step,
                static_cast<double>(stage_count) / static_cast<double>(batch_count),
                100.0 * serial_total / wall_total,
                static_cast<double>(test_tokens) / tag_seconds / 1e3, measured_epoch.c_str(),
                measured_tagging.c_str());
    std::fflush(stdout);
  }
  return 0;
}
