#pragma once
// Private: pooling kernels (core/kernels/pool_max.cpp, pool_avg.cpp, pool_adaptive.cpp,
// pool_windows.cpp; pool_common.h their shared helpers). They compute values only; ops/pool.cpp
// validates the arguments, plans the windows and records the graph. Every tensor here is a stack
// of `planes` contiguous 2-D planes (1-D pooling is the case in_h = out_h = 1, kernel_h = 1).
#include <cstdint>

#include "../tensor_impl.h"

namespace xgrad::kernels {

// The windows of one pooling op, identical for every plane. Output position (oh, ow) covers rows
// oh * stride_h - pad_h + i * dilation_h for i < kernel_h (clipped to the input), and the same
// for columns. Adaptive pooling uses the sizes only.
// The tap columns kw in [first, end) of a pooling window that can read the input (the others
// fall in the padding for every output); ops bound its length so huge kernels cost nothing.
struct TapSpan {
  std::int64_t first, end;
};
struct PoolWindows;
TapSpan tap_column_span(const PoolWindows& w);

struct PoolWindows {
  std::int64_t planes = 0;  // N * C (or C when unbatched)
  std::int64_t in_h = 1, in_w = 1, out_h = 1, out_w = 1;
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;
  std::int64_t dilation_h = 1, dilation_w = 1;
};

// Max pooling: y (shape out_shape, x's dtype) and the int64 flat index of each maximum within its
// input plane, as PyTorch returns them. Ties go to the first maximum in row-major window order and
// NaN wins (the last NaN, as PyTorch's CPU kernel). A window entirely in the padding (possible only
// with dilation) gives -inf and index -1, which the two kernels below skip.
std::pair<Tensor, Tensor> max_pool_forward(const Tensor& x, const PoolWindows& w, const Shape& out_shape);
// The VJP of max pooling: zeros of in_shape with each gy added at its index (within its plane).
Tensor max_pool_scatter(const Tensor& gy, const Tensor& indices, const PoolWindows& w, const Shape& in_shape);
// The adjoint of max_pool_scatter: g read at each index (within its plane), of the indices' shape.
Tensor max_pool_take(const Tensor& g, const Tensor& indices, const PoolWindows& w);

// Average pooling with PyTorch's divisor: divisor_override when non-zero, else the window size
// clipped to input + padding (count_include_pad) or to the input alone.
Tensor avg_pool_forward(const Tensor& x, const PoolWindows& w, bool count_include_pad,
                        std::int64_t divisor_override, const Shape& out_shape);
// Its adjoint: each gy divided by the same divisor and added over its window.
Tensor avg_pool_backward(const Tensor& gy, const PoolWindows& w, bool count_include_pad,
                         std::int64_t divisor_override, const Shape& in_shape);

// Adaptive average pooling: output i averages [floor(i * in / out), ceil((i + 1) * in / out)).
Tensor adaptive_avg_pool_forward(const Tensor& x, const PoolWindows& w, const Shape& out_shape);
Tensor adaptive_avg_pool_backward(const Tensor& gy, const PoolWindows& w, const Shape& in_shape);

}  // namespace xgrad::kernels
