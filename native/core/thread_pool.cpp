// SPDX-License-Identifier: MIT
// Persistent worker pool. A job is published by storing job_ and then bumping generation_
// (release); a worker that sees the new generation (acquire) joins the job through join_, runs
// it and counts itself in done_. Idle workers spin for a short while before sleeping on cv_, so
// the hundreds of back-to-back parallel ops of one token do not each pay a futex wake-up; and
// parallel_for never waits for a worker that has not joined by the time the caller has run out
// of chunks, so a sleeping or preempted worker costs nothing on the critical path.
#include "thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define LFM_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define LFM_CPU_RELAX() __asm__ __volatile__("yield" ::: "memory")
#else
#define LFM_CPU_RELAX() std::this_thread::yield()
#endif

#if defined(__linux__)
#include <dirent.h>
#include <sched.h>
#elif defined(__APPLE__)
#include <sys/sysctl.h>
#include <sys/types.h>
#endif

namespace lfm {

namespace {

// How long an idle worker polls for the next job before it sleeps on the condition variable,
// and how long the caller polls for the workers before it starts yielding its time slice.
// Bounded by time rather than by a pause count, because one pause instruction takes from ~10 to
// ~150 cycles depending on the CPU. The gaps between the parallel ops of one token are far
// shorter than this; the gap between two tokens (a round trip through JavaScript) usually is not.
constexpr std::chrono::microseconds kSpinTime{100};
constexpr int kPausesPerClockCheck = 64;

// Polls `done` with pause instructions until it returns true or kSpinTime has passed.
template <typename Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (;;) {
    for (int i = 0; i < kPausesPerClockCheck; i++) {
      if (done()) return true;
      LFM_CPU_RELAX();
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
  }
}

// Set while this thread runs a pool job: a nested run() or parallel_for (on any pool) then runs
// inline on this thread instead of deadlocking on a pool that is busy with its caller.
thread_local bool t_in_job = false;

// join_ layout (see thread_pool.h).
constexpr uint64_t kGenMask = 0xffffffffull;
constexpr uint64_t kLowMask = 0xffffffffull;
constexpr uint64_t kClosed = 1ull << 31;
constexpr uint64_t kCountMask = kClosed - 1;

struct InJob {
  InJob() { t_in_job = true; }
  ~InJob() { t_in_job = false; }
};

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
  threads_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; i++) threads_.emplace_back(&ThreadPool::worker_main, this, i);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::worker_main(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Wait for a new generation: spin first, then sleep on the condition variable.
    auto published = [&] { return generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_until(published)) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, published);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_relaxed)) return;

    // Join job `seen` unless it is closed or already replaced by a newer one. A job can only be
    // replaced after every worker that joined it has finished, so job_ is stable once joined.
    const uint64_t tag = (seen & kGenMask) << 32;
    uint64_t s = join_.load(std::memory_order_acquire);
    bool joined = false;
    while ((s & ~kLowMask) == tag && (s & kClosed) == 0) {
      if (join_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    {
      InJob in_job;
      (*job_)(index, n_threads_);
    }
    done_.fetch_add(1, std::memory_order_release);
  }
}

void ThreadPool::dispatch(const std::function<void(int, int)>& fn, bool close_early) {
  // Only this thread writes generation_, job_ and (between jobs) join_/done_; workers read them
  // after the release store of the new generation.
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  done_.store(0, std::memory_order_relaxed);
  job_ = &fn;
  join_.store((gen & kGenMask) << 32, std::memory_order_relaxed);
  {
    // The lock orders the publication against a worker that is about to sleep (no lost wake-up).
    // notify_all without sleepers stays in user space.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.store(gen, std::memory_order_release);
  }
  cv_.notify_all();
  {
    InJob in_job;
    fn(0, n_threads_);
  }
  int expected = n_threads_ - 1;
  if (close_early) {
    expected = static_cast<int>(join_.fetch_or(kClosed, std::memory_order_acq_rel) & kCountMask);
  }
  auto all_done = [&] { return done_.load(std::memory_order_acquire) == expected; };
  if (!spin_until(all_done)) {
    while (!all_done()) std::this_thread::yield();
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1 || t_in_job) {
    for (int i = 0; i < n_threads_; i++) fn(i, n_threads_);
    return;
  }
  dispatch(fn, /*close_early=*/false);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t n_chunks = (n - 1) / grain + 1;
  if (n_chunks == 1) {
    fn(0, n);
    return;
  }
  if (n_threads_ == 1 || t_in_job) {
    for (int64_t b = 0; b < n; b += grain) fn(b, std::min(n, b + grain));
    return;
  }
  // Everything the workers need lives in one stack object; the std::function below captures a
  // single pointer, which fits its small-object buffer, so no call allocates. Chunks are handed
  // out by an atomic counter; the caller takes chunks too and then closes the job, so workers
  // that arrive late (asleep, preempted) are not waited for.
  struct Shared {
    std::atomic<int64_t> next{0};
    int64_t n, grain, n_chunks;
    const std::function<void(int64_t, int64_t)>* fn;
  } shared;
  shared.n = n;
  shared.grain = grain;
  shared.n_chunks = n_chunks;
  shared.fn = &fn;
  Shared* sp = &shared;
  dispatch(
      [sp](int, int) {
        for (;;) {
          const int64_t c = sp->next.fetch_add(1, std::memory_order_relaxed);
          if (c >= sp->n_chunks) break;
          const int64_t b = c * sp->grain;
          (*sp->fn)(b, std::min(sp->n, b + sp->grain));
        }
      },
      /*close_early=*/true);
}

// --- core count

namespace {

#if defined(__linux__)

bool read_long(const std::string& path, long* out) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return false;
  const bool ok = std::fscanf(f, "%ld", out) == 1;
  std::fclose(f);
  return ok;
}

// Distinct (package, core) pairs among the CPUs this process may run on.
int linux_physical_cores() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const bool have_affinity = sched_getaffinity(0, sizeof(allowed), &allowed) == 0;
  DIR* dir = opendir("/sys/devices/system/cpu");
  if (!dir) return 0;
  std::set<std::pair<long, long>> cores;
  while (dirent* e = readdir(dir)) {
    const char* name = e->d_name;
    if (std::strncmp(name, "cpu", 3) != 0 || name[3] < '0' || name[3] > '9') continue;
    char* end = nullptr;
    const long cpu = std::strtol(name + 3, &end, 10);
    if (*end != '\0') continue;
    if (have_affinity && cpu < CPU_SETSIZE && !CPU_ISSET(static_cast<int>(cpu), &allowed)) continue;
    const std::string topo = std::string("/sys/devices/system/cpu/") + name + "/topology/";
    long core = -1, package = -1;
    if (!read_long(topo + "core_id", &core)) continue;  // offline CPUs have no topology
    if (!read_long(topo + "physical_package_id", &package)) package = 0;
    cores.emplace(package, core);
  }
  closedir(dir);
  return static_cast<int>(cores.size());
}

// CPUs granted by a cgroup v2 quota ("max 100000" = no limit), or 0 when there is none.
int cgroup_cpu_limit() {
  FILE* f = std::fopen("/sys/fs/cgroup/cpu.max", "r");
  if (!f) return 0;
  char quota[32] = {0};
  long period = 0;
  const bool ok = std::fscanf(f, "%31s %ld", quota, &period) == 2;
  std::fclose(f);
  if (!ok || period <= 0 || std::strcmp(quota, "max") == 0) return 0;
  const long q = std::strtol(quota, nullptr, 10);
  if (q <= 0) return 0;
  return static_cast<int>((q + period - 1) / period);
}

#endif

}  // namespace

int physical_core_count() {
  int n = 0;
#if defined(__linux__)
  n = linux_physical_cores();
  const int limit = cgroup_cpu_limit();
  if (n > 0 && limit > 0) n = std::min(n, limit);
#elif defined(__APPLE__)
  int value = 0;
  size_t len = sizeof(value);
  if (sysctlbyname("hw.physicalcpu", &value, &len, nullptr, 0) == 0) n = value;
#endif
  if (n <= 0) {
    const unsigned hc = std::thread::hardware_concurrency();
    n = static_cast<int>((hc + 1) / 2);
  }
  return std::max(1, n);
}

}  // namespace lfm
