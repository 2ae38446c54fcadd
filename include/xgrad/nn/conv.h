#pragma once
// Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d. Each holds weight and
// bias and calls the op of the same name; initialisation is PyTorch's reset_parameters
// (kaiming_uniform_ with a = sqrt(5), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in taken from
// the weight as PyTorch does, so for a transposed conv it is (out/groups) * kernel numel).
#include <cstdint>
#include <string>

#include "xgrad/generator.h"
#include "xgrad/nn/module.h"
#include "xgrad/ops.h"

namespace xgrad::nn {

struct Conv1dOptions {
  std::int64_t stride = 1;
  ConvPadding padding = 0;  // an amount, "same" or "valid"
  std::int64_t dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
  Generator* generator = nullptr;
};

struct Conv2dOptions {
  Int2 stride = 1;
  ConvPadding padding = 0;
  Int2 dilation = 1;
  std::int64_t groups = 1;
  bool bias = true;
  Generator* generator = nullptr;
};

// PyTorch's argument order: stride, padding, output_padding, groups, bias, dilation.
struct ConvTranspose1dOptions {
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t output_padding = 0;
  std::int64_t groups = 1;
  bool bias = true;
  std::int64_t dilation = 1;
  Generator* generator = nullptr;
};

struct ConvTranspose2dOptions {
  Int2 stride = 1;
  Int2 padding = 0;
  Int2 output_padding = 0;
  std::int64_t groups = 1;
  bool bias = true;
  Int2 dilation = 1;
  Generator* generator = nullptr;
};

// weight [out_channels, in_channels / groups, kernel_size], bias [out_channels].
class Conv1d : public Module {
 public:
  Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size, Conv1dOptions options = {});
  Conv1d(Conv1d&&) noexcept = default;

  void reset_parameters(Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Conv1d"; }
  std::string extra_repr() const override;

  std::int64_t in_channels, out_channels, kernel_size;
  Conv1dOptions options;
  Tensor& weight;
  Tensor& bias;
};

// weight [out_channels, in_channels / groups, kh, kw], bias [out_channels].
class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, Int2 kernel_size, Conv2dOptions options = {});
  Conv2d(Conv2d&&) noexcept = default;

  void reset_parameters(Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;

  std::int64_t in_channels, out_channels;
  Int2 kernel_size;
  Conv2dOptions options;
  Tensor& weight;
  Tensor& bias;
};

// weight [in_channels, out_channels / groups, kernel_size], bias [out_channels].
class ConvTranspose1d : public Module {
 public:
  ConvTranspose1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
                  ConvTranspose1dOptions options = {});
  ConvTranspose1d(ConvTranspose1d&&) noexcept = default;

  void reset_parameters(Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ConvTranspose1d"; }
  std::string extra_repr() const override;

  std::int64_t in_channels, out_channels, kernel_size;
  ConvTranspose1dOptions options;
  Tensor& weight;
  Tensor& bias;
};

// weight [in_channels, out_channels / groups, kh, kw], bias [out_channels].
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, Int2 kernel_size,
                  ConvTranspose2dOptions options = {});
  ConvTranspose2d(ConvTranspose2d&&) noexcept = default;

  void reset_parameters(Generator* generator = nullptr);
  Tensor forward(const Tensor& input) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;

  std::int64_t in_channels, out_channels;
  Int2 kernel_size;
  ConvTranspose2dOptions options;
  Tensor& weight;
  Tensor& bias;
};

}  // namespace xgrad::nn
