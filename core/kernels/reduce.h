#pragma once
// Private: reduction kernels (core/kernels/reduce.cpp).
#include "../tensor_impl.h"

namespace xgrad::kernels {

// Sum over the given (wrapped, sorted, unique) dims; keepdim keeps them as size 1.
Tensor sum_dims(const Tensor& x, const Dims& dims, bool keepdim);

}  // namespace xgrad::kernels
