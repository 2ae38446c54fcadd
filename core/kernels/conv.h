#pragma once
// Private: convolution values through im2col + CBLAS GEMM (core/kernels/conv.cpp). ops/conv.cpp
// validates the arguments and records the graph.
//
// One ConvGeometry describes a convolution and its adjoint at once: the "input side" is the
// conv's input (the transposed conv's output) and the "output side" is the conv's output (the
// transposed conv's input). 1-D convs are 2-D convs with height 1. Padding is given as the
// amount before each spatial dim; the output sizes are explicit, so asymmetric padding
// ("same" with an odd total, output_padding) needs nothing more.
#include <cstdint>

#include "../tensor_impl.h"

namespace xgrad::kernels {

struct ConvGeometry {
  std::int64_t batch = 0;
  std::int64_t in_channels = 0, in_h = 1, in_w = 0;     // the conv's input
  std::int64_t out_channels = 0, out_h = 1, out_w = 0;  // the conv's output
  std::int64_t kernel_h = 1, kernel_w = 1;
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t pad_h = 0, pad_w = 0;  // before the first row / column
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t groups = 1;
};

// y [N, C_out, OH, OW] = conv(x [N, C_in, H, W], w [C_out, C_in/groups, KH, KW]) + bias[C_out].
// `bias` may be undefined. Buffers are contiguous and of one floating dtype; `y` is overwritten.
void conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const ConvGeometry& g);

// The adjoint of conv_forward in x (the transposed convolution):
// x_grad [N, C_in, H, W] = conv^T(gy [N, C_out, OH, OW], w) + bias[C_in] (bias may be undefined).
void conv_input_grad(const Tensor& gy, const Tensor& w, const Tensor& bias, Tensor& x_grad, const ConvGeometry& g);

// The adjoint of conv_forward in w: w_grad [C_out, C_in/groups, KH, KW] = sum over the batch of
// gy · im2col(x)^T.
void conv_weight_grad(const Tensor& x, const Tensor& gy, Tensor& w_grad, const ConvGeometry& g);

}  // namespace xgrad::kernels
