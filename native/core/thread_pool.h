// SPDX-License-Identifier: MIT
// Persistent worker pool: threads start once and wait for work; no per-operation thread start.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lfm {

class ThreadPool {
 public:
  // n_threads >= 1; the calling thread is worker 0, so n_threads - 1 threads are started.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(thread_index, n_threads) once on every worker and returns when all are done.
  // Not re-entrant: one run() at a time (the model serialises its forward passes).
  void run(const std::function<void(int, int)>& fn);

  // Splits [0, n) into chunks of at most `grain` (>= 1) handed out dynamically.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_main(int index);
  // Publishes fn to the workers, runs it as worker 0, then waits. `close_early` (parallel_for):
  // once the caller is done, workers that have not yet joined skip the job (the caller already
  // took every chunk), so a preempted or sleeping worker never stalls the caller.
  void dispatch(const std::function<void(int, int)>& fn, bool close_early);

  int n_threads_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  // Join state of the current job: bits 32-63 the low 32 bits of its generation, bit 31 set when
  // the job is closed to late workers, bits 0-30 the workers that joined it.
  std::atomic<uint64_t> join_{0};
  std::atomic<int> done_{0};  // joined workers that have finished the current job
  std::atomic<bool> stop_{false};
};

// Number of physical cores (falls back to logical CPUs / 2 rounded up, at least 1).
int physical_core_count();

}  // namespace lfm
