// Tensor's convenience methods: thin forwards to the free ops, kept out of tensor.cpp so the
// core compiles without the op families.
#include "xgrad/ops.h"

namespace xgrad {

Tensor Tensor::reshape(const Shape& s) const { return xgrad::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const { return xgrad::reshape(*this, s); }
Tensor Tensor::sum() const { return xgrad::sum(*this); }
Tensor Tensor::sum(const Dims& dims, bool keepdim) const { return xgrad::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return xgrad::mean(*this); }
Tensor Tensor::mean(const Dims& dims, bool keepdim) const { return xgrad::mean(*this, dims, keepdim); }
Tensor Tensor::max() const { return xgrad::max(*this); }
Tensor Tensor::min() const { return xgrad::min(*this); }
Tensor Tensor::argmax() const { return xgrad::argmax(*this); }
Tensor Tensor::argmax(std::int64_t dim, bool keepdim) const { return xgrad::argmax(*this, dim, keepdim); }
Tensor Tensor::argmin() const { return xgrad::argmin(*this); }
Tensor Tensor::argmin(std::int64_t dim, bool keepdim) const { return xgrad::argmin(*this, dim, keepdim); }
Tensor Tensor::permute(const Dims& dims) const { return xgrad::permute(*this, dims); }
Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
  return xgrad::flatten(*this, start_dim, end_dim);
}
Tensor Tensor::squeeze() const { return xgrad::squeeze(*this); }
Tensor Tensor::squeeze(std::int64_t dim) const { return xgrad::squeeze(*this, dim); }
Tensor Tensor::unsqueeze(std::int64_t dim) const { return xgrad::unsqueeze(*this, dim); }
Tensor Tensor::neg() const { return xgrad::neg(*this); }
Tensor Tensor::exp() const { return xgrad::exp(*this); }
Tensor Tensor::log() const { return xgrad::log(*this); }
Tensor Tensor::sqrt() const { return xgrad::sqrt(*this); }
Tensor Tensor::abs() const { return xgrad::abs(*this); }
Tensor Tensor::pow(double exponent) const { return xgrad::pow(*this, exponent); }
Tensor Tensor::pow(const Tensor& exponent) const { return xgrad::pow(*this, exponent); }
Tensor Tensor::relu() const { return xgrad::relu(*this); }
Tensor Tensor::sigmoid() const { return xgrad::sigmoid(*this); }
Tensor Tensor::tanh() const { return xgrad::tanh(*this); }
Tensor Tensor::softmax(std::int64_t dim) const { return xgrad::softmax(*this, dim); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return xgrad::log_softmax(*this, dim); }

// x[i]: one slice along dim 0, without the dim (PyTorch's select), recorded as narrow + squeeze.
Tensor Tensor::operator[](std::int64_t i) const {
  XGRAD_CHECK(defined(), "operator[]: called on an undefined tensor");
  XGRAD_CHECK(dim() > 0, "operator[]: a 0-d tensor cannot be indexed (index {}); use item()", i);
  const std::int64_t n = size(0);
  XGRAD_CHECK(i >= -n && i < n, "operator[]: index {} is out of range for dim 0 of size {} (shape {})", i, n,
              to_string(shape()));
  return xgrad::squeeze(xgrad::narrow(*this, 0, i < 0 ? i + n : i, 1), 0);
}
Tensor Tensor::transpose(std::int64_t d0, std::int64_t d1) const { return xgrad::transpose(*this, d0, d1); }
Tensor Tensor::t() const {
  XGRAD_CHECK(defined(), "t: called on an undefined tensor (a default-constructed Tensor, or the .grad() of a tensor "
                         "that no backward pass has reached)");
  XGRAD_CHECK(dim() <= 2, "t: expects a tensor with at most 2 dims, got shape {}", to_string(shape()));
  return dim() < 2 ? *this : xgrad::transpose(*this, 0, 1);
}

Tensor Tensor::masked_fill(const Tensor& mask, double value) const { return xgrad::masked_fill(*this, mask, value); }
Tensor Tensor::masked_select(const Tensor& mask) const { return xgrad::masked_select(*this, mask); }
Tensor Tensor::any() const { return xgrad::any(*this); }
Tensor Tensor::any(std::int64_t dim, bool keepdim) const { return xgrad::any(*this, dim, keepdim); }
Tensor Tensor::all() const { return xgrad::all(*this); }
Tensor Tensor::all(std::int64_t dim, bool keepdim) const { return xgrad::all(*this, dim, keepdim); }
Tensor Tensor::logical_not() const { return xgrad::logical_not(*this); }

}  // namespace xgrad
