// xgrad's one thread pool: set_num_threads, and the private parallel_for the kernels split work with.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../core/parallel.h"

#include "test_util.h"

using namespace xgrad;

namespace {
using test::ThreadCountGuard;

// Records the ranges fn was called with, from any thread.
struct Calls {
  std::mutex mu;
  std::vector<parallel::Range> ranges;
  std::set<std::thread::id> threads;
  void add(std::int64_t b, std::int64_t e) {
    std::lock_guard lock(mu);
    ranges.push_back({b, e});
    threads.insert(std::this_thread::get_id());
  }
};

// The ranges, sorted, tile [0, n) exactly.
void check_tiles(std::vector<parallel::Range> ranges, std::int64_t n) {
  std::sort(ranges.begin(), ranges.end(), [](auto a, auto b) { return a.begin < b.begin; });
  std::int64_t at = 0;
  for (const auto& r : ranges) {
    CHECK(r.begin == at);
    CHECK(r.begin < r.end);
    at = r.end;
  }
  CHECK(at == n);
}
}  // namespace

TEST_CASE("threads: set_num_threads sets the count and rejects values outside 1 to 1024") {
  ThreadCountGuard guard;
  set_num_threads(3);
  CHECK(get_num_threads() == 3);
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  for (int bad : {0, -1, 1025, 2000, INT_MAX, INT_MIN}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(set_num_threads(bad),
                         doctest::Contains(("set_num_threads: expected a thread count from 1 to 1024, got " +
                                            std::to_string(bad)).c_str()),
                         Error);
  }
  CHECK(get_num_threads() == 1);
#if !defined(__SANITIZE_THREAD__)  // 1023 threads take ~25 s to start and stop under TSan
  set_num_threads(1024);  // the limit itself is accepted
  CHECK(get_num_threads() == 1024);
#endif
}

TEST_CASE("threads: parallel_for covers the range exactly once, in contiguous chunks") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (std::int64_t n : {0, 1, 2, 7, 1000}) {
      for (std::int64_t grain : {1, 3, 100000}) {
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
        Calls calls;
        parallel::parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
          for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
          calls.add(b, e);
        });
        for (auto& h : hits) CHECK(h.load() == 1);
        check_tiles(calls.ranges, n);
        const int expected = parallel::chunks_for(n, grain);
        CHECK(static_cast<int>(calls.ranges.size()) == expected);
        CHECK(expected <= threads);
        if (n >= 2 * grain && n >= threads) CHECK(expected == std::min<std::int64_t>(threads, n / grain));
        CHECK(calls.threads.size() <= static_cast<std::size_t>(threads));
      }
    }
  }
}

TEST_CASE("threads: chunk bounds never overflow, for n up to INT64_MAX") {
  for (std::int64_t n : {std::int64_t{0}, std::int64_t{5}, std::int64_t{1} << 62, INT64_MAX - 1, INT64_MAX}) {
    for (int chunks : {1, 2, 3, 7, 1024}) {
      CAPTURE(n);
      CAPTURE(chunks);
      std::int64_t at = 0, smallest = INT64_MAX, largest = 0;
      for (int c = 0; c < chunks; ++c) {
        const parallel::Range r = parallel::chunk_range(n, chunks, c);
        CHECK(r.begin == at);
        CHECK(r.end >= r.begin);
        smallest = std::min(smallest, r.end - r.begin);
        largest = std::max(largest, r.end - r.begin);
        at = r.end;
      }
      CHECK(at == n);
      CHECK(largest - smallest <= 1);
    }
  }
  // The loops themselves, on ranges far too long to walk: only the bounds are recorded.
  ThreadCountGuard guard;
  set_num_threads(3);
  for (std::int64_t n : {INT64_MAX, INT64_MAX - 1}) {
    Calls by_grain, by_piece;
    parallel::parallel_for(n, n / 3, [&](std::int64_t b, std::int64_t e) { by_grain.add(b, e); });
    CHECK(by_grain.ranges.size() == 3);
    check_tiles(by_grain.ranges, n);
    parallel::parallel_for_dynamic(n, 3, n / 5, [&](std::int64_t b, std::int64_t e, int) { by_piece.add(b, e); });
    CHECK(by_piece.ranges.size() == 6);  // 5 pieces of n / 5 and the remainder
    check_tiles(by_piece.ranges, n);
  }
}

TEST_CASE("threads: parallel_for_chunks runs exactly the chunks asked for, even after the pool shrank") {
  ThreadCountGuard guard;
  set_num_threads(3);
  const std::int64_t n = 1000;
  const int chunks = parallel::chunks_for(n, 1);
  REQUIRE(chunks == 3);
  for (int threads : {3, 2, 1}) {  // per-chunk state sized with 3 chunks stays valid
    set_num_threads(threads);
    std::vector<std::atomic<int>> runs(3);
    Calls calls;
    parallel::parallel_for_chunks(n, chunks, [&](std::int64_t b, std::int64_t e, int c) {
      ++runs[static_cast<std::size_t>(c)];
      const parallel::Range r = parallel::chunk_range(n, chunks, c);
      CHECK(b == r.begin);
      CHECK(e == r.end);
      calls.add(b, e);
    });
    for (auto& r : runs) CHECK(r.load() == 1);
    check_tiles(calls.ranges, n);
    CHECK(calls.threads.size() <= static_cast<std::size_t>(threads));
  }
}

TEST_CASE("threads: nested loops run inline on the chunk's thread, chunks in order") {
  ThreadCountGuard guard;
  set_num_threads(2);
  std::vector<int> nested_chunks(2, -1);
  std::vector<std::vector<int>> chunk_orders(2), slot_sets(2);
  parallel::parallel_for(2, 1, [&](std::int64_t b, std::int64_t) {
    const auto i = static_cast<std::size_t>(b);
    const auto me = std::this_thread::get_id();
    nested_chunks[i] = parallel::chunks_for(1000, 1);
    int inner_calls = 0;
    parallel::parallel_for(1000, 1, [&](std::int64_t ib, std::int64_t ie) {
      ++inner_calls;
      CHECK(ib == 0);
      CHECK(ie == 1000);
      CHECK(std::this_thread::get_id() == me);
    });
    CHECK(inner_calls == 1);
    parallel::parallel_for_chunks(10, 4, [&](std::int64_t, std::int64_t, int c) {
      chunk_orders[i].push_back(c);
      CHECK(std::this_thread::get_id() == me);
    });
    parallel::parallel_for_dynamic(4, 2, 1, [&](std::int64_t, std::int64_t, int slot) { slot_sets[i].push_back(slot); });
  });
  CHECK(nested_chunks == std::vector<int>{1, 1});
  for (const auto& order : chunk_orders) CHECK(order == std::vector<int>{0, 1, 2, 3});
  for (const auto& slots : slot_sets) CHECK(slots == std::vector<int>{0, 0, 0, 0});
}

TEST_CASE("threads: parallel_for_dynamic visits every item once, and a slot belongs to one thread") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (std::int64_t n : {0, 1, 2, 5, 200}) {
      for (std::int64_t step : {1, 3}) {
        for (int slots : {1, 2, 5}) {
          std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
          std::mutex mu;
          std::map<int, std::set<std::thread::id>> threads_of_slot;
          parallel::parallel_for_dynamic(n, slots, step, [&](std::int64_t b, std::int64_t e, int slot) {
            CHECK(e - b <= step);
            for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
            std::lock_guard lock(mu);
            threads_of_slot[slot].insert(std::this_thread::get_id());
          });
          for (auto& h : hits) CHECK(h.load() == 1);
          for (const auto& [slot, ids] : threads_of_slot) {
            CHECK((slot >= 0 && slot < std::min(slots, threads)));
            CHECK(ids.size() == 1);
          }
        }
      }
    }
  }
}

TEST_CASE("threads: an exception in any chunk reaches the caller and the pool keeps working") {
  ThreadCountGuard guard;
  set_num_threads(2);
  for (std::int64_t failing_begin : {0, 5}) {
    CHECK_THROWS_WITH_AS(parallel::parallel_for(10, 1,
                                                [&](std::int64_t b, std::int64_t) {
                                                  if (b == failing_begin) throw std::runtime_error("chunk failed");
                                                }),
                         "chunk failed", std::runtime_error);
  }
  std::atomic<int> after_failure{0};
  CHECK_THROWS_AS(parallel::parallel_for_dynamic(1000, 2, 1,
                                                 [&](std::int64_t i, std::int64_t, int) {
                                                   if (i == 0) throw std::runtime_error("first item");
                                                   // Slow items: the check below must not depend on the
                                                   // thrower being scheduled promptly on a loaded machine
                                                   // (it once failed while a sanitizer build ran).
                                                   std::this_thread::sleep_for(std::chrono::microseconds(100));
                                                   ++after_failure;
                                                 }),
                  std::runtime_error);
  CHECK(after_failure.load() < 999);  // the others stopped taking items
  std::atomic<std::int64_t> total{0};
  parallel::parallel_for(100, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) total += i;
  });
  CHECK(total.load() == 4950);
}

TEST_CASE("threads: set_num_threads raises when the system refuses threads, and keeps the pool") {
  ThreadCountGuard guard;
  set_num_threads(2);
  parallel::fail_thread_start_after_for_testing(1);  // the second worker fails to start
  CHECK_THROWS_WITH_AS(set_num_threads(5),
                       doctest::Contains("set_num_threads: could not start thread 3 of 5"), Error);
  parallel::fail_thread_start_after_for_testing(-1);
  CHECK(get_num_threads() == 2);
  std::atomic<std::int64_t> total{0};
  parallel::parallel_for(100, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) total += i;
  });
  CHECK(total.load() == 4950);
  set_num_threads(5);
  CHECK(get_num_threads() == 5);
}

TEST_CASE("threads: XGRAD_NUM_THREADS is used when valid, else the default with a warning") {
  const int fallback = parallel::threads_from_env(nullptr);
  CHECK(fallback >= 1);
  CHECK(fallback <= parallel::kMaxThreads);
  CHECK(parallel::threads_from_env("3") == 3);
  CHECK(parallel::threads_from_env("1024") == 1024);
  for (const char* bad : {"abc", "0", "-3", "100000", "", "4x", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK(parallel::threads_from_env(bad) == fallback);  // and a warning on stderr
  }
  // Whatever this process was started with (CTest also runs this case with invalid values, see
  // tests/CMakeLists.txt), the pool started without raising. Other cases restore the count.
  CHECK(get_num_threads() == parallel::threads_from_env(std::getenv("XGRAD_NUM_THREADS")));
}

TEST_CASE("threads: results of a matmul do not depend on the thread count") {
  ThreadCountGuard guard;
  manual_seed(3);
  Tensor a = randn({64, 80}), b = randn({80, 48});
  set_num_threads(1);
  Tensor one = matmul(a, b);
  set_num_threads(2);
  Tensor two = matmul(a, b);
  CHECK(allclose(one, two, 1e-5, 1e-6));
}

TEST_CASE("threads: the public parallel_for covers every index once and rethrows a chunk's exception") {
  test::ThreadCountGuard guard;
  set_num_threads(2);
  std::vector<int> hits(100000, 0);
  parallel_for(static_cast<std::int64_t>(hits.size()), 1000, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) ++hits[static_cast<std::size_t>(i)];
  });
  CHECK(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
  parallel_for(0, 10, [](std::int64_t, std::int64_t) { FAIL("called for an empty range"); });
  CHECK_THROWS_AS(parallel_for(100000, 1000,
                               [](std::int64_t begin, std::int64_t) {
                                 if (begin == 0) throw Error("chunk failed");
                               }),
                  Error);
  CHECK(test::error_of([] { parallel_for(10, 0, [](std::int64_t, std::int64_t) {}); }).find("grain") !=
        std::string::npos);
}
