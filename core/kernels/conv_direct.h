#pragma once
// Private: direct (no im2col) float32 convolution for convs with few input channels, the first
// layer of a CNN (core/kernels/conv_direct.cpp). There the im2col GEMMs have an inner dimension
// of C_in * KH * KW (9 for a 1-channel 3x3 conv) and are memory-bound; these kernels read the
// input once, keep it padded in L1 and write each output once.
//
// Work is vectorised over runs of 16 output columns (a row's last run is masked). Forward: each
// padded input vector serves a block of output channels held in registers. Weight gradient: the
// dot products of gy[n,k] with the shifted input planes, a block of channels x taps per pass, gy
// read once per (image, channel). Input gradient: for a group of positions, the per-tap sums
// z[c,tap] = sum_k w[k,c,tap] gy[k] are formed in registers and added, shifted by their tap,
// into a padded L1 copy of the image gradient.
//
// Requires groups == 1, stride 1 and dilation 1 (checked); any padding and explicit output size
// (ConvGeometry's pad is the amount before; rows and columns beyond the input read zeros).
// Buffers are contiguous NCHW float32. Built with AVX-512 the kernels use it; otherwise a
// portable path with the same structure runs (worthwhile() is then false).
#include "conv.h"

namespace xgrad::kernels::direct {

// True where this path beats im2col + GEMM (measured on a Zen 4, AVX-512; false without
// AVX-512). Float32 is the caller's business; here groups == 1, stride 1, dilation 1,
// in_channels <= 4, kernel <= 7 each way, in_channels * KH * KW >= 9 and out_w >= 16.
bool worthwhile(const ConvGeometry& g);

// y [N, C_out, OH, OW] = conv(x [N, C_in, H, W], w [C_out, C_in, KH, KW]) + bias[C_out] (bias
// may be null). Overwrites y.
void conv_forward(const float* x, const float* w, const float* bias, float* y, const ConvGeometry& g);

// x_grad [N, C_in, H, W]: the adjoint of conv_forward in x applied to gy [N, C_out, OH, OW].
// Overwrites x_grad.
void conv_input_grad(const float* gy, const float* w, float* x_grad, const ConvGeometry& g);

// w_grad [C_out, C_in, KH, KW] = sum over the batch of gy · shifted x; bias_grad [C_out] (when not
// null) = sum of gy over batch and positions. Overwrites both.
void conv_weight_grad(const float* x, const float* gy, float* w_grad, float* bias_grad, const ConvGeometry& g);

namespace testing {
// Runs the following calls on the portable path even in an AVX-512 build (tests only).
void force_portable(bool on);
}  // namespace testing

}  // namespace xgrad::kernels::direct
