// Comparisons: bool masks, as in PyTorch, never differentiable, so nothing is recorded and nothing
// is registered. Operands are promoted to a common dtype first (two bools compare as int64).
#include "../core/arg_checks.h"
#include "../core/kernels/elementwise.h"
#include "xgrad/ops.h"

namespace xgrad {

namespace {

Tensor compare(kernels::Compare op, const char* name, const Tensor& a, const Tensor& b) {
  XGRAD_CHECK(a.defined() && b.defined(), "{}: an operand is an undefined tensor", name);
  Dtype d = result_type(a, b);
  if (d == boolean) d = int64;
  // Values only: the result carries no history.
  return kernels::compare(op, to_dtype(a.detach(), d), to_dtype(b.detach(), d), boolean, name);
}

}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(kernels::Compare::eq, "eq", a, b); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(kernels::Compare::ne, "ne", a, b); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(kernels::Compare::lt, "lt", a, b); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(kernels::Compare::le, "le", a, b); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(kernels::Compare::gt, "gt", a, b); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(kernels::Compare::ge, "ge", a, b); }

Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
namespace {
Tensor scalar_operand(const char* op, double value, const Tensor& like) {
  check_defined(op, {{like, "input"}});
  return scalar_like(value, like);
}
}  // namespace

Tensor operator<(const Tensor& a, double b) { return lt(a, scalar_operand("lt", b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, scalar_operand("le", b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar_operand("gt", b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, scalar_operand("ge", b, a)); }
Tensor operator==(const Tensor& a, double b) { return eq(a, scalar_operand("eq", b, a)); }
Tensor operator!=(const Tensor& a, double b) { return ne(a, scalar_operand("ne", b, a)); }

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  XGRAD_CHECK(a.defined() && b.defined(), "allclose: an operand is an undefined tensor");
  XGRAD_CHECK(rtol >= 0 && atol >= 0, "allclose: rtol and atol must be non-negative, got rtol {} atol {}", rtol,
              atol);
  Dtype d = result_type(a, b);
  if (!is_floating(d)) d = float64;  // tolerances are fractional
  return kernels::all_close(to_dtype(a.detach(), d), to_dtype(b.detach(), d), rtol, atol);
}

bool equal(const Tensor& a, const Tensor& b) {
  XGRAD_CHECK(a.defined() && b.defined(), "equal: an operand is an undefined tensor");
  if (a.shape() != b.shape()) return false;
  Dtype d = result_type(a, b);
  if (d == boolean) d = int64;
  return kernels::all_equal(to_dtype(a.detach(), d), to_dtype(b.detach(), d));
}

}  // namespace xgrad
