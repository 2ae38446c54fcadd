#pragma once
// Winograd convolution for 3x3 kernels, stride 1 or 2, dilation 1, groups 1, float32, on raw
// contiguous NCHW buffers. F(4x4,3x3) by default (F(2x2,3x3) on request): input tiles and filters go
// to the Winograd domain, where each of the alpha^2 frequencies (alpha = m + 2) is one sgemm over channels
// (M[tiles][K] = V[tiles][C] · U[C][K]), and the inverse transform writes the output. The weight
// gradient is dU[C][K] = V^T · Z per frequency (Z: the output gradient's tiles, A gy A^T), then
// gw = G^T dU G.
//
// Stride 2 (4x4 output tiles from 9x9 input tiles): per dimension, taps 0 and 2 read only the even
// inputs of a tile (a stride-1 2-tap filter, F(4,2): 5 frequencies) and tap 1 only the odd ones (4
// more), so 81 products per tile and channel pair instead of 144. Its input gradient runs the
// transforms' adjoints (the stride-1 one is a forward pass with flipped filters).
//
// Work runs over blocks of tiles (whole images or runs of tile rows) sized to stay in L2, spread
// over xgrad's pool with single-threaded sgemm per block. Each block's input is first re-laid out
// with channels interleaved in SIMD-register groups (16 on AVX-512), so the transforms only load
// and store whole registers. Channel counts are padded to that group size internally.
// Scratch buffers are thread_local and only grow; a worker's hold nothing once its block is done.
// The weight gradient keeps one (m+2)^2 x C x K accumulator per thread of the call (36 x C x K
// floats each for F(4x4)), all in the calling thread's scratch.
//
// Float32 error (max |err| / max |exact| on N(0,1) data, C up to 256): F(2x2) <= ~5e-7,
// F(4x4) <= ~8e-6, stride 2 <= ~3e-6 (tests/test_winograd.cpp).
#include <cstdint>

namespace xgrad::kernels::winograd {

using int64 = std::int64_t;

// Output tile size m of F(m x m, 3x3): 0 picks the default (4), else 2 or 4.
// F(4x4) does 2.25 multiplies per output instead of F(2x2)'s 4, at a larger float32 error.

// y[N,K,Ho,Wo] = x[N,C,H,W] (*) w[K,C,3,3] (+ bias[K] when not null), zero padding pad_h/pad_w
// (each 0, 1 or 2) on both sides, stride 1 or 2 (tile 0 or 4 for stride 2);
// Ho = (H + 2*pad_h - 3)/stride + 1 >= 1, likewise Wo. Overwrites y.
void conv3x3_forward(const float* x, const float* w, const float* bias, float* y, int64 N, int64 C, int64 H, int64 W,
                     int64 K, int64 pad_h, int64 pad_w, int tile = 0, int stride = 1);

// gx[N,C,H,W] = gradient of the forward above with respect to x, given gy[N,K,Ho,Wo]. Overwrites gx.
// Inputs no output reads get 0. (Stride 1: a convolution of gy with the flipped, transposed
// filters, at pad 2-p.)
void conv3x3_backward_input(const float* gy, const float* w, float* gx, int64 N, int64 C, int64 H, int64 W, int64 K,
                            int64 pad_h, int64 pad_w, int tile = 0, int stride = 1);

// gw[K,C,3,3] = gradient of the forward above with respect to w, given x and gy. Overwrites gw.
void conv3x3_backward_weight(const float* x, const float* gy, float* gw, int64 N, int64 C, int64 H, int64 W, int64 K,
                             int64 pad_h, int64 pad_w, int tile = 0, int stride = 1);

// True when this path is expected to beat im2col + GEMM for these sizes (3x3, float32, pad 1).
bool worthwhile(int64 N, int64 C, int64 H, int64 W, int64 K, int stride = 1);

}  // namespace xgrad::kernels::winograd
