// Comparison masks: eq, ne, lt, le, gt, ge with broadcasting (elementwise.h).
#include "elementwise.h"
#include "intrinsics.h"

#include <type_traits>

#include "../convert.h"
#include "../dispatch.h"
#include "elementwise_common.h"

namespace xgrad::kernels {

// xtensor 0.24's SIMD assignment converts the operands to the output's lane type when the two
// differ in width (float32 operands, int64 mask: 0.01 > 0 became 0 > 0). Masks are therefore
// built in the operands' dtype and cast afterwards.
Tensor compare(Compare op, const Tensor& a, const Tensor& b, Dtype out_dtype, const char* op_name) {
  if (out_dtype != a.dtype()) return cast(compare(op, a, b, a.dtype(), op_name), out_dtype);
  Tensor out = make_tensor(broadcast_shapes(a.shape(), b.shape(), op_name), out_dtype, op_name);
  XGRAD_DISPATCH_ALL(a.dtype(), T, {
    const T one = 1, zero = 0;
    auto mask = [&](auto pred) {
      binary_into<T>(a, b, out, [&](auto&& x, auto&& y) { return xt::where(pred(x, y), one, zero); });
    };
    switch (op) {
      case Compare::eq: mask([](auto&& x, auto&& y) { return xt::equal(x, y); }); break;
      case Compare::ne: mask([](auto&& x, auto&& y) { return xt::not_equal(x, y); }); break;
      case Compare::lt: mask([](auto&& x, auto&& y) { return x < y; }); break;
      case Compare::le: mask([](auto&& x, auto&& y) { return x <= y; }); break;
      case Compare::gt: mask([](auto&& x, auto&& y) { return x > y; }); break;
      case Compare::ge: mask([](auto&& x, auto&& y) { return x >= y; }); break;
    }
  });
  return out;
}

Tensor compare_scalar(Compare op, const Tensor& x, double value) {
  Tensor s = make_tensor({}, x.dtype());
  XGRAD_DISPATCH_ALL(x.dtype(), T, s.impl()->data<T>()[0] = convert<T>(value));
  return compare(op, x, s, x.dtype(), "compare");
}

}  // namespace xgrad::kernels
