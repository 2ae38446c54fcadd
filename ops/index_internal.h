#pragma once
// Private to ops/index.cpp and ops/join.cpp: the one slicing primitive behind slice, narrow,
// split, chunk and the VJP of cat.
#include "xgrad/ops.h"

namespace xgrad::detail {

// x[..., start : start + length * step : step, ...] along a wrapped, checked dim, recorded as
// `name` (a static string). The whole dim is returned without a copy, still as its own node.
Tensor slice_recorded(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t step, std::int64_t length,
                      const char* name);

}  // namespace xgrad::detail
