#pragma once
// How many threads xgrad's kernels use. One pool serves everything: inside xgrad's own parallel
// loops BLAS runs single-threaded, and outside them BLAS gets the same thread count, so two pools
// never compete for the cores.

namespace xgrad {

// Sets xgrad's pool and BLAS to `threads` (>= 1). Until it is called, the pool has XGRAD_NUM_THREADS
// threads (else one per hardware thread) and BLAS keeps its own default (OPENBLAS_NUM_THREADS).
void set_num_threads(int threads);
int get_num_threads();

}  // namespace xgrad
