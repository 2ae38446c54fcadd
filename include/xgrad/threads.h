#pragma once
// How many threads xgrad's kernels use. One pool serves everything: inside xgrad's own parallel
// loops BLAS runs single-threaded, and outside them BLAS gets the same thread count, so two pools
// never compete for the cores.

namespace xgrad {

// Default: the XGRAD_NUM_THREADS environment variable, else the number of hardware threads.
void set_num_threads(int threads);  // >= 1
int get_num_threads();

}  // namespace xgrad
