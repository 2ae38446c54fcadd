#pragma once
// Private: reduction kernels (core/kernels/reduce.cpp). They compute values only; the ops in
// ops/reduce.cpp validate arguments and record the graph. `dims` are always wrapped, sorted and
// unique; keepdim keeps them as size 1.
#include <utility>

#include "../tensor_impl.h"

namespace xgrad::kernels {

// Sum over the given dims.
Tensor sum_dims(const Tensor& x, const Dims& dims, bool keepdim);

// Product over the given dims (1 over an empty slice).
Tensor prod_dims(const Tensor& x, const Dims& dims, bool keepdim);

// Largest (or smallest) element of the whole tensor as a 0-d tensor; NaN wins, as in PyTorch.
// The tensor must not be empty.
Tensor extreme_all(const Tensor& x, bool largest);

// Largest (or smallest) values along one dim and the int64 index of the first one (NaN wins).
// x.size(dim) must be non-zero; a 0-d x is treated as one element along dim 0.
std::pair<Tensor, Tensor> extreme_dim(const Tensor& x, std::int64_t dim, bool keepdim, bool largest);

// Index of the first largest (or smallest) element of the flattened tensor, as a 0-d int64.
Tensor arg_extreme_all(const Tensor& x, bool largest);

// Floating only: variance over dims, divided by max(0, count - correction); sqrt of it when
// take_sqrt (the standard deviation).
Tensor var_dims(const Tensor& x, const Dims& dims, std::int64_t correction, bool keepdim, bool take_sqrt);

// Floating only: log(sum(exp(x))) over dims, shifted by the finite max for stability;
// -inf over an empty slice.
Tensor logsumexp_dims(const Tensor& x, const Dims& dims, bool keepdim);

// Floating `dtype` mask of x's shape (x may be any dtype): 1 where x == value (a tensor that
// broadcasts to x), 0 elsewhere.
Tensor equal_mask(const Tensor& x, const Tensor& value, Dtype dtype);

// Floating `dtype` one-hot mask of `shape`: 1 where the position along `dim` equals `index`
// (int64, `shape` with size 1 at `dim`).
Tensor one_hot_along(const Tensor& index, std::int64_t dim, const Shape& shape, Dtype dtype);

// Number of elements equal to `value`.
std::int64_t count_equal(const Tensor& x, double value);

}  // namespace xgrad::kernels
