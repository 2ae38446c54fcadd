#pragma once
// How many threads xgrad's kernels use. One pool serves everything: BLAS always runs
// single-threaded, and big GEMMs are split over xgrad's pool like every other kernel, so two pools
// (whose idle threads spin) never compete for the cores.

namespace xgrad {

// Sets the pool's size (>= 1). Until it is called, the pool has XGRAD_NUM_THREADS threads, else one
// per hardware thread.
void set_num_threads(int threads);
int get_num_threads();

}  // namespace xgrad
