#include "xgrad/optim/adam.h"

#include <cmath>

#include "optim_common.h"
#include "update_kernels.h"

namespace xgrad::optim {
namespace {

template <class Options>
std::vector<std::string> adam_problems(const Options& o) {
  detail::Problems p;
  p.non_negative("lr", o.lr);
  p.non_negative("eps", o.eps);
  p.require(o.betas[0] >= 0 && o.betas[0] < 1, "betas[0] = {}: expected in [0, 1)", o.betas[0]);
  p.require(o.betas[1] >= 0 && o.betas[1] < 1, "betas[1] = {}: expected in [0, 1)", o.betas[1]);
  p.non_negative("weight_decay", o.weight_decay);
  return p.list;
}

// One Adam / AdamW update of p (PyTorch's _single_tensor_adam), state created at its first step.
template <class Options>
void adam_update(Tensor p, const Tensor& grad, ParamState& state, const Options& o, bool decoupled) {
  Tensor exp_avg = state.buffer("exp_avg", p);
  Tensor exp_avg_sq = state.buffer("exp_avg_sq", p);
  Tensor max_exp_avg_sq = o.amsgrad ? state.buffer("max_exp_avg_sq", p) : Tensor();
  state.step += 1;
  const double bias_correction1 = 1 - std::pow(o.betas[0], state.step);
  const double bias_correction2 = 1 - std::pow(o.betas[1], state.step);
  const kernels::AdamRule rule{
      .grad = {.weight_decay = decoupled ? 0.0 : o.weight_decay, .maximize = o.maximize},
      .decay_factor = decoupled ? 1 - o.lr * o.weight_decay : 1.0,
      .beta1 = o.betas[0],
      .beta2 = o.betas[1],
      .eps = o.eps,
      .step_size = o.lr / bias_correction1,
      .bias_correction2_sqrt = std::sqrt(bias_correction2)};
  detail::with_float_type(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::adam<T>(p.numel(), p.mutable_data<T>(), grad.data<T>(), exp_avg.mutable_data<T>(),
                     exp_avg_sq.mutable_data<T>(), max_exp_avg_sq.defined() ? max_exp_avg_sq.mutable_data<T>() : nullptr,
                     rule);
  });
}

}  // namespace

std::vector<std::string> AdamOptions::problems() const { return adam_problems(*this); }
std::vector<std::string> AdamWOptions::problems() const { return adam_problems(*this); }

Adam::Adam(std::vector<Tensor> params, AdamOptions options)
    : Adam(std::vector<ParamGroup<AdamOptions>>{{std::move(params), options}}) {}
Adam::Adam(std::vector<ParamGroup<AdamOptions>> groups) : OptimizerWithOptions("Adam", std::move(groups)) {}

AdamW::AdamW(std::vector<Tensor> params, AdamWOptions options)
    : AdamW(std::vector<ParamGroup<AdamWOptions>>{{std::move(params), options}}) {}
AdamW::AdamW(std::vector<ParamGroup<AdamWOptions>> groups) : OptimizerWithOptions("AdamW", std::move(groups)) {}

void Adam::step() {
  update_each([&](const AdamOptions& o, Tensor& p, const Tensor& grad, ParamState& state) {
    adam_update(p, grad, state, o, /*decoupled=*/false);
  });
}

void AdamW::step() {
  update_each([&](const AdamWOptions& o, Tensor& p, const Tensor& grad, ParamState& state) {
    adam_update(p, grad, state, o, /*decoupled=*/true);
  });
}

}  // namespace xgrad::optim
