#include "parallel.h"

#include <cblas.h>
#include "xgrad/error.h"
#include "xgrad/threads.h"
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "xgrad/error.h"
#include "xgrad/threads.h"

namespace xgrad {
namespace parallel {
namespace {

thread_local bool tls_in_region = false;

// Marks the current thread as running a chunk, so loops nested in it run inline.
class RegionGuard {
 public:
  RegionGuard() : outer_(std::exchange(tls_in_region, true)) {}
  ~RegionGuard() { tls_in_region = outer_; }
  RegionGuard(const RegionGuard&) = delete;
  RegionGuard& operator=(const RegionGuard&) = delete;

 private:
  bool outer_;
};

std::atomic<int> fail_thread_start_after{-1};

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

// Workers spin, then sleep on a condition variable, between jobs; the caller takes part in its
// own job as slot 0. One job at a time: jobs from several user threads queue on job_mu_. A pool is
// held by a shared_ptr for each job's duration, so set_num_threads never destroys one in use.
class Pool {
 public:
  // Starts threads - 1 workers. If the system refuses one (std::system_error): with keep_started
  // the pool keeps the workers already running, with a warning on stderr; otherwise it stops and
  // joins them and raises an xgrad::Error naming set_num_threads.
  Pool(int threads, bool keep_started) : threads_(threads) {
    for (int i = 1; i < threads; ++i) {
      try {
        start_worker(i);
      } catch (const std::system_error& e) {
        if (!keep_started) {
          stop_workers();
          XGRAD_CHECK(false, "set_num_threads: could not start thread {} of {} ({}); the thread count is unchanged",
                      i + 1, threads, e.what());
        }
        threads_ = i;
        fmt::print(stderr, "xgrad: could not start thread {} of {} ({}); using {} thread{}\n", i + 1, threads,
                   e.what(), i, i == 1 ? "" : "s");
        break;
      }
    }
  }
  ~Pool() { stop_workers(); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  int threads() const { return threads_; }

  // Runs slot_fn(slot) for slot in [0, min(slots, threads())), the caller taking slot 0, and
  // rethrows the first exception once every slot returned.
  void run(int slots, const std::function<void(int)>& slot_fn) {
    const int active = std::min(slots, threads_);
    if (active <= 1) {
      RegionGuard region;
      slot_fn(0);
      return;
    }
    std::unique_lock job_lock(job_mu_);
    {
      std::lock_guard lock(mu_);
      job_ = &slot_fn;
      active_ = active;
      pending_.store(active - 1);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_slot(0);
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
  void start_worker(int index) {
    const int fail_after = fail_thread_start_after.load(std::memory_order_relaxed);
    if (fail_after >= 0 && static_cast<int>(workers_.size()) >= fail_after)
      throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again),
                              "thread start refused for testing");
    workers_.emplace_back([this, index] { work(index); });
  }
  void stop_workers() {
    {
      std::lock_guard lock(mu_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }
  void run_slot(int slot) {
    RegionGuard region;
    try {
      (*job_)(slot);
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
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
        if (index >= active_) continue;
      }
      run_slot(index);
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
  const std::function<void(int)>* job_ = nullptr;  // under mu_, like active_
  int active_ = 0;
  std::atomic<int> pending_{0};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::exception_ptr error_;
};

int hardware_threads() {
  return static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, static_cast<unsigned>(kMaxThreads)));
}

// The current pool. Replaced by set_num_threads; the old one lives on while jobs hold it.
struct Current {
  std::mutex mu;
  std::shared_ptr<Pool> pool;   // under mu
  std::atomic<int> threads{0};  // pool's size, 0 before the first pool: chunks_for reads it lock-free
};
Current& current() {
  static Current c;
  return c;
}

// OpenBLAS stays single-threaded: xgrad splits GEMMs over its own pool (core/kernels/blas.cpp).
void keep_blas_single_threaded() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

std::shared_ptr<Pool> acquire_pool() {
  Current& c = current();
  std::lock_guard lock(c.mu);
  if (!c.pool) {
    // First use: a bad XGRAD_NUM_THREADS or a system short of threads warns, never raises.
    c.pool = std::make_shared<Pool>(threads_from_env(std::getenv("XGRAD_NUM_THREADS")), /*keep_started=*/true);
    c.threads.store(c.pool->threads(), std::memory_order_release);
    keep_blas_single_threaded();
  }
  return c.pool;
}

int pool_threads() {
  const int threads = current().threads.load(std::memory_order_acquire);
  return threads > 0 ? threads : acquire_pool()->threads();
}

// Claims the next piece of at most `step` items of [0, n) from `next`. Compare-and-swap, so the
// counter never passes n (a fetch_add could overflow when n is near INT64_MAX).
bool claim(std::atomic<std::int64_t>& next, std::int64_t n, std::int64_t step, Range& piece) {
  std::int64_t begin = next.load(std::memory_order_relaxed);
  do {
    if (begin >= n) return false;
  } while (!next.compare_exchange_weak(begin, begin + std::min(step, n - begin), std::memory_order_relaxed));
  piece = {begin, begin + std::min(step, n - begin)};
  return true;
}

// The one loop behind every parallel_for: pieces of `step` items of [0, n) handed out from a shared
// counter to at most `slots` threads, fn(begin, end, slot).
void run_pieces(std::int64_t n, int slots, std::int64_t step,
                const std::function<void(std::int64_t, std::int64_t, int)>& fn) {
  if (n <= 0) return;
  step = std::max<std::int64_t>(1, step);
  const std::int64_t pieces = (n - 1) / step + 1;
  if (slots <= 1 || pieces == 1 || tls_in_region) {
    for (std::int64_t begin = 0; begin < n; begin += std::min(step, n - begin))
      fn(begin, begin + std::min(step, n - begin), 0);
    return;
  }
  std::atomic<std::int64_t> next{0};
  const std::function<void(int)> slot_fn = [&](int slot) {
    Range piece{};
    while (claim(next, n, step, piece)) {
      try {
        fn(piece.begin, piece.end, slot);
      } catch (...) {
        next.store(n, std::memory_order_relaxed);  // the other threads stop claiming
        throw;
      }
    }
  };
  const std::shared_ptr<Pool> pool = acquire_pool();  // alive until this job ends
  pool->run(static_cast<int>(std::min<std::int64_t>(slots, pieces)), slot_fn);
}

}  // namespace

Range chunk_range(std::int64_t n, int chunks, int c) {
  const std::int64_t q = n / chunks, r = n % chunks;
  const std::int64_t begin = c * q + std::min<std::int64_t>(c, r);
  return {begin, begin + q + (c < r ? 1 : 0)};
}

int chunks_for(std::int64_t n, std::int64_t grain) {
  if (n <= 0) return 0;
  if (tls_in_region) return 1;
  const std::int64_t by_grain = std::max<std::int64_t>(1, n / std::max<std::int64_t>(1, grain));
  return static_cast<int>(std::min<std::int64_t>(pool_threads(), by_grain));
}

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& fn) {
  const int chunks = chunks_for(n, grain);
  if (chunks == 0) return;
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  run_pieces(chunks, chunks, 1, [&](std::int64_t c, std::int64_t, int) {
    const Range r = chunk_range(n, chunks, static_cast<int>(c));
    fn(r.begin, r.end);
  });
}

void parallel_for_chunks(std::int64_t n, int chunks,
                         const std::function<void(std::int64_t, std::int64_t, int)>& fn) {
  if (n <= 0 || chunks <= 0) return;
  run_pieces(chunks, chunks, 1, [&](std::int64_t c, std::int64_t, int) {
    const Range r = chunk_range(n, chunks, static_cast<int>(c));
    fn(r.begin, r.end, static_cast<int>(c));
  });
}

void parallel_for_dynamic(std::int64_t n, int slots, std::int64_t step,
                          const std::function<void(std::int64_t, std::int64_t, int)>& fn) {
  run_pieces(n, slots, step, fn);
}

int threads_from_env(const char* value) {
  const int fallback = hardware_threads();
  if (value == nullptr) return fallback;
  const char* end = value + std::strlen(value);
  long long parsed = 0;
  const auto [stop, error] = std::from_chars(value, end, parsed);
  if (error == std::errc() && stop == end && parsed >= 1 && parsed <= kMaxThreads) return static_cast<int>(parsed);
  fmt::print(stderr, "xgrad: ignoring XGRAD_NUM_THREADS=\"{}\": expected an integer from 1 to {}; using {} thread{}\n",
             value, kMaxThreads, fallback, fallback == 1 ? "" : "s");
  return fallback;
}

void fail_thread_start_after_for_testing(int workers) {
  fail_thread_start_after.store(workers, std::memory_order_relaxed);
}

}  // namespace parallel

void set_num_threads(int threads) {
  XGRAD_CHECK(threads >= 1 && threads <= parallel::kMaxThreads,
              "set_num_threads: expected a thread count from 1 to {}, got {}", parallel::kMaxThreads, threads);
  parallel::Current& c = parallel::current();
  std::shared_ptr<parallel::Pool> old;
  {
    std::lock_guard lock(c.mu);
    if (c.pool && c.pool->threads() == threads) {
      parallel::keep_blas_single_threaded();
      return;
    }
  }
  // Started outside the lock (other threads keep computing meanwhile); raises if the system
  // refuses a thread, leaving the current pool in place.
  auto fresh = std::make_shared<parallel::Pool>(threads, /*keep_started=*/false);
  {
    std::lock_guard lock(c.mu);
    old = std::exchange(c.pool, std::move(fresh));
    c.threads.store(threads, std::memory_order_release);
    parallel::keep_blas_single_threaded();
  }
  // `old` is released here: destroyed now, or by the last job still running on it when that ends.
}

int get_num_threads() { return parallel::pool_threads(); }

void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn) {
  XGRAD_CHECK(grain >= 1, "parallel_for: grain must be >= 1, got {}", grain);
  XGRAD_CHECK(static_cast<bool>(fn), "parallel_for: the function is empty");
  parallel::parallel_for(n, grain, fn);
}

}  // namespace xgrad
