// Arithmetic with broadcasting: add, sub, mul, div, pow, maximum, minimum (elementwise.h).
#include "elementwise.h"
#include "elementwise_out.h"
#include "intrinsics.h"

#include <cmath>
#include <type_traits>

#include "../convert.h"
#include "../dispatch.h"
#include "elementwise_common.h"

namespace xgrad::kernels {

namespace {

// isnan for either an xtensor expression or a plain scalar operand (binary_into passes both).
template <class E>
auto is_nan(const E& e) {
  if constexpr (xt::is_xexpression<E>::value)
    return xt::isnan(e);
  else
    return std::isnan(e);
}

// A plain scalar operand (binary_into passes them) as an xtensor expression.
template <class E>
decltype(auto) as_xexpression(E&& e) {
  if constexpr (xt::is_xexpression<std::decay_t<E>>::value)
    return std::forward<E>(e);
  else
    return xt::xscalar<std::decay_t<E>>(e);
}

// int64 x / y in C++ semantics (truncating) with the two undefined cases defined: a zero divisor
// raises (PyTorch: "ZeroDivisionError"), INT64_MIN / -1 wraps to INT64_MIN.
inline std::int64_t int_div(std::int64_t x, std::int64_t y, const char* op_name) {
  if (y == 0) [[unlikely]]
    throw Error(fmt::format("{}: integer division by zero", op_name));
  if (y == -1) return static_cast<std::int64_t>(0 - static_cast<std::uint64_t>(x));
  return x / y;
}

// out = f(a, b) elementwise on int64 operands broadcast to out's shape, one scalar at a time
// (integer pow and division: rare, and not expressible as wrapping SIMD arithmetic).
template <class F>
void int_binary_into(const Tensor& a0, const Tensor& b0, Tensor& out, F f) {
  if (out.numel() == 0) return;
  const Tensor a = a0.shape() == out.shape() ? a0 : broadcast_copy(a0, out.shape());
  const Tensor b = b0.shape() == out.shape() ? b0 : broadcast_copy(b0, out.shape());
  const std::int64_t *x = a.impl()->data<std::int64_t>(), *y = b.impl()->data<std::int64_t>();
  std::int64_t* o = out.impl()->data<std::int64_t>();
  for (std::int64_t i = 0, n = out.numel(); i < n; ++i) o[i] = f(x[i], y[i]);
}

}  // namespace

Tensor binary(Binary op, const Tensor& a, const Tensor& b, const char* op_name) {
  Tensor out = make_tensor(broadcast_shapes(a.shape(), b.shape(), op_name), a.dtype(), op_name);
  binary_out(op, a, b, out, op_name);
  return out;
}

void binary_out(Binary op, const Tensor& a, const Tensor& b, Tensor& out, const char* op_name) {
  XGRAD_DISPATCH_ALL(a.dtype(), T, {
    using W = wrapping_t<T>;  // int64 adds, subtracts and multiplies modulo 2^64
    switch (op) {
      case Binary::add: binary_into<W>(a, b, out, [](auto&& x, auto&& y) { return x + y; }); break;
      case Binary::sub: binary_into<W>(a, b, out, [](auto&& x, auto&& y) { return x - y; }); break;
      case Binary::mul: binary_into<W>(a, b, out, [](auto&& x, auto&& y) { return x * y; }); break;
      case Binary::div:
        if constexpr (std::is_integral_v<T>)
          int_binary_into(a, b, out, [op_name](std::int64_t x, std::int64_t y) { return int_div(x, y, op_name); });
        else
          binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return x / y; });
        break;
      case Binary::pow:
        if constexpr (std::is_integral_v<T>)
          int_binary_into(a, b, out, int_pow);
        else if constexpr (std::is_same_v<T, double>)
          // Scalar std::pow: xsimd's float64 pow is undefined where y * log|x| is not finite (simd.h).
          binary_into<T>(a, b, out, [](auto&& x, auto&& y) {
            return xt::make_lambda_xfunction([](double u, double v) { return std::pow(u, v); }, as_xexpression(x),
                                             as_xexpression(y));
          });
        else
          binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return xt::pow(x, y); });
        break;
      case Binary::maximum:
        if constexpr (std::is_floating_point_v<T>)  // a NaN on either side wins, as in PyTorch
          binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return xt::where(x > y || is_nan(x), x, y); });
        else
          binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return xt::maximum(x, y); });
        break;
      case Binary::minimum:
        if constexpr (std::is_floating_point_v<T>)
          binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return xt::where(x < y || is_nan(x), x, y); });
        else
          binary_into<T>(a, b, out, [](auto&& x, auto&& y) { return xt::minimum(x, y); });
        break;
    }
  });
}

}  // namespace xgrad::kernels
