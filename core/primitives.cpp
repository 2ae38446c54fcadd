// The recorded ops core needs itself: same-shape add, dtype casts (Tensor::to) and clone
// (Tensor::clone). Their VJPs are written with these same three, so double backward through the
// engine's own sums and casts stays inside core.
#include "primitives.h"

#include "arg_checks.h"
#include "kernels/elementwise.h"
#include "tensor_impl.h"

namespace xgrad {

Tensor add_same_shape(const Tensor& a, const Tensor& b) {
  Tensor y = kernels::binary(kernels::Binary::add, a, b, "add");
  record(y, "add", {a, b}, {}, [](Node&, const Tensor& gy) -> TensorList { return {gy, gy}; });
  return y;
}

Tensor Tensor::to(Dtype dtype) const {
  check_defined("to", {{*this, "self"}});
  if (this->dtype() == dtype) return *this;
  Tensor y = kernels::cast(*this, dtype);
  if (is_floating(dtype) && is_floating(this->dtype()))
    record(y, "to", {*this}, {}, [](Node& n, const Tensor& gy) -> TensorList {
      return {gy.to(n.next_edges()[0].dtype)};
    });
  return y;
}

Tensor Tensor::clone() const {
  check_defined("clone", {{*this, "self"}});
  Tensor y = kernels::cast(*this, dtype());  // always a fresh buffer
  record(y, "clone", {*this}, {}, [](Node&, const Tensor& gy) -> TensorList { return {gy}; });
  return y;
}

}  // namespace xgrad
