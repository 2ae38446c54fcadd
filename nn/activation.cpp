#include "xgrad/nn/activation.h"

#include "xgrad/ops.h"

namespace xgrad::nn {

namespace {
const Tensor& checked(const Module& m, const Tensor& x) {
  XGRAD_CHECK(x.defined(), "{}: the input is undefined", m.type_name());
  return x;
}
}  // namespace

Tensor ReLU::forward(const Tensor& x) { return relu(checked(*this, x)); }

Tensor LeakyReLU::forward(const Tensor& x) { return leaky_relu(checked(*this, x), negative_slope); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + detail::py_float(negative_slope); }

Tensor ELU::forward(const Tensor& x) { return elu(checked(*this, x), alpha); }
std::string ELU::extra_repr() const { return "alpha=" + detail::py_float(alpha); }

GELU::GELU(std::string approx) : approximate(std::move(approx)) {
  XGRAD_CHECK(approximate == "none" || approximate == "tanh", "GELU: approximate must be 'none' or 'tanh', got '{}'",
              approximate);
}
Tensor GELU::forward(const Tensor& x) { return gelu(checked(*this, x), approximate); }
std::string GELU::extra_repr() const { return "approximate='" + approximate + "'"; }

Tensor Sigmoid::forward(const Tensor& x) { return sigmoid(checked(*this, x)); }
Tensor Tanh::forward(const Tensor& x) { return tanh(checked(*this, x)); }

Tensor Softmax::forward(const Tensor& x) { return softmax(checked(*this, x), dim); }
std::string Softmax::extra_repr() const { return fmt::format("dim={}", dim); }

Tensor LogSoftmax::forward(const Tensor& x) { return log_softmax(checked(*this, x), dim); }
std::string LogSoftmax::extra_repr() const { return fmt::format("dim={}", dim); }

Tensor Flatten::forward(const Tensor& x) { return flatten(checked(*this, x), start_dim, end_dim); }
std::string Flatten::extra_repr() const { return fmt::format("start_dim={}, end_dim={}", start_dim, end_dim); }

}  // namespace xgrad::nn
