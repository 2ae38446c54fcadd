// A caching allocator: freed buffers are kept per byte size and handed out again, so training
// steps that allocate the same activation sizes every step never page-fault or re-zero memory.
//
// Bounds. The cache holds at most cache_limit() bytes (default: an eighth of the machine's RAM,
// at most 4 GiB; set_cache_limit changes it). Big buffers are what the cache is for: glibc's
// malloc maps and unmaps them on every call, so each step would page-fault them afresh. Small
// ones (up to kSmallBytes) malloc recycles well by itself, so only kSmallPerSizeBytes of each
// small size are kept: a graph of a million small tensors, once freed, leaves a few MiB cached
// instead of everything it used.
#include <sys/sysinfo.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "tensor_impl.h"

#if defined(__SANITIZE_ADDRESS__)
#define XGRAD_NO_CACHE 1  // let ASan see every use-after-free
#endif

namespace xgrad {

namespace {
constexpr std::size_t kAlign = 64;  // AVX-512 lines
constexpr std::size_t kSmallBytes = std::size_t{64} << 10;
constexpr std::size_t kSmallPerSizeBytes = std::size_t{4} << 20;
constexpr std::size_t kMaxDefaultLimit = std::size_t{4} << 30;

// RAM and swap as the kernel reports them (0 if unknown).
struct MachineMemory {
  std::size_t ram = 0, ram_and_swap = 0;
};
MachineMemory machine_memory() {
  struct sysinfo info {};
  if (sysinfo(&info) != 0) return {};
  const auto unit = static_cast<unsigned __int128>(info.mem_unit ? info.mem_unit : 1);
  const auto clamp = [](unsigned __int128 v) {
    return static_cast<std::size_t>(std::min<unsigned __int128>(v, PTRDIFF_MAX));
  };
  return {clamp(info.totalram * unit), clamp((static_cast<unsigned __int128>(info.totalram) + info.totalswap) * unit)};
}
const MachineMemory& memory() {
  static const MachineMemory m = machine_memory();
  return m;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<std::size_t, std::vector<void*>> free_lists;
  std::size_t cached_bytes = 0;
  std::size_t limit = memory().ram ? std::min(memory().ram / 8, kMaxDefaultLimit) : kMaxDefaultLimit;

  // Frees cached buffers until at most `target` bytes stay. Caller holds mu.
  void trim_to(std::size_t target) {
    for (auto it = free_lists.begin(); it != free_lists.end() && cached_bytes > target;) {
      auto& list = it->second;
      while (!list.empty() && cached_bytes > target) {
        std::free(list.back());
        list.pop_back();
        cached_bytes -= it->first;
      }
      it = list.empty() ? free_lists.erase(it) : std::next(it);
    }
  }
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may outlive static destruction
  return *c;
}

std::size_t round_up(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }
}  // namespace

std::size_t max_alloc_bytes() {
  const std::size_t m = memory().ram_and_swap;
  return m ? m : static_cast<std::size_t>(PTRDIFF_MAX);
}

void* cached_alloc(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  if (bytes > max_alloc_bytes()) throw std::bad_alloc();
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
  if (c.cached_bytes + bytes <= c.limit) {
    auto& list = c.free_lists[bytes];
    if (bytes > kSmallBytes || (list.size() + 1) * bytes <= kSmallPerSizeBytes) {
      list.push_back(p);
      c.cached_bytes += bytes;
      return;
    }
  }
#endif
  std::free(p);
}

void release_free_heap() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

void empty_cache() {
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.trim_to(0);
  }
#if defined(__GLIBC__)
  malloc_trim(0);  // and what malloc keeps of freed small buffers and graph nodes
#endif
}

std::size_t cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.cached_bytes;
}

std::size_t cache_limit() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.limit;
}

void set_cache_limit(std::size_t bytes) {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.limit = bytes;
  c.trim_to(bytes);
}

}  // namespace xgrad
