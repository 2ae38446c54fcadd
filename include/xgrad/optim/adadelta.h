#pragma once
// Adadelta: PyTorch's rule (torch.optim.Adadelta). With g the gradient (negated when maximizing)
// plus weight_decay * p:
//   v = rho * v + (1 - rho) * g^2
//   d = sqrt(u + eps) / sqrt(v + eps) * g
//   u = rho * u + (1 - rho) * d^2;  p -= lr * d
#include <string>
#include <vector>

#include "xgrad/optim/optimizer.h"

namespace xgrad::optim {

struct AdadeltaOptions {
  double lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0;
  bool maximize = false;

  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("rho", o.rho);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("maximize", o.maximize);
  }
  std::vector<std::string> problems() const;
};

class Adadelta : public OptimizerWithOptions<AdadeltaOptions> {
 public:
  Adadelta(std::vector<Tensor> params, AdadeltaOptions options = {});
  explicit Adadelta(std::vector<ParamGroup<AdadeltaOptions>> groups);

  void step() override;

 protected:
  std::vector<std::string> buffer_names() const override { return {"square_avg", "acc_delta"}; }
};

}  // namespace xgrad::optim
