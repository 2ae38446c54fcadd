#pragma once
// xtensor interop, header-only. Values cross through plain contiguous row-major buffers
// (xgrad::from_buffer and Tensor::to_vector), so this header does not depend on how xgrad
// itself was compiled (XTENSOR_USE_XSIMD, xtensor version, allocator types).
//
//   xt::xarray<double> a = {{1, 2}, {3, 4}};
//   xgrad::Tensor t = xgrad::tensor(a);              // float64, shape [2, 2]
//   xt::xarray<float> b = t.to_xarray<float>();      // converted
#include <cstdint>
#include <type_traits>
#include <vector>
#include <xtensor/xarray.hpp>
#include <xtensor/xexpression.hpp>

#include "xgrad/tensor.h"

namespace xgrad {

namespace xtensor_detail {

// The xgrad element type a C++ value type maps to: float and double as themselves,
// integers and bool to int64, anything else to float64.
template <class T>
using storage_type_t = std::conditional_t<std::is_same_v<T, float> || std::is_same_v<T, double>, T,
                                          std::conditional_t<std::is_integral_v<T>, std::int64_t, double>>;

}  // namespace xtensor_detail

// A tensor holding a copy of any xtensor expression (evaluated row-major). The dtype defaults
// to the expression's value type (integers become int64).
template <class E>
Tensor tensor(const xt::xexpression<E>& expr,
              TensorOptions opts = {
                  .dtype = dtype_of_v<xtensor_detail::storage_type_t<std::decay_t<typename E::value_type>>>}) {
  using value_type = std::decay_t<typename E::value_type>;
  using S = xtensor_detail::storage_type_t<value_type>;
  XGRAD_CHECK(!opts.requires_grad || is_floating(opts.dtype),
              "tensor: requires_grad=true needs a floating dtype (float32 or float64), got {}",
              dtype_name(opts.dtype));
  // Evaluating into a row-major xarray makes views, broadcasts and column-major data contiguous.
  const xt::xarray<value_type, xt::layout_type::row_major> values = expr.derived_cast();
  Shape shape;
  for (auto d : values.shape()) shape.push_back(static_cast<std::int64_t>(d));
  if constexpr (std::is_same_v<S, value_type>) {
    return from_buffer<S>(values.data(), shape, opts);
  } else {
    std::vector<S> converted(values.storage().begin(), values.storage().end());
    return from_buffer<S>(converted.data(), shape, opts);
  }
}

// The tensor's values as an xt::xarray<T> of the same shape (converting the dtype).
template <class T>
auto Tensor::to_xarray() const {
  using S = xtensor_detail::storage_type_t<T>;
  const std::vector<S> values = to_vector<S>();
  std::vector<std::size_t> xshape(shape().begin(), shape().end());
  auto out = xt::xarray<T>::from_shape(xshape);
  std::copy(values.begin(), values.end(), out.template begin<xt::layout_type::row_major>());
  return out;
}

}  // namespace xgrad
