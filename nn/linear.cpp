#include "xgrad/nn/linear.h"

#include <cmath>

#include "xgrad/nn/init.h"
#include "xgrad/ops.h"

namespace xgrad::nn {

void detail::reset_kaiming_uniform_sqrt5(const Tensor& weight, const Tensor& bias, Generator* generator) {
  init::kaiming_uniform_(weight, {.a = std::sqrt(5.0), .generator = generator});
  if (bias.defined()) {
    const std::int64_t fan_in = init::calculate_fan_in_and_fan_out(weight).first;
    const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound, generator);
  }
}

namespace {
std::int64_t checked_features(std::int64_t in, std::int64_t out) {
  XGRAD_CHECK(in >= 0 && out >= 0, "Linear: in_features ({}) and out_features ({}) must be >= 0", in, out);
  return in;
}
}  // namespace

Linear::Linear(std::int64_t in, std::int64_t out, LinearOptions options)
    : in_features(checked_features(in, out)),
      out_features(out),
      weight(register_parameter("weight", empty({out, in}))),
      bias(register_parameter("bias", options.bias ? empty({out}) : Tensor())) {
  reset_parameters(options.generator);
}

void Linear::reset_parameters(Generator* generator) { detail::reset_kaiming_uniform_sqrt5(weight, bias, generator); }

Tensor Linear::forward(const Tensor& input) {
  XGRAD_CHECK(input.defined(), "Linear: the input is undefined");
  XGRAD_CHECK(input.dim() >= 1 && input.size(-1) == in_features,
              "Linear(in_features={}, out_features={}): expected an input whose last dim is {}, got shape {}",
              in_features, out_features, in_features, to_string(input.shape()));
  return linear(input, weight, bias);
}

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features, out_features,
                     detail::py_bool(bias.defined()));
}

}  // namespace xgrad::nn
