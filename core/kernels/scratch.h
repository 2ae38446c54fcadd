#pragma once
// Per-thread scratch that outlives the call: the pool's threads are persistent, so big buffers are
// page-faulted once, not on every step. Grown, never shrunk, never zeroed (every user overwrites
// what it reads). Each kernel file passes its own Tag, so no two files share a buffer.
// A worker's scratch is for use inside one chunk only: once the chunk returns, the next job (maybe
// another user thread's) reuses it, so results that outlive the chunk (per-chunk partial sums) go
// into buffers the call owns, or into the calling thread's scratch (nobody else's job runs on it).
#include <cstddef>
#include <vector>

namespace xgrad::kernels {

template <class T, class Tag, int Slots>
T* thread_scratch(std::size_t n, int slot) {
  thread_local std::vector<T> buffers[Slots];
  std::vector<T>& b = buffers[slot];
  if (b.size() < n) {
    b.clear();
    b.shrink_to_fit();  // release first: growing in place would copy stale contents
    b.resize(n);
  }
  return b.data();
}

}  // namespace xgrad::kernels
