#pragma once
// Shape: the sizes of a tensor's dims. Kept inline for up to 6 dims (no allocation for the
// shapes nearly every op sees), spilling to the heap beyond that.
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "xgrad/error.h"

namespace xgrad {

class Shape {
 public:
  using value_type = std::int64_t;
  static constexpr std::size_t kInline = 6;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) { assign(dims.begin(), dims.end()); }
  Shape(const std::vector<std::int64_t>& dims) { assign(dims.data(), dims.data() + dims.size()); }
  Shape(const std::int64_t* first, const std::int64_t* last) { assign(first, last); }
  explicit Shape(std::size_t n, std::int64_t fill = 0) {
    reserve(n);
    size_ = n;
    std::fill(begin(), end(), fill);
  }
  Shape(const Shape& o) { assign(o.begin(), o.end()); }
  Shape(Shape&& o) noexcept { move_from(o); }
  Shape& operator=(const Shape& o) {
    if (this != &o) assign(o.begin(), o.end());
    return *this;
  }
  Shape& operator=(Shape&& o) noexcept {
    if (this != &o) move_from(o);
    return *this;
  }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::int64_t* data() { return heap_ ? heap_.get() : inline_; }
  const std::int64_t* data() const { return heap_ ? heap_.get() : inline_; }
  std::int64_t* begin() { return data(); }
  std::int64_t* end() { return data() + size_; }
  const std::int64_t* begin() const { return data(); }
  const std::int64_t* end() const { return data() + size_; }
  std::int64_t& operator[](std::size_t i) { return data()[i]; }
  std::int64_t operator[](std::size_t i) const { return data()[i]; }
  std::int64_t back() const { return data()[size_ - 1]; }

  void push_back(std::int64_t v) {
    reserve(size_ + 1);
    data()[size_++] = v;
  }
  void insert(std::size_t pos, std::int64_t v) {
    XGRAD_CHECK(pos <= size_, "Shape::insert: position {} is past the end of a shape of {} dims", pos, size_);
    push_back(0);
    std::copy_backward(begin() + pos, end() - 1, end());
    data()[pos] = v;
  }
  void erase(std::size_t pos) {
    XGRAD_CHECK(pos < size_, "Shape::erase: position {} is out of range for a shape of {} dims", pos, size_);
    std::copy(begin() + pos + 1, end(), begin() + pos);
    --size_;
  }
  void resize(std::size_t n, std::int64_t fill = 0) {
    reserve(n);
    for (std::size_t i = size_; i < n; ++i) data()[i] = fill;
    size_ = n;
  }
  std::vector<std::int64_t> vec() const { return {begin(), end()}; }

  friend bool operator==(const Shape& a, const Shape& b) {
    return a.size_ == b.size_ && std::equal(a.begin(), a.end(), b.begin());
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  void reserve(std::size_t n) {
    if (n <= capacity()) return;
    std::size_t cap = std::max<std::size_t>(n, 2 * capacity());
    auto fresh = std::make_unique<std::int64_t[]>(cap);
    // size_ <= capacity() always; said so, GCC 12 stops warning of a 2^63-byte copy here.
    if (size_ > capacity()) __builtin_unreachable();
    std::copy(begin(), end(), fresh.get());
    heap_ = std::move(fresh);
    heap_cap_ = cap;
  }
  std::size_t capacity() const { return heap_ ? heap_cap_ : kInline; }
  void assign(const std::int64_t* first, const std::int64_t* last) {
    std::size_t n = static_cast<std::size_t>(last - first);
    if (n > capacity()) {
      heap_.reset();
      reserve(n);
    }
    std::copy(first, last, data());
    size_ = n;
  }
  void move_from(Shape& o) {
    if (o.heap_) {
      heap_ = std::move(o.heap_);
      heap_cap_ = o.heap_cap_;
      size_ = o.size_;
    } else {
      heap_.reset();
      std::copy(o.begin(), o.end(), inline_);
      size_ = o.size_;
    }
    o.size_ = 0;
  }

  std::int64_t inline_[kInline] = {};
  std::unique_ptr<std::int64_t[]> heap_;
  std::size_t heap_cap_ = 0;
  std::size_t size_ = 0;
};

// A list of dims for reductions and permutations.
using Dims = std::vector<std::int64_t>;

// Number of elements (1 for a 0-d shape). For shapes already validated (those of tensors).
std::int64_t numel_of(const Shape& s);
// Number of elements of a shape given by a user, or an xgrad::Error naming `op`: for a negative
// size, or when the product of the non-zero sizes (which bounds the element count and every
// stride) does not fit in int64. Size-0 dims are fine (numel 0).
std::int64_t checked_numel(const Shape& s, const char* op);
// "[2, 3]" as PyTorch prints sizes.
std::string to_string(const Shape& s);
// Row-major strides, in elements.
Shape contiguous_strides(const Shape& s);
// NumPy broadcasting; raises xgrad::Error naming `op` and both shapes when they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Wraps a possibly negative dim into [0, ndim); raises naming `op` when out of range.
// A 0-d tensor accepts dims -1 and 0 as PyTorch does.
std::int64_t wrap_dim(std::int64_t dim, std::int64_t ndim, const char* op);

}  // namespace xgrad
