#pragma once
// Value conversions between the dtypes' C++ types with every input defined.
//
// Floating -> int64: NaN gives 0, values beyond the int64 range (the infinities included)
// saturate to INT64_MIN / INT64_MAX, everything else truncates toward zero. C++ leaves the
// out-of-range cases undefined; x86 returns INT64_MIN for all of them (what PyTorch shows there),
// which turns 1e30 into a large negative number. Saturating keeps the sign and the nearest
// representable value, is what Rust's `as`, Java and ARM's fcvtzs do, and makes
// clamp-then-convert and convert-then-clamp agree.
#include <cstdint>
#include <limits>
#include <type_traits>

namespace xgrad {

template <class F>
inline std::int64_t saturating_int64(F v) {
  static_assert(std::is_floating_point_v<F>);
  constexpr F upper = F(0x1p63);  // 2^63: exact in float and double, the first value out of range
  // The largest F below 2^63 (2^63 - 2^39 for float, 2^63 - 2^10 for double).
  constexpr F below_upper = upper - upper * std::numeric_limits<F>::epsilon() / 2;
  // Written as selects so the loops that use it stay vectorised.
  F c = v < -upper ? -upper : v;
  c = c > below_upper ? below_upper : c;
  c = v == v ? c : F(0);  // NaN
  const auto r = static_cast<std::int64_t>(c);
  return v >= upper ? std::numeric_limits<std::int64_t>::max() : r;
}

// static_cast, except floating -> int64 by the rule above, and anything -> bool as "nonzero"
// (NaN is nonzero, as in PyTorch; 0.5 is true, not truncated).
template <class To, class From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, bool>)
    return v != From(0);
  else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>)
    return static_cast<To>(saturating_int64(v));
  else
    return static_cast<To>(v);
}

// True when v is a whole number that int64 holds exactly (2^63 and beyond are not).
inline bool is_int64_value(double v) {
  return v >= -0x1p63 && v < 0x1p63 && static_cast<double>(static_cast<std::int64_t>(v)) == v;
}

}  // namespace xgrad
