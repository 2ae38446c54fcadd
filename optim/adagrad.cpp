#include "xgrad/optim/adagrad.h"

#include "optim_common.h"
#include "update_kernels.h"

namespace xgrad::optim {

std::vector<std::string> AdagradOptions::problems() const {
  detail::Problems p;
  p.non_negative("lr", lr);
  p.non_negative("lr_decay", lr_decay);
  p.non_negative("weight_decay", weight_decay);
  p.non_negative("initial_accumulator_value", initial_accumulator_value);
  p.non_negative("eps", eps);
  return p.list;
}

Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions options)
    : Adagrad(std::vector<ParamGroup<AdagradOptions>>{{std::move(params), options}}) {}

Adagrad::Adagrad(std::vector<ParamGroup<AdagradOptions>> groups)
    : OptimizerWithOptions("Adagrad", std::move(groups)) {}

void Adagrad::step() {
  update_each([&](const AdagradOptions& o, Tensor& p, const Tensor& grad, ParamState& state) {
    Tensor sum = state.buffer("sum", p, o.initial_accumulator_value);
    state.step += 1;
    const kernels::AdagradRule rule{.grad = {.weight_decay = o.weight_decay, .maximize = o.maximize},
                                    .clr = o.lr / (1 + (state.step - 1) * o.lr_decay),
                                    .eps = o.eps};
    detail::with_float_type(p.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::adagrad<T>(p.numel(), p.mutable_data<T>(), grad.data<T>(), sum.mutable_data<T>(), rule);
    });
  });
}

}  // namespace xgrad::optim
