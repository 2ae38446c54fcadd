#pragma once
// Private: the weight gradient of conv1d/conv2d as a graph op of its own (it has a VJP, so conv
// supports double backward). ops/conv.cpp defines them; tests call them directly.
#include "xgrad/ops.h"

namespace xgrad {

// d<conv(x, w), grad_output>/dw for a weight of `weight_shape`; the arguments are conv2d's.
// grad_output must have conv2d(x, w)'s shape. Unbatched x and grad_output are accepted.
Tensor conv2d_weight_grad(const Tensor& x, const Tensor& grad_output, const Shape& weight_shape, Int2 stride = 1,
                          ConvPadding padding = 0, Int2 dilation = 1, std::int64_t groups = 1);
Tensor conv1d_weight_grad(const Tensor& x, const Tensor& grad_output, const Shape& weight_shape,
                          std::int64_t stride = 1, ConvPadding padding = 0, std::int64_t dilation = 1,
                          std::int64_t groups = 1);

}  // namespace xgrad
