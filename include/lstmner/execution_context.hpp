#pragma once
/// \file execution_context.hpp
/// The library's only threading: an `ExecutionContext` owns N−1 persistent worker threads and
/// runs a stage of work as numbered parts on them and on the calling thread.
///
///   ExecutionContext context(threads);    // 0: every core this process may use
///   context.run(parts, [&](Part part) { ... part.index of part.count ... });
///   context.for_ranges(items, grain, [&](Range r) { ... items [r.first, r.last) ... });
///
/// Layers say how their work splits (token columns, sentences of a batch, table rows, parameter
/// elements, rows of a weight gradient); the context decides which thread runs which part, and
/// `parts_for(items, grain)` says how many parts the threads can use. A context is created once
/// (per Tagger, per training run) and passed into every forward and backward pass; the thread
/// count is set in one place, when it is made.
///
/// Results never depend on the thread count. Every stage is written in one of two ways:
///   - output-partitioned: each part writes its own outputs, and the arithmetic that produces an
///     output does not depend on how the items were cut (a column of a product sums over the
///     same k in the same order whichever part computes it). Such stages may be cut into as many
///     parts as there are threads (`for_ranges`, `parts_for`).
///   - reductions (a loss, a norm): cut into a fixed number of parts that does not depend on the
///     thread count (a documented constant, or one partial per item), and the partial sums are
///     added in part order after the stage.
/// tests/test_determinism.cpp trains with 1, 2, 3, 4 and 8 threads and compares every weight bit.
///
/// How a stage runs: run() publishes the job, wakes sleeping workers as needed, and works on
/// parts itself; every thread takes the next part from a shared counter until none is left, so
/// threads that are late (descheduled, or more threads than cores) simply find nothing to do.
/// Waiting threads spin briefly, yielding the CPU on every round, and then sleep: a training step
/// hands out about a dozen stages a few hundred microseconds apart, and waking a sleeping thread
/// costs 30–50 µs on a small VM, as much as a stage; the yield keeps a spinning thread from
/// starving a working one when there are more threads than cores.
///
/// One run at a time: a run() that finds the context busy (called from inside a part, or by a
/// second thread while another run is under way) runs its parts one after the other on the
/// calling thread. Prediction, which runs whole batches on every thread, relies on this: the
/// network stages inside a batch then run serially. `ExecutionContext::serial()` is a context of
/// one thread for passes that should not use any other.
///
/// Exceptions thrown by parts are caught; once every part has finished, run() rethrows the one
/// from the lowest-numbered part that threw (run serially, the parts after it do not run).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <fstream>
#include <functional>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

#include <lstmner/parts.hpp>
#include <lstmner/tensor.hpp>

namespace lstmner {

namespace detail {

/// The CPU quota of this process's cgroup (v2: "max 100000" or "200000 100000" in cpu.max), in
/// whole CPUs rounded up; 0 when there is none or it cannot be read.
inline int cgroup_cpu_quota() {
  std::ifstream in("/sys/fs/cgroup/cpu.max");
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  try {
    const long long q = std::stoll(quota);
    if (q <= 0) return 0;
    return static_cast<int>(std::min<long long>((q + period - 1) / period, INT_MAX));
  } catch (...) {
    return 0;
  }
}

}  // namespace detail

/// The number of CPUs this process may run on: its CPU affinity mask (taskset, cpusets), further
/// limited by a cgroup CPU quota (containers); std::thread::hardware_concurrency() where neither
/// is available. At least 1.
inline int available_cores() {
  int cores = 0;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
#endif
  if (cores <= 0) cores = static_cast<int>(std::thread::hardware_concurrency());
  const int quota = detail::cgroup_cpu_quota();
  if (quota > 0 && (cores <= 0 || quota < cores)) cores = quota;
  return std::max(cores, 1);
}

class ExecutionContext {
 public:
  /// The most threads a context accepts.
  static constexpr int max_threads = 1024;
  /// How long a waiting thread spins (yielding) before it sleeps.
  static constexpr std::chrono::microseconds spin_limit{200};

  /// `threads` in 1..max_threads, or 0 for available_cores(). More threads than available
  /// cores are capped at the cores: they would only take turns on the same cores, evicting each
  /// other's data from the caches, and cut the work into parts too small for the kernels
  /// (tagging on 8 threads on 2 cores ran at half the speed of 2 threads, training at 0.8).
  /// Results never depend on the count, so the cap changes only the speed. Tests that must cut
  /// stages for more threads than the machine has call allow_more_threads_than_cores(true): the
  /// stages are then cut for `threads`, still run by at most available_cores() threads.
  explicit ExecutionContext(int threads = 0)
      : threads_(threads == 0                     ? available_cores()
                 : more_threads_than_cores_flag() ? threads
                                                  : std::min(threads, available_cores())),
        running_threads_(std::min(threads_, available_cores())) {
    require(threads >= 0 && threads <= max_threads,
            "ExecutionContext: threads must be in 0.." + std::to_string(max_threads) +
                " (0 = every available core), got " + std::to_string(threads));
    workers_.reserve(static_cast<std::size_t>(std::max(running_threads_ - 1, 0)));
    try {
      for (int i = 1; i < running_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
    } catch (...) {
      stop_workers();
      throw;
    }
  }
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;
  ~ExecutionContext() { stop_workers(); }

  /// A shared context of one thread (no workers): its runs are plain loops on the caller.
  static ExecutionContext& serial() {
    static ExecutionContext context(1);
    return context;
  }

  /// For tests: contexts made after allow_more_threads_than_cores(true) cut their stages for as
  /// many threads as asked, beyond the available cores (see the constructor).
  static void allow_more_threads_than_cores(bool allow) { more_threads_than_cores_flag() = allow; }

  /// The thread count stages are cut for.
  int threads() const { return threads_; }
  /// Threads that run parts: the workers and the caller of run() (threads(), at most the
  /// available cores).
  int running_threads() const { return running_threads_; }

  /// How many parts to cut `items` into so that every thread has work and no part has fewer than
  /// `grain` items (but one): min(threads, ceil(items / grain)), at least 1. For
  /// output-partitioned work only (see the file comment).
  int parts_for(Index items, Index grain = 1) const {
    grain = std::max<Index>(grain, 1);
    const Index wanted = (std::max<Index>(items, 0) + grain - 1) / grain;
    return static_cast<int>(std::max<Index>(1, std::min<Index>(threads_, wanted)));
  }

  /// The same for work that comes in `copies` independent copies of `items` items each (the two
  /// directions of a BiLSTM): parts per copy such that copies × parts spreads evenly over the
  /// threads (threads / gcd(threads, copies): 1 → 1, 2 → 1, 3 → 3, 4 → 2, 8 → 4 for two copies),
  /// none smaller than `grain` items (but one).
  int parts_per_copy(Index items, Index grain, int copies) const {
    grain = std::max<Index>(grain, 1);
    copies = std::max(copies, 1);
    const int even = threads_ / std::gcd(threads_, copies);
    const Index wanted = (std::max<Index>(items, 0) + grain - 1) / grain;
    return static_cast<int>(std::max<Index>(1, std::min<Index>(even, wanted)));
  }

  /// For analysis (benchmarks/bench_scaling.cpp, the scaling model of docs/performance.md): a
  /// context with a stage recorder runs every stage's parts one after the other on the calling
  /// thread, cut exactly as for threads() threads, and hands the recorder the seconds each part
  /// took. nullptr (the default) runs stages normally.
  using StageRecorder = std::function<void(const std::vector<double>& part_seconds)>;
  void set_stage_recorder(const StageRecorder* recorder) { recorder_ = recorder; }

  /// Runs job(Part{i, parts}) for every i in [0, parts); returns when all have finished.
  template <class Job>
  void run(int parts, Job&& job) {
    if (parts <= 0) return;
    if (recorder_ != nullptr) {
      record_stage(parts, job);
      return;
    }
    if (parts == 1 || workers_.empty() || in_use_.exchange(true, std::memory_order_acquire)) {
      for (int i = 0; i < parts; ++i) job(Part{i, parts});
      return;
    }
    InUse release_when_done{in_use_};
    using JobType = std::remove_reference_t<Job>;
    run_parallel(parts, const_cast<void*>(static_cast<const void*>(&job)),
                 [](void* f, int index, int count) {
                   (*static_cast<JobType*>(f))(Part{index, count});
                 });
  }

  /// Runs a stage made of several kinds of work, kind k cut into counts[k] parts (0: none):
  /// job(k, Part{i, counts[k]}) for every kind and part, all of them side by side.
  template <std::size_t Kinds, class Job>
  void run_kinds(const int (&counts)[Kinds], Job&& job) {
    int offsets[Kinds + 1] = {0};
    for (std::size_t k = 0; k < Kinds; ++k) offsets[k + 1] = offsets[k] + std::max(counts[k], 0);
    run(offsets[Kinds], [&](Part part) {
      std::size_t k = 0;
      while (part.index >= offsets[k + 1]) ++k;
      job(static_cast<int>(k), Part{part.index - offsets[k], offsets[k + 1] - offsets[k]});
    });
  }

  /// Runs job(Range) over contiguous ranges covering [0, items), parts_for(items, grain) of them,
  /// in order of their first item. For output-partitioned work only.
  template <class Job>
  void for_ranges(Index items, Index grain, Job&& job) {
    if (items <= 0) return;
    run(parts_for(items, grain), [&](Part part) {
      job(Range{part.first(items), part.last(items)});
    });
  }

 private:
  using Invoke = void (*)(void*, int, int);

  /// Clears in_use_ when a parallel run() ends, however it ends.
  struct InUse {
    std::atomic<bool>& flag;
    ~InUse() { flag.store(false, std::memory_order_release); }
  };

  template <class Job>
  void record_stage(int parts, Job& job) {
    std::vector<double> seconds(static_cast<std::size_t>(parts));
    for (int i = 0; i < parts; ++i) {
      const auto start = std::chrono::steady_clock::now();
      job(Part{i, parts});
      seconds[static_cast<std::size_t>(i)] =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    const StageRecorder* recorder = recorder_;
    recorder_ = nullptr;  // a stage run by the recorder itself runs normally
    (*recorder)(seconds);
    recorder_ = recorder;
  }

  /// Spins, yielding the CPU each round, until ready() or spin_limit has passed.
  template <class Ready>
  static bool spin_until(Ready&& ready) {
    const auto deadline = std::chrono::steady_clock::now() + spin_limit;
    for (int round = 0; !ready(); ++round) {
      std::this_thread::yield();
      if ((round & 15) == 15 && std::chrono::steady_clock::now() > deadline) return ready();
    }
    return true;
  }

  void run_parallel(int parts, void* job, Invoke invoke) {
    // Publish. Workers read the task only after seeing open_ == this generation (acquire), and the
    // task is rewritten only when no worker is inside the previous one (busy_ == 0, below).
    task_job_ = job;
    task_invoke_ = invoke;
    task_parts_ = parts;
    first_error_ = nullptr;
    first_error_part_ = INT_MAX;
    next_part_.store(0, std::memory_order_relaxed);
    parts_done_.store(0, std::memory_order_relaxed);
    const std::uint64_t generation = ++generation_;
    open_.store(generation, std::memory_order_seq_cst);
    published_.store(generation, std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_seq_cst) > 0) {
      // Wake at most as many sleepers as there are parts besides the caller's first.
      std::lock_guard<std::mutex> lock(mutex_);
      const int wake = std::min(parts - 1, sleeping_.load(std::memory_order_relaxed));
      for (int i = 0; i < wake; ++i) wake_.notify_one();
    }

    work(job, invoke, parts);

    // Wait for the parts other threads took.
    if (!spin_until([&] { return parts_done_.load(std::memory_order_acquire) == parts; })) {
      std::unique_lock<std::mutex> lock(mutex_);
      caller_sleeping_.store(true, std::memory_order_seq_cst);
      finished_.wait(lock, [&] { return parts_done_.load(std::memory_order_seq_cst) == parts; });
      caller_sleeping_.store(false, std::memory_order_relaxed);
    }
    // Close the task, then wait until no worker is still inside it (one that joined late found
    // no part and is leaving), so the next run may rewrite it.
    open_.store(0, std::memory_order_seq_cst);
    while (busy_.load(std::memory_order_seq_cst) != 0) std::this_thread::yield();

    if (first_error_) {
      std::exception_ptr error = first_error_;
      first_error_ = nullptr;
      std::rethrow_exception(error);
    }
  }

  /// Takes parts from the shared counter until none is left.
  void work(void* job, Invoke invoke, int parts) {
    for (;;) {
      const int index = next_part_.fetch_add(1, std::memory_order_relaxed);
      if (index >= parts) return;
      try {
        invoke(job, index, parts);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex_);
        if (index < first_error_part_) {
          first_error_part_ = index;
          first_error_ = std::current_exception();
        }
      }
      if (parts_done_.fetch_add(1, std::memory_order_seq_cst) + 1 == parts &&
          caller_sleeping_.load(std::memory_order_seq_cst)) {
        std::lock_guard<std::mutex> lock(mutex_);
        finished_.notify_one();
      }
    }
  }

  void worker_loop() {
    std::uint64_t seen = 0;
    for (;;) {
      const auto news = [&] {
        return published_.load(std::memory_order_seq_cst) != seen ||
               stop_.load(std::memory_order_seq_cst);
      };
      if (!spin_until(news)) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, news);
        sleeping_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stop_.load(std::memory_order_acquire)) return;
      seen = published_.load(std::memory_order_acquire);
      // Join the task if it is still open: announce first, then check (the caller closes first,
      // then waits for busy_ == 0), so a task is never rewritten under a worker reading it.
      busy_.fetch_add(1, std::memory_order_seq_cst);
      if (open_.load(std::memory_order_seq_cst) == seen) work(task_job_, task_invoke_, task_parts_);
      busy_.fetch_sub(1, std::memory_order_seq_cst);
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_.store(true, std::memory_order_seq_cst);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  static std::atomic<bool>& more_threads_than_cores_flag() {
    static std::atomic<bool> allow{false};
    return allow;
  }

  const int threads_;
  const int running_threads_;
  std::vector<std::thread> workers_;
  const StageRecorder* recorder_ = nullptr;

  // The current task (see run_parallel for who may read and write it when).
  void* task_job_ = nullptr;
  Invoke task_invoke_ = nullptr;
  int task_parts_ = 0;
  std::uint64_t generation_ = 0;  ///< the caller's count of runs

  std::atomic<std::uint64_t> published_{0};  ///< the latest generation handed out
  std::atomic<std::uint64_t> open_{0};       ///< the generation still taking workers, or 0
  std::atomic<int> next_part_{0};
  std::atomic<int> parts_done_{0};
  std::atomic<int> busy_{0};      ///< workers inside a task
  std::atomic<int> sleeping_{0};  ///< workers waiting on wake_
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
  std::atomic<bool> in_use_{false};  ///< a parallel run is under way

  std::mutex mutex_;  ///< for the two condition variables
  std::condition_variable wake_, finished_;
  std::mutex error_mutex_;
  std::exception_ptr first_error_;
  int first_error_part_ = INT_MAX;
};

}  // namespace lstmner
