#include "xgrad/optim/optimizer.h"

#include "xgrad/error.h"
#include "xgrad/grad_mode.h"

namespace xgrad::optim {

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& group : group_params_)
    for (auto& p : group) {
      if (!p.grad().defined()) continue;
      if (set_to_none) {
        p.zero_grad();
      } else {
        Tensor g = p.grad();
        g.zero_();
      }
    }
}

const std::vector<Tensor>& Optimizer::params(std::size_t group) const {
  XGRAD_CHECK(group < group_params_.size(), "{}: parameter group {} out of range ({} groups)", name(), group,
              group_params_.size());
  return group_params_[group];
}

std::vector<Tensor> Optimizer::all_params() const {
  std::vector<Tensor> out;
  for (const auto& group : group_params_) out.insert(out.end(), group.begin(), group.end());
  return out;
}

void Optimizer::set_momentum(std::size_t group, double) {
  XGRAD_CHECK(false, "{}: has no momentum to set (group {})", name(), group);
}

std::optional<double> Optimizer::initial_lr(std::size_t group) const {
  (void)params(group);  // range check
  return initial_lrs_[group];
}

void Optimizer::set_initial_lr(std::size_t group, double lr) {
  (void)params(group);
  initial_lrs_[group] = lr;
}

std::size_t Optimizer::add_group_params(std::vector<Tensor> params) {
  XGRAD_CHECK(!params.empty(), "{}: a parameter group needs at least one parameter", name());
  for (std::size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    XGRAD_CHECK(p.defined(), "{}: parameter {} of group {} is undefined", name(), i, group_params_.size());
    XGRAD_CHECK(p.dtype() == Dtype::float32 || p.dtype() == Dtype::float64,
                "{}: parameter {} of group {} is {}; expected float32 or float64", name(), i, group_params_.size(),
                dtype_name(p.dtype()));
    XGRAD_CHECK(p.is_leaf(), "{}: parameter {} of group {} is not a leaf (it has history: {}); optimize leaves",
                name(), i, group_params_.size(), p.grad_fn_name());
    for (const auto& group : group_params_)
      for (const auto& q : group)
        XGRAD_CHECK(!q.is_same(p), "{}: a parameter appears in more than one parameter group", name());
    for (std::size_t j = 0; j < i; ++j)
      XGRAD_CHECK(!params[j].is_same(p), "{}: parameter {} of group {} appears twice in the group", name(), i,
                  group_params_.size());
  }
  group_params_.push_back(std::move(params));
  initial_lrs_.emplace_back();
  return group_params_.size() - 1;
}

}  // namespace xgrad::optim
