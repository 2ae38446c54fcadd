#include "parallel.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <memory>
#include <utility>
#include <vector>

#include "xgrad/error.h"
#include "xgrad/threads.h"

namespace xgrad {
namespace parallel {
namespace {

thread_local bool tls_in_region = false;
thread_local int tls_chunk = 0;

// Spins until done() or for about kSpin; false if it gave up. Waking a sleeping thread costs tens
// of microseconds on this VM (the idle vCPU halts), more than many of the kernels between two
// parallel_for calls, so workers and the caller first spin for a while (as OpenMP runtimes do).
// Bounded, unlike OpenBLAS's workers, whose endless spinning took our second core (ARCHITECTURE.md).
constexpr auto kSpin = std::chrono::microseconds(200);
template <class Done>
bool spin_until(Done done) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() - start > kSpin) return done();
  }
}

// Workers spin, then sleep on a condition variable, between jobs; the caller runs chunk 0 itself.
class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {
    for (int i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { work(i); });
  }
  ~Pool() {
    {
      std::lock_guard lock(mu_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int threads() const { return threads_; }

  void run(int chunks, const std::function<void(int)>& chunk_fn) {
    std::unique_lock job_lock(job_mu_);  // one job at a time (jobs from several user threads queue)
    {
      std::lock_guard lock(mu_);
      job_ = &chunk_fn;
      chunks_ = chunks;
      pending_.store(chunks - 1);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_chunk(0);
    const auto finished = [&] { return pending_.load(std::memory_order_acquire) == 0; };
    std::unique_lock lock(mu_);
    if (!finished()) {
      lock.unlock();
      if (!spin_until(finished)) {
        lock.lock();
        done_.wait(lock, finished);
      } else {
        lock.lock();
      }
    }
    job_ = nullptr;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }

 private:
  void run_chunk(int c) {
    tls_in_region = true;
    tls_chunk = c;
    try {
      (*job_)(c);
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    tls_in_region = false;
    tls_chunk = 0;
  }
  void work(int index) {
    std::uint64_t seen = 0;
    const auto ready = [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; };
    for (;;) {
      {
        if (!spin_until(ready)) {
          std::unique_lock lock(mu_);
          wake_.wait(lock, ready);
        }
        std::lock_guard lock(mu_);
        if (stop_.load()) return;
        seen = generation_.load();
        if (index >= chunks_) continue;
      }
      run_chunk(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard lock(mu_);  // the caller checks pending_ under mu_ before it sleeps
        done_.notify_one();
      }
    }
  }

  int threads_;
  std::vector<std::thread> workers_;
  std::mutex job_mu_, mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int chunks_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

int default_threads() {
  if (const char* env = std::getenv("XGRAD_NUM_THREADS")) {
    const int n = std::atoi(env);
    if (n >= 1) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

std::mutex pool_mu;
std::unique_ptr<Pool>& pool_slot() {
  static std::unique_ptr<Pool> pool;
  return pool;
}
// Every GEMM and kernel asks for the pool: after the first call that is one atomic load, no lock.
std::atomic<Pool*> current_pool{nullptr};
Pool& pool() {
  if (Pool* p = current_pool.load(std::memory_order_acquire)) return *p;
  std::lock_guard lock(pool_mu);
  auto& p = pool_slot();
  if (!p) {
    p = std::make_unique<Pool>(default_threads());
    openblas_set_num_threads(1);  // xgrad splits GEMMs over its own pool (core/kernels/blas.cpp)
  }
  current_pool.store(p.get(), std::memory_order_release);
  return *p;
}

}  // namespace

int chunks_for(std::int64_t n, std::int64_t grain) {
  if (n <= 0) return 0;
  const std::int64_t by_grain = std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, grain));
  if (tls_in_region) return 1;
  return static_cast<int>(std::min<std::int64_t>(pool().threads(), by_grain));
}

int chunk_index() { return tls_chunk; }

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  const int chunks = chunks_for(n, grain);
  if (chunks == 0) return;
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  Pool& p = pool();
  const std::function<void(int)> chunk_fn = [&](int c) {
    const std::int64_t begin = n * c / chunks, end = n * (c + 1) / chunks;
    fn(begin, end);
  };
  p.run(chunks, chunk_fn);
}

void parallel_for_dynamic(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, int)>& fn) {
  const int chunks = chunks_for(n, grain);
  if (chunks <= 1) {
    for (std::int64_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  std::atomic<std::int64_t> next{0};
  const std::function<void(int)> chunk_fn = [&](int c) {
    for (std::int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n;
         i = next.fetch_add(1, std::memory_order_relaxed))
      fn(i, c);
  };
  pool().run(chunks, chunk_fn);
}

}  // namespace parallel

void set_num_threads(int threads) {
  XGRAD_CHECK(threads >= 1, "set_num_threads: expected at least 1 thread, got {}", threads);
  std::lock_guard lock(parallel::pool_mu);
  auto& p = parallel::pool_slot();
  parallel::current_pool.store(nullptr, std::memory_order_release);
  p.reset();
  p = std::make_unique<parallel::Pool>(threads);
  parallel::current_pool.store(p.get(), std::memory_order_release);
  openblas_set_num_threads(1);
}

int get_num_threads() { return parallel::pool().threads(); }

}  // namespace xgrad
