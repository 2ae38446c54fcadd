#pragma once
// Private to ops/index.cpp and ops/join.cpp: the one slicing primitive behind slice, narrow,
// split, chunk and the VJP of cat.
#include "xgrad/node.h"
#include "xgrad/ops.h"

namespace xgrad::detail {

inline constexpr OpDecl kSlice{"slice", 1, "dx = zeros(x.shape) with dy written at start:stop:step"};
inline constexpr OpDecl kNarrow{"narrow", 1, "dx = pad of dy with zeros along dim"};

// x[..., start : start + length * step : step, ...] along a wrapped, checked dim, recorded as a
// node of `op` (slice, narrow, split, chunk). The whole dim is returned without a copy, still as its own node.
Tensor slice_recorded(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t step, std::int64_t length,
                      const OpDecl& op);

}  // namespace xgrad::detail
