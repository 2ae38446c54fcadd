// Unary math with and without parameters: neg .. relu, erf, gelu, leaky_relu, elu, softplus, clamp, pow.
#include "elementwise.h"
#include "intrinsics.h"

#include <cmath>
#include <type_traits>

#include "../convert.h"
#include "../dispatch.h"
#include "elementwise_common.h"
#include "simd.h"

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

// A double bound as a T: integers saturate instead of overflowing (inf means "no bound").
template <class T>
T bound_as(double v) {
  return convert<T>(v);
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
            case Unary::erf: batch_unary_into<T>(x, out, [](const auto& v) { return simd::erf(v); }); break;
            case Unary::gelu:
              batch_unary_into<T>(x, out, [&](const auto& v) {
                const T half = 0.5, inv_sqrt2 = 0.70710678118654752440;
                return half * v * (one + simd::erf(v * inv_sqrt2));
              });
              break;
            case Unary::gelu_tanh:
              batch_unary_into<T>(x, out, [&](const auto& v) {
                const T half = 0.5, sqrt_2_over_pi = 0.79788456080286535588, c = 0.044715;
                return half * v * (one + simd::tanh(sqrt_2_over_pi * (v + c * v * v * v)));
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
