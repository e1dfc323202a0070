// SPDX-License-Identifier: MIT
// Persistent worker pool. A job is published by storing job_ and then bumping generation_
// (release); a worker that sees the new generation (acquire) runs the job and decrements
// pending_. Idle workers spin for a short while before sleeping on cv_, so the hundreds of
// back-to-back parallel ops of one token do not each pay a futex wake-up.
#include "thread_pool.h"

#include <algorithm>
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

// Pause iterations an idle worker polls before it sleeps (~15 us to ~0.5 ms, depending on how
// long the CPU's pause instruction is). The caller waiting for the workers uses the same count
// before it falls back to yielding its time slice.
constexpr int kSpinIters = 4096;

// Set while this thread runs a pool job: a nested run() or parallel_for then runs inline instead
// of deadlocking on a pool that is busy with its caller.
thread_local bool t_in_job = false;

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
    stop_ = true;
    job_ = nullptr;
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ThreadPool::worker_main(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Wait for a new generation: spin first, then sleep on the condition variable.
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int i = 0; gen == seen && i < kSpinIters; i++) {
      LFM_CPU_RELAX();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    // stop_ and job_ were written before the release increment we observed.
    if (stop_) return;
    {
      InJob in_job;
      (*job_)(index, n_threads_);
    }
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1 || t_in_job) {
    for (int i = 0; i < n_threads_; i++) fn(i, n_threads_);
    return;
  }
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  {
    // The lock orders the publication against a worker that is about to sleep (no lost wake-up).
    // notify_all without sleepers stays in user space.
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  {
    InJob in_job;
    fn(0, n_threads_);
  }
  int spins = 0;
  while (pending_.load(std::memory_order_acquire) != 0) {
    if (spins < kSpinIters) {
      LFM_CPU_RELAX();
      spins++;
    } else {
      std::this_thread::yield();
    }
  }
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
  // single pointer, which fits its small-object buffer, so no call allocates.
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
  run([sp](int, int) {
    for (;;) {
      const int64_t c = sp->next.fetch_add(1, std::memory_order_relaxed);
      if (c >= sp->n_chunks) break;
      const int64_t b = c * sp->grain;
      (*sp->fn)(b, std::min(sp->n, b + sp->grain));
    }
  });
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
