#pragma once
// SGD with momentum, dampening, Nesterov momentum, weight decay and maximize: PyTorch's rule
// (torch.optim.SGD). With g the gradient (negated when maximizing) plus weight_decay * p:
//   b = g at the first step, else momentum * b + (1 - dampening) * g
//   p -= lr * (nesterov ? g + momentum * b : b)        (momentum 0: p -= lr * g)
#include <string>
#include <vector>

#include "xgrad/optim/optimizer.h"

namespace xgrad::optim {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;
  bool nesterov = false;
  bool maximize = false;

  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("momentum", o.momentum);
    f("dampening", o.dampening);
    f("weight_decay", o.weight_decay);
    f("nesterov", o.nesterov);
    f("maximize", o.maximize);
  }
  std::vector<std::string> problems() const;
};

class SGD : public OptimizerWithOptions<SGDOptions> {
 public:
  SGD(std::vector<Tensor> params, SGDOptions options = {});
  explicit SGD(std::vector<ParamGroup<SGDOptions>> groups);

  void step() override;
  std::optional<double> momentum(std::size_t group) const override { return options(group).momentum; }
  void set_momentum(std::size_t group, double value) override { options(group).momentum = value; }

 protected:
  std::vector<std::string> buffer_names() const override { return {"momentum_buffer"}; }
  bool counts_steps() const override { return false; }
};

}  // namespace xgrad::optim
