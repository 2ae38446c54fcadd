#include "initial_lrs.h"

#include "xgrad/error.h"

namespace xgrad::optim::initial_lrs {

std::vector<double> attach(Optimizer& optimizer) {
  for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g)
    if (!optimizer.initial_lr(g)) optimizer.set_initial_lr(g, optimizer.lr(g));
  return get(optimizer);
}

void overwrite(Optimizer& optimizer, const std::vector<double>& lrs) {
  XGRAD_CHECK(lrs.size() == optimizer.num_param_groups(), "{}: {} initial lrs for {} parameter groups",
              optimizer.name(), lrs.size(), optimizer.num_param_groups());
  for (std::size_t g = 0; g < lrs.size(); ++g) optimizer.set_initial_lr(g, lrs[g]);
}

std::vector<double> get(const Optimizer& optimizer) {
  std::vector<double> lrs(optimizer.num_param_groups());
  for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] = optimizer.initial_lr(g).value_or(optimizer.lr(g));
  return lrs;
}

}  // namespace xgrad::optim::initial_lrs
