#pragma once
// Private: kernels that move elements around (core/kernels/layout.cpp): permutations, slices,
// gathers, concatenation, padding.
#include "../tensor_impl.h"

namespace xgrad::kernels {

// out[i_perm[0], ..., i_perm[n-1]] = x[i_0, ..., i_{n-1}]: a contiguous copy of x permuted.
Tensor permute_copy(const Tensor& x, const Dims& perm);

}  // namespace xgrad::kernels
