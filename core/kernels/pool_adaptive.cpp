// Adaptive average pooling and its adjoint: output i averages the input span
// [floor(i * in / out), ceil((i + 1) * in / out)) along each dim.
#include "pool.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../dispatch.h"
#include "pool_common.h"

namespace xgrad::kernels {

namespace {

using namespace pool_detail;


// Sums rows [first, end) of a plane `width` wide into `sums` (vectorised over the row).
template <class T>
void sum_rows_into(T* __restrict sums, const T* plane, std::int64_t width, std::int64_t first, std::int64_t end) {
  for (std::int64_t ih = first; ih < end; ++ih) {
    const T* __restrict row = plane + ih * width;
    for (std::int64_t iw = 0; iw < width; ++iw) sums[iw] += row[iw];
  }
}

// Window i of `out` over `in`: [floor(i in / out), ceil((i + 1) in / out)).
struct Span {
  std::int64_t first, end;
};
Span adaptive_span(std::int64_t i, std::int64_t in, std::int64_t out) {
  return {(i * in) / out, ((i + 1) * in + out - 1) / out};
}

// A row of outputs at a time: the window's input rows are summed into `column_sums` (scratch of
// in_w, vectorised over the row), then each output sums its columns of it.
template <class T>
void adaptive_plane(const T* x, T* y, const PoolWindows& w, T* column_sums) {
  const std::int64_t W = w.in_w;
  for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
    const Span r = adaptive_span(oh, w.in_h, w.out_h);
    std::fill(column_sums, column_sums + W, T(0));
    sum_rows_into(column_sums, x, W, r.first, r.end);
    for (std::int64_t ow = 0; ow < w.out_w; ++ow) {
      const Span c = adaptive_span(ow, W, w.out_w);
      T sum = 0;
      for (std::int64_t iw = c.first; iw < c.end; ++iw) sum += column_sums[iw];
      y[oh * w.out_w + ow] = sum / static_cast<T>((r.end - r.first) * (c.end - c.first));
    }
  }
}

// Its adjoint: each output's share spread over its columns of one row (`row_values`, scratch of
// in_w), which is then added to the window's input rows.
template <class T>
void adaptive_plane_backward(const T* gy, T* gx, const PoolWindows& w, T* row_values) {
  const std::int64_t W = w.in_w;
  std::fill(gx, gx + w.in_h * W, T(0));
  for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
    const Span r = adaptive_span(oh, w.in_h, w.out_h);
    std::fill(row_values, row_values + W, T(0));
    for (std::int64_t ow = 0; ow < w.out_w; ++ow) {
      const Span c = adaptive_span(ow, W, w.out_w);
      const T g = gy[oh * w.out_w + ow] / static_cast<T>((r.end - r.first) * (c.end - c.first));
      for (std::int64_t iw = c.first; iw < c.end; ++iw) row_values[iw] += g;
    }
    add_to_rows(gx, W, r.first, r.end, row_values);
  }
}

}  // namespace

Tensor adaptive_avg_pool_forward(const Tensor& x, const PoolWindows& w, const Shape& out_shape) {
  const std::int64_t in_plane = w.in_h * w.in_w, out_plane = w.out_h * w.out_w;
  Tensor y;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, {
    y = map_planes<T>(x, w, in_plane, out_plane, out_shape,
                      [&](const T* src, T* dst, T* scratch) { adaptive_plane(src, dst, w, scratch); });
  });
  return y;
}

Tensor adaptive_avg_pool_backward(const Tensor& gy, const PoolWindows& w, const Shape& in_shape) {
  const std::int64_t in_plane = w.in_h * w.in_w, out_plane = w.out_h * w.out_w;
  Tensor gx;
  XGRAD_DISPATCH_FLOAT(gy.dtype(), T, {
    gx = map_planes<T>(gy, w, out_plane, in_plane, in_shape,
                       [&](const T* src, T* dst, T* scratch) { adaptive_plane_backward(src, dst, w, scratch); });
  });
  return gx;
}

}  // namespace xgrad::kernels
