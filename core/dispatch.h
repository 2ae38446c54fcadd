#pragma once
// Runs a block once with `T` bound to the C++ type of a runtime dtype.
#include <cstdint>

#include "xgrad/dtype.h"

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

// Floating dtypes only; the caller has already rejected int64.
#define XGRAD_DISPATCH_FLOAT(dtype, T, ...)              \
  switch (dtype) {                                       \
    XGRAD_DISPATCH_CASE(float32, float, T, __VA_ARGS__)  \
    XGRAD_DISPATCH_CASE(float64, double, T, __VA_ARGS__) \
    case ::xgrad::Dtype::int64:                          \
      break;                                             \
  }
