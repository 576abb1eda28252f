// The pretrained-vector block (blocks/vectors_block.hpp): its vocabulary is training words ∪
// vector words, looked up exact → lower-cased → digits; the table starts as the vectors (the
// rest at the vectors' scale); a frozen table stays the vectors through training; a test word
// seen only in the vectors is known to a trained tagger.

#include <lstmner/blocks/vectors_block.hpp>
#include <lstmner/tagger.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace lstmner;
namespace fs = std::filesystem;

namespace {

WordVectors small_vectors() {
  Matrix<float> v(3, 4);
  v << 1, 2, 3, 4,     //
      -1, -2, -3, -4,  //
      0.5, 0.25, 0.125, 2;
  return WordVectors({"Paris", "london", "1996", "Zanzibarville"}, v);
}

fs::path sample_dir() {
  const char* env = std::getenv("LSTMNER_SAMPLE_DATA");
  return fs::path(env ? env : "examples/data/sample");
}

}  // namespace

TEST_CASE("the vector vocabulary finds words exact, lower-cased, then with digits normalised") {
  Rng rng(1);
  const WordVectors vectors = small_vectors();
  auto [vocabulary, table] =
      build_vector_table<float>(vectors, {"the", "London", "Paris", "the", "Rome"}, rng);
  // Vector words first (file order), then training words without a vector (first of each).
  REQUIRE(vocabulary.words() ==
          std::vector<std::string>{"Paris", "london", "1996", "Zanzibarville", "the", "Rome"});
  CHECK(vocabulary.id("Paris") == VectorVocabulary::reserved + 0);
  CHECK(vocabulary.id("PARIS") == VectorVocabulary::reserved + 0);   // lower-cased
  CHECK(vocabulary.id("London") == VectorVocabulary::reserved + 1);  // lower-cased
  CHECK(vocabulary.id("2013") == VectorVocabulary::reserved + 2);    // digits
  CHECK(vocabulary.id("Rome") == VectorVocabulary::reserved + 5);
  CHECK(vocabulary.id("nowhere") == VectorVocabulary::unknown_id);
  REQUIRE(table.rows() == 3);
  REQUIRE(table.cols() == vocabulary.size());
  CHECK(table.col(VectorVocabulary::pad_id).isZero());
  for (Index i = 0; i < vectors.size(); ++i)
    CHECK(table.col(VectorVocabulary::reserved + i) == vectors.vector(i));
  // The rest at the vectors' scale: within ±√3·sd, not all zero.
  const double sd = std::sqrt((vectors.vectors().array().square().mean()) -
                              std::pow(vectors.vectors().array().mean(), 2));
  for (Index j :
       {Index(1), Index(VectorVocabulary::reserved + 4), Index(VectorVocabulary::reserved + 5)}) {
    CHECK(table.col(j).cwiseAbs().maxCoeff() <= std::sqrt(3.0) * sd + 1e-6);
    CHECK(table.col(j).cwiseAbs().maxCoeff() > 0);
  }
}

TEST_CASE("a tagger with frozen pretrained vectors keeps them, and knows a vector-only word") {
  const auto dir = fs::temp_directory_path() / "lstmner_test_vectors";
  fs::create_directories(dir);
  const fs::path file = dir / "vectors.txt";
  {
    std::ofstream out(file);
    out << "Zanzibarville 0.5 -0.5 0.25 1\n"
        << "the 0.1 0.2 0.3 0.4\n"
        << "germany 1 1 -1 -1\n";
  }
  const ConllDocument train = read_conll((sample_dir() / "train.txt").string());
  TaggerConfig config;
  config.embedding_dim = 16;
  config.hidden_dim = 16;
  config.epochs = 1;
  config.patience = 0;
  config.threads = 1;
  config.word_vectors = file.string();
  config.freeze_word_vectors = true;
  const Tagger<float> tagger = Tagger<float>::train(train, nullptr, config);
  const VectorVocabulary& vocabulary = tagger.encoder().vectors();
  REQUIRE_FALSE(vocabulary.empty());
  const auto* block = dynamic_cast<const EmbeddingBlock<float>*>(tagger.network().block("vectors"));
  REQUIRE(block != nullptr);
  REQUIRE(block->rows() == 4);
  const auto& table = block->embedding.table.value;
  // Frozen: the vectors are still the file's after training.
  Vector<float> expected(4);
  expected << 0.5f, -0.5f, 0.25f, 1.0f;
  CHECK(table.col(vocabulary.id("Zanzibarville")) == expected);
  expected << 1, 1, -1, -1;
  CHECK(table.col(vocabulary.id("Germany")) == expected);  // lower-cased lookup
  // A word only the vectors have is known; a word nobody has is not.
  CHECK(vocabulary.id("ZANZIBARVILLE") != VectorVocabulary::unknown_id);
  CHECK(vocabulary.id("Qwxyzzy") == VectorVocabulary::unknown_id);
  // Tagging a sentence with it works (and reads the block).
  CHECK(tagger.predict({"Zanzibarville", "is", "far", "."}).size() == 4);
  fs::remove_all(dir);
}
