#include "xgrad/optim/sgd.h"

#include "optim_common.h"
#include "update_kernels.h"

namespace xgrad::optim {

std::vector<std::string> SGDOptions::problems() const {
  detail::Problems p;
  p.non_negative("lr", lr);
  p.non_negative("momentum", momentum);
  p.non_negative("weight_decay", weight_decay);
  p.require(dampening == dampening, "dampening = {}: expected a number", dampening);
  p.require(!nesterov || (momentum > 0 && dampening == 0),
            "nesterov = true needs momentum > 0 and dampening = 0 (momentum = {}, dampening = {})", momentum,
            dampening);
  return p.list;
}

SGD::SGD(std::vector<Tensor> params, SGDOptions options)
    : SGD(std::vector<ParamGroup<SGDOptions>>{{std::move(params), options}}) {}

SGD::SGD(std::vector<ParamGroup<SGDOptions>> groups) : OptimizerWithOptions("SGD", std::move(groups)) {}

void SGD::step() {
  update_each([&](const SGDOptions& o, Tensor& p, const Tensor& grad, ParamState& state) {
    state.step += 1;
    Tensor buffer;
    bool first = false;
    if (o.momentum != 0) {
      first = state.find("momentum_buffer") == nullptr;  // PyTorch: buf = clone(grad) when None
      buffer = state.buffer("momentum_buffer", p);
    }
    const kernels::SgdRule rule{.grad = {.weight_decay = o.weight_decay, .maximize = o.maximize},
                                .lr = o.lr,
                                .momentum = o.momentum,
                                .dampening = o.dampening,
                                .nesterov = o.nesterov,
                                .first = first};
    detail::with_float_type(p.dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::sgd<T>(p.numel(), p.mutable_data<T>(), grad.data<T>(), buffer.defined() ? buffer.mutable_data<T>() : nullptr,
                      rule);
    });
  });
}

}  // namespace xgrad::optim
