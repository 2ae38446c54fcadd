#include "elementwise.h"
#include "intrinsics.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "../convert.h"
#include "../dispatch.h"
#include "simd.h"
#include "xt.h"

namespace xgrad::kernels {

namespace {

// Evaluates f(A, B) into out (of value type O), picking the cheapest view for the operands'
// shapes: rank-1 flat views when shapes match or one side is a single value, else broadcasting.
template <class T, class O = T, class F>
void binary_into(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  if (out.numel() == 0) return;
  auto o = flat<O>(out);
  if (a.shape() == b.shape()) {
    xt::noalias(o) = f(flat<T>(a), flat<T>(b));
  } else if (b.numel() == 1 && a.numel() == out.numel()) {
    xt::noalias(o) = f(flat<T>(a), b.impl()->data<T>()[0]);
  } else if (a.numel() == 1 && b.numel() == out.numel()) {
    xt::noalias(o) = f(a.impl()->data<T>()[0], flat<T>(b));
  } else {
    auto os = shaped<O>(out);
    xt::noalias(os) = f(shaped<T>(a), shaped<T>(b));
  }
}

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

// A double bound as a T: integers saturate instead of overflowing (inf means "no bound").
template <class T>
T bound_as(double v) {
  return convert<T>(v);
}

// base^exponent for integers by squaring, modulo 2^64 (PyTorch's integer pow wraps the same way);
// the exponent is non-negative (the ops reject negative integer powers).
inline std::int64_t int_pow(std::int64_t base, std::int64_t exponent) {
  std::uint64_t result = 1, b = static_cast<std::uint64_t>(base);
  for (auto e = static_cast<std::uint64_t>(exponent); e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return static_cast<std::int64_t>(result);
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
  return out;
}

// xtensor 0.24's SIMD assignment converts the operands to the output's lane type when the two
// differ in width (float32 operands, int64 mask: 0.01 > 0 became 0 > 0). Masks are therefore
// built in the operands' dtype and cast afterwards.
Tensor compare(Compare op, const Tensor& a, const Tensor& b, Dtype out_dtype, const char* op_name) {
  if (out_dtype != a.dtype()) return cast(compare(op, a, b, a.dtype(), op_name), out_dtype);
  Tensor out = make_tensor(broadcast_shapes(a.shape(), b.shape(), op_name), out_dtype, op_name);
  XGRAD_DISPATCH_ALL(a.dtype(), T, {
    XGRAD_DISPATCH_ALL(out_dtype, O, {
      const O one = 1, zero = 0;
      auto mask = [&](auto pred) {
        binary_into<T, O>(a, b, out, [&](auto&& x, auto&& y) { return xt::where(pred(x, y), one, zero); });
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
  });
  return out;
}

Tensor extremum_share(const Tensor& a, const Tensor& b, bool maximum, Dtype out_dtype, const char* op_name) {
  if (out_dtype != a.dtype()) return cast(extremum_share(a, b, maximum, a.dtype(), op_name), out_dtype);
  Tensor out = make_tensor(broadcast_shapes(a.shape(), b.shape(), op_name), out_dtype, op_name);
  XGRAD_DISPATCH_ALL(a.dtype(), T, {
    XGRAD_DISPATCH_FLOAT(out_dtype, O, {
      const O one = 1, half = O(0.5), zero = 0;
      if (maximum)
        binary_into<T, O>(a, b, out, [&](auto&& x, auto&& y) { return xt::where(x > y, one, xt::where(x < y, zero, half)); });
      else
        binary_into<T, O>(a, b, out, [&](auto&& x, auto&& y) { return xt::where(x < y, one, xt::where(x > y, zero, half)); });
    });
  });
  return out;
}

Tensor compare_scalar(Compare op, const Tensor& x, double value) {
  Tensor s = make_tensor({}, x.dtype());
  XGRAD_DISPATCH_ALL(x.dtype(), T, s.impl()->data<T>()[0] = convert<T>(value));
  return compare(op, x, s, x.dtype(), "compare");
}

Tensor where(const Tensor& condition0, const Tensor& a, const Tensor& b, const char* op_name) {
  // xtensor 0.24's SIMD select mixes up lanes when the condition and the values differ in width
  // (int64 mask, float32 values: 8 vs 16 lanes per AVX-512 register) and picks wrong elements,
  // so the condition is first cast to the values' dtype.
  const Tensor condition = dtype_size(condition0.dtype()) == dtype_size(a.dtype()) ? condition0 : cast(condition0, a.dtype());
  const Shape shape = broadcast_shapes(broadcast_shapes(condition.shape(), a.shape(), op_name), b.shape(), op_name);
  Tensor out = make_tensor(shape, a.dtype(), op_name);
  if (out.numel() == 0) return out;
  // Flat (SIMD) paths when every operand is full size, or a single value on one side (the VJP's
  // where(c, dy, 0)); general broadcasting otherwise.
  const bool full_cond = condition.shape() == shape;
  XGRAD_DISPATCH_ALL(condition.dtype(), C, {
    XGRAD_DISPATCH_ALL(a.dtype(), T, {
      auto o = flat<T>(out);
      if (full_cond && a.shape() == shape && b.shape() == shape) {
        xt::noalias(o) = xt::where(xt::not_equal(flat<C>(condition), C(0)), flat<T>(a), flat<T>(b));
      } else if (full_cond && a.shape() == shape && b.numel() == 1) {
        const T bv = b.impl()->data<T>()[0];
        xt::noalias(o) = xt::where(xt::not_equal(flat<C>(condition), C(0)), flat<T>(a), bv);
      } else if (full_cond && b.shape() == shape && a.numel() == 1) {
        const T av = a.impl()->data<T>()[0];
        xt::noalias(o) = xt::where(xt::not_equal(flat<C>(condition), C(0)), av, flat<T>(b));
      } else {
        auto o = shaped<T>(out);
        xt::noalias(o) = xt::where(xt::not_equal(shaped<C>(condition), C(0)), shaped<T>(a), shaped<T>(b));
      }
    });
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

Tensor cast(const Tensor& x, Dtype dtype) {
  Tensor out = make_tensor(x.shape(), dtype);
  if (x.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), S, {
    XGRAD_DISPATCH_ALL(dtype, D, {
      if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
        // Floating -> int64 by convert.h's rule (NaN -> 0, out of range saturates); GCC
        // vectorises this loop of selects.
        const S* s = x.impl()->data<S>();
        D* o = out.impl()->data<D>();
        for (std::int64_t i = 0, n = x.numel(); i < n; ++i) o[i] = saturating_int64(s[i]);
      } else {
        auto o = flat<D>(out);
        xt::noalias(o) = xt::cast<D>(flat<S>(x));
      }
    });
  });
  return out;
}

namespace {
// Copies x into out row by row (a row is the last dim of out): each row is either a copy of a
// source row or one repeated value, so the work is memcpy/fill, never per-element indexing.
template <class T>
void broadcast_rows(const T* src, const Shape& src_shape, T* dst, const Shape& shape) {
  const std::size_t n = shape.size();
  Shape src_strides(n, 0);  // 0 along broadcast dims
  {
    const Shape contiguous = contiguous_strides(src_shape);
    const std::size_t lead = n - src_shape.size();
    for (std::size_t i = lead; i < n; ++i)
      src_strides[i] = src_shape[i - lead] == 1 ? 0 : contiguous[i - lead];
  }
  const std::int64_t row = shape[n - 1];
  const bool repeat = src_strides[n - 1] == 0;
  const std::int64_t rows = numel_of(shape) / row;
  Shape index(n, 0);
  std::int64_t offset = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    T* d = dst + r * row;
    if (repeat)
      std::fill_n(d, row, src[offset]);
    else
      std::copy_n(src + offset, row, d);
    // Advance the multi-index over all dims but the last.
    for (std::size_t k = n - 1; k-- > 0;) {
      offset += src_strides[k];
      if (++index[k] < shape[k]) break;
      offset -= src_strides[k] * shape[k];
      index[k] = 0;
    }
  }
}
}  // namespace

Tensor broadcast_copy(const Tensor& x, const Shape& shape) {
  Tensor out = make_tensor(shape, x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    if (x.numel() == 1)
      std::fill_n(out.impl()->data<T>(), out.numel(), x.impl()->data<T>()[0]);
    else
      broadcast_rows<T>(x.impl()->data<T>(), x.shape(), out.impl()->data<T>(), shape);
  });
  return out;
}

}  // namespace xgrad::kernels

namespace xgrad::kernels {

namespace {
template <class T, class F>
void unary_into(const Tensor& x, Tensor& out, F f) {
  if (out.numel() == 0) return;
  auto o = flat<T>(out);
  xt::noalias(o) = f(flat<T>(x));
}

// The exponential family on xsimd batches directly, through simd.h's guarded functions (xsimd's
// float64 versions are undefined on NaN and infinite lanes; xtensor would call them as they are).
template <class T, class F>
void batch_unary_into(const Tensor& x, Tensor& out, F f) {
  simd::map(x.impl()->data<T>(), out.impl()->data<T>(), x.numel(), T(0), f);
}

[[noreturn]] void float_only(const char* op, Dtype d) {
  throw Error(fmt::format("{}: expects a floating tensor, got {}", op, dtype_name(d)));
}
}  // namespace

Tensor unary(Unary op, const Tensor& x) {
  Tensor out = make_tensor(x.shape(), x.dtype());
  if (x.dtype() == Dtype::int64 && (op == Unary::neg || op == Unary::abs)) {
    // Modulo 2^64, as PyTorch: -INT64_MIN and abs(INT64_MIN) are INT64_MIN (not undefined).
    const auto* v = x.impl()->data<std::uint64_t>();
    auto* o = out.impl()->data<std::uint64_t>();
    const std::int64_t n = x.numel();
    if (op == Unary::neg)
      for (std::int64_t i = 0; i < n; ++i) o[i] = 0 - v[i];
    else
      for (std::int64_t i = 0; i < n; ++i) o[i] = v[i] >> 63 ? 0 - v[i] : v[i];
    return out;
  }
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    const T zero = 0, one = 1;
    switch (op) {
      case Unary::neg: unary_into<T>(x, out, [](auto&& v) { return -v; }); break;
      case Unary::abs: unary_into<T>(x, out, [](auto&& v) { return xt::abs(v); }); break;
      case Unary::sign:
        unary_into<T>(x, out, [&](auto&& v) { return xt::where(v > zero, one, xt::where(v < zero, -one, zero)); });
        break;
      // Propagates NaN and keeps the SIMD select path.
      case Unary::relu: unary_into<T>(x, out, [&](auto&& v) { return xt::where(v < zero, zero, v); }); break;
      default:
        if constexpr (std::is_floating_point_v<T>) {
          switch (op) {
            case Unary::exp: batch_unary_into<T>(x, out, [](const auto& v) { return simd::exp(v); }); break;
            case Unary::log: unary_into<T>(x, out, [](auto&& v) { return xt::log(v); }); break;
            case Unary::sqrt: unary_into<T>(x, out, [](auto&& v) { return xt::sqrt(v); }); break;
            case Unary::sin: unary_into<T>(x, out, [](auto&& v) { return xt::sin(v); }); break;
            case Unary::cos: unary_into<T>(x, out, [](auto&& v) { return xt::cos(v); }); break;
            case Unary::tanh: batch_unary_into<T>(x, out, [](const auto& v) { return simd::tanh(v); }); break;
            case Unary::sigmoid:
              batch_unary_into<T>(x, out, [&](const auto& v) { return one / (one + simd::exp(-v)); });
              break;
            default: break;
          }
        } else {
          float_only("unary", x.dtype());
        }
    }
  });
  return out;
}

Tensor unary_param(UnaryParam op, const Tensor& x, double p0, double p1) {
  Tensor out = make_tensor(x.shape(), x.dtype());
  XGRAD_DISPATCH_ALL(x.dtype(), T, {
    const T zero = 0, one = 1;
    switch (op) {
      case UnaryParam::clamp: {
        const T lo = bound_as<T>(p0), hi = bound_as<T>(p1);
        // min(max(v, lo), hi) as PyTorch: lo > hi gives hi everywhere; NaN passes through.
        const T below = lo > hi ? hi : lo;
        unary_into<T>(x, out, [&](auto&& v) { return xt::where(v < lo, below, xt::where(v > hi, hi, v)); });
        break;
      }
      case UnaryParam::in_range: {
        const T lo = bound_as<T>(p0), hi = bound_as<T>(p1);
        unary_into<T>(x, out, [&](auto&& v) { return xt::where(v >= lo && v <= hi, one, zero); });
        break;
      }
      case UnaryParam::pow:
        if constexpr (std::is_integral_v<T>) {
          // A non-negative exponent that int64 holds (the op promotes others to float).
          const std::int64_t e = convert<std::int64_t>(p0);
          const T* v = x.impl()->data<T>();
          T* o = out.impl()->data<T>();
          for (std::int64_t i = 0, n = x.numel(); i < n; ++i) o[i] = int_pow(v[i], e);
        } else if (p0 == 2.0) {
          unary_into<T>(x, out, [](auto&& v) { return v * v; });
        } else if (p0 == 1.0) {
          unary_into<T>(x, out, [](auto&& v) { return 1 * v; });
        } else {
          const T p = static_cast<T>(p0);
          batch_unary_into<T>(x, out, [&](const auto& v) { return simd::pow(v, p); });
        }
        break;
      default:
        if constexpr (std::is_floating_point_v<T>) {
          const T a = static_cast<T>(p0), b = static_cast<T>(p1);
          switch (op) {
            case UnaryParam::leaky_relu:
              unary_into<T>(x, out, [&](auto&& v) { return xt::where(v > zero, v, v * a); });
              break;
            case UnaryParam::elu:
              batch_unary_into<T>(x, out, [&](const auto& v) {
                return xsimd::select(v > simd::Batch<T>(zero), v, a * simd::expm1(v));
              });
              break;
            case UnaryParam::softplus:  // a = beta, b = threshold: linear above it, as PyTorch
              batch_unary_into<T>(x, out, [&](const auto& v) {
                return xsimd::select(v * a > simd::Batch<T>(b), v, xsimd::log1p(simd::exp(v * a)) / a);
              });
              break;
            default: break;
          }
        } else {
          float_only("unary", x.dtype());
        }
    }
  });
  return out;
}

}  // namespace xgrad::kernels
