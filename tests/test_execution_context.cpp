// execution_context.hpp: every part runs exactly once on any number of threads, hand-offs are
// never lost (also after the workers have gone to sleep), errors reach the caller, nested and
// concurrent runs fall back to the calling thread, and the part counts follow the rules the
// layers rely on.
#include <lstmner/execution_context.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

// Cut stages for every thread count these tests ask for, beyond this machine's cores (they then
// run on the cores there are): results must not depend on the cut.
static const bool more_threads_than_cores =
    (lstmner::ExecutionContext::allow_more_threads_than_cores(true), true);

using lstmner::ExecutionContext;
using lstmner::Index;
using lstmner::Part;
using lstmner::Range;

TEST_CASE("the parts of n items cover [0, n) in order, without overlap, sizes within one") {
  for (std::ptrdiff_t n = 0; n <= 11; ++n) {
    for (int count : {1, 2, 3, 7}) {
      CAPTURE(n, count);
      std::ptrdiff_t expected_first = 0;
      for (int index = 0; index < count; ++index) {
        const Part part{index, count};
        CHECK(part.first(n) == expected_first);
        CHECK(part.last(n) >= part.first(n));
        CHECK(part.last(n) - part.first(n) <= n / count + 1);
        expected_first = part.last(n);
      }
      CHECK(expected_first == n);
      const Range range{5, 5 + static_cast<Index>(n)};
      CHECK(range.share(Part{0, count}).first == 5);
      CHECK(range.share(Part{count - 1, count}).last == range.last);
    }
  }
}

TEST_CASE("run runs every part exactly once, on any number of threads") {
  for (int threads : {1, 2, 3, 8}) {
    ExecutionContext context(threads);
    REQUIRE(context.threads() == threads);
    for (int parts : {1, 2, 3, 5, 16, 64}) {
      CAPTURE(threads, parts);
      // (Catch2's assertions are not thread-safe: parts only record, the test checks after.)
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(parts));
      std::atomic<int> wrong_count{0};
      std::mutex mutex;
      std::set<std::thread::id> ran_on;
      for (int round = 0; round < 50; ++round) {
        context.run(parts, [&](Part part) {
          if (part.count != parts) ++wrong_count;
          ++hits[static_cast<std::size_t>(part.index)];
          std::lock_guard<std::mutex> lock(mutex);
          ran_on.insert(std::this_thread::get_id());
        });
      }
      for (auto& h : hits) REQUIRE(h == 50);
      CHECK(wrong_count == 0);
      CHECK(static_cast<int>(ran_on.size()) <= threads);
      if (threads == 1) CHECK(ran_on == std::set<std::thread::id>{std::this_thread::get_id()});
    }
  }
}

TEST_CASE("a stage's writes are all visible to the caller when run returns") {
  ExecutionContext context(4);
  std::vector<int> data(4096);
  for (int round = 1; round <= 200; ++round) {
    context.for_ranges(static_cast<Index>(data.size()), 64, [&](Range r) {
      for (Index i = r.first; i < r.last; ++i) data[static_cast<std::size_t>(i)] = round;
    });
    for (int value : data) REQUIRE(value == round);
  }
}

TEST_CASE("for_ranges covers the items in contiguous ranges, as many as parts_for says") {
  for (int threads : {1, 2, 3, 8}) {
    ExecutionContext context(threads);
    for (Index items : {0, 1, 7, 31, 32, 33, 1000}) {
      for (Index grain : {1, 8, 32}) {
        CAPTURE(threads, items, grain);
        std::mutex mutex;
        std::vector<Range> ranges;
        context.for_ranges(items, grain, [&](Range r) {
          std::lock_guard<std::mutex> lock(mutex);
          ranges.push_back(r);
        });
        std::sort(ranges.begin(), ranges.end(),
                  [](const Range& a, const Range& b) { return a.first < b.first; });
        Index next = 0;
        for (const Range& r : ranges) {
          CHECK(r.first == next);
          CHECK(r.last > r.first);
          next = r.last;
        }
        CHECK(next == items);
        if (items > 0) {
          CHECK(static_cast<int>(ranges.size()) == context.parts_for(items, grain));
          CHECK(static_cast<int>(ranges.size()) <= threads);
          // No range is smaller than the grain, unless there are fewer items than that.
          for (const Range& r : ranges) CHECK(r.size() >= std::min(grain, items) / 2);
        }
      }
    }
  }
}

TEST_CASE("parts_per_copy spreads copies evenly over the threads") {
  // Two copies (a BiLSTM's directions) of 32 sequences, at least 8 per part.
  const std::vector<std::pair<int, int>> expected{{1, 1}, {2, 1}, {3, 3}, {4, 2},
                                                  {6, 3}, {8, 4}, {16, 4}};
  for (const auto& [threads, parts] : expected) {
    ExecutionContext context(threads);
    CAPTURE(threads);
    CHECK(context.parts_per_copy(32, 8, 2) == parts);
  }
  ExecutionContext context(8);
  CHECK(context.parts_per_copy(3, 8, 2) == 1);  // fewer items than one grain
  CHECK(context.parts_per_copy(0, 8, 2) == 1);
  CHECK(context.parts_per_copy(100, 1, 3) == 8);  // 3 copies: 8 / gcd(8, 3)
}

TEST_CASE("run_kinds gives each kind its own parts, numbered from 0") {
  ExecutionContext context(3);
  std::mutex mutex;
  std::vector<std::pair<int, Part>> seen;
  context.run_kinds({2, 0, 3, 1}, [&](int kind, Part part) {
    std::lock_guard<std::mutex> lock(mutex);
    seen.emplace_back(kind, part);
  });
  std::vector<int> per_kind(4, 0);
  for (const auto& [kind, part] : seen) {
    ++per_kind[static_cast<std::size_t>(kind)];
    const int expected_count[] = {2, 0, 3, 1};
    CHECK(part.count == expected_count[kind]);
    CHECK(part.index >= 0);
    CHECK(part.index < part.count);
  }
  CHECK(per_kind == std::vector<int>{2, 0, 3, 1});
}

TEST_CASE("a run after the workers have gone to sleep is not lost") {
  ExecutionContext context(3);
  std::atomic<int> runs{0};
  std::mutex mutex;
  std::set<std::thread::id> ran_on;
  for (int round = 0; round < 20; ++round) {
    context.run(6, [&](Part) {
      ++runs;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      std::lock_guard<std::mutex> lock(mutex);
      ran_on.insert(std::this_thread::get_id());
    });
    // Longer than a worker's spin: they sleep on their condition variable before the next run.
    if (round % 2 == 0) std::this_thread::sleep_for(ExecutionContext::spin_limit * 3);
  }
  CHECK(runs == 20 * 6);
  CHECK(ran_on.size() >= 2);  // sleeping workers were woken and took parts
}

TEST_CASE("an error reaches the caller after every part has finished, the lowest part's first") {
  for (int threads : {1, 2, 4}) {
    CAPTURE(threads);
    ExecutionContext context(threads);
    std::atomic<int> finished{0};
    REQUIRE_THROWS_WITH(context.run(8,
                                    [&](Part part) {
                                      ++finished;
                                      if (part.index == 5) throw std::runtime_error("part 5");
                                      if (part.index == 2) throw std::runtime_error("part 2");
                                    }),
                        "part 2");
    // Run serially, the parts after the one that threw do not run.
    CHECK(finished == (threads == 1 ? 3 : 8));
    // The context is usable afterwards.
    std::atomic<int> value{0};
    context.run(4, [&](Part) { ++value; });
    CHECK(value == 4);
  }
}

TEST_CASE("a run from inside a part runs on that thread, without deadlock") {
  ExecutionContext context(2);
  std::atomic<int> inner{0}, elsewhere{0};
  context.run(4, [&](Part) {
    const auto outer_thread = std::this_thread::get_id();
    context.run(3, [&](Part) {
      if (std::this_thread::get_id() != outer_thread) ++elsewhere;
      ++inner;
    });
  });
  CHECK(inner == 12);
  CHECK(elsewhere == 0);
}

TEST_CASE("runs from several threads at once are all complete") {
  ExecutionContext context(3);
  std::vector<std::thread> callers;
  std::atomic<int> failures{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 100; ++round) {
        std::vector<int> hits(10, 0);
        context.run(10, [&](Part part) { ++hits[static_cast<std::size_t>(part.index)]; });
        for (int h : hits)
          if (h != 1) ++failures;
      }
    });
  }
  for (auto& t : callers) t.join();
  CHECK(failures == 0);
}

TEST_CASE("a context's thread count is checked, 0 means every available core") {
  CHECK(lstmner::available_cores() >= 1);
  ExecutionContext all(0);
  CHECK(all.threads() == lstmner::available_cores());
  CHECK(ExecutionContext::serial().threads() == 1);
  REQUIRE_THROWS_WITH(ExecutionContext(-1), Catch::Contains("threads must be in 0..1024"));
  REQUIRE_THROWS_WITH(ExecutionContext(1025), Catch::Contains("threads must be in 0..1024"));
}
