#pragma once
// Tensor: a cheap handle (one shared pointer) to a contiguous row-major buffer plus its
// autograd state. No xtensor here: the implementation lives behind TensorImpl.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "xgrad/dtype.h"
#include "xgrad/error.h"
#include "xgrad/shape.h"

namespace xgrad {

class TensorImpl;
class Node;
class Tensor;
class TensorIndex;
class Generator;  // <xgrad/generator.h>

struct TensorOptions {
  Dtype dtype = Dtype::float32;
  bool requires_grad = false;
};

// Options of backward() and grad(). retain_graph defaults to create_graph, as in PyTorch.
// backward() with create_graph leaves each leaf a .grad whose history leads back to the leaf
// itself: that cycle keeps both alive until zero_grad() (PyTorch has the same; grad() avoids it).
struct GradOptions {
  std::optional<bool> retain_graph = std::nullopt;
  bool create_graph = false;
  bool allow_unused = false;  // grad(): return an undefined tensor for an unreachable input
};

// A gradient hook: receives the gradient, may return a replacement (an undefined Tensor keeps it).
using GradHook = std::function<Tensor(const Tensor&)>;

class Tensor {
 public:
  Tensor() = default;  // undefined
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  // --- metadata
  const Shape& shape() const;
  std::int64_t dim() const;
  std::int64_t numel() const;
  std::int64_t size(std::int64_t d) const;  // negative d counts from the end
  Dtype dtype() const;

  // --- values
  Tensor to(Dtype d) const;  // differentiable between float dtypes
  template <class T> T item() const;                                // one-element tensors
  double item() const;  // as a double, whatever the dtype (int64 beyond 2^53 rounds: use item<std::int64_t>())
  template <class T> T at(std::initializer_list<std::int64_t> index) const;  // bounds-checked
  template <class T> const T* data() const;  // raw contiguous buffer; T must match dtype()
  // Write access; counts as an in-place change: bumps version(), so a graph that saved this
  // buffer refuses to backward instead of using the new values.
  template <class T> T* mutable_data();
  template <class T> std::vector<T> to_vector() const;  // converts from any dtype (to bool: nonzero)
  template <class T> auto to_xarray() const;  // defined in <xgrad/xtensor.h>
  // How many times the buffer was handed out for writing; aliases (reshape, detach) share it.
  std::uint32_t version() const;

  // --- autograd
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  Tensor grad() const;  // undefined until a backward reaches this tensor
  void zero_grad();     // drops the accumulated gradient (PyTorch's set_to_none)
  void set_grad(const Tensor& g);
  void retain_grad();  // keep .grad() on a non-leaf
  bool retains_grad() const;
  Tensor detach() const;  // shares storage, no history
  std::shared_ptr<Node> grad_fn() const;
  std::string grad_fn_name() const;  // "" for leaves
  void backward(const Tensor& gradient = Tensor(), const GradOptions& opts = {}) const;
  std::size_t register_hook(GradHook hook);
  void remove_hook(std::size_t handle);

  // --- common methods (same as the free functions in ops.h, which name the op in errors)
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;  // PyTorch's spelling: xgrad tensors are contiguous, so = reshape
  Tensor clone() const;
  Tensor sum() const;
  Tensor sum(const Dims& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const Dims& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor min() const;
  Tensor argmax() const;
  Tensor argmax(std::int64_t dim, bool keepdim = false) const;
  Tensor argmin() const;
  Tensor argmin(std::int64_t dim, bool keepdim = false) const;
  Tensor transpose(std::int64_t d0, std::int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor permute(const Dims& dims) const;
  Tensor flatten(std::int64_t start_dim = 0, std::int64_t end_dim = -1) const;
  Tensor squeeze() const;
  Tensor squeeze(std::int64_t dim) const;
  Tensor unsqueeze(std::int64_t dim) const;
  Tensor operator[](std::int64_t i) const;  // x[i]: index i along dim 0 (negative counts from the end)
  Tensor operator[](const Tensor& index) const;  // x[mask] or x[int64 index]: = index({index})
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor abs() const;
  Tensor pow(double exponent) const;
  Tensor pow(const Tensor& exponent) const;
  Tensor relu() const;
  Tensor sigmoid() const;
  Tensor tanh() const;
  Tensor softmax(std::int64_t dim) const;
  Tensor log_softmax(std::int64_t dim) const;

  // --- in-place ops (ops/inplace.cpp), PyTorch's semantics. They write into this tensor's buffer
  // (other operands broadcast to its shape, never the reverse; the result is converted to its dtype,
  // and an int64 tensor refuses a float result), bump version() and return *this. With grad mode on,
  // a leaf that requires grad refuses them (update parameters under NoGradGuard); on a tensor with
  // history, or with an operand that requires grad, the op is recorded and this tensor's grad_fn
  // becomes the new node, whose input is the old history. A view (reshape, detach) sharing its
  // buffer with another live tensor refuses a recorded in-place op (PyTorch would rebase the base).
  Tensor& add_(const Tensor& other, double alpha = 1);  // self += alpha * other
  Tensor& add_(double other, double alpha = 1);
  Tensor& sub_(const Tensor& other, double alpha = 1);  // self -= alpha * other
  Tensor& sub_(double other, double alpha = 1);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double other);
  Tensor& div_(const Tensor& other);  // true division: int64 tensors refuse it
  Tensor& div_(double other);
  Tensor& addcmul_(const Tensor& tensor1, const Tensor& tensor2, double value = 1);  // += value * t1 * t2
  Tensor& addcdiv_(const Tensor& tensor1, const Tensor& tensor2, double value = 1);  // += value * t1 / t2
  Tensor& copy_(const Tensor& src);  // src broadcast to this shape, converted to this dtype
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& clamp_(std::optional<double> min, std::optional<double> max);
  Tensor& uniform_(double low = 0, double high = 1);  // from default_generator() (manual_seed seeds it)
  Tensor& uniform_(double low, double high, Generator& gen);
  Tensor& normal_(double mean = 0, double std = 1);
  Tensor& normal_(double mean, double std, Generator& gen);
  Tensor& operator+=(const Tensor& other);
  Tensor& operator+=(double other);
  Tensor& operator-=(const Tensor& other);
  Tensor& operator-=(double other);
  Tensor& operator*=(const Tensor& other);
  Tensor& operator*=(double other);
  Tensor& operator/=(const Tensor& other);
  Tensor& operator/=(double other);

  // --- indexing (ops/indexing.cpp), LibTorch's x.index({...}) with PyTorch's rules: integers (negative
  // from the end) remove a dim, Slice{start, stop, step} slices it, None adds one, Ellipsis stands
  // for the dims not named; int64 tensors index several dims at once (advanced indexing: they
  // broadcast together and their dims replace the indexed ones, in place when those are adjacent,
  // first otherwise); a bool mask selects its true positions over as many dims as it has.
  // Differentiable: built from slice, squeeze, unsqueeze, permute, reshape and index_select. The
  // result is a new tensor (xgrad tensors are contiguous), not a view: write through index_put_.
  Tensor index(std::initializer_list<TensorIndex> indices) const;
  Tensor index(const std::vector<TensorIndex>& indices) const;
  // self[indices] = values (broadcast to the indexed shape, converted to self's dtype), in place with
  // the in-place ops' rules (version bump, leaf refusal, recorded as "index_put_"). accumulate adds
  // instead, duplicates included; without it a position indexed twice keeps the last value.
  Tensor& index_put_(std::initializer_list<TensorIndex> indices, const Tensor& values, bool accumulate = false);
  Tensor& index_put_(std::initializer_list<TensorIndex> indices, double value, bool accumulate = false);
  Tensor& index_put_(const std::vector<TensorIndex>& indices, const Tensor& values, bool accumulate = false);
  Tensor masked_fill(const Tensor& mask, double value) const;  // ops.h's masked_fill
  Tensor masked_select(const Tensor& mask) const;
  Tensor any() const;
  Tensor any(std::int64_t dim, bool keepdim = false) const;
  Tensor all() const;
  Tensor all(std::int64_t dim, bool keepdim = false) const;
  Tensor logical_not() const;

  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// The pieces of Tensor::index / index_put_, as LibTorch's torch::indexing (`using namespace
// xgrad::indexing;` gives Slice, None and Ellipsis).
namespace indexing {
struct NoneIndex {};
struct EllipsisIndex {};
inline constexpr NoneIndex None{};          // a new dim of size 1
inline constexpr EllipsisIndex Ellipsis{};  // every dim not indexed otherwise
// A bound of a Slice: a number (negative counts from the end), or None / std::nullopt for the default.
struct SliceBound {
  std::optional<std::int64_t> value;
  SliceBound() = default;
  SliceBound(std::int64_t v) : value(v) {}  // NOLINT: implicit, as Python's slice takes ints
  SliceBound(int v) : value(v) {}           // NOLINT
  SliceBound(NoneIndex) {}                  // NOLINT
  SliceBound(std::nullopt_t) {}             // NOLINT
};
// start:stop:step as in Python: out-of-range bounds clamp; the step defaults to 1 and must be positive.
struct Slice {
  std::optional<std::int64_t> start, stop, step;
  Slice(SliceBound start_ = {}, SliceBound stop_ = {}, SliceBound step_ = {})  // NOLINT
      : start(start_.value), stop(stop_.value), step(step_.value) {}
};
}  // namespace indexing

// One entry of Tensor::index: an integer, a Slice, None, Ellipsis, or an int64 / bool tensor.
class TensorIndex {
 public:
  enum class Kind { integer, slice, none, ellipsis, tensor };
  TensorIndex(std::int64_t i) : kind_(Kind::integer), integer_(i) {}  // NOLINT: implicit, as LibTorch
  TensorIndex(int i) : kind_(Kind::integer), integer_(i) {}           // NOLINT
  TensorIndex(indexing::Slice s) : kind_(Kind::slice), slice_(s) {}   // NOLINT
  TensorIndex(indexing::NoneIndex) : kind_(Kind::none) {}             // NOLINT
  TensorIndex(indexing::EllipsisIndex) : kind_(Kind::ellipsis) {}     // NOLINT
  TensorIndex(Tensor t) : kind_(Kind::tensor), tensor_(std::move(t)) {}  // NOLINT
  // x.index({true}) would silently read index 1: PyTorch's x[True] is a 0-d bool tensor here.
  TensorIndex(bool) = delete;
  Kind kind() const { return kind_; }
  std::int64_t integer() const { return integer_; }
  const indexing::Slice& slice() const { return slice_; }
  const Tensor& tensor() const { return tensor_; }

 private:
  Kind kind_;
  std::int64_t integer_ = 0;
  indexing::Slice slice_;
  Tensor tensor_;
};

// --- factories
Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor zeros_like(const Tensor& t, TensorOptions opts);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor scalar_tensor(double value, TensorOptions opts = {});  // 0-d
Tensor arange(double end, TensorOptions opts = {});
Tensor arange(double start, double end, double step = 1.0, TensorOptions opts = {});
Tensor linspace(double start, double end, std::int64_t steps, TensorOptions opts = {});
Tensor eye(std::int64_t n, TensorOptions opts = {});
Tensor eye(std::int64_t n, std::int64_t m, TensorOptions opts = {});
// Random factories: each draws from `gen`, or from default_generator() when none is given.
Tensor rand(const Shape& shape, TensorOptions opts = {});  // U[0, 1)
Tensor rand(const Shape& shape, Generator& gen, TensorOptions opts = {});
Tensor randn(const Shape& shape, TensorOptions opts = {});  // N(0, 1)
Tensor randn(const Shape& shape, Generator& gen, TensorOptions opts = {});
Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts = {});
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, TensorOptions opts = {});
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts = {});
Tensor normal(const Shape& shape, double mean, double std, Generator& gen, TensorOptions opts = {});
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape,
               TensorOptions opts = {.dtype = Dtype::int64});
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator& gen,
               TensorOptions opts = {.dtype = Dtype::int64});
Tensor randperm(std::int64_t n, TensorOptions opts = {.dtype = Dtype::int64});  // a permutation of 0..n-1
Tensor randperm(std::int64_t n, Generator& gen, TensorOptions opts = {.dtype = Dtype::int64});
// 1 with probability p (per element of `probs`, or one p for all), else 0; same dtype as probs.
Tensor bernoulli(const Tensor& probs);
Tensor bernoulli(const Tensor& probs, Generator& gen);
Tensor bernoulli(const Shape& shape, double p, TensorOptions opts = {});
Tensor bernoulli(const Shape& shape, double p, Generator& gen, TensorOptions opts = {});
// Values from nested initializer lists (1-, 2- or 3-D) or from a flat vector with a shape.
Tensor tensor(std::initializer_list<double> values, TensorOptions opts = {});
Tensor tensor(std::initializer_list<std::initializer_list<double>> values, TensorOptions opts = {});
Tensor tensor(std::initializer_list<std::initializer_list<std::initializer_list<double>>> values,
              TensorOptions opts = {});
Tensor tensor(const std::vector<double>& values, const Shape& shape, TensorOptions opts = {});
Tensor tensor(const std::vector<float>& values, const Shape& shape, TensorOptions opts = {});
Tensor tensor(const std::vector<std::int64_t>& values, const Shape& shape,
              TensorOptions opts = {.dtype = Dtype::int64});
// Wraps a copy of a contiguous buffer of type T (used by the xtensor interop header).
template <class T>
Tensor from_buffer(const T* values, const Shape& shape, TensorOptions opts = {.dtype = dtype_of_v<T>});

// Zero-copy: a tensor over the caller's contiguous row-major buffer of `shape` in opts.dtype (aligned
// for that dtype). Writes through the tensor change the caller's memory and the reverse. xgrad never
// frees or recycles it: when the last tensor using it dies, `deleter(data)` runs if given; the
// caller keeps the memory alive until then. Ops that make new tensors copy out of it as usual.
// A bool buffer must hold bytes 0 and 1 only (C++ bools).
Tensor from_blob(void* data, const Shape& shape, TensorOptions opts = {},
                 std::function<void(void*)> deleter = {});

// Seeds default_generator(): every random draw that is given no generator (factories, dropout
// masks, registry samples) is then reproducible.
void manual_seed(std::uint64_t seed);

// The caching allocator keeps freed buffers for reuse (same-size buffers every training step).
// empty_cache() frees them all (and asks malloc to return its free memory to the system);
// cached_bytes() is what it holds now, at most cache_limit() (default: 1/8 of the machine's RAM,
// at most 4 GiB). set_cache_limit() trims the cache to the new bound at once; 0 turns caching off.
void empty_cache();
std::size_t cached_bytes();
std::size_t cache_limit();
void set_cache_limit(std::size_t bytes);

std::string to_string(const Tensor& t);
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace xgrad

template <>
struct fmt::formatter<xgrad::Tensor> : fmt::formatter<std::string_view> {
  template <class Ctx>
  auto format(const xgrad::Tensor& t, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(xgrad::to_string(t), ctx);
  }
};
