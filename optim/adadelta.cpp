#include "xgrad/optim/adadelta.h"

#include "optim_common.h"
#include "update_kernels.h"

namespace xgrad::optim {

std::vector<std::string> AdadeltaOptions::problems() const {
  detail::Problems p;
  p.non_negative("lr", lr);
  p.require(rho >= 0 && rho <= 1, "rho = {}: expected in [0, 1]", rho);
  p.non_negative("eps", eps);
  p.non_negative("weight_decay", weight_decay);
  return p.list;
}

Adadelta::Adadelta(std::vector<Tensor> params, AdadeltaOptions options)
    : Adadelta(std::vector<ParamGroup<AdadeltaOptions>>{{std::move(params), options}}) {}

Adadelta::Adadelta(std::vector<ParamGroup<AdadeltaOptions>> groups)
    : OptimizerWithOptions("Adadelta", std::move(groups)) {}

void Adadelta::step() {
  update_each([&](const AdadeltaOptions& o, Tensor& p, const Tensor& grad, ParamState& state) {
    Tensor square_avg = state.buffer("square_avg", p);
    Tensor acc_delta = state.buffer("acc_delta", p);
    state.step += 1;
    const kernels::AdadeltaRule rule{
        .grad = {.weight_decay = o.weight_decay, .maximize = o.maximize}, .lr = o.lr, .rho = o.rho, .eps = o.eps};
    detail::with_float_type(p.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::adadelta<T>(p.numel(), p.mutable_data<T>(), grad.data<T>(), square_avg.mutable_data<T>(),
                           acc_delta.mutable_data<T>(), rule);
    });
  });
}

}  // namespace xgrad::optim
