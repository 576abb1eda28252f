// parallel.hpp: parts cover their work exactly once, hand-offs never get lost (also after the
// worker has gone to sleep), and errors from either thread reach the caller.
#include <lstmner/parallel.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

using lstmner::Part;
using lstmner::detail::run_pair;
using lstmner::detail::run_parts;
using lstmner::detail::WorkerSlot;

TEST_CASE("the parts of n items cover [0, n) in order, without overlap, sizes within one") {
  for (std::ptrdiff_t n = 0; n <= 11; ++n) {
    for (int count : {1, 2, 3}) {
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
    }
  }
}

TEST_CASE("run_parts runs each part once, on one thread or two, with the same result") {
  for (bool concurrent : {false, true}) {
    CAPTURE(concurrent);
    WorkerSlot slot;
    std::vector<int> hits(1001, 0);
    const std::thread::id caller = std::this_thread::get_id();
    std::thread::id part1_thread;
    for (int round = 0; round < 200; ++round) {
      run_parts(slot, concurrent, [&](Part part) {
        const auto n = static_cast<std::ptrdiff_t>(hits.size());
        for (std::ptrdiff_t i = part.first(n); i < part.last(n); ++i)
          ++hits[static_cast<std::size_t>(i)];
        if (part.index == 1) part1_thread = std::this_thread::get_id();
      });
    }
    for (int h : hits) REQUIRE(h == 200);
    CHECK((part1_thread != caller) == concurrent);
  }
}

TEST_CASE("a hand-off after the worker has gone to sleep is not lost") {
  WorkerSlot slot;
  std::atomic<int> runs{0};
  auto first = [] {};
  auto second = [&] { ++runs; };
  for (int round = 0; round < 20; ++round) {
    run_pair(slot, true, first, second);
    // Longer than the worker's spin: it sleeps on its condition variable before the next job.
    if (round % 2 == 0)
      std::this_thread::sleep_for(lstmner::detail::BackgroundWorker::spin_limit * 3);
  }
  CHECK(runs == 20);
}

TEST_CASE("an error on either thread reaches the caller after both jobs have finished") {
  WorkerSlot slot;
  std::atomic<bool> first_finished{false}, second_finished{false};
  auto ok_first = [&] { first_finished = true; };
  auto failing_second = [&] {
    second_finished = true;
    throw std::runtime_error("second failed");
  };
  REQUIRE_THROWS_WITH(run_pair(slot, true, ok_first, failing_second), "second failed");
  CHECK(first_finished);
  CHECK(second_finished);

  auto failing_first = [] { throw std::runtime_error("first failed"); };
  REQUIRE_THROWS_WITH(run_pair(slot, true, failing_first, failing_second), "first failed");

  // The worker is still usable afterwards.
  int value = 0;
  auto set = [&] { value = 7; };
  run_pair(slot, true, ok_first, set);
  CHECK(value == 7);
}
