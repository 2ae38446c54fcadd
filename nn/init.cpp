#include "xgrad/nn/init.h"

#include <cmath>
#include <string>

#include "xgrad/error.h"
#include "xgrad/grad_mode.h"

namespace xgrad::nn::init {

namespace {

void check_tensor(const char* fn, const Tensor& t) {
  XGRAD_CHECK(t.defined(), "nn::init::{}: the tensor is undefined", fn);
  XGRAD_CHECK(is_floating(t.dtype()), "nn::init::{}: the tensor is {}; expected float32 or float64", fn,
              dtype_name(t.dtype()));
}

Generator& pick(Generator* g) { return g != nullptr ? *g : default_generator(); }

std::int64_t fan_for(const char* fn, const Tensor& t, FanMode mode) {
  XGRAD_CHECK(t.dim() >= 2, "nn::init::{}: fan in and fan out cannot be computed for a tensor with fewer than 2 dims "
              "(shape {})", fn, to_string(t.shape()));
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return mode == FanMode::fan_in ? fan_in : fan_out;
}

// Fills under no-grad; a handle copy writes into the same buffer.
Tensor fill_uniform(const Tensor& tensor, double low, double high, Generator* g) {
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.uniform_(low, high, pick(g));
  return t;
}

Tensor fill_normal(const Tensor& tensor, double mean, double std, Generator* g) {
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.normal_(mean, std, pick(g));
  return t;
}

}  // namespace

double calculate_gain(std::string_view nonlinearity, std::optional<double> param) {
  const std::string nl(nonlinearity);
  if (nl == "linear" || nl == "conv1d" || nl == "conv2d" || nl == "conv3d" || nl == "conv_transpose1d" ||
      nl == "conv_transpose2d" || nl == "conv_transpose3d" || nl == "sigmoid")
    return 1.0;
  if (nl == "tanh") return 5.0 / 3.0;
  if (nl == "relu") return std::sqrt(2.0);
  if (nl == "leaky_relu") {
    const double slope = param.value_or(0.01);
    return std::sqrt(2.0 / (1.0 + slope * slope));
  }
  if (nl == "selu") return 3.0 / 4.0;
  XGRAD_CHECK(false, "nn::init::calculate_gain: unsupported nonlinearity '{}' (expected linear, conv1d, conv2d, "
              "conv3d, conv_transpose1d/2d/3d, sigmoid, tanh, relu, leaky_relu or selu)", nl);
  return 0;
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  XGRAD_CHECK(tensor.defined(), "nn::init::calculate_fan_in_and_fan_out: the tensor is undefined");
  XGRAD_CHECK(tensor.dim() >= 2,
              "nn::init::calculate_fan_in_and_fan_out: fan in and fan out cannot be computed for a tensor with "
              "fewer than 2 dims (shape {})", to_string(tensor.shape()));
  std::int64_t receptive_field = 1;
  for (std::int64_t d = 2; d < tensor.dim(); ++d) receptive_field *= tensor.size(d);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

Tensor kaiming_uniform_(const Tensor& tensor, const KaimingOptions& o) {
  check_tensor("kaiming_uniform_", tensor);
  const std::int64_t fan = fan_for("kaiming_uniform_", tensor, o.mode);
  if (tensor.numel() == 0) return tensor;  // PyTorch warns and leaves an empty tensor alone
  const double std = calculate_gain(o.nonlinearity, o.a) / std::sqrt(static_cast<double>(fan));
  const double bound = std::sqrt(3.0) * std;
  return fill_uniform(tensor, -bound, bound, o.generator);
}

Tensor kaiming_normal_(const Tensor& tensor, const KaimingOptions& o) {
  check_tensor("kaiming_normal_", tensor);
  const std::int64_t fan = fan_for("kaiming_normal_", tensor, o.mode);
  if (tensor.numel() == 0) return tensor;
  const double std = calculate_gain(o.nonlinearity, o.a) / std::sqrt(static_cast<double>(fan));
  return fill_normal(tensor, 0.0, std, o.generator);
}

Tensor xavier_uniform_(const Tensor& tensor, double gain, Generator* generator) {
  check_tensor("xavier_uniform_", tensor);
  fan_for("xavier_uniform_", tensor, FanMode::fan_in);
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  const double bound = std::sqrt(3.0) * std;
  return fill_uniform(tensor, -bound, bound, generator);
}

Tensor xavier_normal_(const Tensor& tensor, double gain, Generator* generator) {
  check_tensor("xavier_normal_", tensor);
  fan_for("xavier_normal_", tensor, FanMode::fan_in);
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out));
  return fill_normal(tensor, 0.0, std, generator);
}

Tensor uniform_(const Tensor& tensor, double low, double high, Generator* generator) {
  check_tensor("uniform_", tensor);
  XGRAD_CHECK(low <= high, "nn::init::uniform_: low ({}) must not exceed high ({})", low, high);
  return fill_uniform(tensor, low, high, generator);
}

Tensor normal_(const Tensor& tensor, double mean, double std, Generator* generator) {
  check_tensor("normal_", tensor);
  XGRAD_CHECK(std >= 0, "nn::init::normal_: std must be >= 0, got {}", std);
  return fill_normal(tensor, mean, std, generator);
}

Tensor constant_(const Tensor& tensor, double value) {
  XGRAD_CHECK(tensor.defined(), "nn::init::constant_: the tensor is undefined");
  NoGradGuard no_grad;
  Tensor t = tensor;
  t.fill_(value);
  return t;
}

Tensor zeros_(const Tensor& tensor) { return constant_(tensor, 0.0); }
Tensor ones_(const Tensor& tensor) { return constant_(tensor, 1.0); }

}  // namespace xgrad::nn::init
