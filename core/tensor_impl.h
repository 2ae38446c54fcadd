#pragma once
// Private: what a Tensor handle points to. Ops and kernels include this; users do not.
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "xgrad/node.h"
#include "xgrad/tensor.h"

namespace xgrad {

// A buffer from the caching allocator (core/allocator.cpp), returned to it when freed; or the
// caller's memory (from_blob), which the allocator never sees: freeing runs the caller's deleter.
class Storage {
 public:
  explicit Storage(std::size_t bytes);
  Storage(void* external, std::size_t bytes, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  // In-place writes through the public API bump it; saved tensors compare it before backward.
  std::uint32_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

  // Buffers this small live inside the Storage itself: one allocation per small tensor.
  static constexpr std::size_t kInlineBytes = 64;

 private:
  void* ptr_;
  std::size_t bytes_;
  // Set (possibly to an empty function) for from_blob's memory only: one pointer, so the common
  // Storage stays small.
  std::unique_ptr<std::function<void(void*)>> external_deleter_;
  std::atomic<std::uint32_t> version_{0};
  // 16, not 64: an over-aligned Storage makes make_shared use aligned operator new, which cost
  // 0.15 us per op in bench_overhead (0.61 vs 0.455 us/op, alternating runs).
  alignas(16) unsigned char inline_[kInlineBytes];
};

// Autograd state that most tensors never need, allocated on first use.
struct AutogradMeta {
  Tensor grad;
  std::weak_ptr<Node> grad_accumulator;  // leaves: the node that accumulates into grad
  std::vector<std::pair<std::size_t, GradHook>> hooks;  // leaves' hooks (non-leaves keep them on grad_fn)
};

class TensorImpl {
 public:
  // Fresh uninitialised storage. A shape that is invalid or too big to allocate raises an
  // xgrad::Error naming `op` (the op the user called, when the caller knows it).
  TensorImpl(Shape shape, Dtype dtype, const char* op = nullptr);
  TensorImpl(std::shared_ptr<Storage> storage, Shape shape, Dtype dtype);  // alias
  ~TensorImpl();

  const Shape& shape() const { return shape_; }
  std::int64_t numel() const { return numel_; }
  Dtype dtype() const { return dtype_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  void* raw() const { return storage_ ? storage_->data() : nullptr; }
  template <class T> T* data() const { return static_cast<T*>(raw()); }

  bool requires_grad = false;  // leaves: set by the user; non-leaves: true iff grad_fn
  // Made by alias_with_shape (reshape, detach, ...): shares the buffer of the tensor it came from.
  // In-place ops refuse to record on a view whose buffer another live tensor still holds.
  bool is_view = false;
  std::shared_ptr<Node> grad_fn;
  // Created on first use; two threads recording on one shared parameter may race to create it.
  AutogradMeta& meta() {
    if (AutogradMeta* m = meta_.load(std::memory_order_acquire)) return *m;
    return create_meta();
  }
  AutogradMeta* meta_if_any() const { return meta_.load(std::memory_order_acquire); }

 private:
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  std::int64_t numel_;
  Dtype dtype_;
  std::atomic<AutogradMeta*> meta_{nullptr};  // owned
  AutogradMeta& create_meta();
};

// Internal constructors used by ops and kernels.
// Ops whose output can be much bigger than their inputs (factories, expand, pad, broadcasting,
// matmul, conv, pool, cat) pass their name, so "cannot allocate" errors name the op.
inline Tensor make_tensor(const Shape& shape, Dtype dtype, const char* op = nullptr) {
  return Tensor(std::make_shared<TensorImpl>(shape, dtype, op));
}
// The byte count of a new tensor of `shape` and `dtype`, or an xgrad::Error naming `op`: negative
// sizes, element or byte counts that overflow, more bytes than max_alloc_bytes().
std::size_t checked_bytes(const Shape& shape, Dtype dtype, const char* op);
// The biggest buffer xgrad asks for: the machine's RAM plus swap (PTRDIFF_MAX if unknown).
std::size_t max_alloc_bytes();
// "16 EiB", "1.5 GiB", "512 B".
std::string format_bytes(long double bytes);
// A new handle on the same storage with another shape (numel must match), no history.
Tensor alias_with_shape(const Tensor& t, const Shape& shape);

// The leaf's gradient accumulator node, created on first use.
std::shared_ptr<Node> grad_accumulator(const std::shared_ptr<TensorImpl>& leaf);
// The node a gradient for `t` flows into: its grad_fn, its accumulator, or null.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

// Serialises what several threads may do to one tensor at once (creating its gradient accumulator,
// adding into its .grad). Striped by address: no mutex per tensor.
std::mutex& tensor_lock(const TensorImpl* t);

// Releases a node without recursing: deep chains of nodes are freed iteratively.
void release_node(std::shared_ptr<Node>&& node);

// Raw allocation used by Storage.
void* cached_alloc(std::size_t bytes);
void cached_free(void* p, std::size_t bytes);
// Returns the heap's free pages to the system (glibc keeps them otherwise); the cache is untouched.
void release_free_heap();

}  // namespace xgrad
