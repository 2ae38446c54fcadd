#pragma once
// InlineList: a list that keeps its first N elements inside the object and moves to the heap
// only beyond that. A node's edges and saved tensors live in one, so recording an op allocates
// the node and nothing else for them (most ops have 1-3 inputs and save at most 4 tensors).
#include <array>
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace xgrad {

template <class T, std::size_t N>
class InlineList {
 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return size_ > N ? heap_.data() : inline_.data(); }
  const T* data() const { return size_ > N ? heap_.data() : inline_.data(); }
  T* begin() { return data(); }
  T* end() { return data() + size_; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  T& operator[](std::size_t i) { return data()[i]; }
  const T& operator[](std::size_t i) const { return data()[i]; }
  std::span<const T> span() const { return {data(), size_}; }

  template <class... Args>
  T& emplace_back(Args&&... args) {
    if (size_ < N) {
      inline_[size_] = T(std::forward<Args>(args)...);
    } else {
      if (size_ == N) {  // spill: the inline elements move to the heap first
        heap_.reserve(2 * N);
        for (T& e : inline_) heap_.push_back(std::move(e));
        inline_ = {};
      }
      heap_.emplace_back(std::forward<Args>(args)...);
    }
    return data()[size_++];
  }
  void push_back(T v) { emplace_back(std::move(v)); }
  void reserve(std::size_t n) {
    if (n > N && size_ <= N) heap_.reserve(n);
  }
  void clear() {
    inline_ = {};
    heap_.clear();
    size_ = 0;
  }

 private:
  std::array<T, N> inline_{};
  std::vector<T> heap_;
  std::size_t size_ = 0;
};

}  // namespace xgrad
