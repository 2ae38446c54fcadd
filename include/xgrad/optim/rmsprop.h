#pragma once
// RMSprop: PyTorch's rule (torch.optim.RMSprop). With g the gradient (negated when maximizing)
// plus weight_decay * p:
//   v = alpha * v + (1 - alpha) * g^2
//   centered: m = lerp(m, g, 1 - alpha), avg = sqrt(v - m^2) + eps; else avg = sqrt(v) + eps
//   momentum > 0: b = momentum * b + g / avg, p -= lr * b;  else p -= lr * g / avg
#include <string>
#include <vector>

#include "xgrad/optim/optimizer.h"

namespace xgrad::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0;
  bool centered = false;
  bool maximize = false;

  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("alpha", o.alpha);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("momentum", o.momentum);
    f("centered", o.centered);
    f("maximize", o.maximize);
  }
  std::vector<std::string> problems() const;
};

class RMSprop : public OptimizerWithOptions<RMSpropOptions> {
 public:
  RMSprop(std::vector<Tensor> params, RMSpropOptions options = {});
  explicit RMSprop(std::vector<ParamGroup<RMSpropOptions>> groups);

  void step() override;
  std::optional<double> momentum(std::size_t group) const override { return options(group).momentum; }
  void set_momentum(std::size_t group, double value) override { options(group).momentum = value; }

 protected:
  std::vector<std::string> buffer_names() const override { return {"square_avg", "momentum_buffer", "grad_avg"}; }
};

}  // namespace xgrad::optim
