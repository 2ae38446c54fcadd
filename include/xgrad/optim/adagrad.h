#pragma once
// Adagrad: PyTorch's rule (torch.optim.Adagrad). At step t, with g the gradient (negated when
// maximizing) plus weight_decay * p:
//   clr = lr / (1 + (t - 1) * lr_decay);  sum += g^2;  p -= clr * g / (sqrt(sum) + eps)
// sum starts at initial_accumulator_value.
#include <string>
#include <vector>

#include "xgrad/optim/optimizer.h"

namespace xgrad::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0;
  double weight_decay = 0;
  double initial_accumulator_value = 0;
  double eps = 1e-10;
  bool maximize = false;

  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("lr_decay", o.lr_decay);
    f("weight_decay", o.weight_decay);
    f("initial_accumulator_value", o.initial_accumulator_value);
    f("eps", o.eps);
    f("maximize", o.maximize);
  }
  std::vector<std::string> problems() const;
};

class Adagrad : public OptimizerWithOptions<AdagradOptions> {
 public:
  Adagrad(std::vector<Tensor> params, AdagradOptions options = {});
  explicit Adagrad(std::vector<ParamGroup<AdagradOptions>> groups);

  void step() override;

 protected:
  std::vector<std::string> buffer_names() const override { return {"sum"}; }
};

}  // namespace xgrad::optim
