#pragma once
// Private: softmax, log_softmax and class-target loss kernels (core/kernels/: softmax.cpp,
// cross_entropy.cpp, cross_entropy_soft.cpp, class_targets.cpp; softmax_common.h their helpers).
// A tensor is seen as [outer, classes, inner] around the softmax (class) dim: contiguous rows
// when inner == 1, otherwise the classes of one sample are `inner` apart. Rows are vectorised
// (xsimd exp) and split over the thread pool. Values only; ops/ validate and record the graph.
#include <cstdint>

#include "../tensor_impl.h"

namespace xgrad::kernels {

struct ClassLayout {
  std::int64_t outer = 1, classes = 1, inner = 1;
  std::int64_t samples() const { return outer * inner; }
};
// The layout around `dim` (already wrapped); a 0-d shape is one sample of one class.
ClassLayout layout_along(const Shape& shape, std::int64_t dim);

// y = softmax(x) (or log_softmax when `log`) along the layout's class dim; floating x.
Tensor softmax_forward(const Tensor& x, const ClassLayout& layout, bool log);
// softmax: dx = y * (gy - sum(gy * y)); log_softmax: dx = gy - exp(y) * sum(gy).
Tensor softmax_backward(const Tensor& gy, const Tensor& y, const ClassLayout& layout, bool log);

// Class targets of a loss: int64, one per sample (layout.samples()), each in [0, classes) or
// equal to ignore_index; optional class weights ([classes], the input's dtype).
struct ClassTargets {
  const Tensor& target;
  const Tensor& weight;  // may be undefined (all ones)
  std::int64_t ignore_index;
};
// Raises naming `op`, the first bad position and value; returns the total weight of the
// counted (non-ignored) targets: the divisor of a mean reduction.
double check_class_targets(const ClassTargets& t, const Shape& target_shape, std::int64_t classes, const char* op);

// Cross entropy of logits with class targets and label smoothing eps, per sample
//   -(1 - eps) w[t] logp[t] - eps/C sum_c w[c] logp[c]   (0 for an ignored target).
struct CrossEntropyValues {
  Tensor per_sample;  // [samples] when asked for, else undefined
  double sum = 0;     // of the per-sample losses
  Tensor stats;       // [2, samples]: each sample's max m and log(sum(exp(x - m))), for the backward
};
CrossEntropyValues cross_entropy_forward(const Tensor& x, const ClassLayout& layout, const ClassTargets& t,
                                         double label_smoothing, bool per_sample);
// dx = s_i (Q_i softmax(x)_i - q_i): q_i the smoothed, weighted one-hot of target i, Q_i its sum;
// s_i = gy[i] * scale when gy has one value per sample, else gy * scale. Zero for ignored samples.
Tensor cross_entropy_backward(const Tensor& gy, const Tensor& x, const Tensor& stats, const ClassLayout& layout,
                              const ClassTargets& t, double label_smoothing, double scale);
// q above, dense with x's shape (the constant part of the gradient, for double backward).
Tensor smoothed_one_hot(const Shape& shape, Dtype dtype, const ClassLayout& layout, const ClassTargets& t,
                        double label_smoothing);

// nll loss: per sample -w[t] logp[t] (0 when ignored).
struct NllValues {
  Tensor per_sample;
  double sum = 0;
};
NllValues nll_forward(const Tensor& log_probs, const ClassLayout& layout, const ClassTargets& t, bool per_sample);
// dx (of `shape`) is zero except dx[i, t_i] = -w[t_i] s_i, s_i as in cross_entropy_backward.
Tensor nll_backward(const Tensor& gy, const Shape& shape, const ClassLayout& layout, const ClassTargets& t,
                    double scale);

// Cross entropy with class-probability targets t (x's shape and dtype) and optional class
// weights w, label smoothing eps folded in as t' = (1 - eps) t + eps / C (PyTorch):
//   loss_i = -sum_c w_c t'_ic log_softmax(x)_ic.
// One fused pass per sample (max, log-sum-exp, the weighted sum); stats as above.
CrossEntropyValues soft_cross_entropy_forward(const Tensor& x, const Tensor& target, const Tensor& weight,
                                              const ClassLayout& layout, double label_smoothing, bool per_sample);
// One fused pass giving, with s_i = gy[i] * scale (gy per sample) or gy * scale (0-d gy),
//   dx_ic = s_i (Q_i softmax(x)_ic - w_c t'_ic),  Q_i = sum_c w_c t'_ic,
//   dt_ic = -s_i (1 - eps) w_c log_softmax(x)_ic.
// Either output pointer may be null (not wanted).
void soft_cross_entropy_backward(const Tensor& gy, const Tensor& x, const Tensor& target, const Tensor& weight,
                                 const Tensor& stats, const ClassLayout& layout, double label_smoothing,
                                 double scale, Tensor* dx, Tensor* dtarget);

}  // namespace xgrad::kernels
