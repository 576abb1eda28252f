#pragma once
/// \file parallel.hpp
/// The library's only threading: a persistent background worker, and `run_pair`, which runs two
/// jobs either one after the other or concurrently (the second on the worker, the first on the
/// calling thread). Work is always cut into the same pieces whatever the thread count, so a
/// result never depends on how many threads computed it.
///
/// The owner of a WorkerSlot (a layer's or a network's Workspace) starts its worker on first
/// use and joins it when destroyed, so a training step or a prediction batch pays a hand-off
/// through a condition variable, not a thread creation. Copies of a slot start empty.

#include <condition_variable>
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
class BackgroundWorker {
 public:
  BackgroundWorker() : thread_([this] { loop(); }) {}
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;
  ~BackgroundWorker() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
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
      done_ = false;
    }
    wake_.notify_one();
  }

  /// Blocks until the job started by run() has finished; rethrows what it threw.
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [this] { return done_; });
    if (error_) {
      std::exception_ptr error = std::move(error_);
      error_ = nullptr;
      std::rethrow_exception(error);
    }
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stop_ || job_ != nullptr; });
      if (job_ == nullptr) return;  // stop requested and nothing left to run
      void* job = job_;
      job_ = nullptr;
      lock.unlock();
      std::exception_ptr error;
      try {
        invoke_(job);
      } catch (...) {
        error = std::current_exception();
      }
      lock.lock();
      error_ = error;
      done_ = true;
      finished_.notify_one();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  void* job_ = nullptr;
  void (*invoke_)(void*) = nullptr;
  std::exception_ptr error_;
  bool done_ = true;
  bool stop_ = false;
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

}  // namespace detail

}  // namespace lstmner
