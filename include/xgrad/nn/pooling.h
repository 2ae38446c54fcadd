#pragma once
// Pooling layers: MaxPool1d/2d, AvgPool1d/2d, AdaptiveAvgPool1d/2d. No parameters; each calls its
// op with the options given (the stride defaults to the kernel size, as in PyTorch).
#include <cstdint>
#include <optional>
#include <string>

#include "xgrad/nn/module.h"
#include "xgrad/ops.h"

namespace xgrad::nn {

struct MaxPool1dOptions {
  std::optional<std::int64_t> stride = std::nullopt;  // kernel_size when not given
  std::int64_t padding = 0;
  std::int64_t dilation = 1;
  bool ceil_mode = false;
};

struct MaxPool2dOptions {
  std::optional<Int2> stride = std::nullopt;
  Int2 padding = 0;
  Int2 dilation = 1;
  bool ceil_mode = false;
};

struct AvgPool1dOptions {
  std::optional<std::int64_t> stride = std::nullopt;
  std::int64_t padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

struct AvgPool2dOptions {
  std::optional<Int2> stride = std::nullopt;
  Int2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<std::int64_t> divisor_override = std::nullopt;
};

class MaxPool1d : public Module {
 public:
  explicit MaxPool1d(std::int64_t kernel_size, MaxPool1dOptions options = {});
  MaxPool1d(MaxPool1d&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "MaxPool1d"; }
  std::string extra_repr() const override;
  std::int64_t kernel_size, stride;
  MaxPool1dOptions options;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Int2 kernel_size, MaxPool2dOptions options = {});
  MaxPool2d(MaxPool2d&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  Int2 kernel_size, stride;
  MaxPool2dOptions options;
};

class AvgPool1d : public Module {
 public:
  explicit AvgPool1d(std::int64_t kernel_size, AvgPool1dOptions options = {});
  AvgPool1d(AvgPool1d&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool1d"; }
  std::string extra_repr() const override;
  std::int64_t kernel_size, stride;
  AvgPool1dOptions options;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Int2 kernel_size, AvgPool2dOptions options = {});
  AvgPool2d(AvgPool2d&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  Int2 kernel_size, stride;
  AvgPool2dOptions options;
};

class AdaptiveAvgPool1d : public Module {
 public:
  explicit AdaptiveAvgPool1d(std::int64_t output_size);
  AdaptiveAvgPool1d(AdaptiveAvgPool1d&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AdaptiveAvgPool1d"; }
  std::string extra_repr() const override;
  std::int64_t output_size;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Int2 output_size);
  AdaptiveAvgPool2d(AdaptiveAvgPool2d&&) noexcept = default;
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  Int2 output_size;
};

}  // namespace xgrad::nn
