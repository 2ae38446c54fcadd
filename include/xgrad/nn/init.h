#pragma once
// nn::init: PyTorch's torch.nn.init. Each fills a tensor in place without recording a graph and
// returns it; the random ones draw from `generator`, or from default_generator() (which
// manual_seed seeds) when it is null, so the same seed gives the same weights.
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "xgrad/generator.h"
#include "xgrad/tensor.h"

namespace xgrad::nn::init {

// The recommended gain for a nonlinearity: linear, conv*, conv_transpose*, sigmoid 1; tanh 5/3;
// relu sqrt(2); leaky_relu sqrt(2 / (1 + slope^2)) (slope = param, default 0.01); selu 3/4.
double calculate_gain(std::string_view nonlinearity, std::optional<double> param = std::nullopt);

// {fan_in, fan_out}: size(1) and size(0) times the product of the remaining dims. Raises for
// tensors with fewer than 2 dims.
std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

enum class FanMode { fan_in, fan_out };

struct KaimingOptions {
  double a = 0;  // the negative slope of the leaky_relu that follows
  FanMode mode = FanMode::fan_in;
  std::string_view nonlinearity = "leaky_relu";
  Generator* generator = nullptr;
};

// U(-b, b) with b = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a).
Tensor kaiming_uniform_(const Tensor& tensor, const KaimingOptions& options = {});
// N(0, std^2) with std = gain / sqrt(fan).
Tensor kaiming_normal_(const Tensor& tensor, const KaimingOptions& options = {});
// U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);
// N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& tensor, double gain = 1.0, Generator* generator = nullptr);
Tensor uniform_(const Tensor& tensor, double low = 0.0, double high = 1.0, Generator* generator = nullptr);
Tensor normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0, Generator* generator = nullptr);
Tensor constant_(const Tensor& tensor, double value);
Tensor zeros_(const Tensor& tensor);
Tensor ones_(const Tensor& tensor);

}  // namespace xgrad::nn::init
