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
