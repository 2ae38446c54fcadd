#pragma once
// Private: binary arithmetic into an existing tensor (the in-place ops of ops/inplace.cpp).
#include "elementwise.h"

namespace xgrad::kernels {

// out = a (op) b with b broadcast to out's shape; a has out's shape and all three share one dtype.
// `out` may be `a` itself (every element is read before it is written, at the same index), never an
// alias of `b`. Integer division raises on a zero divisor after writing part of out: callers only
// use float division.
void binary_out(Binary op, const Tensor& a, const Tensor& b, Tensor& out, const char* op_name);

}  // namespace xgrad::kernels
