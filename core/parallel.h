#pragma once
// Private: xgrad's one thread pool (core/parallel.cpp). Kernels split work over it with
// parallel_for; BLAS called inside a chunk runs single-threaded.
//
// Every loop here hands its pieces out from a shared counter: a thread the machine delays takes
// fewer pieces instead of stalling the loop, and the loop finishes even when set_num_threads
// replaced the pool by a smaller one after the caller sized its per-chunk state. So a chunk's
// index says which slice of the range it covers, never which thread runs it, and thread-local
// scratch holds nothing once a chunk returns: per-chunk results go into buffers the call owns.
#include <cstdint>
#include <functional>

namespace xgrad::parallel {

// The number of chunks parallel_for uses for (n, grain): at most get_num_threads(), each of at
// least `grain` items; 1 when called from inside a chunk (nested loops run inline); 0 for n <= 0.
int chunks_for(std::int64_t n, std::int64_t grain);

// Runs fn(begin, end) over [0, n) in chunks_for(n, grain) contiguous chunks. An exception from any
// chunk is rethrown here once all running chunks returned (chunks not started yet are skipped).
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

// Runs fn(begin, end, chunk) over exactly `chunks` contiguous chunks of [0, n) (chunk_range), on at
// most `chunks` threads: for per-chunk partial results, sized by the caller with the same count
// (get it once from chunks_for). Inside a chunk the chunks run inline, in order.
void parallel_for_chunks(std::int64_t n, int chunks,
                         const std::function<void(std::int64_t, std::int64_t, int)>& fn);

// Runs fn(begin, end, slot) over [0, n) in pieces of `step` items taken from a shared counter by at
// most `slots` threads; `slot` in [0, slots) names the thread for the call's duration (no two
// threads share a slot), so per-slot accumulators sized by `slots` are safe. For pieces of tens of
// microseconds and up. Inside a chunk it runs inline as slot 0.
void parallel_for_dynamic(std::int64_t n, int slots, std::int64_t step,
                          const std::function<void(std::int64_t, std::int64_t, int)>& fn);

// Chunk c of `chunks` over [0, n): the first n % chunks chunks get one item more. No overflow for
// any n >= 0.
struct Range {
  std::int64_t begin, end;
};
Range chunk_range(std::int64_t n, int chunks, int c);

// The pool's size limit, for set_num_threads and XGRAD_NUM_THREADS (see core/parallel.cpp).
constexpr int kMaxThreads = 1024;

// The thread count XGRAD_NUM_THREADS = `value` asks for: the default (hardware threads, at most
// kMaxThreads) when value is null, and with a warning on stderr when it is not an integer in
// [1, kMaxThreads].
int threads_from_env(const char* value);

// Tests only: after `workers` worker threads, starting another one fails as std::thread does when
// the system is out of threads (std::system_error). Negative: never (the default).
void fail_thread_start_after_for_testing(int workers);

}  // namespace xgrad::parallel
