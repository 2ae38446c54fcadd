#include "xgrad/optim/rmsprop.h"

#include "optim_common.h"
#include "update_kernels.h"

namespace xgrad::optim {

std::vector<std::string> RMSpropOptions::problems() const {
  detail::Problems p;
  p.non_negative("lr", lr);
  p.non_negative("alpha", alpha);
  p.non_negative("eps", eps);
  p.non_negative("weight_decay", weight_decay);
  p.non_negative("momentum", momentum);
  return p.list;
}

RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions options)
    : RMSprop(std::vector<ParamGroup<RMSpropOptions>>{{std::move(params), options}}) {}

RMSprop::RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups)
    : OptimizerWithOptions("RMSprop", std::move(groups)) {}

void RMSprop::step() {
  update_each([&](const RMSpropOptions& o, Tensor& p, const Tensor& grad, ParamState& state) {
    Tensor square_avg = state.buffer("square_avg", p);
    // Buffers only the enabled options use (a group may turn them on later: they start at zero).
    Tensor momentum_buffer = o.momentum > 0 ? state.buffer("momentum_buffer", p) : Tensor();
    Tensor grad_avg = o.centered ? state.buffer("grad_avg", p) : Tensor();
    state.step += 1;
    const kernels::RmspropRule rule{.grad = {.weight_decay = o.weight_decay, .maximize = o.maximize},
                                    .lr = o.lr,
                                    .alpha = o.alpha,
                                    .eps = o.eps,
                                    .momentum = o.momentum};
    detail::with_float_type(p.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::rmsprop<T>(p.numel(), p.mutable_data<T>(), grad.data<T>(), square_avg.mutable_data<T>(),
                          grad_avg.defined() ? grad_avg.mutable_data<T>() : nullptr,
                          momentum_buffer.defined() ? momentum_buffer.mutable_data<T>() : nullptr, rule);
    });
  });
}

}  // namespace xgrad::optim
