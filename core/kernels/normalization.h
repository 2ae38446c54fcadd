#pragma once
// Private: kernels of batch_norm, layer_norm and dropout (core/kernels/normalization.cpp). They
// compute values only; ops/normalization.cpp and ops/dropout.cpp validate and record the graph.
//
// Batch norm sees x as [outer, C, inner] (N, channels, spatial) and works per channel; layer norm
// sees x as [rows, D] and works per row. Sums accumulate in float64 per row/channel.
#include <cstdint>
#include <vector>

#include "../tensor_impl.h"

namespace xgrad::kernels {

// Per-channel mean and biased variance of x viewed as [outer, C, inner].
struct ChannelMoments {
  std::vector<double> mean, var;
};
ChannelMoments channel_moments(const Tensor& x, std::int64_t outer, std::int64_t channels, std::int64_t inner);

// y = x * scale[c] + shift[c], x viewed as [outer, C, inner].
Tensor channel_affine(const Tensor& x, const std::vector<double>& scale, const std::vector<double>& shift,
                      std::int64_t outer, std::int64_t channels, std::int64_t inner);

struct NormGrads {
  Tensor dx, dweight, dbias;  // undefined where not asked for
};

// The training-mode batch-norm backward, per channel (M = outer * inner values):
//   dx = w invstd (gy - sum(gy)/M - xhat sum(gy xhat)/M),  dweight = sum(gy xhat),  dbias = sum(gy).
// mean and invstd are float64 [C]; weight is [C] or undefined (1).
NormGrads batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                              const Tensor& weight, std::int64_t outer, std::int64_t channels, std::int64_t inner,
                              bool need_dx, bool need_dweight, bool need_dbias);

// Layer norm over rows of length D: y = (x - mean) invstd * weight + bias (weight, bias [D] or
// undefined); mean and invstd (float64 [rows]) are returned for the backward.
struct LayerNormForward {
  Tensor y, mean, invstd;
};
LayerNormForward layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, std::int64_t rows,
                                    std::int64_t d, double eps);

// g = gy * weight:  dx = invstd (g - mean(g) - xhat mean(g xhat)) per row,
// dweight = sum over rows of gy xhat, dbias = sum over rows of gy (both [D]).
NormGrads layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                              const Tensor& weight, std::int64_t rows, std::int64_t d, bool need_dx,
                              bool need_dweight, bool need_dbias);

// Inverted-dropout mask in `dtype`: 1/(1-p) where kept (probability 1 - p), 0 elsewhere. Element i
// depends only on (key, i), so the mask is the same for any thread count. 0 <= p < 1.
Tensor dropout_mask(const Shape& shape, Dtype dtype, double p, std::uint64_t key);

}  // namespace xgrad::kernels
