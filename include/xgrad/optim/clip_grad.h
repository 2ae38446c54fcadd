#pragma once
// Gradient clipping, PyTorch's torch.nn.utils.clip_grad_norm_ / clip_grad_value_ semantics.
#include <limits>
#include <vector>

#include "xgrad/tensor.h"

namespace xgrad::optim {

inline constexpr double inf_norm = std::numeric_limits<double>::infinity();

// Scales the gradients of `params` (those that have one) by min(1, max_norm / (total + 1e-6)), where
// total is the norm_type-norm of all gradients taken as one vector (inf_norm: the largest |g|).
// Returns total. With error_if_nonfinite, a NaN or infinite total raises and nothing is scaled.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2,
                       bool error_if_nonfinite = false);

// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace xgrad::optim
