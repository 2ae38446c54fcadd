// Dtype casts and materialised broadcasts (elementwise.h).
#include "elementwise.h"
#include "intrinsics.h"

#include <algorithm>
#include <type_traits>

#include "../convert.h"
#include "../dispatch.h"
#include "xt.h"

namespace xgrad::kernels {

namespace {
// To and from bool by plain loops (GCC vectorises them): no xtensor expression on C++ bool.
// Anything nonzero (NaN included) is true, as in PyTorch.
void cast_bool(const Tensor& x, Tensor& out) {
  const std::int64_t n = x.numel();
  if (x.dtype() == Dtype::boolean) {
    const auto* s = static_cast<const std::uint8_t*>(x.impl()->raw());  // bytes, read as != 0
    XGRAD_DISPATCH_WITH_BOOL(out.dtype(), D, {
      D* o = out.impl()->data<D>();
      for (std::int64_t i = 0; i < n; ++i) o[i] = static_cast<D>(s[i] != 0);
    });
    return;
  }
  bool* o = out.impl()->data<bool>();
  XGRAD_DISPATCH_ALL(x.dtype(), S, {
    const S* s = x.impl()->data<S>();
    for (std::int64_t i = 0; i < n; ++i) o[i] = s[i] != S(0);
  });
}
}  // namespace

Tensor cast(const Tensor& x, Dtype dtype) {
  Tensor out = make_tensor(x.shape(), dtype);
  if (x.numel() == 0) return out;
  if (x.dtype() == Dtype::boolean || dtype == Dtype::boolean) {
    cast_bool(x, out);
    return out;
  }
  XGRAD_DISPATCH_ALL(x.dtype(), S, {
    XGRAD_DISPATCH_ALL(dtype, D, {
      if constexpr (std::is_floating_point_v<S> && std::is_integral_v<D>) {
        // Floating -> int64 by convert.h's rule (NaN -> 0, out of range saturates); GCC
        // vectorises this loop of selects.
        const S* s = x.impl()->data<S>();
        D* o = out.impl()->data<D>();
        for (std::int64_t i = 0, n = x.numel(); i < n; ++i) o[i] = saturating_int64(s[i]);
      } else {
        auto o = flat<D>(out);
        xt::noalias(o) = xt::cast<D>(flat<S>(x));
      }
    });
  });
  return out;
}

namespace {
// Copies x into out row by row (a row is the last dim of out): each row is either a copy of a
// source row or one repeated value, so the work is memcpy/fill, never per-element indexing.
template <class T>
void broadcast_rows(const T* src, const Shape& src_shape, T* dst, const Shape& shape) {
  const std::size_t n = shape.size();
  Shape src_strides(n, 0);  // 0 along broadcast dims
  {
    const Shape contiguous = contiguous_strides(src_shape);
    const std::size_t lead = n - src_shape.size();
    for (std::size_t i = lead; i < n; ++i)
      src_strides[i] = src_shape[i - lead] == 1 ? 0 : contiguous[i - lead];
  }
  const std::int64_t row = shape[n - 1];
  const bool repeat = src_strides[n - 1] == 0;
  const std::int64_t rows = numel_of(shape) / row;
  Shape index(n, 0);
  std::int64_t offset = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    T* d = dst + r * row;
    if (repeat)
      std::fill_n(d, row, src[offset]);
    else
      std::copy_n(src + offset, row, d);
    // Advance the multi-index over all dims but the last.
    for (std::size_t k = n - 1; k-- > 0;) {
      offset += src_strides[k];
      if (++index[k] < shape[k]) break;
      offset -= src_strides[k] * shape[k];
      index[k] = 0;
    }
  }
}
}  // namespace

Tensor broadcast_copy(const Tensor& x, const Shape& shape) {
  Tensor out = make_tensor(shape, x.dtype());
  if (out.numel() == 0) return out;
  XGRAD_DISPATCH_MOVE(x.dtype(), T, {
    if (x.numel() == 1)
      std::fill_n(out.impl()->data<T>(), out.numel(), x.impl()->data<T>()[0]);
    else
      broadcast_rows<T>(x.impl()->data<T>(), x.shape(), out.impl()->data<T>(), shape);
  });
  return out;
}

}  // namespace xgrad::kernels
