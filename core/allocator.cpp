// A caching allocator: freed buffers are kept per byte size and handed out again, so training
// steps that allocate the same activation sizes every step never page-fault or re-zero memory.
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "tensor_impl.h"

#if defined(__SANITIZE_ADDRESS__)
#define XGRAD_NO_CACHE 1  // let ASan see every use-after-free
#endif

namespace xgrad {

namespace {
constexpr std::size_t kAlign = 64;                   // AVX-512 lines
constexpr std::size_t kMaxCachedBytes = 4ull << 30;  // beyond this, free for real

struct Cache {
  std::mutex mu;
  std::unordered_map<std::size_t, std::vector<void*>> free_lists;
  std::size_t cached_bytes = 0;
  ~Cache() { clear(); }
  void clear() {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [size, list] : free_lists)
      for (void* p : list) std::free(p);
    free_lists.clear();
    cached_bytes = 0;
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destruction
  return *c;
}

std::size_t round_up(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }
}  // namespace

void* cached_alloc(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  bytes = round_up(bytes);
#ifndef XGRAD_NO_CACHE
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_lists.find(bytes);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached_bytes -= bytes;
      return p;
    }
  }
#endif
  void* p = std::aligned_alloc(kAlign, bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

void cached_free(void* p, std::size_t bytes) {
  if (!p) return;
  bytes = round_up(bytes);
#ifndef XGRAD_NO_CACHE
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.cached_bytes + bytes <= kMaxCachedBytes) {
    c.free_lists[bytes].push_back(p);
    c.cached_bytes += bytes;
    return;
  }
#endif
  std::free(p);
}

void empty_cache() { cache().clear(); }

}  // namespace xgrad
