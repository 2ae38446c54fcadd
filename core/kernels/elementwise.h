#pragma once
// Private: elementwise kernels (core/kernels/elementwise.cpp). They compute values only;
// the ops in ops/ record the graph.
#include "../tensor_impl.h"

namespace xgrad::kernels {

enum class Binary { add, sub, mul, div };

// out = a (op) b with NumPy broadcasting; `a` and `b` must already share `out_dtype`.
Tensor binary(Binary op, const Tensor& a, const Tensor& b, const char* op_name);

// A copy of `x` in another dtype.
Tensor cast(const Tensor& x, Dtype dtype);

// `x` materialised at a broadcast shape (the shapes are already checked).
Tensor broadcast_copy(const Tensor& x, const Shape& shape);

}  // namespace xgrad::kernels

namespace xgrad::kernels {

enum class Unary { neg, exp };

// out = op(x), same shape and dtype.
Tensor unary(Unary op, const Tensor& x);

}  // namespace xgrad::kernels
