// The document-context feature (blocks/doc_context.hpp): every class on hand-built documents,
// worked out by hand from the definitions; the token left out of its own statistics; headlines;
// document boundaries; and, through the Tagger, the same features in training, predict(),
// evaluate() and a loaded model.

#include <lstmner/blocks/doc_context.hpp>
#include <lstmner/tagger.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

using namespace lstmner;

namespace {

using Sentences = std::vector<std::vector<std::string>>;

constexpr std::int32_t uncased = static_cast<std::int32_t>(DocContext::uncased);
constexpr std::int32_t unseen = static_cast<std::int32_t>(DocContext::unseen);
constexpr std::int32_t lower = static_cast<std::int32_t>(DocContext::lower);
constexpr std::int32_t capitalised = static_cast<std::int32_t>(DocContext::capitalised);
constexpr std::int32_t in_name = static_cast<std::int32_t>(DocContext::capitalised_in_name);
constexpr std::int32_t mixed = static_cast<std::int32_t>(DocContext::mixed);
constexpr std::int32_t mixed_in_name = static_cast<std::int32_t>(DocContext::mixed_in_name);

std::filesystem::path sample_dir() {
  const char* env = std::getenv("LSTMNER_SAMPLE_DATA");
  return std::filesystem::path(env ? env : "examples/data/sample");
}

}  // namespace

TEST_CASE("a token's case is its first letter's, unless a non-ASCII character comes first") {
  using detail::TokenCase;
  CHECK(detail::token_case("Merkel") == TokenCase::upper);
  CHECK(detail::token_case("NATO") == TokenCase::upper);
  CHECK(detail::token_case("'Allo") == TokenCase::upper);
  CHECK(detail::token_case("1st") == TokenCase::lower);
  CHECK(detail::token_case("the") == TokenCase::lower);
  CHECK(detail::token_case("iPhone") == TokenCase::lower);
  CHECK(detail::token_case("1996") == TokenCase::uncased);
  CHECK(detail::token_case(",") == TokenCase::uncased);
  CHECK(detail::token_case("") == TokenCase::uncased);
  CHECK(detail::token_case("\xc3\x96lmez") == TokenCase::uncased);  // Ölmez
  CHECK(detail::token_case("Z\xc3\xbcrich") == TokenCase::upper);   // Zürich
}

TEST_CASE("a headline has more all-capital words of two letters or more than words in lower case") {
  CHECK(detail::is_headline({"SOCCER", "-", "JAPAN", "GET", "LUCKY", "WIN", "."}));
  CHECK(detail::is_headline({"LONDON", "1996-08-30"}));
  CHECK(detail::is_headline({"Soccer", "-", "JAPAN", "WIN"}));  // 2 against 1
  CHECK_FALSE(detail::is_headline({"EU", "rejects", "German", "call"}));
  CHECK_FALSE(detail::is_headline({"EU", "and", "NATO", "leaders", "met"}));  // 2 against 2
  CHECK_FALSE(detail::is_headline({"A", "I", "."}));  // one-letter words count for neither
  CHECK_FALSE(detail::is_headline({}));
}

TEST_CASE("every class, on a hand-built document; the token is left out of its own statistics") {
  const Sentences doc = {
      // A headline: nothing in it is informative.
      {"SOCCER", "-", "JAPAN", "GET", "LUCKY", "WIN", "."},
      // "Japan" is sentence-initial (not informative); "began", "the", "defence", "against" are
      // informative lower-case; "Syria" informative capitalised, in no run.
      {"Japan", "began", "the", "defence", "against", "Syria", "."},
      // "Coach Angela Merkel" is a run of three: "Angela" and "Merkel" are informative and in a
      // name run; "Japan" informative capitalised; "said", "won" informative lower-case.
      {"Coach", "Angela", "Merkel", "said", "Japan", "won", "."},
      // "Merkel" is sentence-initial; "japan" informative lower-case.
      {"Merkel", "won", "the", "win", "in", "japan", "."},
  };
  const auto ids = doc_context_ids(doc);
  REQUIRE(ids.size() == 4);
  // SOCCER: no other occurrence. JAPAN: "Japan" (S2, capitalised) and "japan" (S3, lower).
  // WIN: "win" (S3, lower); the headline's own WIN is not informative anyway.
  CHECK(ids[0] ==
        std::vector<std::int32_t>{unseen, uncased, mixed, unseen, unseen, lower, uncased});
  // Japan: S2 capitalised + S3 lower (S1's own, initial, counts for nothing). the: S3's.
  // Syria: its only informative occurrence is itself, left out: unseen.
  CHECK(ids[1] == std::vector<std::int32_t>{mixed, unseen, lower, unseen, unseen, unseen, uncased});
  // Merkel (S2) leaves itself out; S3's Merkel is initial: unseen. Japan (S2) leaves itself
  // out: S3's japan is lower (S1's is initial). won: S3's.
  CHECK(ids[2] == std::vector<std::int32_t>{unseen, unseen, unseen, unseen, lower, lower, uncased});
  // Merkel (S3): S2's, capitalised in a name run. japan (S3) leaves itself out: S2's Japan is
  // capitalised, in no run. win: S0's WIN is in a headline: unseen.
  CHECK(ids[3] ==
        std::vector<std::int32_t>{in_name, lower, lower, unseen, unseen, capitalised, uncased});
}

TEST_CASE("document boundaries: nothing is counted across them; mixed with a name run") {
  const Sentences sentences = {
      // Document 1.
      {"Officials", "said", "Angela", "Merkel", "met", "Syria", "."},
      // Document 2.
      {"Leaders", "met", "Angela", "Merkel", "and", "angela", "."},
      {"Angela", "visited", "SYRIA", "."},
  };
  const std::vector<bool> starts = {true, true, false};
  const auto ids = doc_context_ids(sentences, starts);
  REQUIRE(ids.size() == 3);
  // Document 1 alone: every informative form occurs once (itself).
  CHECK(ids[0] ==
        std::vector<std::int32_t>{unseen, unseen, unseen, unseen, unseen, unseen, uncased});
  // Angela (S1): the other is "angela", lower. Merkel: document 1's does not count. angela:
  // Angela, capitalised in a name run.
  CHECK(ids[1] ==
        std::vector<std::int32_t>{unseen, unseen, lower, unseen, unseen, in_name, uncased});
  // Angela (initial): capitalised in a run and lower: mixed_in_name. SYRIA is informative (the
  // sentence is no headline, 1 capital word against 2) and alone in document 2: unseen.
  CHECK(ids[2] == std::vector<std::int32_t>{mixed_in_name, unseen, unseen, uncased});

  // One document: now Merkel and Syria see each other across the sentences.
  const auto together = doc_context_ids(sentences);
  CHECK(together[1][3] == in_name);      // Merkel: document 1's, in a run
  CHECK(together[2][2] == capitalised);  // SYRIA: "Syria" of S0
  // A document per sentence: the same as each sentence alone.
  const auto apart = doc_context_ids(sentences, {true, true, true});
  for (std::size_t i = 0; i < sentences.size(); ++i)
    CHECK(apart[i] == doc_context_ids({sentences[i]})[0]);
  // The first sentence always opens a document, flagged or not.
  CHECK(doc_context_ids(sentences, {false, true, false}) == ids);
  CHECK_THROWS_WITH(doc_context_ids(sentences, {true, false}),
                    Catch::Contains("2 document flags for 3 sentences"));
}

TEST_CASE("a form occurring twice at informative places sees the other one, not itself") {
  // Two capitalised "Reuters" mid-sentence: each sees the other (capitalised); a third,
  // lower-case one makes the first two mixed and sees only capitals itself.
  const Sentences two = {{"He", "told", "Reuters", "."}, {"She", "told", "Reuters", "too", "."}};
  auto ids = doc_context_ids(two);
  CHECK(ids[0][2] == capitalised);
  CHECK(ids[1][2] == capitalised);
  Sentences three = two;
  three.push_back({"The", "reuters", "story", "."});
  ids = doc_context_ids(three);
  CHECK(ids[0][2] == mixed);
  CHECK(ids[1][2] == mixed);
  CHECK(ids[2][1] == capitalised);
  // Opening quotes and list numbers do not make a word informative: "The" after a quote is
  // still sentence-initial.
  ids = doc_context_ids({{"\"", "The", "end", "."}, {"At", "the", "end", "."}});
  CHECK(ids[0][1] == lower);   // the other "the" is lower-case; its own place counts for nothing
  CHECK(ids[1][1] == unseen);  // the other "The" is sentence-initial
}

TEST_CASE("the sentence encoder: -DOCSTART- documents in training, one sentence alone") {
  std::istringstream text(
      "-DOCSTART- O\n\nHe O\ntold O\nReuters B-ORG\n. O\n\n"
      "Reuters B-ORG\nsaid O\nso O\n. O\n\n"
      "-DOCSTART- O\n\nReuters B-ORG\nagain O\n. O\n\n");
  const ConllDocument data = read_conll(text, "docs");
  REQUIRE(data.sentences.size() == 3);
  TaggerConfig config;
  config.doc_context_dim = 4;
  SentenceEncoder encoder;
  encoder.build(data, config);
  REQUIRE(encoder.uses_doc_context());
  const auto encoded = encoder.encode_training_data(data);
  // Sentence 2's Reuters (initial) sees sentence 1's; sentence 3 is another document.
  CHECK(encoded[1].doc_context == std::vector<std::int32_t>{capitalised, unseen, unseen, uncased});
  CHECK(encoded[2].doc_context == std::vector<std::int32_t>{unseen, unseen, uncased});
  // Without the document's classes, a sentence is its own document.
  CHECK(encoder.encode(data.sentences[1].words, false).doc_context ==
        std::vector<std::int32_t>{unseen, unseen, unseen, uncased});
  // Without the block, no classes.
  config.doc_context_dim = 0;
  encoder.build(data, config);
  CHECK(encoder.encode_training_data(data)[1].doc_context.empty());
}

namespace {

TaggerConfig quick_config() {
  TaggerConfig config;
  config.embedding_dim = 24;
  config.hidden_dim = 24;
  config.casing_dim = 6;
  config.doc_context_dim = 5;
  config.batch_size = 8;
  config.learning_rate = 0.005;
  config.epochs = 4;
  config.patience = 0;
  config.threads = 1;
  config.seed = 5;
  return config;
}

const Tagger<float>& doc_tagger() {
  static const Tagger<float> tagger = [] {
    const ConllDocument train = read_conll((sample_dir() / "train.txt").string());
    return Tagger<float>::train(train, nullptr, quick_config());
  }();
  return tagger;
}

}  // namespace

TEST_CASE("a tagger with the block: documents in predict(), evaluate(), and a loaded model") {
  const Tagger<float>& tagger = doc_tagger();
  REQUIRE(tagger.network().block("doc_context") != nullptr);
  REQUIRE(tagger.network().block("doc_context")->rows() == 5);
  const ConllDocument test = read_conll((sample_dir() / "test.txt").string());
  Sentences words;
  for (const Sentence& s : test.sentences) words.push_back(s.words);
  const std::vector<bool> starts = Tagger<float>::document_starts(test);
  const auto tags = tagger.predict(words, starts);

  // Each document tagged on its own gives the same tags: documents do not see each other.
  std::vector<std::vector<std::string>> by_document;
  for (std::size_t first = 0; first < words.size();) {
    std::size_t last = first + 1;
    while (last < words.size() && !starts[last]) ++last;
    const auto part = tagger.predict(Sentences(words.begin() + static_cast<std::ptrdiff_t>(first),
                                               words.begin() + static_cast<std::ptrdiff_t>(last)));
    by_document.insert(by_document.end(), part.begin(), part.end());
    first = last;
  }
  CHECK(by_document == tags);
  // tag() agrees.
  const auto tagged = tagger.tag(words, {}, starts);
  for (std::size_t i = 0; i < words.size(); ++i) CHECK(tagged[i].tags == tags[i]);

  // Without document flags, the sentences of the call are one document.
  const auto one_document = tagger.predict(words);
  CHECK(tagger.predict(words, std::vector<bool>(words.size(), false)) == one_document);

  // evaluate() cuts the data at its -DOCSTART- lines, as predict(words, starts) above.
  const EvaluationReport report = tagger.evaluate(test);
  std::vector<std::vector<std::string>> gold;
  for (const Sentence& s : test.sentences) gold.push_back(s.tags);
  auto in_scheme = tags;
  for (auto& t : in_scheme) t = convert_tags(t, tagger.output_scheme(), test.scheme);
  CHECK(report.micro.f1 == evaluate(gold, in_scheme).micro.f1);

  // Saved and loaded: the field, the table, and the same tags.
  const Tagger<float> loaded = Tagger<float>::from_bytes(tagger.to_bytes());
  CHECK(loaded.config().doc_context_dim == 5);
  REQUIRE(loaded.network().block("doc_context") != nullptr);
  for (std::size_t i = 0; i < tagger.network().params().size(); ++i) {
    const auto* p = tagger.network().params()[i];
    const auto* q = loaded.network().params()[i];
    CHECK(p->name == q->name);
    CHECK(p->value == q->value);
  }
  CHECK(loaded.predict(words, starts) == tags);
  CHECK(loaded.predict(words) == one_document);
  CHECK_THROWS_WITH(tagger.predict(words, {true}),
                    Catch::Contains("1 document flags for " + std::to_string(words.size())));
}

TEST_CASE("the block's classes reach the network: changing a document changes a class's input") {
  // With the block, predict() depends on the document a sentence is in: the same sentence
  // tagged alone and inside a document whose other sentences make its words' classes differ
  // gets different scores. Checked on the network's input rows, which must differ exactly in
  // the block's rows of the tokens whose class differs.
  const Tagger<float>& tagger = doc_tagger();
  const SentenceEncoder& encoder = tagger.encoder();
  const std::vector<std::string> sentence = {"Merkel", "said", "so", "."};
  const Sentences doc = {sentence, {"He", "met", "Angela", "Merkel", "."}};
  const auto in_doc = doc_context_ids(doc);
  const EncodedSentence alone = encoder.encode(sentence, false);
  const EncodedSentence with = encoder.encode(sentence, false, &in_doc[0]);
  REQUIRE(alone.doc_context[0] == unseen);
  REQUIRE(with.doc_context[0] == in_name);
  std::vector<EncodedSentence> data = {alone, with};
  Batch batch;
  fill_batch(data, {0, 1}, batch);
  CHECK(batch.doc_context(0, 0) == unseen);
  CHECK(batch.doc_context(1, 0) == in_name);
  TaggerNetwork<float>::Workspace ws;
  tagger.network().forward(batch, ws, ExecutionContext::serial(), nullptr);
  // Rows: words (24), casing (6), doc_context (5). Token 0 of sentences 0 and 1: columns 0, 1.
  const auto inputs = ws.inputs.matrix();
  CHECK(inputs.col(0).head(30) == inputs.col(1).head(30));
  CHECK(inputs.col(0).segment(30, 5) != inputs.col(1).segment(30, 5));
  const auto& table =
      dynamic_cast<const EmbeddingBlock<float>&>(*tagger.network().block("doc_context"))
          .embedding.table.value;
  CHECK(inputs.col(1).segment(30, 5) == table.col(in_name));
}
