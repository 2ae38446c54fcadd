// Tensor's convenience methods: thin forwards to the free ops, kept out of tensor.cpp so the
// core compiles without the op families.
#include "xgrad/ops.h"

namespace xgrad {

Tensor Tensor::reshape(const Shape& s) const { return xgrad::reshape(*this, s); }
Tensor Tensor::sum() const { return xgrad::sum(*this); }
Tensor Tensor::mean() const { return xgrad::mean(*this); }
Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const { return xgrad::transpose(*this, d0, d1); }
Tensor Tensor::t() const {
  XGRAD_CHECK(defined(), "t: called on an undefined tensor (a default-constructed Tensor, or the .grad() of a tensor "
                         "that no backward pass has reached)");
  XGRAD_CHECK(dim() <= 2, "t: expects a tensor with at most 2 dims, got shape {}", to_string(shape()));
  return dim() < 2 ? *this : xgrad::transpose(*this, 0, 1);
}

}  // namespace xgrad
