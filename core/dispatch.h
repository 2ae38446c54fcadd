#pragma once
// Runs a block once with `T` bound to the C++ type of a runtime dtype.
#include <cstdint>
#include <type_traits>

#include "xgrad/dtype.h"

namespace xgrad::detail {
// The safety nets of the dispatch macros: ops check their dtypes first, naming themselves; a
// kernel reached with a dtype it has no code for raises these instead of leaving its output
// unwritten.
[[noreturn]] void float_dispatch_got(Dtype d);
[[noreturn]] void numeric_dispatch_got_bool();
}  // namespace xgrad::detail

#define XGRAD_DISPATCH_CASE(enum_value, type, T, ...) \
  case ::xgrad::Dtype::enum_value: {                  \
    using T = type;                                   \
    __VA_ARGS__;                                      \
    break;                                            \
  }

// The numeric dtypes (arithmetic kernels). The op has already rejected or converted bool with its
// own message; if it did not, this raises xgrad::Error ("expected a numeric tensor ..., got bool").
#define XGRAD_DISPATCH_ALL(dtype, T, ...)                    \
  switch (dtype) {                                           \
    XGRAD_DISPATCH_CASE(float32, float, T, __VA_ARGS__)      \
    XGRAD_DISPATCH_CASE(float64, double, T, __VA_ARGS__)     \
    XGRAD_DISPATCH_CASE(int64, std::int64_t, T, __VA_ARGS__) \
    case ::xgrad::Dtype::boolean:                            \
      ::xgrad::detail::numeric_dispatch_got_bool();          \
  }

// Every dtype, bool as C++ bool (accessors, printing, factories, casts).
#define XGRAD_DISPATCH_WITH_BOOL(dtype, T, ...)              \
  switch (dtype) {                                           \
    XGRAD_DISPATCH_CASE(float32, float, T, __VA_ARGS__)      \
    XGRAD_DISPATCH_CASE(float64, double, T, __VA_ARGS__)     \
    XGRAD_DISPATCH_CASE(int64, std::int64_t, T, __VA_ARGS__) \
    XGRAD_DISPATCH_CASE(boolean, bool, T, __VA_ARGS__)       \
  }

// Every dtype for kernels that only move elements (permute, slice, gather, cat): bool moves as
// std::uint8_t, its storage, so no xtensor expression is ever instantiated on C++ bool.
#define XGRAD_DISPATCH_MOVE(dtype, T, ...)                   \
  switch (dtype) {                                           \
    XGRAD_DISPATCH_CASE(float32, float, T, __VA_ARGS__)      \
    XGRAD_DISPATCH_CASE(float64, double, T, __VA_ARGS__)     \
    XGRAD_DISPATCH_CASE(int64, std::int64_t, T, __VA_ARGS__) \
    XGRAD_DISPATCH_CASE(boolean, std::uint8_t, T, __VA_ARGS__) \
  }

// Floating dtypes only. The op has already rejected int64 and bool with its own message; if it did
// not, this raises xgrad::Error ("expected a floating tensor (float32 or float64), got int64").
#define XGRAD_DISPATCH_FLOAT(dtype, T, ...)              \
  switch (dtype) {                                       \
    XGRAD_DISPATCH_CASE(float32, float, T, __VA_ARGS__)  \
    XGRAD_DISPATCH_CASE(float64, double, T, __VA_ARGS__) \
    case ::xgrad::Dtype::int64:                          \
    case ::xgrad::Dtype::boolean:                        \
      ::xgrad::detail::float_dispatch_got(dtype);        \
  }

namespace xgrad {

// The type integer kernels compute in: int64 arithmetic runs on uint64 (same bits, same buffer:
// signed and unsigned variants of a type may alias), so overflow wraps modulo 2^64 as in PyTorch
// instead of being undefined behaviour. Floating types compute in themselves.
template <class T>
using wrapping_t = std::conditional_t<std::is_same_v<T, std::int64_t>, std::uint64_t, T>;

}  // namespace xgrad
