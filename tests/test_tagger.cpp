// The Tagger end to end on the sample corpus that ships in examples/data/sample: it learns, it
// saves and loads bit-identically, it rejects broken model files with clear messages, and it can
// be shared by threads.

#include <lstmner/tagger.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

using namespace lstmner;
namespace fs = std::filesystem;

namespace {

fs::path sample_dir() {
  const char* env = std::getenv("LSTMNER_SAMPLE_DATA");
  return fs::path(env ? env : "examples/data/sample");
}

/// A configuration small enough to train in about a second on the sample corpus.
TaggerConfig quick_config() {
  TaggerConfig config;
  config.embedding_dim = 32;
  config.hidden_dim = 32;
  config.casing_dim = 8;
  config.batch_size = 8;
  config.learning_rate = 0.005;
  config.epochs = 12;
  config.patience = 0;
  config.threads = 1;
  config.seed = 3;
  return config;
}

struct Trained {
  ConllDocument train, dev, test;
  Tagger<float> tagger;
  TrainingHistory history;
};

/// Trained once and shared by the test cases below (training is the slow part).
const Trained& trained() {
  static const Trained model = [] {
    Trained t;
    t.train = read_conll((sample_dir() / "train.txt").string());
    t.dev = read_conll((sample_dir() / "valid.txt").string());
    t.test = read_conll((sample_dir() / "test.txt").string());
    t.tagger = Tagger<float>::train(t.train, &t.dev, quick_config(), {}, &t.history);
    return t;
  }();
  return model;
}

std::vector<std::vector<std::string>> words_of(const ConllDocument& doc) {
  std::vector<std::vector<std::string>> words;
  for (const auto& s : doc.sentences) words.push_back(s.words);
  return words;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("lstmner_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
};

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

}  // namespace

TEST_CASE("the tagger learns the sample corpus (dev and test F1 >= 80)") {
  const Trained& t = trained();
  REQUIRE(t.train.scheme == TagScheme::IOB1);
  REQUIRE(t.history.epochs.size() == 12);
  CHECK(t.history.epochs.back().train_loss < 0.25 * t.history.epochs.front().train_loss);
  const EvaluationReport dev = t.tagger.evaluate(t.dev);
  const EvaluationReport test = t.tagger.evaluate(t.test);
  INFO("dev F1 " << 100 * dev.micro.f1 << ", test F1 " << 100 * test.micro.f1);
  CHECK(100 * dev.micro.f1 == Approx(t.history.best_dev_f1).margin(1e-9));
  CHECK(dev.micro.f1 >= 0.80);
  CHECK(test.micro.f1 >= 0.80);
  // Predictions come back in the scheme of the training data and are well-formed there.
  CHECK(t.tagger.output_scheme() == TagScheme::IOB1);
  CHECK(t.tagger.tags().front() == "O");
}

TEST_CASE("predictions in IOB1 and in IOB2 score identically at the entity level") {
  const Trained& t = trained();
  Tagger<float> tagger = t.tagger;
  const auto words = words_of(t.test);
  const auto iob1 = tagger.predict(words);
  tagger.set_output_scheme(TagScheme::IOB2);
  const auto iob2 = tagger.predict(words);
  std::vector<std::vector<std::string>> gold1, gold2;
  for (const auto& s : t.test.sentences) {
    gold1.push_back(s.tags);
    gold2.push_back(convert_tags(s.tags, TagScheme::IOB1, TagScheme::IOB2));
  }
  bool any_b_tag = false;
  for (const auto& tags : iob2)
    for (const auto& tag : tags) any_b_tag = any_b_tag || tag.rfind("B-", 0) == 0;
  CHECK(any_b_tag);
  const auto r1 = evaluate(gold1, iob1);
  const auto r2 = evaluate(gold2, iob2);
  CHECK(r1.correct_entities == r2.correct_entities);
  CHECK(r1.predicted_entities == r2.predicted_entities);
  CHECK(r1.gold_entities == r2.gold_entities);
  CHECK(r1.micro.f1 == r2.micro.f1);
  // And evaluate() converts on its own when the data is in another scheme than the output.
  ConllDocument test2 = t.test;
  test2.scheme = TagScheme::IOB2;
  for (std::size_t i = 0; i < test2.sentences.size(); ++i) test2.sentences[i].tags = gold2[i];
  CHECK(t.tagger.evaluate(test2).micro.f1 == r1.micro.f1);
}

TEST_CASE("save then load gives bit-identical predictions and scores") {
  const Trained& t = trained();
  TempDir dir;
  const fs::path path = dir.path / "sample.model";
  t.tagger.save(path.string());
  const Tagger<float> loaded = Tagger<float>::load(path.string());
  CHECK(loaded.tags() == t.tagger.tags());
  CHECK(loaded.words() == t.tagger.words());
  CHECK(loaded.output_scheme() == t.tagger.output_scheme());
  CHECK(loaded.config().hidden_dim == t.tagger.config().hidden_dim);
  auto a = const_cast<Tagger<float>&>(t.tagger).network().params();
  auto b = const_cast<Tagger<float>&>(loaded).network().params();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i]->name == b[i]->name);
    CHECK(a[i]->value == b[i]->value);  // bit-identical, not approximately
  }
  const auto words = words_of(t.test);
  CHECK(loaded.predict(words) == t.tagger.predict(words));
  // Saving twice writes the same bytes, and leaves no temporary file behind.
  const fs::path again = dir.path / "again.model";
  loaded.save(again.string());
  CHECK(read_bytes(path) == read_bytes(again));
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) files += entry.is_regular_file();
  CHECK(files == 2);
}

TEST_CASE("broken model files are rejected with a clear message, never a crash") {
  const Trained& t = trained();
  TempDir dir;
  const fs::path good = dir.path / "good.model";
  t.tagger.save(good.string());
  const std::string bytes = read_bytes(good);
  const fs::path bad = dir.path / "bad.model";
  auto load_bad = [&](const std::string& content) {
    write_bytes(bad, content);
    return Tagger<float>::load(bad.string());
  };

  CHECK_THROWS_WITH(Tagger<float>::load((dir.path / "missing.model").string()),
                    Catch::Contains("missing.model") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(load_bad(""), Catch::Contains("bad.model"));
  CHECK_THROWS_WITH(load_bad("-DOCSTART- -X- -X- O\n\nEU NNP I-NP I-ORG\n"),
                    Catch::Contains("not an lstmner model"));
  // Truncated anywhere: header, payload, checksum.
  for (std::size_t cut : {std::size_t{5}, std::size_t{23}, bytes.size() / 2, bytes.size() - 1}) {
    INFO("truncated to " << cut << " bytes");
    CHECK_THROWS_WITH(load_bad(bytes.substr(0, cut)), Catch::Contains("truncated"));
  }
  // One flipped bit in the weights: the checksum catches it.
  std::string flipped = bytes;
  flipped[bytes.size() - 100] = static_cast<char>(flipped[bytes.size() - 100] ^ 0x10);
  CHECK_THROWS_WITH(load_bad(flipped), Catch::Contains("checksum"));
  // Another format version.
  std::string version = bytes;
  version[8] = 99;
  CHECK_THROWS_WITH(load_bad(version), Catch::Contains("version"));

  // A valid container holding something else, and one whose weights do not fit the config.
  BinaryWriter other;
  other.write_string("something.else");
  save_container(bad.string(), other.buffer());
  CHECK_THROWS_WITH(Tagger<float>::load(bad.string()), Catch::Contains("not a lstmner.Tagger"));
}

TEST_CASE("a failed save leaves the previous model file untouched") {
  const Trained& t = trained();
  TempDir dir;
  const fs::path path = dir.path / "keep.model";
  t.tagger.save(path.string());
  const std::string before = read_bytes(path);
  // Saving into a directory that does not exist fails cleanly...
  CHECK_THROWS(t.tagger.save((dir.path / "no_such_dir" / "x.model").string()));
  // ...and saving over a directory fails without touching what is there.
  fs::create_directories(dir.path / "a_directory.model");
  CHECK_THROWS(t.tagger.save((dir.path / "a_directory.model").string()));
  CHECK(read_bytes(path) == before);
}

TEST_CASE("predict is safe to call from several threads at once") {
  const Trained& t = trained();
  const auto words = words_of(t.test);
  const auto sequential = t.tagger.predict(words);
  std::vector<std::vector<std::vector<std::string>>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      // Each thread tags the sentences one at a time and in batches.
      for (const auto& sentence : words) results[i].push_back(t.tagger.predict(sentence));
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) CHECK(r == sequential);
}

TEST_CASE("prediction handles empty sentences, unknown words and odd bytes") {
  const Trained& t = trained();
  CHECK(t.tagger.predict(std::vector<std::string>{}).empty());
  const auto batch = t.tagger.predict({{}, {"Zyxwvut", "Qqqq", "visited", "Ülm", "\xff\xfe"}, {}});
  REQUIRE(batch.size() == 3);
  CHECK(batch[0].empty());
  CHECK(batch[1].size() == 5);
  CHECK(batch[2].empty());
  const auto spans = t.tagger.entities({"Zyxwvut", "Qqqq", "visited", "Ülm", "."});
  for (const auto& s : spans) {
    CHECK(s.begin < s.end);
    CHECK(s.end <= 5);
    CHECK(!s.text.empty());
  }
  Tagger<float> untrained;
  CHECK_THROWS_WITH(untrained.predict(std::vector<std::string>{"a"}),
                    Catch::Contains("not trained"));
}

TEST_CASE("bad configurations are rejected naming the field") {
  const auto train = read_conll((sample_dir() / "train.txt").string());
  auto reject = [&](auto change, const std::string& field) {
    TaggerConfig config = quick_config();
    change(config);
    CHECK_THROWS_WITH(Tagger<float>::train(train, nullptr, config),
                      Catch::Contains("TaggerConfig." + field));
  };
  reject([](TaggerConfig& c) { c.hidden_dim = 0; }, "hidden_dim");
  reject([](TaggerConfig& c) { c.dropout = 1.0; }, "dropout");
  reject([](TaggerConfig& c) { c.learning_rate = -1; }, "learning_rate");
  reject([](TaggerConfig& c) { c.learning_rate = std::nan(""); }, "learning_rate");
  reject([](TaggerConfig& c) { c.batch_size = 0; }, "batch_size");
  reject([](TaggerConfig& c) { c.epochs = 0; }, "epochs");
  reject([](TaggerConfig& c) { c.threads = 0; }, "threads");
  ConllDocument empty;
  empty.source = "empty.txt";
  CHECK_THROWS_WITH(Tagger<float>::train(empty, nullptr, quick_config()),
                    Catch::Contains("empty.txt") && Catch::Contains("no sentences"));
}
