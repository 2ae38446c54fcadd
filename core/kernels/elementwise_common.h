#pragma once
// Private to the elementwise kernel files (elementwise_*.cpp): the broadcasting evaluator they
// share and integer power.
#include <cstdint>

#include "xt.h"

namespace xgrad::kernels {

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

}  // namespace xgrad::kernels
