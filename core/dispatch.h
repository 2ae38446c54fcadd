#pragma once
// Runs a block once with `T` bound to the C++ type of a runtime dtype.
#include <cstdint>
#include <type_traits>

#include "xgrad/dtype.h"

namespace xgrad::detail {
// The safety net of XGRAD_DISPATCH_FLOAT: ops check their dtypes first, naming themselves; a
// kernel reached with int64 anyway raises this instead of leaving its output unwritten.
[[noreturn]] void float_dispatch_got_int64();
}  // namespace xgrad::detail

#define XGRAD_DISPATCH_CASE(enum_value, type, T, ...) \
  case ::xgrad::Dtype::enum_value: {                  \
    using T = type;                                   \
    __VA_ARGS__;                                      \
    break;                                            \
  }

// All dtypes.
#define XGRAD_DISPATCH_ALL(dtype, T, ...)                    \
  switch (dtype) {                                           \
    XGRAD_DISPATCH_CASE(float32, float, T, __VA_ARGS__)      \
    XGRAD_DISPATCH_CASE(float64, double, T, __VA_ARGS__)     \
    XGRAD_DISPATCH_CASE(int64, std::int64_t, T, __VA_ARGS__) \
  }

// Floating dtypes only. The op has already rejected int64 with its own message; if it did not,
// this raises xgrad::Error ("expected a floating tensor (float32 or float64), got int64").
#define XGRAD_DISPATCH_FLOAT(dtype, T, ...)              \
  switch (dtype) {                                       \
    XGRAD_DISPATCH_CASE(float32, float, T, __VA_ARGS__)  \
    XGRAD_DISPATCH_CASE(float64, double, T, __VA_ARGS__) \
    case ::xgrad::Dtype::int64:                          \
      ::xgrad::detail::float_dispatch_got_int64();       \
  }

namespace xgrad {

// The type integer kernels compute in: int64 arithmetic runs on uint64 (same bits, same buffer:
// signed and unsigned variants of a type may alias), so overflow wraps modulo 2^64 as in PyTorch
// instead of being undefined behaviour. Floating types compute in themselves.
template <class T>
using wrapping_t = std::conditional_t<std::is_same_v<T, std::int64_t>, std::uint64_t, T>;

}  // namespace xgrad
