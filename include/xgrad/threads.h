#pragma once
// How many threads xgrad's kernels use. One pool serves everything: BLAS always runs
// single-threaded, and big GEMMs are split over xgrad's pool like every other kernel, so two pools
// (whose idle threads spin) never compete for the cores.
//
// Thread safety: any thread may call xgrad ops, set_num_threads and get_num_threads at any time.
// Parallel kernels from several threads share the pool one job at a time (a job waits for the one
// running); a kernel called from inside another kernel's chunk runs on that thread alone.
#include <cstdint>
#include <functional>

namespace xgrad {

// Sets the pool's size, from 1 to 1024 threads (the calling thread counts as one); otherwise
// raises xgrad::Error. 1024 is above the hardware threads of any machine xgrad targets and keeps
// the workers' stacks (8 MiB of address space each) reasonable; more threads than cores only slow
// kernels down. The new pool is started before the old one is dropped: if the system cannot start
// that many threads, the threads already started are stopped, the old pool stays, and an
// xgrad::Error is raised. Kernels running when it is called finish on the old pool, which is
// destroyed when its last such kernel returns; kernels started afterwards use the new one.
//
// Until it is called the pool has XGRAD_NUM_THREADS threads, else one per hardware thread (at most
// 1024). An XGRAD_NUM_THREADS that is not an integer from 1 to 1024 is ignored with a warning on
// stderr, and if the system refuses some of those threads the pool keeps the ones it started
// (with a warning): the first parallel kernel never fails because of either.
void set_num_threads(int threads);
int get_num_threads();

// Runs fn(begin, end) over [0, n) in contiguous chunks of at least `grain` items on xgrad's pool,
// for code above the kernels (the optimizers' fused updates). Chunks run inline when n is small or
// when called from inside another chunk; an exception from a chunk is rethrown once all running
// chunks have returned. The chunk bounds say which items to process, not which thread runs them.
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

}  // namespace xgrad
