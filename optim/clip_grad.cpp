#include "xgrad/optim/clip_grad.h"

#include <algorithm>
#include <cmath>

#include "optim_common.h"
#include "update_kernels.h"
#include "xgrad/grad_mode.h"

namespace xgrad::optim {

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  XGRAD_CHECK(max_norm >= 0, "clip_grad_norm_: max_norm = {}; expected >= 0", max_norm);
  XGRAD_CHECK(norm_type > 0, "clip_grad_norm_: norm_type = {}; expected > 0 or inf_norm", norm_type);
  std::vector<Tensor> grads;
  for (std::size_t i = 0; i < params.size(); ++i) {
    XGRAD_CHECK(params[i].defined(), "clip_grad_norm_: parameter {} is undefined", i);
    if (params[i].grad().defined()) grads.push_back(params[i].grad());
  }
  if (grads.empty()) return 0;

  const bool infinity = std::isinf(norm_type);
  double total = 0;  // max |g| for inf, else sum |g|^p
  for (const Tensor& g : grads)
    detail::with_float_type(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (infinity) {
        const double m = kernels::max_abs<T>(g.numel(), g.data<T>());
        total = std::isnan(m) || std::isnan(total) ? m + total : std::max(total, m);
      } else {
        total += kernels::sum_abs_pow<T>(g.numel(), g.data<T>(), norm_type);
      }
    });
  if (!infinity) total = norm_type == 2 ? std::sqrt(total) : std::pow(total, 1 / norm_type);

  XGRAD_CHECK(!error_if_nonfinite || std::isfinite(total),
              "clip_grad_norm_: the total norm of order {} of the gradients is {}; with error_if_nonfinite = "
              "false it would scale them anyway",
              norm_type, total);
  // PyTorch multiplies even when the coefficient clamps to 1 (a NaN total makes every gradient NaN).
  const double coefficient = std::min(max_norm / (total + 1e-6), 1.0);
  NoGradGuard no_grad;
  for (Tensor& g : grads) g.mul_(coefficient);
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  XGRAD_CHECK(clip_value >= 0, "clip_grad_value_: clip_value = {}; expected >= 0", clip_value);
  NoGradGuard no_grad;
  for (std::size_t i = 0; i < params.size(); ++i) {
    XGRAD_CHECK(params[i].defined(), "clip_grad_value_: parameter {} is undefined", i);
    Tensor g = params[i].grad();
    if (g.defined()) g.clamp_(-clip_value, clip_value);
  }
}

}  // namespace xgrad::optim
