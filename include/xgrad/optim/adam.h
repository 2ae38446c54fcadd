#pragma once
// Adam and AdamW: PyTorch's rules (torch.optim.Adam, torch.optim.AdamW). At step t, with g the
// gradient (negated when maximizing):
//   Adam:  g += weight_decay * p            (L2 penalty, coupled to the gradient)
//   AdamW: p *= 1 - lr * weight_decay       (decoupled decay, before the update)
//   m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g^2
//   amsgrad: v_max = max(v_max, v), used in place of v below
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#include <array>
#include <string>
#include <vector>

#include "xgrad/optim/optimizer.h"

namespace xgrad::optim {

struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0;
  bool amsgrad = false;
  bool maximize = false;

  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    f("lr", o.lr);
    f("beta1", o.betas[0]);
    f("beta2", o.betas[1]);
    f("eps", o.eps);
    f("weight_decay", o.weight_decay);
    f("amsgrad", o.amsgrad);
    f("maximize", o.maximize);
  }
  std::vector<std::string> problems() const;
};

// AdamW's options: Adam's, with PyTorch's AdamW default weight decay (decoupled).
struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;

  template <class Self, class F>
  static void fields(Self& o, F&& f) {
    AdamOptions::fields(o, f);
  }
  std::vector<std::string> problems() const;
};

class Adam : public OptimizerWithOptions<AdamOptions> {
 public:
  Adam(std::vector<Tensor> params, AdamOptions options = {});
  explicit Adam(std::vector<ParamGroup<AdamOptions>> groups);

  void step() override;
  std::optional<double> momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double value) override { options(group).betas[0] = value; }

 protected:
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }
};

class AdamW : public OptimizerWithOptions<AdamWOptions> {
 public:
  AdamW(std::vector<Tensor> params, AdamWOptions options = {});
  explicit AdamW(std::vector<ParamGroup<AdamWOptions>> groups);

  void step() override;
  std::optional<double> momentum(std::size_t group) const override { return options(group).betas[0]; }
  void set_momentum(std::size_t group, double value) override { options(group).betas[0] = value; }

 protected:
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}; }
};

}  // namespace xgrad::optim
