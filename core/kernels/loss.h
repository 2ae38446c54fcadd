#pragma once
// Private: kernels of the margin losses (core/kernels/loss.cpp); ops/loss.cpp validates and
// records the graph.
#include <cstdint>
#include <vector>

#include "../tensor_impl.h"

namespace xgrad::kernels {

// Multiclass margin (hinge) loss over scores viewed as [N, C] with int64 targets in [0, C):
//   losses[i] = coef[i] * sum_{j != y_i} max(0, margin - s[i, y_i] + s[i, j])^p   (p = 1 or 2),
//   active[i, j] = 1 where j != y_i and that margin is > 0, else 0 (both in the scores' dtype).
struct MarginLoss {
  Tensor losses, active;
};
MarginLoss multiclass_margin(const Tensor& scores, const std::int64_t* target, std::int64_t n, std::int64_t c,
                             int p, double margin, const std::vector<double>& coef);

// The gradient of those losses for plain backward: with g[i] = dL/dlosses[i] * coef[i],
//   ds[i, j] = g[i] p h^(p-1) active[i, j] for j != y_i,  ds[i, y_i] = -(sum of the others).
Tensor multiclass_margin_backward(const Tensor& scores, const std::int64_t* target, const Tensor& active,
                                  const std::vector<double>& g, int p, double margin);

// [N, C] one-hot rows of int64 targets in `dtype`.
Tensor one_hot_rows(const std::int64_t* target, std::int64_t n, std::int64_t c, Dtype dtype);

}  // namespace xgrad::kernels
