#pragma once
// Private: kernels of the margin and pointwise losses (core/kernels/loss.cpp); ops/loss.cpp validates and
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

// ---- pointwise losses over operands of one shape and dtype (float32/float64), one fused pass.
// The sum is accumulated in float64 over fixed blocks whose partial sums are added in order, so
// the result does not depend on the thread count. With per_element, the losses are also returned.
struct PointwiseLoss {
  Tensor per_element;  // x's shape, when asked for
  double sum = 0;
};
// (x - t)^2 when squared, else |x - t|.
PointwiseLoss regression_forward(const Tensor& x, const Tensor& t, bool squared, bool per_element);
// g_k = gy[k] * scale (gy of x's shape) or gy * scale (0-d gy); dx = g 2 (x - t) (squared) or
// g sign(x - t); dt = -dx. Null outputs are skipped.
void regression_backward(const Tensor& x, const Tensor& t, bool squared, const Tensor& gy, double scale, Tensor* dx,
                         Tensor* dt);

// Binary cross entropy with logits, w and pw undefined or of x's shape:
//   l = w ((1 - t) x + c softplus(-x)),  c = 1 + (pw - 1) t,
// softplus(-x) = max(-x, 0) + log1p(exp(-|x|)) (exact, finite for any finite x).
PointwiseLoss bce_logits_forward(const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw,
                                 bool per_element);
// With g as above: dx = g w ((1 - t) - c sigmoid(-x)), dt = g w ((pw - 1) softplus(-x) - x),
// dw = g l / w, dpw = g w t softplus(-x). Null outputs are skipped.
struct BceGrads {
  Tensor *dx = nullptr, *dt = nullptr, *dw = nullptr, *dpw = nullptr;
};
void bce_logits_backward(const Tensor& x, const Tensor& t, const Tensor& w, const Tensor& pw, const Tensor& gy,
                         double scale, const BceGrads& out);

}  // namespace xgrad::kernels
