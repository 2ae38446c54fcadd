#pragma once
// Private: kernels that move elements around (core/kernels/layout.cpp): permutations, slices,
// gathers, concatenation, padding. They compute values only and trust their (already
// validated) arguments; the ops in ops/ check inputs and record the graph.
#include "../tensor_impl.h"

namespace xgrad::kernels {

// out[i_perm[0], ..., i_perm[n-1]] = x[i_0, ..., i_{n-1}]: a contiguous copy of x permuted.
Tensor permute_copy(const Tensor& x, const Dims& perm);

// x[..., start : start + length * step : step, ...] along `dim`, as a contiguous copy.
Tensor slice_copy(const Tensor& x, std::int64_t dim, std::int64_t start, std::int64_t step, std::int64_t length);

// The reverse of slice_copy: zeros of `out_shape` with `src` written at start::step along `dim`.
Tensor slice_embed(const Tensor& src, const Shape& out_shape, std::int64_t dim, std::int64_t start,
                   std::int64_t step);

// Constant padding: `before[d]` elements of `value` ahead of dim d (negative crops), the output
// has `out_shape`; the rest of each dim after the input is `value` too (or cropped).
Tensor pad_copy(const Tensor& x, const Shape& out_shape, const Shape& before, double value);

// Concatenation along `dim` of tensors that share out_shape except in `dim` (all of out's dtype).
Tensor concat(const TensorList& xs, std::int64_t dim, const Shape& out_shape);

// index_select / index_add along `dim` with a flat list of in-range int64 indices.
Tensor index_select(const Tensor& x, std::int64_t dim, const Tensor& index);
Tensor index_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& source);

// gather / scatter_add along `dim` (index of the same rank as x, in range; 0-d as [1]).
Tensor gather(const Tensor& x, std::int64_t dim, const Tensor& index);
Tensor scatter_add(const Tensor& x, std::int64_t dim, const Tensor& index, const Tensor& src);

}  // namespace xgrad::kernels
