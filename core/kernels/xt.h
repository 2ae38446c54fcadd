#pragma once
// Private to kernel .cpp files: xtensor views over tensor buffers. This is the only header that
// pulls in xtensor; XTENSOR_USE_XSIMD is set for every file of the library by CMake.
#include <array>
#include <cstdint>
#include <vector>

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xtensor.hpp>

#include "../tensor_impl.h"

namespace xgrad::kernels {

// A rank-1 view of the whole buffer: the fast, SIMD-assigned path for same-shape operands.
template <class T>
auto flat(const Tensor& t) {
  const auto n = static_cast<std::size_t>(t.numel());
  return xt::adapt(t.impl()->data<T>(), n, xt::no_ownership(), std::array<std::size_t, 1>{n});
}

inline std::vector<std::size_t> xt_shape(const Shape& s) { return {s.begin(), s.end()}; }

// A view with the tensor's own shape (dynamic rank), for broadcasting and axis reductions.
template <class T>
auto shaped(const Tensor& t) {
  return xt::adapt(t.impl()->data<T>(), static_cast<std::size_t>(t.numel()), xt::no_ownership(),
                   xt_shape(t.shape()));
}

}  // namespace xgrad::kernels
