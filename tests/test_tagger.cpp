// The Tagger end to end on the sample corpus that ships in examples/data/sample: it learns, it
// saves and loads bit-identically, it rejects broken model files with clear messages, and it can
// be shared by threads.

#include <lstmner/tagger.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

#include <unistd.h>

// Cut stages for every thread count these tests ask for, beyond this machine's cores (they then
// run on the cores there are): results must not depend on the cut.
static const bool more_threads_than_cores =
    (lstmner::ExecutionContext::allow_more_threads_than_cores(true), true);

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

namespace {

/// The straightforward prediction path Tagger::predict replaced: batches of 128 sentences by
/// length, one fresh workspace, per-token log-softmax in double, then a textbook Viterbi (every
/// rule looked up at every step) or argmax.
std::vector<std::vector<std::string>> plain_predict(
    const Tagger<float>& tagger, const std::vector<std::vector<std::string>>& words) {
  std::vector<EncodedSentence> encoded;
  for (const auto& sentence : words) {
    EncodedSentence e;
    for (const auto& w : sentence) {
      e.words.push_back(tagger.words().id(w));
      e.casing.push_back(static_cast<std::int32_t>(casing_class(w)));
    }
    encoded.push_back(e);
  }
  const auto rules = make_transition_rules(tagger.tags(), tagger.config().train_scheme);
  const Index K = static_cast<Index>(tagger.tags().size());
  std::vector<std::vector<std::string>> result(words.size());
  Batch batch;
  TaggerNetwork<float>::Workspace ws;
  for (const auto& indices : bucket_by_length(encoded, 128)) {
    fill_batch(encoded, indices, batch);
    tagger.network().forward(batch, ws, ExecutionContext::serial(), nullptr);
    for (Index b = 0; b < batch.batch_size(); ++b) {
      const Index T = batch.lengths[b];
      Matrix<double> lp(K, T);
      for (Index t = 0; t < T; ++t) {
        const Vector<double> col = ws.scores.step(t).col(b).cast<double>();
        const double max = col.maxCoeff();
        lp.col(t) = col.array() - (max + std::log((col.array() - max).exp().sum()));
      }
      std::vector<std::int32_t> path(static_cast<std::size_t>(T));
      if (!tagger.config().constrained_decoding) {
        path = argmax_decode(lp, T);
      } else {
        std::vector<Vector<double>> score(static_cast<std::size_t>(T), Vector<double>(K));
        std::vector<std::vector<std::int32_t>> back(static_cast<std::size_t>(T),
                                                    std::vector<std::int32_t>(K, -1));
        const double none = -std::numeric_limits<double>::infinity();
        for (Index j = 0; j < K; ++j)
          score[0](j) = rules.can_start[static_cast<std::size_t>(j)] ? lp(j, 0) : none;
        for (Index t = 1; t < T; ++t)
          for (Index j = 0; j < K; ++j) {
            double best = none;
            for (Index i = 0; i < K; ++i)
              if (rules.allows(i, j) && score[static_cast<std::size_t>(t - 1)](i) > best) {
                best = score[static_cast<std::size_t>(t - 1)](i);
                back[static_cast<std::size_t>(t)][static_cast<std::size_t>(j)] =
                    static_cast<std::int32_t>(i);
              }
            score[static_cast<std::size_t>(t)](j) = best + lp(j, t);
          }
        std::int32_t last = -1;
        double best = none;
        for (Index j = 0; j < K; ++j)
          if (rules.can_end[static_cast<std::size_t>(j)] &&
              score[static_cast<std::size_t>(T - 1)](j) > best) {
            best = score[static_cast<std::size_t>(T - 1)](j);
            last = static_cast<std::int32_t>(j);
          }
        REQUIRE(last >= 0);
        for (Index t = T - 1; t >= 0; --t) {
          path[static_cast<std::size_t>(t)] = last;
          if (t > 0) last = back[static_cast<std::size_t>(t)][static_cast<std::size_t>(last)];
        }
      }
      std::vector<std::string> tags;
      for (auto id : path) tags.push_back(tagger.tags()[static_cast<std::size_t>(id)]);
      result[indices[static_cast<std::size_t>(b)]] =
          convert_tags(tags, tagger.config().train_scheme, tagger.output_scheme());
    }
  }
  return result;
}

}  // namespace

TEST_CASE("predict gives the tags of the plain path on 1 to 8 threads, any batch splitting") {
  const Trained& t = trained();
  std::vector<std::vector<std::string>> words = words_of(t.test);
  for (const auto& w : words_of(t.dev)) words.push_back(w);
  const auto expected = plain_predict(t.tagger, words);
  Tagger<float> tagger = t.tagger;
  for (int threads : {1, 2, 3, 8}) {
    tagger.set_threads(threads);
    CHECK(tagger.threads() == threads);
    for (std::size_t batch_size : {1, 5, 32, 128, 100000}) {
      for (double max_padding : {0.0, 0.25, 1e9}) {
        tagger.prediction_batch_size = batch_size;
        tagger.prediction_max_padding = max_padding;
        INFO(threads << " threads, batches of " << batch_size << ", padding " << max_padding);
        CHECK(tagger.predict(words) == expected);
        CHECK(tagger.predict(words) == expected);  // again, with the buffers of the first call
      }
    }
  }
  // Unconstrained (argmax) decoding too.
  TaggerConfig config = quick_config();
  config.constrained_decoding = false;
  config.epochs = 2;
  Tagger<float> greedy = Tagger<float>::train(t.train, nullptr, config);
  const auto greedy_expected = plain_predict(greedy, words);
  for (int threads : {1, 3}) {
    greedy.set_threads(threads);
    CHECK(greedy.predict(words) == greedy_expected);
  }
}

TEST_CASE("multi-threaded prediction is safe to call from several threads at once") {
  const Trained& t = trained();
  Tagger<float> tagger = t.tagger;
  tagger.set_threads(3);
  tagger.prediction_batch_size = 4;  // many batches, so every thread of a call works
  const auto words = words_of(t.test);
  const auto expected = tagger.predict(words);
  // results[thread][round]: the tags of every sentence.
  std::vector<std::vector<std::vector<std::vector<std::string>>>> results(3);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 3; ++round) results[i].push_back(tagger.predict(words));
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results)
    for (const auto& tags : r) CHECK(tags == expected);
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
  Tagger<float> zero_batches = t.tagger;
  zero_batches.prediction_batch_size = 0;
  CHECK_THROWS_WITH(zero_batches.predict(std::vector<std::string>{"a"}),
                    Catch::Contains("prediction_batch_size must be at least 1"));
  Tagger<float> bad_padding = t.tagger;
  bad_padding.prediction_max_padding = std::nan("");
  CHECK_THROWS_WITH(bad_padding.predict(std::vector<std::string>{"a"}),
                    Catch::Contains("prediction_max_padding must be at least 0"));
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
  reject([](TaggerConfig& c) { c.threads = -1; }, "threads");
  reject([](TaggerConfig& c) { c.threads = 1025; }, "threads");
  ConllDocument empty;
  empty.source = "empty.txt";
  CHECK_THROWS_WITH(Tagger<float>::train(empty, nullptr, quick_config()),
                    Catch::Contains("empty.txt") && Catch::Contains("no sentences"));
}

TEST_CASE("entities() decodes spans in the scheme of the tags: IOBES singletons stay apart") {
  // Adjacent entities of one type: "Germany France Italy" are three locations (IOB1: I-LOC
  // B-LOC B-LOC), "New York Los Angeles" two (IOBES: B-LOC E-LOC B-LOC E-LOC). A tagger trained
  // on them predicts them; its spans must be those entities in whatever scheme it outputs.
  const ConllDocument train = read_conll(lstmner_test::test_data("model/adjacent.txt").string());
  REQUIRE(train.scheme == TagScheme::IOB1);
  TaggerConfig config;
  config.embedding_dim = config.hidden_dim = 16;
  config.casing_dim = 4;
  config.epochs = 40;
  config.learning_rate = 0.01;
  config.dropout = 0.0;
  config.singleton_unk = 0.0;
  config.threads = 1;
  Tagger<float> tagger = Tagger<float>::train(train, nullptr, config);
  const std::vector<std::string> countries = {"Talks", "between", "Germany", "France", "Italy",
                                              "and",   "Spain",   "ended",   "."};
  const std::vector<std::string> cities = {"Flights", "from", "New",   "York",    "Los",
                                           "Angeles", "and",  "Paris", "resumed", "."};
  using Span = std::pair<std::size_t, std::size_t>;
  auto spans = [&](const std::vector<std::string>& tokens) {
    std::vector<Span> out;
    for (const EntitySpan& e : tagger.entities(tokens)) {
      CHECK(e.type == "LOC");
      out.emplace_back(e.begin, e.end);
    }
    return out;
  };
  for (TagScheme scheme : {TagScheme::IOBES, TagScheme::IOB2, TagScheme::IOB1}) {
    INFO("output scheme " << to_string(scheme));
    tagger.set_output_scheme(scheme);
    CHECK(spans(countries) == std::vector<Span>{{2, 3}, {3, 4}, {4, 5}, {6, 7}});
    CHECK(spans(cities) == std::vector<Span>{{2, 4}, {4, 6}, {7, 8}});
    CHECK(tagger.entities(countries)[1].text == "France");
    CHECK(tagger.entities(cities)[1].text == "Los Angeles");
  }
  // What the spans were before: conlleval's chunking of IOBES tags, which merges the
  // singletons (conlleval knows no S- prefix), so this test fails without the fix.
  tagger.set_output_scheme(TagScheme::IOBES);
  REQUIRE(tagger.predict(countries)[2] == "S-LOC");
  CHECK(extract_entities(tagger.predict(countries)).size() < 4);
}

TEST_CASE("a sentence longer than prediction_max_tokens is tagged in pieces of that many tokens") {
  Tagger<float> tagger = trained().tagger;
  std::vector<std::string> words;
  for (const auto& s : trained().test.sentences)
    for (const auto& w : s.words)
      if (words.size() < 150) words.push_back(w);
  REQUIRE(words.size() == 150);
  tagger.prediction_max_tokens = 40;
  const std::vector<std::string> tags = tagger.predict(words);
  REQUIRE(tags.size() == 150);
  std::vector<std::string> pieces;
  tagger.prediction_max_tokens = 1000;
  for (std::size_t begin = 0; begin < words.size(); begin += 40) {
    const std::vector<std::string> piece(
        words.begin() + static_cast<std::ptrdiff_t>(begin),
        words.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(begin + 40, 150)));
    for (auto& t : tagger.predict(piece)) pieces.push_back(t);
  }
  CHECK(tags == pieces);
  // Within the limit nothing changes, and batches of many sentences are cut to fit it.
  const auto all = words_of(trained().test);
  tagger.prediction_max_tokens = 4096;
  const auto reference = tagger.predict(all);
  tagger.prediction_max_tokens = 130;  // at most one 124-token sentence per batch
  CHECK(tagger.predict(all) == reference);
  tagger.prediction_max_tokens = 0;
  CHECK_THROWS_WITH(tagger.predict(words), Catch::Contains("prediction_max_tokens must be"));
}

TEST_CASE("training on a sentence longer than max_batch_tokens trains on it in pieces") {
  // A document pasted as one 600-token sentence: trained in pieces of at most 64 tokens, in
  // batches of at most 64 tokens, so training memory stays that of 64 tokens.
  std::string text;
  for (int i = 0; i < 100; ++i) text += "Peter I-PER\nvisited O\nBonn I-LOC\n. O\nin O\nMay O\n";
  std::istringstream in(text + "\nEU I-ORG\nsaid O\n");
  const ConllDocument train = read_conll(in, "long.txt");
  REQUIRE(train.sentences.front().size() == 600);
  TaggerConfig config = quick_config();
  config.epochs = 2;
  config.max_batch_tokens = 64;
  TrainingHistory history;
  const Tagger<float> tagger = Tagger<float>::train(train, nullptr, config, {}, &history);
  CHECK(history.epochs.size() == 2);
  CHECK(std::isfinite(history.epochs.back().train_loss));
  CHECK(tagger.predict(train.sentences.front().words).size() == 600);
  config.max_batch_tokens = 0;
  CHECK_THROWS_WITH(Tagger<float>::train(train, nullptr, config),
                    Catch::Contains("max_batch_tokens"));
}

namespace {

/// The sample corpus tagger of quick_config() with a CRF head (and the char CNN), trained once.
const Tagger<float>& trained_crf() {
  static const Tagger<float> tagger = [] {
    const Trained& t = trained();
    TaggerConfig config = quick_config();
    config.output = OutputKind::crf;
    config.char_encoder = CharEncoderKind::cnn;
    config.char_embedding_dim = 8;
    config.char_hidden_dim = 8;
    return Tagger<float>::train(t.train, &t.dev, config);
  }();
  return tagger;
}

}  // namespace

TEST_CASE("tag: n-best lists are ordered, the first is predict's, confidences are probabilities") {
  const Trained& t = trained();
  const auto words = words_of(t.test);
  for (const Tagger<float>* tagger : {&t.tagger, &trained_crf()}) {
    INFO(tagger->network().head->name() << " head");
    CHECK(tagger->network().head->name() == (tagger == &t.tagger ? "softmax" : "crf"));
    const auto best = tagger->predict(words);
    TaggingOptions options;
    options.nbest = 4;
    const auto analyzed = tagger->tag(words, options);
    REQUIRE(analyzed.size() == words.size());
    std::size_t checked_lists = 0;
    for (std::size_t i = 0; i < words.size(); ++i) {
      const TaggedSentence& a = analyzed[i];
      REQUIRE(a.tags == best[i]);
      REQUIRE(!a.nbest.empty());
      CHECK(a.nbest.front().tags == a.tags);
      double total = 0.0;
      for (std::size_t k = 0; k < a.nbest.size(); ++k) {
        CHECK(a.nbest[k].tags.size() == words[i].size());
        CHECK(a.nbest[k].probability >= 0.0);
        CHECK(a.nbest[k].probability <= 1.0 + 1e-9);
        if (k > 0) CHECK(a.nbest[k].score <= a.nbest[k - 1].score);
        if (k > 0) CHECK(a.nbest[k].tags != a.nbest[k - 1].tags);
        total += a.nbest[k].probability;
      }
      CHECK(total <= 1.0 + 1e-6);
      checked_lists += a.nbest.size() > 1;
      // The entities are those of the best tags, each with a confidence in [0, 1].
      const auto entities = decode_entities(a.tags, tagger->output_scheme());
      REQUIRE(a.entities.size() == entities.size());
      for (std::size_t e = 0; e < entities.size(); ++e) {
        CHECK(a.entities[e].begin == entities[e].begin);
        CHECK(a.entities[e].end == entities[e].end);
        CHECK(a.entities[e].type == entities[e].type);
        CHECK(a.entities[e].confidence >= 0.0);
        CHECK(a.entities[e].confidence <= 1.0 + 1e-9);
      }
    }
    CHECK(checked_lists > 0);
  }
}

TEST_CASE("entities are decoded in the scheme of the tags: adjacent IOBES singletons stay apart") {
  Tagger<float> tagger = trained_crf();
  tagger.set_output_scheme(TagScheme::IOBES);
  const std::vector<std::string> tokens{"Talks", "between", "Germany", "France", "Italy",
                                        "and",   "Spain",   "ended",   "."};
  const TaggedSentence a = tagger.tag(tokens);
  const auto expected = decode_entities(a.tags, TagScheme::IOBES);
  REQUIRE(a.entities.size() == expected.size());
  for (std::size_t e = 0; e < expected.size(); ++e) {
    CHECK(a.entities[e].begin == expected[e].begin);
    CHECK(a.entities[e].end == expected[e].end);
  }
  // Whatever this small model tags, no entity spans two S- tags.
  for (const EntitySpan& span : a.entities) {
    std::size_t singles = 0;
    for (std::size_t i = span.begin; i < span.end; ++i) singles += a.tags[i].rfind("S-", 0) == 0;
    CHECK(singles <= 1);
  }
}
