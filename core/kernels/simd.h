#pragma once
// Private: the xsimd helpers the kernels share: batches of T, a row's padded last batch, and
// exponentials defined on every input.
//
// xsimd's float64 exp and expm1 (and tanh and pow, built on them) convert round(x / ln 2) to
// int64 in a scalar loop. For NaN, +-inf or |x| beyond about 6e18 that conversion is undefined
// behaviour (-fsanitize=float-cast-overflow traps it). A batch holding such a lane therefore goes
// through the scalar std:: function; other batches, and every float32 batch (converted by an
// instruction whose result is defined), stay vectorised.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace xgrad::kernels::simd {

template <class T>
using Batch = xsimd::batch<T>;
template <class T>
constexpr std::int64_t kLanes = static_cast<std::int64_t>(Batch<T>::size);

// The first n (< lanes) values at p, padded with `fill`.
template <class T>
Batch<T> load_tail(const T* p, std::int64_t n, T fill) {
  alignas(64) T buf[kLanes<T>];
  std::fill(buf, buf + kLanes<T>, fill);
  std::memcpy(buf, p, static_cast<std::size_t>(n) * sizeof(T));
  return Batch<T>::load_aligned(buf);
}
template <class T>
void store_tail(const Batch<T>& v, T* p, std::int64_t n) {
  alignas(64) T buf[kLanes<T>];
  v.store_aligned(buf);
  std::memcpy(p, buf, static_cast<std::size_t>(n) * sizeof(T));
}
// A whole batch when `left` values remain, else the padded tail.
template <class T>
Batch<T> load_at(const T* p, std::int64_t left, T fill) {
  return left >= kLanes<T> ? Batch<T>::load_unaligned(p) : load_tail(p, left, fill);
}
template <class T>
void store_at(const Batch<T>& v, T* p, std::int64_t left) {
  if (left >= kLanes<T>) v.store_unaligned(p);
  else store_tail(v, p, left);
}

// True when xsimd's exponentials are defined on every lane of `arg` (NaN compares false).
template <class T>
bool exp_defined(const Batch<T>& arg) {
  if constexpr (std::is_same_v<T, double>) return xsimd::all(xsimd::abs(arg) <= Batch<T>(1e15));
  else return true;
}

// vector(x) when `safe`, else scalar(x) lane by lane.
template <class T, class V, class S>
Batch<T> guarded(const Batch<T>& x, bool safe, V vector, S scalar) {
  if (safe) [[likely]]
    return vector(x);
  alignas(64) T v[kLanes<T>];
  x.store_aligned(v);
  for (T& e : v) e = scalar(e);
  return Batch<T>::load_aligned(v);
}

template <class T>
Batch<T> exp(const Batch<T>& x) {
  return guarded(x, exp_defined(x), [](const Batch<T>& b) { return xsimd::exp(b); }, [](T e) { return std::exp(e); });
}
template <class T>
Batch<T> expm1(const Batch<T>& x) {
  return guarded(x, exp_defined(x), [](const Batch<T>& b) { return xsimd::expm1(b); }, [](T e) { return std::expm1(e); });
}
template <class T>
Batch<T> tanh(const Batch<T>& x) {
  return guarded(x, exp_defined(x), [](const Batch<T>& b) { return xsimd::tanh(b); }, [](T e) { return std::tanh(e); });
}
template <class T>
Batch<T> erf(const Batch<T>& x) {
  return guarded(x, exp_defined(x), [](const Batch<T>& b) { return xsimd::erf(b); }, [](T e) { return std::erf(e); });
}
// x^p for a scalar p: xsimd computes exp(p * log|x|), which is what must be safe. Its parity test
// is wrong for |p| >= 2^digits (it calls 1e30 odd), where every p is an even integer: std::pow.
template <class T>
Batch<T> pow(const Batch<T>& x, T p) {
  auto vector = [p](const Batch<T>& b) { return xsimd::pow(b, Batch<T>(p)); };
  auto scalar = [p](T e) { return std::pow(e, p); };
  if (!(std::abs(p) < std::ldexp(T(1), std::numeric_limits<T>::digits))) return guarded(x, false, vector, scalar);
  if constexpr (std::is_same_v<T, double>)
    return guarded(x, exp_defined(Batch<T>(p) * xsimd::log(xsimd::abs(x))), vector, scalar);
  else
    return vector(x);
}

// y[i] = f(x[i]) over n contiguous values; f takes and returns a Batch<T> (the tail is padded
// with `fill`, a value f is defined on).
template <class T, class F>
void map(const T* x, T* y, std::int64_t n, T fill, F f) {
  std::int64_t i = 0;
  for (; i + kLanes<T> <= n; i += kLanes<T>) f(Batch<T>::load_unaligned(x + i)).store_unaligned(y + i);
  if (i < n) store_tail(f(load_tail(x + i, n - i, fill)), y + i, n - i);
}

}  // namespace xgrad::kernels::simd
