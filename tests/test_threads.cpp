// xgrad's one thread pool: set_num_threads, and the private parallel_for the kernels split work with.
#include <doctest/doctest.h>
#include <xgrad/xgrad.h>

#include <atomic>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <mutex>
#include <vector>

#include "../core/parallel.h"

using namespace xgrad;

namespace {
// Restores the thread count a test changed.
struct ThreadCountGuard {
  int saved = get_num_threads();
  ~ThreadCountGuard() { set_num_threads(saved); }
};
}  // namespace

TEST_CASE("threads: set_num_threads sets the count and rejects values below 1") {
  ThreadCountGuard guard;
  set_num_threads(3);
  CHECK(get_num_threads() == 3);
  set_num_threads(1);
  CHECK(get_num_threads() == 1);
  CHECK_THROWS_WITH_AS(set_num_threads(0), doctest::Contains("set_num_threads: expected at least 1"), Error);
  CHECK(get_num_threads() == 1);
}

TEST_CASE("threads: parallel_for covers the range exactly once, in contiguous chunks") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (std::int64_t n : {0, 1, 2, 7, 1000}) {
      for (std::int64_t grain : {1, 3, 100000}) {
        std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
        std::mutex mu;
        std::set<std::thread::id> ids;
        std::atomic<int> calls{0};
        parallel::parallel_for(n, grain, [&](std::int64_t b, std::int64_t e) {
          CHECK(b < e);
          ++calls;
          for (std::int64_t i = b; i < e; ++i) ++hits[static_cast<std::size_t>(i)];
          std::lock_guard lock(mu);
          ids.insert(std::this_thread::get_id());
        });
        for (auto& h : hits) CHECK(h.load() == 1);
        const int expected = parallel::chunks_for(n, grain);
        CHECK(calls.load() == expected);
        CHECK(expected <= threads);
        if (n >= 2 * grain && n >= threads) CHECK(expected == std::min<std::int64_t>(threads, n / grain));
        CHECK(ids.size() <= static_cast<std::size_t>(threads));
      }
    }
  }
}

TEST_CASE("threads: chunks run on distinct threads and know their index; nested loops run inline") {
  ThreadCountGuard guard;
  set_num_threads(2);
  std::vector<std::thread::id> id_of(2);
  std::vector<int> nested_chunks(2, -1);
  parallel::parallel_for(2, 1, [&](std::int64_t b, std::int64_t) {
    const int c = parallel::chunk_index();
    CHECK(c == b);
    id_of[static_cast<std::size_t>(c)] = std::this_thread::get_id();
    nested_chunks[static_cast<std::size_t>(c)] = parallel::chunks_for(1000, 1);
    int inner_calls = 0;
    parallel::parallel_for(1000, 1, [&](std::int64_t ib, std::int64_t ie) {
      ++inner_calls;
      CHECK(ib == 0);
      CHECK(ie == 1000);
    });
    CHECK(inner_calls == 1);
  });
  CHECK(id_of[0] == std::this_thread::get_id());
  CHECK(id_of[0] != id_of[1]);
  CHECK(nested_chunks == std::vector<int>{1, 1});
  CHECK(parallel::chunk_index() == 0);
}

TEST_CASE("threads: parallel_for_dynamic visits every item once, each with its chunk's index") {
  ThreadCountGuard guard;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (std::int64_t n : {0, 1, 2, 5, 200}) {
      std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
      std::vector<int> chunk_of(static_cast<std::size_t>(n), -1);
      std::mutex mu;
      std::set<std::pair<int, std::thread::id>> chunk_threads;
      parallel::parallel_for_dynamic(n, 1, [&](std::int64_t i, int chunk) {
        ++hits[static_cast<std::size_t>(i)];
        chunk_of[static_cast<std::size_t>(i)] = chunk;
        CHECK(chunk == parallel::chunk_index());
        std::lock_guard lock(mu);
        chunk_threads.insert({chunk, std::this_thread::get_id()});
      });
      for (auto& h : hits) CHECK(h.load() == 1);
      const int chunks = parallel::chunks_for(n, 1);
      for (int c : chunk_of) CHECK((c >= 0 && c < chunks));
      // One thread per chunk: no chunk index shows up on two threads.
      std::set<int> seen;
      for (const auto& [c, id] : chunk_threads) CHECK(seen.insert(c).second);
    }
  }
  // Inside a chunk it runs inline, as chunk 0.
  set_num_threads(2);
  parallel::parallel_for(2, 1, [&](std::int64_t, std::int64_t) {
    std::vector<int> chunks;
    parallel::parallel_for_dynamic(4, 1, [&](std::int64_t, int chunk) { chunks.push_back(chunk); });
    CHECK(chunks == std::vector<int>{0, 0, 0, 0});
  });
}

TEST_CASE("threads: an exception in any chunk reaches the caller and the pool keeps working") {
  ThreadCountGuard guard;
  set_num_threads(2);
  for (int failing_chunk : {0, 1}) {
    CHECK_THROWS_WITH_AS(parallel::parallel_for(10, 1,
                                                [&](std::int64_t b, std::int64_t) {
                                                  if (parallel::chunk_index() == failing_chunk)
                                                    throw std::runtime_error("chunk failed");
                                                }),
                         "chunk failed", std::runtime_error);
  }
  std::atomic<std::int64_t> total{0};
  parallel::parallel_for(100, 1, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) total += i;
  });
  CHECK(total.load() == 4950);
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
