#pragma once
/// \file parallel.hpp
/// The library's only threading: a persistent background worker, `run_pair`, which runs two
/// jobs either one after the other or concurrently (the second on the worker, the first on the
/// calling thread), and `run_parts`, which runs one job over the two `Part`s of a piece of work.
///
/// Work is always cut into the same parts whatever the thread count, and partial results (sums)
/// are combined in part order, so a result never depends on how many threads computed it: one
/// thread runs part 0 and then part 1, two threads run them at the same time.
///
/// The owner of a WorkerSlot (a layer's or a network's Workspace) starts its worker on first
/// use and joins it when destroyed, so a training step or a prediction batch pays a hand-off
/// (a few microseconds, see BackgroundWorker), not a thread creation. Copies of a slot start
/// empty.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

namespace lstmner {

namespace detail {

/// One persistent thread that runs one job at a time for its owner. `run(job)` hands `job` over
/// and returns at once; `wait()` blocks until it has finished and rethrows its exception. The job
/// is held by reference (a std::function_ref in spirit), so no allocation happens per hand-off.
///
/// Both sides spin briefly before they sleep: the worker for `spin_limit` after a job, watching
/// for the next one, and wait() for the job to finish. A training step hands the worker about ten
/// short jobs with a few microseconds of work in between; sleeping in between cost 30–50 µs per
/// hand-off on a 2-vCPU VM (waking a halted vCPU), about as much as the jobs themselves. The spin
/// yields the CPU on every round, so on a busy machine other threads still run, and it ends after
/// spin_limit, so an idle worker sleeps.
class BackgroundWorker {
 public:
  static constexpr std::chrono::microseconds spin_limit{200};

  BackgroundWorker() : thread_([this] { loop(); }) {}
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;
  ~BackgroundWorker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_release);
    }
    wake_.notify_one();
    thread_.join();
  }

  /// Starts `job` on the worker. `job` must outlive the matching wait().
  template <class Job>
  void run(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &job;
      invoke_ = [](void* f) { (*static_cast<Job*>(f))(); };
      error_ = nullptr;
      done_.store(false, std::memory_order_relaxed);
      pending_.store(true, std::memory_order_release);
    }
    wake_.notify_one();
  }

  /// Blocks until the job started by run() has finished; rethrows what it threw.
  void wait() {
    spin_until([this] { return done_.load(std::memory_order_acquire); });
    if (!done_.load(std::memory_order_acquire)) {
      std::unique_lock<std::mutex> lock(mutex_);
      finished_.wait(lock, [this] { return done_.load(std::memory_order_acquire); });
    }
    if (error_) {
      std::exception_ptr error = std::move(error_);
      error_ = nullptr;
      std::rethrow_exception(error);
    }
  }

 private:
  /// Spins (yielding the CPU each round) until ready() or spin_limit has passed.
  template <class Ready>
  static void spin_until(Ready&& ready) {
    const auto deadline = std::chrono::steady_clock::now() + spin_limit;
    while (!ready()) {
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() > deadline) return;
    }
  }

  void loop() {
    for (;;) {
      spin_until([this] {
        return pending_.load(std::memory_order_acquire) || stop_.load(std::memory_order_acquire);
      });
      void* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] {
          return pending_.load(std::memory_order_relaxed) || stop_.load(std::memory_order_relaxed);
        });
        if (!pending_.load(std::memory_order_relaxed)) return;  // stop requested, nothing to run
        pending_.store(false, std::memory_order_relaxed);
        job = job_;
      }
      std::exception_ptr error;
      try {
        invoke_(job);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = error;
        done_.store(true, std::memory_order_release);
      }
      finished_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  void* job_ = nullptr;
  void (*invoke_)(void*) = nullptr;
  std::exception_ptr error_;
  std::atomic<bool> pending_{false};  ///< a job was handed over and not yet taken
  std::atomic<bool> done_{true};      ///< the last job has finished
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts after every other member is initialised
};

/// A lazily started BackgroundWorker that a copy does not share (copies start empty).
class WorkerSlot {
 public:
  WorkerSlot() = default;
  WorkerSlot(const WorkerSlot&) {}
  WorkerSlot& operator=(const WorkerSlot&) { return *this; }
  WorkerSlot(WorkerSlot&&) noexcept = default;
  WorkerSlot& operator=(WorkerSlot&&) noexcept = default;

  BackgroundWorker& get() {
    if (!worker_) worker_ = std::make_unique<BackgroundWorker>();
    return *worker_;
  }

 private:
  std::unique_ptr<BackgroundWorker> worker_;
};

}  // namespace detail

/// Part `index` of `count` equal shares of some work (a training stage cuts its tokens, rows or
/// parameter elements into two parts). The default is the whole: part 0 of 1.
struct Part {
  int index = 0;
  int count = 1;

  /// This part's share [first, last) of n items: contiguous, in part order, sizes differing by at
  /// most one.
  std::ptrdiff_t first(std::ptrdiff_t n) const { return n * index / count; }
  std::ptrdiff_t last(std::ptrdiff_t n) const { return n * (index + 1) / count; }
};

namespace detail {

/// Runs `first` and `second`; concurrently when `concurrent` (`second` on the slot's worker).
/// An exception from either is rethrown after both have finished (the first job's, if both threw).
template <class FirstJob, class SecondJob>
void run_pair(WorkerSlot& slot, bool concurrent, FirstJob& first, SecondJob& second) {
  if (!concurrent) {
    first();
    second();
    return;
  }
  BackgroundWorker& worker = slot.get();
  worker.run(second);
  try {
    first();
  } catch (...) {
    try {
      worker.wait();
    } catch (...) {  // the first job's error is the one reported
    }
    throw;
  }
  worker.wait();
}

/// Runs job(Part{0, 2}) and job(Part{1, 2}); concurrently when `concurrent` (part 1 on the slot's
/// worker). Exceptions as in run_pair.
template <class Job>
void run_parts(WorkerSlot& slot, bool concurrent, Job&& job) {
  auto part0 = [&job] { job(Part{0, 2}); };
  auto part1 = [&job] { job(Part{1, 2}); };
  run_pair(slot, concurrent, part0, part1);
}

}  // namespace detail

}  // namespace lstmner
