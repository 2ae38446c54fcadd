// Indexing along one dim: slice / narrow (and the internal slice_backward that is their VJP),
// index_select / index_add and gather / scatter_add. Each pair is the other's VJP, so every
// op here has a double backward.
#include <algorithm>

#include "../core/kernels/layout.h"
#include "index_internal.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
// (slice and narrow: index_internal.h, join.cpp records them too)
constexpr OpDecl kSliceBackward{"slice_backward", 1, "dg = slice(g, dim, start::step) (linear in its input)"};
constexpr OpDecl kIndexSelect{"index_select", 2, "dx = index_add(zeros(x.shape), dim, index, dy)"};
constexpr OpDecl kIndexAdd{"index_add", 3, "dx = dy, dsource = index_select(dy, dim, index)"};
constexpr OpDecl kGather{"gather", 2, "dx = scatter_add(zeros(x.shape), dim, index, dy)"};
constexpr OpDecl kScatterAdd{"scatter_add", 3,
    "dx = dy, dsrc = gather(dy, dim, index) (zero beyond the index's extent)"};

namespace {

void check_defined(const Tensor& t, const char* op, const char* what) {
  XGRAD_CHECK(t.defined(), "{}: {} is an undefined tensor", op, what);
}

// A checked int64 index: every value in [0, size).
void check_index(const Tensor& index, std::int64_t size, std::int64_t dim, const char* op, const Shape& input_shape) {
  XGRAD_CHECK(index.dtype() == Dtype::int64, "{}: index must be an int64 tensor, got {} (shape {})", op,
              dtype_name(index.dtype()), to_string(index.shape()));
  const std::int64_t* v = index.data<std::int64_t>();
  const std::int64_t count = index.numel();
  std::int64_t bad = -1;  // a branch-free scan first; the message only when something is out of range
  for (std::int64_t i = 0; i < count; ++i)
    if (static_cast<std::uint64_t>(v[i]) >= static_cast<std::uint64_t>(size)) bad = i;
  XGRAD_CHECK(bad < 0, "{}: index {} is out of range for dim {} with size {} (input shape {}, index shape {})", op,
              v[bad], dim, size, to_string(input_shape), to_string(index.shape()));
}

// The zeros of `x`'s shape and dtype, read from an input edge.
Tensor zeros_for_edge(const Node& n, std::size_t i) {
  return zeros(n.next_edges()[i].shape, {.dtype = n.next_edges()[i].dtype});
}

// The internal VJP of slicing: zeros of `shape` with `gy` written at start::step along `dim`.
// Its own VJP slices again.
Tensor slice_backward(const Tensor& gy, const Shape& shape, std::int64_t dim, std::int64_t start, std::int64_t step) {
  // Reachable through the registry with any gradient: it must fit the slice it came from.
  check_defined(gy, "slice_backward", "the gradient");
  const auto rank = static_cast<std::int64_t>(shape.size());
  bool fits = gy.dim() == rank && dim >= 0 && dim < rank && start >= 0 && step > 0;
  for (std::int64_t i = 0; fits && i < rank; ++i)
    fits = i == dim ? true : gy.size(i) == shape[static_cast<std::size_t>(i)];
  if (fits && gy.numel() > 0) {
    const std::int64_t n = shape[static_cast<std::size_t>(dim)], length = gy.size(dim);
    fits = start < n && (length - 1) <= (n - 1 - start) / step;
  }
  XGRAD_CHECK(fits, "slice_backward: a gradient of shape {} does not fit a slice of {} along dim {} from {} by {}",
              to_string(gy.shape()), to_string(shape), dim, start, step);
  Tensor y = kernels::slice_embed(gy, shape, dim, start, step);
  const std::int64_t length = gy.size(dim);
  record(y, kSliceBackward, {gy}, {}, [dim, start, step, length](Node&, const Tensor& ggy) -> TensorList {
    return {detail::slice_recorded(ggy, dim, start, step, length, detail::kSlice)};
  });
  return y;
}

}  // namespace

namespace detail {

Tensor slice_recorded(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t step, std::int64_t length,
                      const OpDecl& op) {
  const bool whole = start == 0 && length == x.size(dim) && (step == 1 || length <= 1);
  // The whole dim shares storage: no copy, but still its own node.
  Tensor y = whole ? alias_with_shape(x, x.shape()) : kernels::slice_copy(x, dim, start, step, length);
  record(y, op, {x}, {}, [dim, start, step, whole](Node& n, const Tensor& gy) -> TensorList {
    if (whole) return {gy};
    return {slice_backward(gy, n.next_edges()[0].shape, dim, start, step)};
  });
  return y;
}

}  // namespace detail

Tensor slice(const Tensor& x, std::int64_t dim, std::optional<std::int64_t> start, std::optional<std::int64_t> stop,
             std::int64_t step) {
  check_defined(x, "slice", "the input");
  XGRAD_CHECK(x.dim() > 0, "slice: cannot slice a 0-d tensor");
  XGRAD_CHECK(step > 0, "slice: step must be positive, got {}", step);
  const std::int64_t d = wrap_dim(dim, x.dim(), "slice");
  const std::int64_t n = x.size(d);
  // Python semantics: negative bounds count from the end, out-of-range bounds clamp.
  auto bound = [n](std::optional<std::int64_t> b, std::int64_t fallback) {
    if (!b) return fallback;
    const std::int64_t v = *b < 0 ? *b + n : *b;
    return std::clamp<std::int64_t>(v, 0, n);
  };
  const std::int64_t lo = bound(start, 0), hi = bound(stop, n);
  const std::int64_t length = hi > lo ? (hi - lo - 1) / step + 1 : 0;  // ceil, without overflow for a huge step
  return detail::slice_recorded(x, d, lo, step, length, detail::kSlice);
}

Tensor narrow(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t length) {
  check_defined(x, "narrow", "the input");
  XGRAD_CHECK(x.dim() > 0, "narrow: cannot narrow a 0-d tensor");
  const std::int64_t d = wrap_dim(dim, x.dim(), "narrow");
  const std::int64_t n = x.size(d);
  XGRAD_CHECK(start >= -n && start <= n, "narrow: start {} is out of range for dim {} of size {} (expected {} to {})",
              start, d, n, -n, n);
  const std::int64_t lo = start < 0 ? start + n : start;
  XGRAD_CHECK(length >= 0 && length <= n - lo,
              "narrow: start {} + length {} exceeds dim {} of size {} (tensor of shape {})", lo, length, d, n,
              to_string(x.shape()));
  return detail::slice_recorded(x, d, lo, 1, length, detail::kNarrow);
}

Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index) {
  check_defined(x, "index_select", "the input");
  check_defined(index, "index_select", "the index");
  XGRAD_CHECK(index.dim() <= 1, "index_select: index must be 1-D or 0-d, got shape {}", to_string(index.shape()));
  const std::int64_t d = wrap_dim(dim, x.dim(), "index_select");
  if (x.dim() == 0) {  // a 0-d input behaves as one element along dim 0
    XGRAD_CHECK(index.numel() == 1, "index_select: a 0-d input takes one index, got shape {}",
                to_string(index.shape()));
    return reshape(index_select(reshape(x, {1}), 0, index), {});
  }
  check_index(index, x.size(d), d, "index_select", x.shape());
  const Tensor flat_index = index.dim() == 1 ? index : alias_with_shape(index, {1});
  Tensor y = kernels::index_select(x, d, flat_index);
  record(y, kIndexSelect, {x, flat_index}, {flat_index}, [d](Node& n, const Tensor& gy) -> TensorList {
    return {index_add(zeros_for_edge(n, 0), d, n.saved(0), gy), Tensor()};
  });
  return y;
}

Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& source) {
  check_defined(x, "index_add", "the input");
  check_defined(index, "index_add", "the index");
  check_defined(source, "index_add", "the source");
  XGRAD_CHECK(index.dim() <= 1, "index_add: index must be 1-D or 0-d, got shape {}", to_string(index.shape()));
  XGRAD_CHECK(x.dtype() == source.dtype(), "index_add: input ({}) and source ({}) must have the same dtype",
              dtype_name(x.dtype()), dtype_name(source.dtype()));
  XGRAD_CHECK(x.dtype() != boolean, "index_add: expects a numeric input, got bool (shape {})", to_string(x.shape()));
  const std::int64_t d = wrap_dim(dim, x.dim(), "index_add");
  if (x.dim() == 0) {
    XGRAD_CHECK(index.numel() == 1 && source.numel() == 1,
                "index_add: a 0-d input takes one index and one source element, got index {} and source {}",
                to_string(index.shape()), to_string(source.shape()));
    return reshape(index_add(reshape(x, {1}), 0, index, reshape(source, {1})), {});
  }
  Shape expected = x.shape();
  expected[static_cast<std::size_t>(d)] = index.numel();
  const Tensor& src = source;
  XGRAD_CHECK(src.shape() == expected,
              "index_add: source of shape {} does not match input {} with {} indices along dim {} (expected {})",
              to_string(source.shape()), to_string(x.shape()), index.numel(), d, to_string(expected));
  check_index(index, x.size(d), d, "index_add", x.shape());
  const Tensor flat_index = index.dim() == 1 ? index : alias_with_shape(index, {1});
  Tensor y = kernels::index_add(x, d, flat_index, src);
  record(y, kIndexAdd, {x, flat_index, src}, {flat_index}, [d](Node& n, const Tensor& gy) -> TensorList {
    return {n.needs_input_grad(0) ? gy : Tensor(), Tensor(),
            n.needs_input_grad(2) ? index_select(gy, d, n.saved(0)) : Tensor()};
  });
  return y;
}

namespace {
// gather/scatter_add's shape rule: same rank, index no larger than x except along dim.
void check_gather_shapes(const Tensor& x, std::int64_t d, const Tensor& index, const char* op) {
  XGRAD_CHECK(index.dim() == x.dim(), "{}: index of shape {} must have as many dims as the input of shape {}", op,
              to_string(index.shape()), to_string(x.shape()));
  for (std::int64_t e = 0; e < x.dim(); ++e)
    XGRAD_CHECK(e == d || index.size(e) <= x.size(e),
                "{}: index of shape {} is larger than the input of shape {} in dim {} ({} > {})", op,
                to_string(index.shape()), to_string(x.shape()), e, index.size(e), x.size(e));
}

std::int64_t size_or_one(const Tensor& t, std::int64_t d) { return t.dim() == 0 ? 1 : t.size(d); }
}  // namespace

Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index) {
  check_defined(x, "gather", "the input");
  check_defined(index, "gather", "the index");
  const std::int64_t d = wrap_dim(dim, x.dim(), "gather");
  check_gather_shapes(x, d, index, "gather");
  check_index(index, size_or_one(x, d), d, "gather", x.shape());
  Tensor y = kernels::gather(x, d, index);
  record(y, kGather, {x, index}, {index}, [d](Node& n, const Tensor& gy) -> TensorList {
    return {scatter_add(zeros_for_edge(n, 0), d, n.saved(0), gy), Tensor()};
  });
  return y;
}

Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined(x, "scatter_add", "the input");
  check_defined(index, "scatter_add", "the index");
  check_defined(src, "scatter_add", "src");
  XGRAD_CHECK(x.dtype() == src.dtype(), "scatter_add: input ({}) and src ({}) must have the same dtype",
              dtype_name(x.dtype()), dtype_name(src.dtype()));
  XGRAD_CHECK(x.dtype() != boolean, "scatter_add: expects a numeric input, got bool (shape {})", to_string(x.shape()));
  const std::int64_t d = wrap_dim(dim, x.dim(), "scatter_add");
  check_gather_shapes(x, d, index, "scatter_add");
  XGRAD_CHECK(src.dim() == index.dim(), "scatter_add: src of shape {} must have as many dims as index of shape {}",
              to_string(src.shape()), to_string(index.shape()));
  for (std::int64_t e = 0; e < index.dim(); ++e)
    XGRAD_CHECK(index.size(e) <= src.size(e),
                "scatter_add: index of shape {} is larger than src of shape {} in dim {} ({} > {})",
                to_string(index.shape()), to_string(src.shape()), e, index.size(e), src.size(e));
  check_index(index, size_or_one(x, d), d, "scatter_add", x.shape());
  Tensor y = kernels::scatter_add(x, d, index, src);
  record(y, kScatterAdd, {x, index, src}, {index}, [d](Node& n, const Tensor& gy) -> TensorList {
    Tensor dsrc;
    if (n.needs_input_grad(2)) {
      const Tensor index = n.saved(0);
      dsrc = gather(gy, d, index);
      // Elements of src beyond the index's extent were never read: their gradient is zero.
      const Shape& src_shape = n.next_edges()[2].shape;
      if (dsrc.shape() != src_shape) {
        std::vector<std::int64_t> pads;
        for (std::size_t e = src_shape.size(); e-- > 0;) {
          pads.push_back(0);
          pads.push_back(src_shape[e] - index.shape()[e]);
        }
        dsrc = pad(dsrc, pads);
      }
    }
    return {n.needs_input_grad(0) ? gy : Tensor(), Tensor(), dsrc};
  });
  return y;
}

// ---------------------------------------------------------------- registry

namespace {
Tensor long_tensor(const std::vector<std::int64_t>& values, const Shape& shape) { return tensor(values, shape); }
}  // namespace

void register_index_ops(std::vector<OpInfo>& r) {
  r.push_back(declared(detail::kSlice, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[6,3] dim 0 [1:5]", {samples::input({6, 3}, d)},
                      [](const TensorList& in) { return slice(in[0], 0, 1, 5); }},
                     {"[7,2] dim 0 [:-3:2]", {samples::input({7, 2}, d)},
                      [](const TensorList& in) { return slice(in[0], 0, std::nullopt, -3, 2); }},
                     {"[2,3,8] dim -1 [-7::3]", {samples::input({2, 3, 8}, d)},
                      [](const TensorList& in) { return slice(in[0], -1, -7, std::nullopt, 3); }},
                     {"[3,4] dim 1 out of range [-10:10]", {samples::input({3, 4}, d)},
                      [](const TensorList& in) { return slice(in[0], 1, -10, 10); }},
                     {"[3,4] dim 1 empty [3:1]", {samples::input({3, 4}, d)},
                      [](const TensorList& in) { return slice(in[0], 1, 3, 1); }},
                     {"[1,5] size-1 dim 0 [0:1], then dim 1 step 2", {samples::input({1, 5}, d)},
                      [](const TensorList& in) { return slice(slice(in[0], 0, 0, 1), 1, 0, std::nullopt, 2); }},
                     {"[0,4] dim 1 [1:3]", {samples::input({0, 4}, d)},
                      [](const TensorList& in) { return slice(in[0], 1, 1, 3); }},
                 };
               }}));
  // Internal (the VJP of slicing), reachable through the registry and double backward.
  r.push_back(declared(kSliceBackward, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[2,3] into [5,3] dim 0 start 1 step 2", {samples::input({2, 3}, d)},
                      [](const TensorList& in) { return slice_backward(in[0], {5, 3}, 0, 1, 2); }},
                     {"[2,2,3] into [2,4,3] dim 1 start 2 step 1", {samples::input({2, 2, 3}, d)},
                      [](const TensorList& in) { return slice_backward(in[0], {2, 4, 3}, 1, 2, 1); }},
                     {"[3,0] into [3,4] dim 1 (empty)", {samples::input({3, 0}, d)},
                      [](const TensorList& in) { return slice_backward(in[0], {3, 4}, 1, 0, 1); }},
                 };
               }}));
  r.push_back(declared(detail::kNarrow, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[5,3] dim 0 start 1 length 3", {samples::input({5, 3}, d)},
                      [](const TensorList& in) { return narrow(in[0], 0, 1, 3); }},
                     {"[2,6] dim -1 start -4 length 2", {samples::input({2, 6}, d)},
                      [](const TensorList& in) { return narrow(in[0], -1, -4, 2); }},
                     {"[3,4] dim 1 length 0", {samples::input({3, 4}, d)},
                      [](const TensorList& in) { return narrow(in[0], 1, 2, 0); }},
                     {"[3,4] whole dim 0", {samples::input({3, 4}, d)},
                      [](const TensorList& in) { return narrow(in[0], 0, 0, 3); }},
                 };
               }}));
  r.push_back(declared(kIndexSelect, {
               .differentiable = {true, false},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[4,3] dim 0 repeated [2,0,2,3]", {samples::input({4, 3}, d), long_tensor({2, 0, 2, 3}, {4})},
                      [](const TensorList& in) { return index_select(in[0], 0, in[1]); }},
                     {"[2,5,2] dim -2 [4,1]", {samples::input({2, 5, 2}, d), long_tensor({4, 1}, {2})},
                      [](const TensorList& in) { return index_select(in[0], -2, in[1]); }},
                     {"[3,4] dim 1 0-d index", {samples::input({3, 4}, d), long_tensor({2}, {})},
                      [](const TensorList& in) { return index_select(in[0], 1, in[1]); }},
                     {"[3,4] dim 0 empty index", {samples::input({3, 4}, d), long_tensor({}, {0})},
                      [](const TensorList& in) { return index_select(in[0], 0, in[1]); }},
                     {"0-d input", {samples::input({}, d), long_tensor({0}, {1})},
                      [](const TensorList& in) { return index_select(in[0], 0, in[1]); }},
                 };
               }}));
  r.push_back(declared(kIndexAdd, {
               .differentiable = {true, false, true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[4,3] dim 0 repeated [1,3,1]",
                      {samples::input({4, 3}, d), long_tensor({1, 3, 1}, {3}), samples::input({3, 3}, d)},
                      [](const TensorList& in) { return index_add(in[0], 0, in[1], in[2]); }},
                     {"[2,3,4] dim -1 [0,3]",
                      {samples::input({2, 3, 4}, d), long_tensor({0, 3}, {2}), samples::input({2, 3, 2}, d)},
                      [](const TensorList& in) { return index_add(in[0], -1, in[1], in[2]); }},
                     {"[3,1] dim 1 0-d index",
                      {samples::input({3, 1}, d), long_tensor({0}, {}), samples::input({3, 1}, d)},
                      [](const TensorList& in) { return index_add(in[0], 1, in[1], in[2]); }},
                     {"[0,2] dim 1 [1]", {samples::input({0, 2}, d), long_tensor({1}, {1}), samples::input({0, 1}, d)},
                      [](const TensorList& in) { return index_add(in[0], 1, in[1], in[2]); }},
                 };
               }}));
  r.push_back(declared(kGather, {
               .differentiable = {true, false},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] dim 1 repeated, index [3,3]",
                      {samples::input({3, 4}, d), long_tensor({0, 3, 0, 2, 2, 2, 1, 0, 3}, {3, 3})},
                      [](const TensorList& in) { return gather(in[0], 1, in[1]); }},
                     {"[4,3] dim 0 smaller index [2,2]",
                      {samples::input({4, 3}, d), long_tensor({3, 0, 1, 1}, {2, 2})},
                      [](const TensorList& in) { return gather(in[0], 0, in[1]); }},
                     {"[2,3,2] dim -2 index [2,5,1]",
                      {samples::input({2, 3, 2}, d), long_tensor({0, 1, 2, 2, 1, 2, 2, 0, 0, 1}, {2, 5, 1})},
                      [](const TensorList& in) { return gather(in[0], -2, in[1]); }},
                     {"0-d", {samples::input({}, d), long_tensor({0}, {})},
                      [](const TensorList& in) { return gather(in[0], 0, in[1]); }},
                     {"[3,2] dim 0 empty index [0,2]", {samples::input({3, 2}, d), long_tensor({}, {0, 2})},
                      [](const TensorList& in) { return gather(in[0], 0, in[1]); }},
                 };
               }}));
  r.push_back(declared(kScatterAdd, {
               .differentiable = {true, false, true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,4] dim 1 repeated, index [3,2]",
                      {samples::input({3, 4}, d), long_tensor({1, 1, 0, 3, 2, 2}, {3, 2}), samples::input({3, 2}, d)},
                      [](const TensorList& in) { return scatter_add(in[0], 1, in[1], in[2]); }},
                     {"[2,3] dim 0, src [3,4] larger than index [2,2]",
                      {samples::input({2, 3}, d), long_tensor({1, 0, 1, 1}, {2, 2}), samples::input({3, 4}, d)},
                      [](const TensorList& in) { return scatter_add(in[0], 0, in[1], in[2]); }},
                     {"[2,2,3] dim -1",
                      {samples::input({2, 2, 3}, d), long_tensor({2, 0, 0, 1, 2, 2, 1, 0}, {2, 2, 2}),
                       samples::input({2, 2, 2}, d)},
                      [](const TensorList& in) { return scatter_add(in[0], -1, in[1], in[2]); }},
                     {"0-d", {samples::input({}, d), long_tensor({0}, {}), samples::input({}, d)},
                      [](const TensorList& in) { return scatter_add(in[0], 0, in[1], in[2]); }},
                     {"[3,2] dim 0 empty index [0,2]",
                      {samples::input({3, 2}, d), long_tensor({}, {0, 2}), samples::input({1, 2}, d)},
                      [](const TensorList& in) { return scatter_add(in[0], 0, in[1], in[2]); }},
                 };
               }}));
}

}  // namespace xgrad
