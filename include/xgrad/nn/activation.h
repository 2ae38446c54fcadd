#pragma once
// Activation layers and Flatten: parameter-free modules that call one op each.
#include <cstdint>
#include <string>

#include "xgrad/nn/module.h"

namespace xgrad::nn {

class ReLU : public Module {
 public:
  ReLU() = default;
  ReLU(ReLU&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ReLU"; }
};

class LeakyReLU : public Module {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : negative_slope(negative_slope) {}
  LeakyReLU(LeakyReLU&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LeakyReLU"; }
  std::string extra_repr() const override;
  double negative_slope;
};

class ELU : public Module {
 public:
  explicit ELU(double alpha = 1.0) : alpha(alpha) {}
  ELU(ELU&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ELU"; }
  std::string extra_repr() const override;
  double alpha;
};

// approximate: "none" (x Phi(x), the exact form) or "tanh".
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none");
  GELU(GELU&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "GELU"; }
  std::string extra_repr() const override;
  std::string approximate;
};

class Sigmoid : public Module {
 public:
  Sigmoid() = default;
  Sigmoid(Sigmoid&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public Module {
 public:
  Tanh() = default;
  Tanh(Tanh&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Tanh"; }
};

class Softmax : public Module {
 public:
  explicit Softmax(std::int64_t dim) : dim(dim) {}
  Softmax(Softmax&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Softmax"; }
  std::string extra_repr() const override;
  std::int64_t dim;
};

class LogSoftmax : public Module {
 public:
  explicit LogSoftmax(std::int64_t dim) : dim(dim) {}
  LogSoftmax(LogSoftmax&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "LogSoftmax"; }
  std::string extra_repr() const override;
  std::int64_t dim;
};

// Flattens dims start_dim..end_dim into one (PyTorch's defaults keep the batch dim).
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Flatten(Flatten&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;
  std::int64_t start_dim, end_dim;
};

}  // namespace xgrad::nn
