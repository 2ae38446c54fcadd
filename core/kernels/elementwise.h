#pragma once
// Private: elementwise kernels (core/kernels/elementwise.cpp). They compute values only;
// the ops in ops/ record the graph.
#include "../tensor_impl.h"

namespace xgrad::kernels {

enum class Binary { add, sub, mul, div, pow, maximum, minimum };

// out = a (op) b with NumPy broadcasting; `a` and `b` must already share `out_dtype`.
// maximum/minimum propagate NaN, as in PyTorch.
Tensor binary(Binary op, const Tensor& a, const Tensor& b, const char* op_name);

enum class Compare { eq, ne, lt, le, gt, ge };

// 0/1 mask of a (op) b with broadcasting, in `out_dtype`; `a` and `b` must share a dtype.
// Ops use a float out_dtype to build gradient masks without a conversion.
Tensor compare(Compare op, const Tensor& a, const Tensor& b, Dtype out_dtype, const char* op_name);
// The same against a scalar, in x's own dtype: the usual gradient mask (e.g. y > 0).
Tensor compare_scalar(Compare op, const Tensor& x, double value);

// The share of dy that maximum (or minimum) routes to `a`: 1 where a is strictly larger (smaller),
// 1/2 on ties (PyTorch splits evenly), 0 otherwise; broadcast, in `out_dtype`, one pass.
Tensor extremum_share(const Tensor& a, const Tensor& b, bool maximum, Dtype out_dtype, const char* op_name);

// out = condition != 0 ? a : b, all three broadcast; `a` and `b` share a dtype, the
// condition may have any dtype.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b, const char* op_name);

// |a - b| <= atol + rtol * |b| (or a == b) everywhere, with broadcasting; same dtype; NaN is
// never close.
bool all_close(const Tensor& a, const Tensor& b, double rtol, double atol);
// Same shape and dtype assumed; true when every element is equal.
bool all_equal(const Tensor& a, const Tensor& b);

// A copy of `x` in `dtype` (the same dtype gives a plain copy in a new buffer).
Tensor cast(const Tensor& x, Dtype dtype);

// `x` materialised at a broadcast shape (the shapes are already checked).
Tensor broadcast_copy(const Tensor& x, const Shape& shape);

}  // namespace xgrad::kernels

namespace xgrad::kernels {

// Math functions (exp .. sigmoid, erf, gelu) require a floating dtype: the ops check it first.
// gelu is x Phi(x) = x (1 + erf(x / sqrt(2))) / 2; gelu_tanh PyTorch's tanh approximation
// x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))) / 2.
enum class Unary { neg, exp, log, sqrt, abs, sign, sin, cos, tanh, sigmoid, relu, erf, gelu, gelu_tanh };

// out = op(x), same shape and dtype. sign is 0 for 0 and NaN, as in PyTorch.
Tensor unary(Unary op, const Tensor& x);

// Unary ops with parameters, same shape and dtype:
//   leaky_relu(p0 = negative_slope), elu(p0 = alpha), softplus(p0 = beta, p1 = threshold),
//   clamp(p0 = min, p1 = max; +-inf for a missing bound), pow(p0 = exponent),
//   in_range: 1 where p0 <= x <= p1 else 0 (clamp's gradient mask).
enum class UnaryParam { leaky_relu, elu, softplus, clamp, pow, in_range };
Tensor unary_param(UnaryParam op, const Tensor& x, double p0, double p1 = 0.0);

}  // namespace xgrad::kernels
