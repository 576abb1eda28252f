// CoNLL-2003 I/O and scoring: reading the train file (204k tokens) and scoring the test set
// (46k tokens) in each mode. Needs LSTMNER_DATA (the directory with train.txt and test.txt);
// without it every benchmark reports the skip.
//
//   LSTMNER_DATA=../shared/data/conll2003 ./bench_conll

#include <lstmner/conll.hpp>
#include <lstmner/metrics.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string data_file(const char* name) {
  const char* dir = std::getenv("LSTMNER_DATA");
  if (dir == nullptr || *dir == '\0') return {};
  const std::filesystem::path path = std::filesystem::path(dir) / name;
  return std::filesystem::exists(path) ? path.string() : std::string();
}

constexpr const char* kSkip = "LSTMNER_DATA is not set to the CoNLL-2003 directory";

/// Argument 1: keep every column (the default); 0: words and tags only.
void BM_ReadConllTrain(benchmark::State& state) {
  const std::string path = data_file("train.txt");
  if (path.empty()) {
    state.SkipWithError(kSkip);
    return;
  }
  lstmner::ConllReadOptions options;
  options.keep_columns = state.range(0) != 0;
  std::size_t tokens = 0;
  for (auto _ : state) {
    const lstmner::ConllDocument doc = lstmner::read_conll(path, options);
    tokens = doc.tokens();
    benchmark::DoNotOptimize(tokens);
  }
  state.counters["tokens"] = static_cast<double>(tokens);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(tokens));
}
BENCHMARK(BM_ReadConllTrain)
    ->ArgName("keep_columns")
    ->Arg(1)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond);

/// Test-set gold tags and a prediction with about 10% of the tags replaced at random.
struct TestSet {
  std::vector<std::vector<std::string>> gold, predicted;
  std::string prediction_file;  // conlleval input
};

const TestSet* test_set() {
  static const TestSet* set = []() -> const TestSet* {
    const std::string path = data_file("test.txt");
    if (path.empty()) return nullptr;
    auto* s = new TestSet;
    const lstmner::ConllDocument doc = lstmner::read_conll(path);
    s->gold = doc.tag_sequences();
    s->predicted = s->gold;
    std::mt19937 rng(7);
    const std::vector<std::string> tags = {"O",     "B-PER", "I-PER",  "B-LOC", "I-LOC",
                                           "B-ORG", "I-ORG", "B-MISC", "I-MISC"};
    for (auto& sentence : s->predicted)
      for (auto& tag : sentence)
        if (rng() % 10 == 0) tag = tags[rng() % tags.size()];
    std::ostringstream out;
    lstmner::write_conll(out, doc, s->predicted);
    s->prediction_file = out.str();
    return s;
  }();
  return set;
}

void BM_ScoreTestSet(benchmark::State& state, lstmner::ScoringMode mode) {
  const TestSet* set = test_set();
  if (set == nullptr) {
    state.SkipWithError(kSkip);
    return;
  }
  lstmner::ScoringOptions options;
  options.mode = mode;
  options.scheme = lstmner::TagScheme::IOB1;
  double f1 = 0;
  for (auto _ : state) {
    const lstmner::EvaluationReport report = lstmner::evaluate(set->gold, set->predicted, options);
    f1 = report.micro.f1;
    benchmark::DoNotOptimize(f1);
  }
}
BENCHMARK_CAPTURE(BM_ScoreTestSet, conlleval, lstmner::ScoringMode::Conlleval)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ScoreTestSet, seqeval, lstmner::ScoringMode::Seqeval)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ScoreTestSet, strict_iob1, lstmner::ScoringMode::SeqevalStrict)
    ->Unit(benchmark::kMillisecond);

/// What lstmner-eval does: parse conlleval's format from memory and score it.
void BM_ScorePredictionFile(benchmark::State& state) {
  const TestSet* set = test_set();
  if (set == nullptr) {
    state.SkipWithError(kSkip);
    return;
  }
  for (auto _ : state) {
    std::istringstream in(set->prediction_file);
    const lstmner::PredictionFile file = lstmner::read_prediction_file(in, "test");
    const std::string report = lstmner::format_conlleval(file.conlleval.report());
    benchmark::DoNotOptimize(report.data());
  }
}
BENCHMARK(BM_ScorePredictionFile)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
