// Bucketing sentences by length: by lengths alone or by encoded sentences, the same batches.

#include <lstmner/batch.hpp>

#include <catch2/catch.hpp>

#include <vector>

using namespace lstmner;

TEST_CASE("bucket_by_length cuts batches of similar length, in ascending length without rng") {
  const std::vector<std::size_t> lengths{5, 1, 3, 5, 2, 1, 4};
  const auto batches = bucket_by_length(lengths, 3);
  // Stable: equal lengths keep their index order.
  CHECK(batches == std::vector<std::vector<std::size_t>>{{1, 5, 4}, {2, 6, 0}, {3}});
  CHECK_THROWS_WITH(bucket_by_length(lengths, 0), Catch::Contains("batch_size must be at least 1"));
  CHECK(bucket_by_length(std::vector<std::size_t>{}, 4).empty());
}

TEST_CASE("bucketing encoded sentences equals bucketing their lengths, with and without rng") {
  std::vector<EncodedSentence> data;
  std::vector<std::size_t> lengths;
  for (std::size_t i = 0; i < 50; ++i) {
    const std::size_t n = 1 + (i * 7) % 11;
    EncodedSentence s;
    s.words.assign(n, 2);
    s.casing.assign(n, 0);
    data.push_back(s);
    lengths.push_back(n);
  }
  CHECK(bucket_by_length(data, 8) == bucket_by_length(lengths, 8));
  Rng a(11), b(11);
  CHECK(bucket_by_length(data, 8, &a) == bucket_by_length(lengths, 8, &b));
}

TEST_CASE("split_padded_batches cuts where padding would waste work, 4 sentences at a time") {
  // One batch in ascending length: four 1s, four 2s, four 10s and an 11.
  const std::vector<std::size_t> lengths{1, 1, 1, 1, 2, 2, 2, 2, 10, 10, 10, 10, 11};
  std::vector<std::size_t> all(lengths.size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  // Adding the 2s to the 1s pads 12 tokens to 16 (> 1.25x); the 11 joins the 10s (51 -> 55).
  CHECK(split_padded_batches(lengths, {all}, 0.25) ==
        std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11, 12}});
  // Any padding allowed: nothing is split. No padding allowed: equal lengths stay together.
  CHECK(split_padded_batches(lengths, {all}, 1e9) == std::vector<std::vector<std::size_t>>{all});
  CHECK(split_padded_batches(lengths, {all}, 0.0) ==
        std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 10, 11}, {12}});
  // Every batch is split on its own, and the pieces keep the order of the sentences.
  const std::vector<std::size_t> equal(10, 7);
  const std::vector<std::vector<std::size_t>> two{{0, 1, 2}, {3, 4, 5, 6, 7, 8, 9}};
  CHECK(split_padded_batches(equal, two, 0.0) == two);
}

TEST_CASE("fill_batch rejects per-token vectors that do not match the words, naming them") {
  std::vector<EncodedSentence> data(2);
  data[0].words = {2, 3, 4};
  data[0].casing = {0, 1, 2};
  data[0].tags = {0, 1, 0};
  data[1] = data[0];
  Batch batch;
  fill_batch(data, {0, 1}, batch);  // consistent: fine
  CHECK(batch.casing(1, 2) == 2);
  data[1].casing = {0, 1};  // one short: would be read past its end
  CHECK_THROWS_WITH(fill_batch(data, {0, 1}, batch),
                    Catch::Contains("sentence 1 has 3 words but 2 casing ids"));
  data[1].casing.clear();  // none at all: casing class 0
  fill_batch(data, {0, 1}, batch);
  CHECK(batch.casing(1, 2) == 0);
  data[1].singleton = {1};
  CHECK_THROWS_WITH(fill_batch(data, {0, 1}, batch),
                    Catch::Contains("sentence 1 has 3 words but 1 singleton marks"));
  data[1].singleton.clear();
  data[1].tags = {0, 1, 0, 1};
  CHECK_THROWS_WITH(fill_batch(data, {0, 1}, batch), Catch::Contains("but 4 tags"));
}

TEST_CASE("split_batches_by_tokens keeps every batch within max_tokens padded tokens") {
  const std::vector<std::size_t> lengths{1, 2, 2, 3, 10, 10, 30};
  const std::vector<std::vector<std::size_t>> one{{0, 1, 2, 3, 4, 5, 6}};
  // 4 x 3 = 12 fit in 20, 5 x 10 do not; 2 x 10 = 20 fit; the 30-token sentence goes alone.
  CHECK(split_batches_by_tokens(lengths, one, 20) ==
        std::vector<std::vector<std::size_t>>{{0, 1, 2, 3}, {4, 5}, {6}});
  CHECK(split_batches_by_tokens(lengths, one, 1000) == one);
  CHECK(split_batches_by_tokens(lengths, one, 1).size() == 7);
  // Each batch is cut on its own, in order.
  const std::vector<std::vector<std::size_t>> two{{4, 5}, {0, 1}};
  CHECK(split_batches_by_tokens(lengths, two, 10) ==
        std::vector<std::vector<std::size_t>>{{4}, {5}, {0, 1}});
}
