// A persistent pool of worker threads for lstm_cpu.cc (included there).
//
// Why not a thread per call: a streamed step or one time step of a batch lasts 10-500 us, and
// starting and joining a thread costs tens of microseconds, so work that short could not be
// split at all. Why not OpenMP or OpenBLAS's threads: they wait spinning between calls, and on a
// shared machine that slowed the train step up to 6x (bench/results.md). Here a worker spins only
// kSpinMicros after its last task, which covers the gaps between the time steps of a call and
// between the calls of one training step, and then sleeps on a futex (std::atomic::wait) until
// it is given work: an idle process leaves its cores to others. Why 2 ms: the gaps between the
// kernel calls of a training step (XLA's own ops and thread hand-offs, Python between steps)
// are mostly 0.2-2 ms, and waking a sleeping worker took 380 us on average on the project's
// VM. With 200 us the worker slept before 57 % of the calls at (32, 80, 128, 128) and the
// caller waited 480 us a call for it; with 2 ms, 2 % and 200 us (train step 11.3 -> 9.4 ms).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

constexpr int kSpinMicros = 2000;

class Pool {
 public:
  // Threads the pool can run at once (the caller included): set once, before first use.
  void set_size(int n) { size_ = n < 1 ? 1 : n; }
  int size() const { return size_; }

  // fn(i) for i in [0, n), on n threads at once, the caller running fn(0); returns when all are
  // done. When another call is using the pool (XLA may run two kernels at the same time), or n
  // is 1 or more than size(), the caller runs them all itself, one after the other: fn(i) must
  // not wait on fn(j).
  template <class F>
  void run(int n, const F& fn) {
    std::unique_lock<std::mutex> lock(busy_, std::try_to_lock);
    if (n <= 1 || !lock.owns_lock() || !ensure_started() || n > size_) {
      for (int i = 0; i < n; ++i) fn(i);
      return;
    }
    task_ = [](const void* ctx, int i) { (*static_cast<const F*>(ctx))(i); };
    ctx_ = &fn;
    active_ = n;
    pending_.store(int(workers_.size()), std::memory_order_relaxed);
    gen_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) gen_.notify_all();
    fn(0);
    while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
  }

 private:
  bool ensure_started() {
    if (started_) return true;
    const uint32_t now = gen_.load(std::memory_order_acquire);  // a new worker's first "seen"
    try {
      for (int id = 1; id < size_; ++id) {
        workers_.push_back(new std::thread(&Pool::work, this, id, now));
      }
    } catch (...) {  // fewer threads to be had: run on those there are
      size_ = int(workers_.size()) + 1;
    }
    started_ = true;
    return true;
  }

  void work(int id, uint32_t seen) {
    for (;;) {
      auto idle_since = std::chrono::steady_clock::now();
      uint32_t g;
      for (int spin = 1;; ++spin) {
        g = gen_.load(std::memory_order_acquire);
        if (g != seen) break;
        cpu_relax();
        if (spin % 64 == 0 && std::chrono::steady_clock::now() - idle_since >
                                  std::chrono::microseconds(kSpinMicros)) {
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          gen_.wait(seen, std::memory_order_seq_cst);  // until run() moves gen_ on
          sleepers_.fetch_sub(1, std::memory_order_seq_cst);
          idle_since = std::chrono::steady_clock::now();
        }
      }
      seen = g;
      if (id < active_) task_(ctx_, id);
      pending_.fetch_sub(1, std::memory_order_release);
    }
  }

  int size_ = 1;
  bool started_ = false;
  std::vector<std::thread*> workers_;
  std::mutex busy_;  // one parallel region at a time
  std::atomic<uint32_t> gen_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  void (*task_)(const void*, int) = nullptr;
  const void* ctx_ = nullptr;
  int active_ = 0;
};

static Pool g_pool;
