#pragma once
// Dropout: inverted dropout in training (zeroes with probability p, scales the rest by
// 1 / (1 - p)), the identity in evaluation.
#include <string>

#include "xgrad/generator.h"
#include "xgrad/nn/module.h"

namespace xgrad::nn {

struct DropoutOptions {
  Generator* generator = nullptr;  // the masks' source; default_generator() when null
};

class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, DropoutOptions options = {});
  Dropout(Dropout&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Dropout"; }
  std::string extra_repr() const override;
  double p;
  DropoutOptions options;
};

}  // namespace xgrad::nn
