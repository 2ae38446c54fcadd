// Logical ops, any / all and masks. Operands of any dtype count as "nonzero" (NaN is true, as in
// PyTorch); results are bool and never differentiable. masked_fill and masked_select are built
// from where and indexing, so they are differentiable in x without ops of their own.
#include "../core/arg_checks.h"
#include "../core/kernels/elementwise.h"
#include "../core/kernels/logical.h"
#include "xgrad/ops.h"

namespace xgrad {

namespace {

// x as a bool mask: itself, or x != 0.
Tensor truth(const Tensor& x) {
  return x.dtype() == boolean ? x.detach() : kernels::cast(x, boolean);
}

Tensor logical(kernels::Logical op, const char* name, const Tensor& a, const Tensor& b) {
  check_defined(name, {{a, "input"}, {b, "other"}});
  return kernels::logical(op, truth(a), truth(b), name);
}

// The bitwise operators are defined on masks only (xgrad has no integer bitwise ops).
Tensor bitwise(kernels::Logical op, const char* name, const Tensor& a, const Tensor& b) {
  check_defined(name, {{a, "input"}, {b, "other"}});
  XGRAD_CHECK(a.dtype() == boolean && b.dtype() == boolean,
              "{}: expects bool tensors, got {} {} and {} {} (use logical_and / logical_or / logical_xor for "
              "other dtypes)",
              name, dtype_name(a.dtype()), to_string(a.shape()), dtype_name(b.dtype()), to_string(b.shape()));
  return kernels::logical(op, a, b, name);
}

// How many elements of each slice are nonzero, in int64.
Tensor count_nonzero(const Tensor& x, const Dims& dims, bool keepdim) {
  return sum(kernels::cast(truth(x), int64), dims, keepdim);
}

void check_mask(const char* op, const Tensor& mask) {
  XGRAD_CHECK(mask.dtype() == boolean, "{}: expects a bool mask, got {} of shape {} (compare, or use .to(bool))",
              op, dtype_name(mask.dtype()), to_string(mask.shape()));
}

}  // namespace

Tensor logical_and(const Tensor& a, const Tensor& b) { return logical(kernels::Logical::and_, "logical_and", a, b); }
Tensor logical_or(const Tensor& a, const Tensor& b) { return logical(kernels::Logical::or_, "logical_or", a, b); }
Tensor logical_xor(const Tensor& a, const Tensor& b) { return logical(kernels::Logical::xor_, "logical_xor", a, b); }
Tensor logical_not(const Tensor& x) {
  check_defined("logical_not", {{x, "input"}});
  return kernels::logical_not(truth(x));
}

Tensor operator&(const Tensor& a, const Tensor& b) { return bitwise(kernels::Logical::and_, "bitwise_and", a, b); }
Tensor operator|(const Tensor& a, const Tensor& b) { return bitwise(kernels::Logical::or_, "bitwise_or", a, b); }
Tensor operator^(const Tensor& a, const Tensor& b) { return bitwise(kernels::Logical::xor_, "bitwise_xor", a, b); }
Tensor operator~(const Tensor& x) {
  check_defined("bitwise_not", {{x, "input"}});
  XGRAD_CHECK(x.dtype() == boolean, "bitwise_not: expects a bool tensor, got {} {} (use logical_not)",
              dtype_name(x.dtype()), to_string(x.shape()));
  return kernels::logical_not(x);
}

Tensor any(const Tensor& x) {
  check_defined("any", {{x, "input"}});
  return gt(count_nonzero(x, {}, false), scalar_tensor(0, {.dtype = int64}));
}

Tensor any(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined("any", {{x, "input"}});
  const std::int64_t d = wrap_dim(dim, std::max<std::int64_t>(x.dim(), 1), "any");
  return gt(count_nonzero(x, x.dim() == 0 ? Dims{} : Dims{d}, keepdim), scalar_tensor(0, {.dtype = int64}));
}

Tensor all(const Tensor& x) {
  check_defined("all", {{x, "input"}});
  return logical_not(any(logical_not(x)));
}

Tensor all(const Tensor& x, std::int64_t dim, bool keepdim) {
  check_defined("all", {{x, "input"}});
  wrap_dim(dim, std::max<std::int64_t>(x.dim(), 1), "all");
  return logical_not(any(logical_not(x), dim, keepdim));
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined("masked_fill", {{x, "input"}, {mask, "mask"}});
  check_mask("masked_fill", mask);
  const Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_fill");
  XGRAD_CHECK(s == x.shape(), "masked_fill: the mask of shape {} does not broadcast to the input's shape {}",
              to_string(mask.shape()), to_string(x.shape()));
  // The value takes x's dtype (PyTorch), whatever it is.
  return where(mask, scalar_tensor(value, {.dtype = x.dtype()}), x);
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  check_defined("masked_select", {{x, "input"}, {mask, "mask"}});
  check_mask("masked_select", mask);
  const Shape s = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  const Tensor xb = x.shape() == s ? x : expand(x, s);
  const Tensor mb = mask.shape() == s ? mask : expand(mask, s);
  return xb.index({mb});  // a 0-d mask gives [1] or [0], as PyTorch's masked_select
}

}  // namespace xgrad
