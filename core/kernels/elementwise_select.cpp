// Selection and closeness: where, the maximum/minimum gradient share, all_close, all_equal.
#include "elementwise.h"
#include "intrinsics.h"

#include <limits>

#include "../dispatch.h"
#include "elementwise_common.h"

namespace xgrad::kernels {

Tensor extremum_share(const Tensor& a, const Tensor& b, bool maximum, Dtype out_dtype, const char* op_name) {
  if (out_dtype != a.dtype()) return cast(extremum_share(a, b, maximum, a.dtype(), op_name), out_dtype);
  Tensor out = make_tensor(broadcast_shapes(a.shape(), b.shape(), op_name), out_dtype, op_name);
  XGRAD_DISPATCH_FLOAT(a.dtype(), T, {
    const T one = 1, half = T(0.5), zero = 0;
    if (maximum)
      binary_into<T>(a, b, out, [&](auto&& x, auto&& y) { return xt::where(x > y, one, xt::where(x < y, zero, half)); });
    else
      binary_into<T>(a, b, out, [&](auto&& x, auto&& y) { return xt::where(x < y, one, xt::where(x > y, zero, half)); });
  });
  return out;
}

Tensor where(const Tensor& condition0, const Tensor& a, const Tensor& b, const char* op_name) {
  // xtensor 0.24's SIMD select mixes up lanes when the condition and the values differ in width
  // (int64 mask, float32 values: 8 vs 16 lanes per AVX-512 register) and picks wrong elements,
  // so the condition is first cast to the values' dtype (always: one condition type per dtype
  // keeps this file's instantiations, and its compile time, down). Casting keeps "nonzero" for
  // an int64 condition; a floating one (1e-300 is 0 as float32) is made a 0/1 mask first.
  const Tensor condition = condition0.dtype() == a.dtype() ? condition0
                           : condition0.dtype() == Dtype::int64 || condition0.dtype() == Dtype::boolean
                               ? cast(condition0, a.dtype())
                               : cast(compare_scalar(Compare::ne, condition0, 0.0), a.dtype());
  const Shape shape = broadcast_shapes(broadcast_shapes(condition.shape(), a.shape(), op_name), b.shape(), op_name);
  Tensor out = make_tensor(shape, a.dtype(), op_name);
  if (out.numel() == 0) return out;
  // Flat (SIMD) paths when every operand is full size, or a single value on one side (the VJP's
  // where(c, dy, 0)); general broadcasting otherwise.
  const bool full_cond = condition.shape() == shape;
  XGRAD_DISPATCH_ALL(a.dtype(), T, {
    const T zero = 0;
    auto o = flat<T>(out);
    if (full_cond && a.shape() == shape && b.shape() == shape) {
      xt::noalias(o) = xt::where(xt::not_equal(flat<T>(condition), zero), flat<T>(a), flat<T>(b));
    } else if (full_cond && a.shape() == shape && b.numel() == 1) {
      xt::noalias(o) = xt::where(xt::not_equal(flat<T>(condition), zero), flat<T>(a), b.impl()->data<T>()[0]);
    } else if (full_cond && b.shape() == shape && a.numel() == 1) {
      xt::noalias(o) = xt::where(xt::not_equal(flat<T>(condition), zero), a.impl()->data<T>()[0], flat<T>(b));
    } else {
      auto os = shaped<T>(out);
      xt::noalias(os) = xt::where(xt::not_equal(shaped<T>(condition), zero), shaped<T>(a), shaped<T>(b));
    }
  });
  return out;
}

bool all_close(const Tensor& a, const Tensor& b, double rtol, double atol) {
  broadcast_shapes(a.shape(), b.shape(), "allclose");
  if (a.numel() == 0 || b.numel() == 0) return true;
  bool result = true;
  XGRAD_DISPATCH_ALL(a.dtype(), T, {
    const T rt = static_cast<T>(rtol), at = static_cast<T>(atol), largest = std::numeric_limits<T>::max();
    // As PyTorch's isclose: unequal values are close only at a finite distance, so inf and
    // -inf (or inf and a finite value with an infinite allowance) are not.
    auto close = [&](auto&& x, auto&& y) {
      return xt::all(xt::equal(x, y) || xt::abs(x - y) <= xt::minimum(at + rt * xt::abs(y), largest));
    };
    result = a.shape() == b.shape() ? close(flat<T>(a), flat<T>(b)) : close(shaped<T>(a), shaped<T>(b));
  });
  return result;
}

bool all_equal(const Tensor& a, const Tensor& b) {
  if (a.numel() == 0) return true;
  bool result = true;
  XGRAD_DISPATCH_ALL(a.dtype(), T, result = xt::all(xt::equal(flat<T>(a), flat<T>(b))));
  return result;
}

}  // namespace xgrad::kernels
