#pragma once
// Private: xgrad's one thread pool (core/parallel.cpp). Kernels split work over it with
// parallel_for; BLAS called inside a chunk runs single-threaded.
#include <cstdint>
#include <functional>

namespace xgrad::parallel {

// Runs fn(begin, end) over [0, n) in at most get_num_threads() contiguous chunks of at least
// `grain` items; the calling thread runs the first chunk. Small ranges and calls made from inside
// a chunk run inline. An exception from any chunk is rethrown here once all chunks finished.
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

// Runs fn(item, chunk) for every item in [0, n), handing items out one at a time from a shared
// counter to chunks_for(n, grain) chunks (the caller runs chunk 0): a thread the machine delays
// takes fewer items instead of stalling the loop. For items of tens of microseconds and up.
void parallel_for_dynamic(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, int)>& fn);

// The number of chunks parallel_for would use for (n, grain): size per-chunk scratch with it.
int chunks_for(std::int64_t n, std::int64_t grain);
// Inside a chunk: its index in [0, chunks); 0 outside any parallel region.
int chunk_index();

}  // namespace xgrad::parallel
