#include "xgrad/nn/dropout.h"

#include "xgrad/ops.h"

namespace xgrad::nn {

Dropout::Dropout(double prob, DropoutOptions o) : p(prob), options(o) {
  XGRAD_CHECK(p >= 0 && p <= 1, "Dropout: probability has to be between 0 and 1, but got {}", p);
}

Tensor Dropout::forward(const Tensor& x) {
  XGRAD_CHECK(x.defined(), "Dropout: the input is undefined");
  if (options.generator != nullptr) return dropout(x, p, is_training(), *options.generator);
  return dropout(x, p, is_training());
}

std::string Dropout::extra_repr() const { return "p=" + detail::py_float(p) + ", inplace=False"; }

}  // namespace xgrad::nn
