// The ops the engine itself leans on: dtype casts, clone, reshape, and the broadcast pair
// expand / sum_to (each is the other's VJP).
#include <algorithm>

#include "../core/arg_checks.h"
#include "../core/kernels/elementwise.h"
#include "../core/kernels/reduce.h"
#include "sample_util.h"

namespace xgrad {

// The ops this file defines, each declared once: record() names their nodes with these and
// the registry entries below take name, arity and formula from them.
constexpr OpDecl kTo{"to", 1, "dx = dy.to(x.dtype)"};
constexpr OpDecl kClone{"clone", 1, "dx = dy"};
constexpr OpDecl kReshape{"reshape", 1, "dx = reshape(dy, x.shape)"};
constexpr OpDecl kExpand{"expand", 1, "dx = sum_to(dy, x.shape)"};
constexpr OpDecl kSumTo{"sum_to", 1, "dx = expand(dy, x.shape)"};

// Defined in core (core/primitives.cpp), which needs them for gradient buffers; registered below.
Tensor to_dtype(const Tensor& x, Dtype dtype) {
  check_defined("to_dtype", {{x, "input"}});
  return x.to(dtype);
}
Tensor clone(const Tensor& x) {
  check_defined("clone", {{x, "input"}});
  return x.clone();
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined("reshape", {{x, "input"}});
  Shape target = shape;
  std::int64_t known = 1, infer_at = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      XGRAD_CHECK(infer_at < 0, "reshape: only one dim can be -1, got shape {}", to_string(shape));
      infer_at = static_cast<std::int64_t>(i);
    } else {
      XGRAD_CHECK(target[i] >= 0, "reshape: invalid size {} in shape {}", target[i], to_string(shape));
      XGRAD_CHECK(!__builtin_mul_overflow(known, target[i], &known),
                  "reshape: shape {} has too many elements: the product of its sizes overflows int64 (input shape {})",
                  to_string(shape), to_string(x.shape()));
    }
  }
  if (infer_at >= 0) {
    XGRAD_CHECK(known != 0 && x.numel() % known == 0,
                "reshape: shape {} is invalid for an input of shape {} ({} elements)", to_string(shape),
                to_string(x.shape()), x.numel());
    target[static_cast<std::size_t>(infer_at)] = x.numel() / known;
  }
  XGRAD_CHECK(checked_numel(target, "reshape") == x.numel(), "reshape: shape {} is invalid for an input of shape {} ({} elements)",
              to_string(shape), to_string(x.shape()), x.numel());
  Tensor y = alias_with_shape(x, target);
  record(y, kReshape, {x}, {}, [](Node& n, const Tensor& gy) -> TensorList {
    return {reshape(gy, n.next_edges()[0].shape)};
  });
  return y;
}

namespace {
// expand under the name the user called (expand or broadcast_to).
Tensor expand_as(const char* op, const Tensor& x, const Shape& shape) {
  check_defined(op, {{x, "input"}});
  const Shape& in = x.shape();
  XGRAD_CHECK(shape.size() >= in.size(), "{}: the target shape {} has fewer dims than the input shape {}", op,
              to_string(shape), to_string(in));
  Shape target = shape;
  const std::size_t lead = shape.size() - in.size();
  for (std::size_t i = 0; i < target.size(); ++i) {
    const std::int64_t src = i < lead ? -2 : in[i - lead];
    if (target[i] == -1) {
      XGRAD_CHECK(i >= lead, "{}: -1 is not allowed for the new leading dim {} (target shape {})", op, i,
                  to_string(shape));
      target[i] = src;
    }
    XGRAD_CHECK(target[i] >= 0, "{}: invalid size {} in target shape {}", op, target[i], to_string(shape));
    XGRAD_CHECK(i < lead || src == target[i] || src == 1,
                "{}: the input shape {} cannot be expanded to {}: dim {} has size {} (must be 1 or {})", op,
                to_string(in), to_string(shape), i, src, target[i]);
  }
  if (target == in) return x;
  checked_bytes(target, x.dtype(), op);  // a huge target raises here, naming the op
  Tensor y = kernels::broadcast_copy(x, target);
  record(y, kExpand, {x}, {}, [](Node& n, const Tensor& gy) -> TensorList {
    return {sum_to(gy, n.next_edges()[0].shape)};
  });
  return y;
}

}  // namespace

Tensor expand(const Tensor& x, const Shape& shape) { return expand_as("expand", x, shape); }
Tensor broadcast_to(const Tensor& x, const Shape& shape) { return expand_as("broadcast_to", x, shape); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  check_defined("sum_to", {{x, "input"}});
  const Shape& in = x.shape();
  if (in == shape) return x;
  XGRAD_CHECK(x.dtype() != boolean, "sum_to: cannot sum a bool tensor (shape {}) into shape {}; convert it first",
              to_string(in), to_string(shape));
  XGRAD_CHECK(shape.size() <= in.size(), "sum_to: shape {} has more dims than the input shape {}",
              to_string(shape), to_string(in));
  const std::size_t lead = in.size() - shape.size();
  Dims dims;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (i < lead) {
      dims.push_back(static_cast<std::int64_t>(i));
      continue;
    }
    const std::int64_t want = shape[i - lead];
    XGRAD_CHECK(want == in[i] || want == 1, "sum_to: shape {} is not a broadcast source of the input shape {}",
                to_string(shape), to_string(in));
    if (want == 1 && in[i] != 1) dims.push_back(static_cast<std::int64_t>(i));
  }
  Tensor y = alias_with_shape(kernels::sum_dims(x, dims, true), shape);
  record(y, kSumTo, {x}, {}, [](Node& n, const Tensor& gy) -> TensorList {
    return {expand(gy, n.next_edges()[0].shape)};
  });
  return y;
}

void register_core_ops(std::vector<OpInfo>& r) {
  r.push_back(declared(kTo, {
               .differentiable = {true},
               .gradcheck_eps = 1e-3,
               .samples = [](Dtype d) {
                 const Dtype other = d == float64 ? float32 : float64;
                 return std::vector<OpSample>{
                     {"[3,4] round trip through float32", {samples::input({3, 4}, d)},
                      [=](const TensorList& in) { return to_dtype(to_dtype(in[0], other), d); }},
                 };
               }}));
  r.push_back(declared(kClone, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[2,3]", {samples::input({2, 3}, d)}, [](const TensorList& in) { return clone(in[0]); }},
                     {"0-d", {samples::input({}, d)}, [](const TensorList& in) { return clone(in[0]); }},
                 };
               }}));
  r.push_back(declared(kReshape, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[2,3,4] -> [4,-1]", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return reshape(in[0], {4, -1}); }},
                     {"0-d -> [1,1]", {samples::input({}, d)},
                      [](const TensorList& in) { return reshape(in[0], {1, 1}); }},
                     {"[0,3] -> [3,0]", {samples::input({0, 3}, d)},
                      [](const TensorList& in) { return reshape(in[0], {3, 0}); }},
                 };
               }}));
  r.push_back(declared(kExpand, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[3,1] -> [2,3,4]", {samples::input({3, 1}, d)},
                      [](const TensorList& in) { return expand(in[0], {2, 3, 4}); }},
                     {"0-d -> [5]", {samples::input({}, d)},
                      [](const TensorList& in) { return expand(in[0], {5}); }},
                     {"[1,4] -> [-1,4] with new dim [2,1,4]", {samples::input({1, 4}, d)},
                      [](const TensorList& in) { return expand(in[0], {2, -1, 4}); }},
                 };
               }}));
  r.push_back(declared(kSumTo, {
               .differentiable = {true},
               .samples = [](Dtype d) {
                 return std::vector<OpSample>{
                     {"[2,3,4] -> [3,1]", {samples::input({2, 3, 4}, d)},
                      [](const TensorList& in) { return sum_to(in[0], {3, 1}); }},
                     {"[5] -> 0-d", {samples::input({5}, d)},
                      [](const TensorList& in) { return sum_to(in[0], {}); }},
                 };
               }}));
}

}  // namespace xgrad
