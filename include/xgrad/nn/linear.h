#pragma once
// Linear (y = x W^T + b) and Identity.
#include <cstdint>
#include <string>

#include "xgrad/generator.h"
#include "xgrad/nn/module.h"

namespace xgrad::nn {

struct LinearOptions {
  bool bias = true;
  Generator* generator = nullptr;  // for the initial weights; default_generator() when null
};

// weight [out_features, in_features] and bias [out_features], initialised as PyTorch's
// reset_parameters: kaiming_uniform_(weight, a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)), and
// bias U(-1/sqrt(in), 1/sqrt(in)).
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, LinearOptions options = {});
  Linear(Linear&&) noexcept = default;

  void reset_parameters(Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;

  std::int64_t in_features, out_features;
  Tensor& weight;
  Tensor& bias;  // undefined with {.bias = false}
};

class Identity : public Module {
 public:
  Identity() = default;
  Identity(Identity&&) noexcept = default;
  Tensor forward(const Tensor& input) override { return input; }
  std::string type_name() const override { return "Identity"; }
};

namespace detail {
// PyTorch's reset_parameters of Linear and the conv layers.
void reset_kaiming_uniform_sqrt5(const Tensor& weight, const Tensor& bias, Generator* generator);
}  // namespace detail

}  // namespace xgrad::nn
