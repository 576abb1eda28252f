// Model files (detail/model_file.hpp, serialize.hpp): files written by earlier versions keep
// loading and tagging exactly as they did; the header's named fields (missing, unknown, required,
// ill-typed); hostile files rejected in under a second and in little memory; a loaded model has
// no gradient buffers; a save killed at any point leaves the old model or the new one.

#include <lstmner/tagger.hpp>

#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace lstmner;
namespace fs = std::filesystem;

#if defined(__SANITIZE_ADDRESS__)
#define LSTMNER_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LSTMNER_TEST_SANITIZED 1
#endif
#endif

namespace {

fs::path sample_dir() {
  const char* env = std::getenv("LSTMNER_SAMPLE_DATA");
  return fs::path(env ? env : "examples/data/sample");
}

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

struct TempDir {
  fs::path path;
  TempDir() {
    static int n = 0;
    path = fs::temp_directory_path() /
           ("lstmner_test_model_file_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
};

const Tagger<float>& format1_model() {
  static const Tagger<float> tagger =
      Tagger<float>::load(lstmner_test::test_data("model/format1_sample.model").string());
  return tagger;
}

/// The sample test set and the tags format1_sample.model gave it when it was written.
struct Expected {
  ConllDocument test;
  std::vector<std::string> tags;  ///< the last column of every line lstmner-tag wrote
};

const Expected& expected() {
  static const Expected e = [] {
    Expected x;
    x.test = read_conll((sample_dir() / "test.txt").string());
    std::ifstream in(lstmner_test::test_data("model/format1_sample.test.tags"));
    for (std::string line; std::getline(in, line);) x.tags.push_back(line);
    return x;
  }();
  return e;
}

/// What lstmner-tag --input-format conll writes for the sample test set, last column only.
std::vector<std::string> tag_column(const Tagger<float>& tagger) {
  const ConllDocument& test = expected().test;
  std::vector<std::vector<std::string>> words;
  for (const Sentence& s : test.sentences) words.push_back(s.words);
  std::ostringstream out;
  write_conll(out, test, tagger.predict(words));
  std::vector<std::string> column;
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) {
    const std::size_t space = line.rfind(' ');
    column.push_back(space == std::string::npos ? line : line.substr(space + 1));
  }
  return column;
}

// ----- format 2 payloads taken apart and put together again -------------------------------------

struct Field {
  std::string name;
  std::uint8_t type = 0, flags = 0;
  std::string value;
};

struct Payload2 {
  std::vector<Field> fields;
  std::string rest;  ///< vocabulary, tags, parameters
};

Payload2 split_payload(std::string_view payload) {
  BinaryReader in(payload, "split");
  REQUIRE(in.read_string("kind") == "lstmner.Tagger");
  Payload2 p;
  const std::uint64_t count = in.read_u64("count");
  for (std::uint64_t i = 0; i < count; ++i) {
    Field f;
    f.name = in.read_string("name");
    f.type = in.read_u8("type");
    f.flags = in.read_u8("flags");
    const std::uint64_t size = in.read_u64("size");
    f.value = std::string(in.bytes().substr(in.position(), size));
    in.skip(size, "value");
    p.fields.push_back(f);
  }
  p.rest = std::string(in.bytes().substr(in.position()));
  return p;
}

std::string join_payload(const Payload2& p, std::uint64_t count_override = 0) {
  BinaryWriter out;
  out.write_string("lstmner.Tagger");
  out.write_u64(count_override ? count_override : p.fields.size());
  for (const Field& f : p.fields) {
    out.write_string(f.name);
    out.write_u8(f.type);
    out.write_u8(f.flags);
    out.write_u64(f.value.size());
    for (char c : f.value) out.write_u8(static_cast<std::uint8_t>(c));
  }
  std::string bytes = out.take();
  return bytes + p.rest;
}

Field int_field(const std::string& name, std::int64_t v, std::uint8_t flags = 1) {
  BinaryWriter w;
  w.write_i64(v);
  return {name, 1, flags, w.take()};
}

Field* find(Payload2& p, const std::string& name) {
  for (Field& f : p.fields)
    if (f.name == name) return &f;
  return nullptr;
}

/// The format-2 payload of the format-1 sample model, saved again by this version.
std::string format2_payload() {
  return std::string(open_container(format1_model().to_bytes(), "m").payload);
}

Tagger<float> load_payload(const std::string& payload, std::uint32_t version = 2) {
  return Tagger<float>::from_bytes(encode_container(payload, version), "hostile.model");
}

}  // namespace

TEST_CASE("a model written in format 1 (before named fields) loads and tags exactly as it did") {
  const Tagger<float>& tagger = format1_model();
  CHECK(tagger.config().embedding_dim == 16);
  CHECK(tagger.config().hidden_dim == 16);
  CHECK(tagger.config().casing_dim == 4);
  CHECK(tagger.config().seed == 7);
  CHECK(tagger.config().train_scheme == TagScheme::IOBES);
  CHECK(tagger.input_scheme() == TagScheme::IOB1);
  CHECK(tagger.output_scheme() == TagScheme::IOB1);
  REQUIRE(expected().tags.size() == 1349);
  CHECK(tag_column(tagger) == expected().tags);

  // Saved again (in format 2) and loaded: the same weights, bit for bit, and the same tags.
  const Tagger<float> again = Tagger<float>::from_bytes(tagger.to_bytes());
  REQUIRE(open_container(tagger.to_bytes(), "m").version == container_format_version);
  const auto a = tagger.network().params();
  const auto b = again.network().params();
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i]->name == b[i]->name);
    CHECK(a[i]->value == b[i]->value);
  }
  CHECK(again.words() == tagger.words());
  CHECK(again.tags() == tagger.tags());
  CHECK(again.config().learning_rate == tagger.config().learning_rate);
  CHECK(tag_column(again) == expected().tags);

  // The tiny format-1 model too (a seed of the fuzz targets).
  const auto tiny =
      Tagger<float>::load(lstmner_test::test_data("model/format1_tiny.model").string());
  CHECK(tiny.config().hidden_dim == 2);
  CHECK(tiny.predict({"EU", "rejects", "German", "call"}).size() == 4);
}

TEST_CASE("format 2: named fields in any order; missing ones take their default") {
  const std::string payload = format2_payload();
  Payload2 p = split_payload(payload);
  REQUIRE(find(p, "hidden_dim") != nullptr);
  REQUIRE(find(p, "train_scheme")->value == "IOBES");
  CHECK(find(p, "hidden_dim")->flags == 1);  // required
  CHECK(find(p, "seed")->flags == 0);        // optional
  const auto reference = tag_column(format1_model());

  SECTION("fields in reverse order") {
    std::reverse(p.fields.begin(), p.fields.end());
    CHECK(tag_column(load_payload(join_payload(p))) == reference);
  }
  SECTION("a missing field takes the value of files written before it existed") {
    p.fields.erase(std::remove_if(p.fields.begin(), p.fields.end(),
                                  [](const Field& f) {
                                    return f.name == "seed" || f.name == "dropout" ||
                                           f.name == "optimizer";
                                  }),
                   p.fields.end());
    const Tagger<float> t = load_payload(join_payload(p));
    CHECK(t.config().seed == 1);
    CHECK(t.config().dropout == 0.5);
    CHECK(t.config().optimizer == OptimizerKind::Adam);
    CHECK(tag_column(t) == reference);
  }
  SECTION("an unknown optional field from a newer writer is skipped") {
    p.fields.push_back({"trained_on", 5, 0, "CoNLL-2003 English"});
    p.fields.insert(p.fields.begin(), int_field("future_count", 42, 0));
    CHECK(tag_column(load_payload(join_payload(p))) == reference);
  }
  SECTION("an unknown required field is refused, naming it") {
    p.fields.push_back(int_field("char_dim", 25, 1));
    CHECK_THROWS_WITH(load_payload(join_payload(p)),
                      Catch::Contains("model file 'hostile.model', byte ") &&
                          Catch::Contains("needs header field 'char_dim'") &&
                          Catch::Contains("written by a newer lstmner"));
  }
  SECTION("a field of the wrong type, an unknown name for an enumeration, a bad size") {
    Payload2 q = p;
    *find(q, "hidden_dim") = {"hidden_dim", 5, 1, "sixteen"};
    CHECK_THROWS_WITH(load_payload(join_payload(q)),
                      Catch::Contains("field 'hidden_dim' holds text, expected an integer"));
    q = p;
    find(q, "train_scheme")->value = "IOBX";
    CHECK_THROWS_WITH(load_payload(join_payload(q)),
                      Catch::Contains("field 'train_scheme' is 'IOBX', not a value this build"));
    q = p;
    find(q, "hidden_dim")->value.resize(4);
    CHECK_THROWS_WITH(load_payload(join_payload(q)),
                      Catch::Contains("truncated") && Catch::Contains("hidden_dim"));
    q = p;
    find(q, "hidden_dim")->value += "xyz";
    CHECK_THROWS_WITH(load_payload(join_payload(q)),
                      Catch::Contains("field 'hidden_dim' has 11 bytes, expected 8"));
    q = p;
    *find(q, "hidden_dim") = int_field("hidden_dim", std::int64_t{1} << 40);
    CHECK_THROWS_WITH(load_payload(join_payload(q)),
                      Catch::Contains("outside the range of an int"));
    q = p;
    *find(q, "hidden_dim") = int_field("hidden_dim", -3);
    CHECK_THROWS_WITH(
        load_payload(join_payload(q)),
        Catch::Contains("stored configuration is invalid") && Catch::Contains("hidden_dim"));
  }
  SECTION("a field twice, and absurd field counts") {
    Payload2 q = p;
    q.fields.push_back(q.fields.front());
    CHECK_THROWS_WITH(load_payload(join_payload(q)), Catch::Contains("appears twice"));
    CHECK_THROWS_WITH(load_payload(join_payload(p, std::uint64_t{1} << 40)),
                      Catch::Contains("the header declares 1099511627776 fields"));
    CHECK_THROWS_WITH(load_payload(join_payload(p, 2000)),
                      Catch::Contains("declares 2000 fields (at most 1024"));
  }
  SECTION("a format-2 payload in a container marked format 1 is named as broken") {
    CHECK_THROWS_AS(load_payload(payload, 1), std::runtime_error);
  }
}

namespace {

/// A model with every part a model file must now describe: a char CNN, pretrained vectors, two
/// BiLSTM layers and a CRF head, trained briefly on the sample corpus.
const Tagger<float>& rich_model() {
  static const Tagger<float> tagger = [] {
    TempDir dir;
    const fs::path vectors = dir.path / "vectors.txt";
    {
      std::ofstream out(vectors);
      out << "the 0.1 -0.2 0.3\n"
             "of 0.0 0.5 -0.5\n"
             "germany 0.25 0.25 -1\n"
             "city -0.75 0.5 0.125\n"
             "0000 1 2 3\n";
    }
    TaggerConfig config;
    config.embedding_dim = 8;
    config.hidden_dim = 6;
    config.casing_dim = 2;
    config.lstm_layers = 2;
    config.output = OutputKind::crf;
    config.char_encoder = CharEncoderKind::cnn;
    config.char_embedding_dim = 4;
    config.char_hidden_dim = 5;
    config.min_char_count = 2;
    config.word_vectors = vectors.string();
    config.freeze_word_vectors = true;
    config.average_checkpoints = 2;
    config.epochs = 2;
    config.patience = 0;
    config.threads = 1;
    config.seed = 11;
    const ConllDocument train = read_conll((sample_dir() / "train.txt").string());
    return Tagger<float>::train(train, nullptr, config);
  }();
  return tagger;
}

}  // namespace

TEST_CASE("a model with a char CNN, vectors, 2 layers and a CRF head round-trips bit for bit") {
  const Tagger<float>& tagger = rich_model();
  REQUIRE(tagger.network().head->name() == "crf");
  REQUIRE(tagger.encoder().uses_chars());
  REQUIRE(!tagger.encoder().vectors().empty());
  const std::string bytes = tagger.to_bytes();
  const Tagger<float> loaded = Tagger<float>::from_bytes(bytes, "rich.model");

  // Every configuration field, as a named field.
  const TaggerConfig &a = tagger.config(), &b = loaded.config();
  CHECK(b.lstm_layers == 2);
  CHECK(b.output == OutputKind::crf);
  CHECK(b.char_encoder == CharEncoderKind::cnn);
  CHECK(b.char_embedding_dim == a.char_embedding_dim);
  CHECK(b.char_hidden_dim == a.char_hidden_dim);
  CHECK(b.min_char_count == 2);
  CHECK(b.word_vectors == a.word_vectors);
  CHECK(b.freeze_word_vectors);
  CHECK(b.average_checkpoints == 2);
  CHECK(b.max_batch_tokens == a.max_batch_tokens);
  CHECK(b.seed == 11);
  CHECK(b.threads == 0);  // the machine's, not the file's
  // The vocabularies and the network, bit for bit.
  CHECK(loaded.words() == tagger.words());
  CHECK(loaded.tags() == tagger.tags());
  CHECK(loaded.encoder().chars() == tagger.encoder().chars());
  CHECK(loaded.encoder().vectors().words() == tagger.encoder().vectors().words());
  const auto pa = tagger.network().params();
  const auto pb = loaded.network().params();
  REQUIRE(pa.size() == pb.size());
  bool has_transitions = false;
  for (std::size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i]->name);
    CHECK(pa[i]->name == pb[i]->name);
    REQUIRE(pa[i]->value.rows() == pb[i]->value.rows());
    REQUIRE(pa[i]->value.cols() == pb[i]->value.cols());
    CHECK(std::memcmp(pa[i]->value.data(), pb[i]->value.data(),
                      sizeof(float) * static_cast<std::size_t>(pa[i]->value.size())) == 0);
    CHECK(pb[i]->grad.size() == 0);
    has_transitions = has_transitions || pa[i]->name == "crf.transitions";
  }
  CHECK(has_transitions);
  CHECK(loaded.network().block("vectors") != nullptr);
  CHECK(loaded.network().block("chars") != nullptr);
  CHECK(loaded.network().encoder.layers.size() == 2);
  // Saved again: the same bytes; and the same tags, n-best lists and confidences.
  CHECK(loaded.to_bytes() == bytes);
  const auto& test = expected().test;
  std::vector<std::vector<std::string>> words;
  for (const Sentence& s : test.sentences) words.push_back(s.words);
  CHECK(loaded.predict(words) == tagger.predict(words));
  TaggingOptions options;
  options.nbest = 3;
  const auto ta = tagger.tag(words, options), tb = loaded.tag(words, options);
  REQUIRE(ta.size() == tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) {
    REQUIRE(ta[i].nbest.size() == tb[i].nbest.size());
    for (std::size_t k = 0; k < ta[i].nbest.size(); ++k) {
      CHECK(ta[i].nbest[k].tags == tb[i].nbest[k].tags);
      CHECK(ta[i].nbest[k].score == tb[i].nbest[k].score);
    }
    REQUIRE(ta[i].entities.size() == tb[i].entities.size());
    for (std::size_t e = 0; e < ta[i].entities.size(); ++e)
      CHECK(ta[i].entities[e].confidence == tb[i].entities[e].confidence);
  }
}

TEST_CASE("fields newer than a file take their documented defaults; unknown values are refused") {
  // The format-1 sample model saved by this version, without the fields added after it was
  // written: it is what a format-2 file from before them looks like.
  Payload2 p = split_payload(format2_payload());
  const auto reference = tag_column(format1_model());
  const std::vector<std::string> newer = {"lstm_layers",         "output",
                                          "char_encoder",        "char_embedding_dim",
                                          "char_hidden_dim",     "vector_dim",
                                          "min_char_count",      "word_vectors",
                                          "max_word_vectors",    "freeze_word_vectors",
                                          "average_checkpoints", "threads",
                                          "max_batch_tokens",    "doc_context_dim"};
  for (const std::string& name : newer) REQUIRE(find(p, name) != nullptr);
  Payload2 old = p;
  old.fields.erase(std::remove_if(old.fields.begin(), old.fields.end(),
                                  [&](const Field& f) {
                                    return std::find(newer.begin(), newer.end(), f.name) !=
                                           newer.end();
                                  }),
                   old.fields.end());
  const Tagger<float> t = load_payload(join_payload(old));
  const TaggerConfig defaults;
  CHECK(t.config().lstm_layers == 1);
  CHECK(t.config().output == OutputKind::softmax);
  CHECK(t.config().char_encoder == CharEncoderKind::none);
  CHECK(t.config().char_embedding_dim == defaults.char_embedding_dim);
  CHECK(t.config().char_hidden_dim == defaults.char_hidden_dim);
  CHECK(t.config().min_char_count == 1);
  CHECK(t.config().word_vectors.empty());
  CHECK(t.config().average_checkpoints == 0);
  CHECK(t.config().doc_context_dim == 0);
  CHECK(t.config().max_batch_tokens == defaults.max_batch_tokens);
  CHECK(tag_column(t) == reference);

  // An encoder or head this build does not know (e.g. from a newer lstmner) is refused by name.
  Payload2 q = p;
  find(q, "char_encoder")->value = "transformer";
  CHECK_THROWS_WITH(load_payload(join_payload(q)),
                    Catch::Contains("field 'char_encoder' is 'transformer', not a value"));
  q = p;
  find(q, "output")->value = "semi-crf";
  CHECK_THROWS_WITH(load_payload(join_payload(q)),
                    Catch::Contains("field 'output' is 'semi-crf', not a value"));
  // A header that says there is a char encoder or a vectors block when the file has none.
  q = p;
  find(q, "char_encoder")->value = "cnn";
  CHECK_THROWS_AS(load_payload(join_payload(q)), std::runtime_error);
  q = p;
  BinaryWriter dim;
  dim.write_u64(3);
  find(q, "vector_dim")->value = dim.take();
  CHECK_THROWS_AS(load_payload(join_payload(q)), std::runtime_error);
}

TEST_CASE("a loaded model has no gradient buffers; training allocates them") {
  const Tagger<float>& tagger = format1_model();
  for (const auto* p : tagger.network().params()) {
    INFO(p->name);
    CHECK(p->grad.size() == 0);
  }
  // Back-propagating through it is refused clearly, never a write out of bounds.
  TaggerNetwork<float> network = tagger.network();
  Batch batch;
  std::vector<EncodedSentence> data(1);
  data[0].words = {2, 3, 4};
  data[0].casing = {0, 1, 2};
  data[0].tags = {0, 0, 1};
  fill_batch(data, {0}, batch);
  typename TaggerNetwork<float>::Workspace ws;
  network.forward(batch, ws, ExecutionContext::serial(), nullptr);
  CHECK_THROWS_WITH(network.loss_backward(batch, 1.0, ws, ExecutionContext::serial()),
                    Catch::Contains("no gradient buffers"));
  LSTM<float> lstm(3, 2, shapes_only);
  Tensor3<float> x, h, dx;
  x.resize(3, 1, 2);
  x.setZero();
  SequenceLengths lengths;
  lengths.assign(1, [](std::size_t) { return 2; });
  LSTM<float>::Workspace lstm_ws;
  lstm.forward(x, lengths, h, lstm_ws);
  CHECK_THROWS_WITH(lstm.backward(x, lengths, h, dx, lstm_ws),
                    Catch::Contains("LSTM: backward: no gradient buffers"));

  // A Trainer gives the loaded network its gradients, and it trains.
  TaggerConfig config = tagger.config();
  config.threads = 1;
  Trainer<float> trainer(network, config, SentenceEncoder::unk_id, ExecutionContext::serial());
  CHECK(network.has_gradients());
  const Param<float>& output_b = *network.params()[network.params().size() - 1];
  REQUIRE(output_b.name == "output.b");
  const Matrix<float> before = output_b.value;
  double loss = 0;
  CHECK(trainer.train_step(data, {0}, network.params(), &loss) == 3);
  CHECK(std::isfinite(loss));
  CHECK(output_b.value != before);

  // A freshly trained Tagger keeps none either.
  ConllDocument tiny = read_conll(lstmner_test::test_data("model/tiny.txt").string());
  TaggerConfig small;
  small.embedding_dim = small.hidden_dim = 4;
  small.epochs = 1;
  small.threads = 1;
  const Tagger<float> trained = Tagger<float>::train(tiny, nullptr, small);
  CHECK_FALSE(trained.network().has_gradients());
  for (const auto* p : trained.network().params()) CHECK(p->grad.size() == 0);
}

TEST_CASE("the layers' shapes-only constructors list exactly parameter_shapes()") {
  std::vector<NetworkShape> shapes;
  for (const Index casing : {Index{0}, Index{3}}) {
    NetworkShape shape;
    shape.vocabulary_size = 11;
    shape.casing_classes = num_casing_classes;
    shape.num_tags = 5;
    shape.embedding_dim = 6;
    shape.casing_dim = casing;
    shape.hidden_dim = 4;
    shapes.push_back(shape);
    // Every other part too: a char CNN, pretrained vectors, 3 layers, a CRF head.
    shape.char_encoder = CharEncoderKind::cnn;
    shape.char_vocabulary_size = 7;
    shape.char_embedding_dim = 3;
    shape.char_hidden_dim = 5;
    shape.vector_vocabulary_size = 9;
    shape.vector_dim = 2;
    shape.lstm_layers = 3;
    shape.output = OutputKind::crf;
    shapes.push_back(shape);
    shape.embedding_dim = 0;  // no word block
    shapes.push_back(shape);
  }
  for (const NetworkShape& shape : shapes) {
    Rng rng(1);
    const TaggerNetwork<float> trainable(shape, rng);
    const TaggerNetwork<float> loadable(shape, shapes_only);
    const std::vector<ParamShape> expected = parameter_shapes(shape);
    for (const TaggerNetwork<float>* net : {&trainable, &loadable}) {
      const auto params = net->params();
      REQUIRE(params.size() == expected.size());
      for (std::size_t i = 0; i < params.size(); ++i) {
        CHECK(params[i]->name == expected[i].name);
        CHECK(params[i]->value.rows() == expected[i].rows);
        CHECK(params[i]->value.cols() == expected[i].cols);
      }
    }
    CHECK(trainable.has_gradients());
    CHECK_FALSE(loadable.has_gradients());
    for (const auto* p : loadable.params()) CHECK(p->value.isZero());
  }
}

// ----- hostile files ---------------------------------------------------------------------------

namespace {

struct Hostile {
  std::string name;
  std::string bytes;  ///< the whole file, checksums valid
};

std::string vocabulary_bytes(std::size_t extra_words) {
  BinaryWriter out;
  out.write_string("lstmner.Vocabulary");
  out.write_bool(true);
  out.write_bool(true);
  std::vector<std::string> words{"<pad>", "<unk>"};
  for (std::size_t i = 0; i < extra_words; ++i) words.push_back("w" + std::to_string(i));
  out.write_strings(words);
  out.write_u64(words.size());
  for (std::size_t i = 0; i < words.size(); ++i) out.write_u64(1);
  out.write_i32(1);
  return out.take();
}

std::string set_u64_at(std::string bytes, std::size_t offset, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes[offset + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
  return bytes;
}

std::vector<Hostile> hostile_files() {
  std::vector<Hostile> files;
  const std::string v2 = format2_payload();
  const Payload2 p = split_payload(v2);
  const std::string v1 =
      decode_container(read_bytes(lstmner_test::test_data("model/format1_sample.model")), "m");
  const std::size_t v1_vocabulary = v1.find("lstmner.Vocabulary") - 8;
  const std::size_t v2_vocabulary = v2.size() - p.rest.size();
  auto container = [](const std::string& payload, std::uint32_t version) {
    return encode_container(payload, version);
  };

  // The file: a small model whose configuration claims 4096 x 4096 layers.
  Payload2 big = p;
  *find(big, "embedding_dim") = int_field("embedding_dim", 4096);
  *find(big, "hidden_dim") = int_field("hidden_dim", 4096);
  files.push_back({"format 2, embedding and hidden dim 4096", container(join_payload(big), 2)});
  std::string v1_big = v1;
  for (std::size_t offset : {std::size_t{22}, std::size_t{26}}) {  // after the kind string
    v1_big[offset] = 0;
    v1_big[offset + 1] = 0x10;  // 4096, little-endian
    v1_big[offset + 2] = v1_big[offset + 3] = 0;
  }
  files.push_back({"format 1, embedding and hidden dim 4096", container(v1_big, 1)});

  // Declared counts and sizes far beyond the bytes present.
  const std::size_t count_offset = 8 + 18 + 2;  // in the vocabulary: kind string, two bools
  files.push_back({"format 2, 2^40 vocabulary entries",
                   container(set_u64_at(v2, v2_vocabulary + count_offset, 1ull << 40), 2)});
  files.push_back({"format 1, 2^40 vocabulary entries",
                   container(set_u64_at(v1, v1_vocabulary + count_offset, 1ull << 40), 1)});
  files.push_back({"format 2, a string of 2^62 bytes",
                   container(set_u64_at(v2, v2_vocabulary + count_offset + 8, 1ull << 62), 2)});
  {
    BinaryReader in(v2, "v2");
    in.skip(v2_vocabulary, "header");
    Vocabulary::check(in);
    const std::size_t tags_at = in.position();
    files.push_back({"format 2, 2^40 tags", container(set_u64_at(v2, tags_at, 1ull << 40), 2)});
    BinaryWriter tags;
    std::vector<std::string> many;
    for (int i = 0; i < 5000; ++i) many.push_back("S-T" + std::to_string(i));
    tags.write_strings(many);
    files.push_back({"format 2, 5000 tags", container(v2.substr(0, tags_at) + tags.take(), 2)});
  }
  {  // the last matrix, output.b: its rows claim 2^31 - 1; then its last value is NaN
    const std::size_t b_at = v2.rfind("output.b") + 8 + 1;  // its name, then the scalar tag
    files.push_back(
        {"format 2, a matrix of 2^31 - 1 rows", container(set_u64_at(v2, b_at, 0x7FFFFFFF), 2)});
    std::string nan = v2;
    nan[nan.size() - 1] = static_cast<char>(0x7F);
    nan[nan.size() - 2] = static_cast<char>(0xC0);
    files.push_back({"format 2, NaN in the last weight", container(nan, 2)});
  }

  // Large files: a million-word vocabulary (a real one's memory would be ~100 MB), then
  // nothing; and a whole model of that vocabulary whose very last value is NaN.
  Payload2 wide = p;
  *find(wide, "embedding_dim") = int_field("embedding_dim", 4096);
  *find(wide, "hidden_dim") = int_field("hidden_dim", 4096);
  BinaryWriter one_tag;
  one_tag.write_strings({"O"});
  const std::size_t V = 1'000'000;
  wide.rest = vocabulary_bytes(V) + one_tag.buffer();
  files.push_back(
      {"format 2, 1M-word vocabulary and no weights", container(join_payload(wide), 2)});

  Payload2 whole = p;
  *find(whole, "embedding_dim") = int_field("embedding_dim", 1);
  *find(whole, "hidden_dim") = int_field("hidden_dim", 1);
  *find(whole, "casing_dim") = int_field("casing_dim", 1);
  NetworkShape shape;
  shape.vocabulary_size = static_cast<Index>(V + 2);
  shape.casing_classes = num_casing_classes;
  shape.num_tags = 1;
  shape.embedding_dim = shape.casing_dim = shape.hidden_dim = 1;
  BinaryWriter weights;
  const std::vector<ParamShape> shapes = parameter_shapes(shape);
  weights.write_u64(shapes.size());
  for (const ParamShape& s : shapes)
    weights.write_matrix(s.name, Matrix<float>::Zero(s.rows, s.cols));
  std::string rest = vocabulary_bytes(V) + one_tag.buffer() + weights.take();
  rest[rest.size() - 1] = static_cast<char>(0x7F);  // the last float: 0x7FC00000, a NaN
  rest[rest.size() - 2] = static_cast<char>(0xC0);
  whole.rest = rest;
  files.push_back({"format 2, a whole 1M-word model, NaN in the last weight",
                   container(join_payload(whole), 2)});
  // The parts added with named fields: a model with a char CNN, vectors, two layers and a CRF.
  const std::string rich(open_container(rich_model().to_bytes(), "m").payload);
  const Payload2 r = split_payload(rich);
  Payload2 deep = r;
  *find(deep, "lstm_layers") = int_field("lstm_layers", 8);
  *find(deep, "hidden_dim") = int_field("hidden_dim", 4096);
  files.push_back(
      {"format 2, CRF and char CNN, 8 layers of 4096", container(join_payload(deep), 2)});
  Payload2 wide_vectors = r;
  BinaryWriter dim;
  dim.write_u64(65536);
  find(wide_vectors, "vector_dim")->value = dim.take();
  *find(wide_vectors, "char_hidden_dim") = int_field("char_hidden_dim", 1024);
  *find(wide_vectors, "char_embedding_dim") = int_field("char_embedding_dim", 1024);
  files.push_back({"format 2, vectors of 65536, char CNN of 1024 x 1024",
                   container(join_payload(wide_vectors), 2)});
  {
    const std::size_t chars_at = rich.find("lstmner.CharVocabulary") + 22 + 8;  // then min count
    files.push_back(
        {"format 2, 2^40 characters", container(set_u64_at(rich, chars_at, 1ull << 40), 2)});
    const std::size_t transitions_at = rich.find("crf.transitions") + 15 + 1;
    files.push_back({"format 2, CRF transitions of 2^31 - 1 rows",
                     container(set_u64_at(rich, transitions_at, 0x7FFFFFFF), 2)});
  }
  return files;
}

long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::strlen(field) + 1));
  return -1;
}

struct Measured {
  int outcome = -1;  ///< 0 loaded, 1 runtime_error, 2 any other exception
  double seconds = 0;
  /// CPU time (user + system) of the load: what the goal bounds. Unlike the wall time, it does
  /// not grow when a busy machine leaves the process waiting for a core.
  double cpu_seconds = 0;
  double peak_mb = 0;  ///< peak resident memory during the load, over what there was before it
  std::string message;
};

double cpu_seconds() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * t.tv_usec; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

/// Loads `path` in a child process and measures the time and the peak memory it takes.
Measured measure_load(const fs::path& path) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    {  // "5" resets the peak resident set size to the current one (Linux 4.0 and later)
      std::ofstream clear("/proc/self/clear_refs");
      clear << "5";
    }
    const long base = status_kb("VmRSS:");
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    int outcome = 0;
    std::string message;
    try {
      (void)Tagger<float>::load(path.string());
    } catch (const std::runtime_error& e) {
      outcome = 1;
      message = e.what();
    } catch (const std::exception& e) {
      outcome = 2;
      message = e.what();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const long peak = status_kb("VmHWM:");
    const std::string report = std::to_string(outcome) + " " + std::to_string(seconds) + " " +
                               std::to_string(cpu) + " " + std::to_string(peak - base) + " " +
                               message.substr(0, 300);
    ssize_t ignored = ::write(pipe_fds[1], report.data(), report.size());
    (void)ignored;
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string report;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  Measured m;
  std::istringstream in(report);
  long peak_kb = 0;
  in >> m.outcome >> m.seconds >> m.cpu_seconds >> peak_kb;
  std::getline(in, m.message);
  m.peak_mb = static_cast<double>(peak_kb) / 1024.0;
  return m;
}

}  // namespace

TEST_CASE("hostile model files are rejected in under a second, in less than their size + 64 MB") {
  TempDir dir;
  const fs::path path = dir.path / "hostile.model";
  std::printf("%-58s %10s %9s %9s %12s\n", "hostile model file", "bytes", "wall s", "CPU s",
              "peak MB over");
  for (const Hostile& h : hostile_files()) {
    write_bytes(path, h.bytes);
    const Measured m = measure_load(path);
    [[maybe_unused]] const double size_mb = static_cast<double>(h.bytes.size()) / (1024.0 * 1024.0);
    std::printf("%-58s %10zu %9.3f %9.3f %12.1f\n", h.name.c_str(), h.bytes.size(), m.seconds,
                m.cpu_seconds, m.peak_mb);
    INFO(h.name << ": " << m.message);
    CHECK(m.outcome == 1);  // a std::runtime_error naming the file, not bad_alloc, not a crash
    CHECK(m.message.find("hostile.model") != std::string::npos);
#ifndef LSTMNER_TEST_SANITIZED  // the sanitizers' shadow memory and quarantine distort both
    CHECK(m.cpu_seconds < 1.0);
    CHECK(m.peak_mb < size_mb + 64.0);
#endif
  }
}

// ----- crash-safe saves ------------------------------------------------------------------------

namespace {

SaveStep kill_at = SaveStep::renamed;

void kill_here(SaveStep step) {
  if (step == kill_at) ::raise(SIGKILL);
}

bool killed(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

unsigned mode_of(const fs::path& p) {
  struct stat s {};
  ::stat(p.c_str(), &s);
  return s.st_mode & 07777;
}

}  // namespace

TEST_CASE("a save killed at any point leaves the old model or the new one, with its permissions") {
  TempDir dir;
  const fs::path path = dir.path / "ner.model";
  const Tagger<float>& old_model = format1_model();
  const Tagger<float> new_model =
      Tagger<float>::load(lstmner_test::test_data("model/format1_tiny.model").string());
  const std::string old_bytes = old_model.to_bytes(), new_bytes = new_model.to_bytes();
  const std::vector<std::vector<std::string>> sentences = {
      {"EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."},
      {"Peter", "Blackburn", "visited", "Bonn"}};

  SECTION("killed at each step of the save") {
    for (SaveStep step :
         {SaveStep::temporary_created, SaveStep::written, SaveStep::flushed, SaveStep::renamed}) {
      INFO("killed at step " << static_cast<int>(step));
      write_bytes(path, old_bytes);
      ::chmod(path.c_str(), 0640);
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        kill_at = step;
        detail::save_step_hook = kill_here;
        new_model.save(path.string());
        ::_exit(0);  // not reached: the hook kills the process
      }
      REQUIRE(killed(pid));
      const bool replaced = step == SaveStep::renamed;
      CHECK(read_bytes(path) == (replaced ? new_bytes : old_bytes));
      const Tagger<float> loaded = Tagger<float>::load(path.string());
      CHECK(loaded.predict(sentences) == (replaced ? new_model : old_model).predict(sentences));
      CHECK(mode_of(path) == 0640);
    }
    // The three saves killed before their rename left their hidden temporary files; none is in
    // the way of the next save, which also keeps the file's permissions.
    const auto left = dir.entries();
    CHECK(left.size() == 4);
    for (const std::string& name : left)
      CHECK((name == "ner.model" || name.rfind(".ner.model.tmp-", 0) == 0));
    new_model.save(path.string());
    CHECK(read_bytes(path) == new_bytes);
    CHECK(mode_of(path) == 0640);
    old_model.save(path.string());
    CHECK(read_bytes(path) == old_bytes);
    CHECK(dir.entries().size() == 4);
  }

  SECTION("killed at random times while saving over and over") {
    std::mt19937 rng(2024);
    std::uniform_int_distribution<int> delay_us(0, 40000);
    int replaced = 0;
    for (int trial = 0; trial < 25; ++trial) {
      write_bytes(path, old_bytes);
      const pid_t pid = ::fork();
      REQUIRE(pid >= 0);
      if (pid == 0) {
        for (;;) {
          new_model.save(path.string());
          old_model.save(path.string());
        }
      }
      ::usleep(static_cast<useconds_t>(delay_us(rng)));
      ::kill(pid, SIGKILL);
      REQUIRE(killed(pid));
      const std::string bytes = read_bytes(path);
      INFO("trial " << trial << ": " << bytes.size() << " bytes");
      REQUIRE((bytes == old_bytes || bytes == new_bytes));
      replaced += bytes == new_bytes;
      CHECK_NOTHROW(Tagger<float>::load(path.string()));
    }
    std::printf("random kills: %d of 25 left the new model, the others the old one\n", replaced);
  }
}
