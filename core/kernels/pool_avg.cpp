// Average pooling (PyTorch's divisor rules) and its adjoint: tiled loops for windows that tile
// the plane, AVX-512 float32 loops, and portable loops for any windows.
#include "pool.h"
#include "intrinsics.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <vector>

#include "../dispatch.h"
#include "pool_common.h"

namespace xgrad::kernels {

namespace {

using namespace pool_detail;

// One window of average pooling along one dim, clipped as PyTorch clips it: `padded` is the
// extent within input + padding (counted by count_include_pad), [first, end) the part in the input.
struct AvgSpan {
  std::int64_t first, end, padded;
};
AvgSpan avg_span(std::int64_t o, std::int64_t stride, std::int64_t pad, std::int64_t kernel, std::int64_t size) {
  const std::int64_t start = o * stride - pad;
  const std::int64_t stop = std::min(start + kernel, size + pad);
  return {std::max<std::int64_t>(start, 0), std::min(stop, size), stop - start};
}

// The divisor of one output (0 for a window outside the input, whose output is 0).
std::int64_t avg_divisor(const AvgSpan& r, const AvgSpan& c, bool count_include_pad, std::int64_t divisor_override) {
  if (r.first >= r.end || c.first >= c.end) return 0;
  if (divisor_override != 0) return divisor_override;
  return count_include_pad ? r.padded * c.padded : (r.end - r.first) * (c.end - c.first);
}

// Any windows: a row of outputs at a time, summing each tap column in one pass over the outputs.
template <class T>
void avg_plane_generic(const T* x, T* y, const PoolWindows& w, bool count_include_pad, std::int64_t divisor_override,
                       const TapColumns& columns) {
  const std::int64_t W = w.in_w, out_w = w.out_w;
  for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
    const AvgSpan r = avg_span(oh, w.stride_h, w.pad_h, w.kernel_h, w.in_h);
    T* __restrict sum = y + oh * out_w;
    std::fill(sum, sum + out_w, T(0));
    for (std::int64_t ih = r.first; ih < r.end; ++ih)
      for (std::int64_t kw = columns.span.first; kw < columns.span.end; ++kw) {
        const std::int64_t offset = kw - w.pad_w;
        const OutRange o = columns.ranges[static_cast<std::size_t>(kw - columns.span.first)];
        const T* __restrict row = x + ih * W;
        for (std::int64_t ow = o.lo; ow < o.hi; ++ow) sum[ow] += row[ow * w.stride_w + offset];
      }
    for (std::int64_t ow = 0; ow < out_w; ++ow) {
      const std::int64_t divisor =
          avg_divisor(r, avg_span(ow, w.stride_w, w.pad_w, w.kernel_w, W), count_include_pad, divisor_override);
      sum[ow] = divisor == 0 ? T(0) : sum[ow] / static_cast<T>(divisor);
    }
  }
}

template <class T>
using AvgPlaneFn = void (*)(const T*, T*, const PoolWindows&, T);

#if defined(XGRAD_POOL_AVX512)
namespace avx512 {

using namespace pool_detail::avx512;  // low_bits, load_pairs, lanes_between, load_taps

// Average pooling over tiling 1x2 / 2x2 windows (every window whole: one divisor).
template <int KH>
void avg_plane(const float* x, float* y, const PoolWindows& w, float divisor) {
  const std::int64_t W = w.in_w, out_h = w.out_h, out_w = w.out_w;
  const __m512 d = _mm512_set1_ps(divisor);
  for (std::int64_t oh = 0; oh < out_h; ++oh) {
    const std::int64_t row0 = oh * KH * W;
    for (std::int64_t ow = 0; ow < out_w; ow += 16) {
      const std::int64_t n = std::min<std::int64_t>(16, out_w - ow);
      __m512 even, odd;
      load_pairs(x + row0 + 2 * ow, n, even, odd);
      __m512 sum = _mm512_add_ps(even, odd);
      if constexpr (KH == 2) {
        load_pairs(x + row0 + W + 2 * ow, n, even, odd);
        sum = _mm512_add_ps(_mm512_add_ps(sum, even), odd);
      }
      _mm512_mask_storeu_ps(y + oh * out_w + ow, low_bits(n), _mm512_div_ps(sum, d));
    }
  }
}

// Its adjoint: gy / divisor written to both columns of every covered row of its window.
template <int KH>
void avg_backward_plane(const float* gy, float* gx, const PoolWindows& w, float divisor) {
  const std::int64_t W = w.in_w, out_h = w.out_h, out_w = w.out_w;
  const __m512 d = _mm512_set1_ps(divisor);
  const __m512i first_half = _mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  const __m512i second_half = _mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
  for (std::int64_t oh = 0; oh < out_h; ++oh) {
    const std::int64_t row0 = oh * KH * W;
    for (std::int64_t ow = 0; ow < out_w; ow += 16) {
      const std::int64_t n = std::min<std::int64_t>(16, out_w - ow);
      const __m512 g = _mm512_div_ps(_mm512_maskz_loadu_ps(low_bits(n), gy + oh * out_w + ow), d);
      const __m512 lo = _mm512_permutexvar_ps(first_half, g), hi = _mm512_permutexvar_ps(second_half, g);
      const __mmask16 store_lo = low_bits(2 * n), store_hi = low_bits(2 * n - 16 > 0 ? 2 * n - 16 : 0);
      for (int kh = 0; kh < KH; ++kh) {
        float* dst = gx + row0 + kh * W + 2 * ow;
        _mm512_mask_storeu_ps(dst, store_lo, lo);
        _mm512_mask_storeu_ps(dst + 16, store_hi, hi);
      }
    }
  }
}


// Per output column, the two factors of its divisor: its window's extent within input + padding
// and within the input (both 0 for a window with no input column).
struct ColumnFactors {
  std::vector<float> padded, inside;
};
inline ColumnFactors column_factors(const PoolWindows& w) {
  ColumnFactors f{std::vector<float>(static_cast<std::size_t>(w.out_w)),
                  std::vector<float>(static_cast<std::size_t>(w.out_w))};
  for (std::int64_t ow = 0; ow < w.out_w; ++ow) {
    const AvgSpan c = avg_span(ow, w.stride_w, w.pad_w, w.kernel_w, w.in_w);
    const bool any = c.first < c.end;
    f.padded[static_cast<std::size_t>(ow)] = any ? static_cast<float>(c.padded) : 0.0f;
    f.inside[static_cast<std::size_t>(ow)] = any ? static_cast<float>(c.end - c.first) : 0.0f;
  }
  return f;
}

// Any windows, float: 16 outputs of a row at a time, summing the taps in registers.
inline void avg_plane_any(const float* x, float* y, const PoolWindows& w, bool count_include_pad,
                          std::int64_t divisor_override, const TapColumns& columns, const ColumnFactors& f) {
  const std::int64_t W = w.in_w, out_w = w.out_w, stride = w.stride_w;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i lane_step = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(stride)));
  for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
    const AvgSpan r = avg_span(oh, w.stride_h, w.pad_h, w.kernel_h, w.in_h);
    const float row_factor = r.first >= r.end ? 0.0f
                             : count_include_pad ? static_cast<float>(r.padded)
                                                 : static_cast<float>(r.end - r.first);
    for (std::int64_t ow = 0; ow < out_w; ow += 16) {
      const __mmask16 out = low_bits(std::min<std::int64_t>(16, out_w - ow));
      __m512 sum = _mm512_setzero_ps();
      for (std::int64_t ih = r.first; ih < r.end; ++ih)
        for (std::int64_t kw = columns.span.first; kw < columns.span.end; ++kw) {
          const OutRange cr = columns.ranges[static_cast<std::size_t>(kw - columns.span.first)];
          const __mmask16 inside = static_cast<__mmask16>(out & lanes_between(cr.lo - ow, cr.hi - ow));
          if (inside == 0) continue;
          const std::int64_t start = ow * stride + kw - w.pad_w;
          const __m512i column = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(start)), lane_step);
          sum = _mm512_add_ps(sum, load_taps(x + ih * W, start, stride, inside, column, _mm512_setzero_ps()));
        }
      const __m512 columns = _mm512_maskz_loadu_ps(out, (count_include_pad ? f.padded : f.inside).data() + ow);
      __m512 divisor = _mm512_mul_ps(_mm512_set1_ps(row_factor), columns);
      const __mmask16 nonempty = _mm512_cmp_ps_mask(divisor, _mm512_setzero_ps(), _CMP_NEQ_OQ);
      if (divisor_override != 0) divisor = _mm512_set1_ps(static_cast<float>(divisor_override));
      _mm512_mask_storeu_ps(y + oh * out_w + ow, out, _mm512_maskz_div_ps(nonempty, sum, divisor));
    }
  }
}

}  // namespace avx512

// The AVX-512 loops for float32 planes of tiling windows (null: none applies).
AvgPlaneFn<float> avx512_tiled_avg_plane(const PoolWindows& w) {
  return pair_tile_kernel(w, avx512::avg_plane<2>, avx512::avg_plane<1>);
}
AvgPlaneFn<float> avx512_tiled_avg_backward_plane(const PoolWindows& w) {
  return pair_tile_kernel(w, avx512::avg_backward_plane<2>, avx512::avg_backward_plane<1>);
}

// The AVX-512 loop for any windows over float32 planes; the divisors' column factors are computed
// once per call.
class AnyAvgPlaneAvx512 {
 public:
  explicit AnyAvgPlaneAvx512(const PoolWindows& w) : factors_(avx512::column_factors(w)) {}
  void operator()(const float* x, float* y, const PoolWindows& w, bool count_include_pad,
                  std::int64_t divisor_override, const TapColumns& columns) const {
    avx512::avg_plane_any(x, y, w, count_include_pad, divisor_override, columns, factors_);
  }

 private:
  avx512::ColumnFactors factors_;
};
#else
// Without AVX-512 nothing selects these (kAvx512 is false); they keep the callers free of #if.
AvgPlaneFn<float> avx512_tiled_avg_plane(const PoolWindows&) { return nullptr; }
AvgPlaneFn<float> avx512_tiled_avg_backward_plane(const PoolWindows&) { return nullptr; }
struct AnyAvgPlaneAvx512 {
  explicit AnyAvgPlaneAvx512(const PoolWindows&) {}
  void operator()(const float*, float*, const PoolWindows&, bool, std::int64_t, const TapColumns&) const {}
};
#endif


// Its adjoint, a row of outputs at a time: their shares gy / divisor are gathered into one input
// row (`row_values`, scratch of in_w), which is then added to every input row of the windows.
template <class T>
void avg_plane_backward_generic(const T* gy, T* gx, const PoolWindows& w, bool count_include_pad,
                                std::int64_t divisor_override, T* row_values) {
  const std::int64_t W = w.in_w, out_w = w.out_w;
  std::fill(gx, gx + w.in_h * W, T(0));
  for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
    const AvgSpan r = avg_span(oh, w.stride_h, w.pad_h, w.kernel_h, w.in_h);
    if (r.first >= r.end) continue;
    std::fill(row_values, row_values + W, T(0));
    for (std::int64_t ow = 0; ow < out_w; ++ow) {
      const AvgSpan c = avg_span(ow, w.stride_w, w.pad_w, w.kernel_w, W);
      const std::int64_t divisor = avg_divisor(r, c, count_include_pad, divisor_override);
      if (divisor == 0) continue;
      const T g = gy[oh * out_w + ow] / static_cast<T>(divisor);
      for (std::int64_t iw = c.first; iw < c.end; ++iw) row_values[iw] += g;
    }
    add_to_rows(gx, W, r.first, r.end, row_values);
  }
}

// Tiling windows: every window is whole, so one divisor serves the plane.
template <class T, int KH, int KW>
void avg_plane_tiled(const T* x, T* y, const PoolWindows& w, T divisor) {
  const std::int64_t W = w.in_w;
  for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
    const T* r = x + oh * KH * W;
    T* yr = y + oh * w.out_w;
    for (std::int64_t ow = 0; ow < w.out_w; ++ow) {
      T sum = 0;
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw) sum += r[kh * W + ow * KW + kw];
      yr[ow] = sum / divisor;
    }
  }
}

template <class T, int KW>
void avg_plane_backward_tiled(const T* gy, T* gx, const PoolWindows& w, T divisor) {
  const std::int64_t W = w.in_w, kernel_h = w.kernel_h, out_w = w.out_w, covered_h = w.out_h * kernel_h;
  for (std::int64_t ih = 0; ih < covered_h; ++ih) {
    const T* g = gy + (ih / kernel_h) * out_w;
    T* out = gx + ih * W;
    for (std::int64_t ow = 0; ow < out_w; ++ow)
      for (int kw = 0; kw < KW; ++kw) out[ow * KW + kw] = g[ow] / divisor;
  }
}

template <class T>
AvgPlaneFn<T> tiled_avg_plane(const PoolWindows& w) {
  if (!tiles_plane(w)) return nullptr;
  if constexpr (kAvx512 && std::is_same_v<T, float>)
    if (const AvgPlaneFn<float> f = avx512_tiled_avg_plane(w)) return f;
  if (w.kernel_h == 2 && w.kernel_w == 2) return avg_plane_tiled<T, 2, 2>;
  if (w.kernel_h == 3 && w.kernel_w == 3) return avg_plane_tiled<T, 3, 3>;
  if (w.kernel_h == 1 && w.kernel_w == 2) return avg_plane_tiled<T, 1, 2>;
  if (w.kernel_h == 1 && w.kernel_w == 3) return avg_plane_tiled<T, 1, 3>;
  return nullptr;
}

template <class T>
AvgPlaneFn<T> tiled_avg_backward_plane(const PoolWindows& w) {
  if (!tiles_plane(w)) return nullptr;
  if constexpr (kAvx512 && std::is_same_v<T, float>)
    if (const AvgPlaneFn<float> f = avx512_tiled_avg_backward_plane(w)) return f;
  if (w.kernel_w == 1) return avg_plane_backward_tiled<T, 1>;
  if (w.kernel_w == 2) return avg_plane_backward_tiled<T, 2>;
  if (w.kernel_w == 3) return avg_plane_backward_tiled<T, 3>;
  return nullptr;
}

// With tiling windows every window lies inside the input: the divisor is the override or K_h K_w.
template <class T>
T tiled_divisor(const PoolWindows& w, std::int64_t divisor_override) {
  // As doubles: only tiling windows use it, but it is computed for any (kernel_h * kernel_w may overflow).
  return static_cast<T>(divisor_override != 0 ? static_cast<double>(divisor_override)
                                              : static_cast<double>(w.kernel_h) * static_cast<double>(w.kernel_w));
}

template <class T>
Tensor avg_pool_forward_typed(const Tensor& x, const PoolWindows& w, bool count_include_pad,
                              std::int64_t divisor_override, const Shape& out_shape) {
  const std::int64_t in_plane = w.in_h * w.in_w, out_plane = w.out_h * w.out_w;
  const AvgPlaneFn<T> tiled = tiled_avg_plane<T>(w);
  const T divisor = tiled_divisor<T>(w, divisor_override);
  const TapColumns column_ranges = tap_column_ranges(w);
  std::optional<AnyAvgPlaneAvx512> any_simd;
  if (!tiled && avx512_float<T>(w)) any_simd.emplace(w);
  return map_planes<T>(x, w, in_plane, out_plane, out_shape, [&](const T* src, T* dst, T*) {
    if (tiled) {
      tiled(src, dst, w, divisor);
      return;
    }
    if constexpr (std::is_same_v<T, float>) {
      if (any_simd) {
        (*any_simd)(src, dst, w, count_include_pad, divisor_override, column_ranges);
        return;
      }
    }
    avg_plane_generic(src, dst, w, count_include_pad, divisor_override, column_ranges);
  });
}

}  // namespace

Tensor avg_pool_forward(const Tensor& x, const PoolWindows& w, bool count_include_pad, std::int64_t divisor_override,
                        const Shape& out_shape) {
  if (w.planes == 0) return make_tensor(out_shape, x.dtype());  // (an empty batch's planes may be very wide)
  Tensor y;
  XGRAD_DISPATCH_FLOAT(x.dtype(), T,
                       { y = avg_pool_forward_typed<T>(x, w, count_include_pad, divisor_override, out_shape); });
  return y;
}


Tensor avg_pool_backward(const Tensor& gy, const PoolWindows& w, bool count_include_pad, std::int64_t divisor_override,
                         const Shape& in_shape) {
  const std::int64_t in_plane = w.in_h * w.in_w, out_plane = w.out_h * w.out_w;
  Tensor gx;
  XGRAD_DISPATCH_FLOAT(gy.dtype(), T, {
    const AvgPlaneFn<T> tiled = tiled_avg_backward_plane<T>(w);
    const T divisor = tiled_divisor<T>(w, divisor_override);
    gx = map_planes<T>(gy, w, out_plane, in_plane, in_shape, [&](const T* src, T* dst, T* scratch) {
      if (tiled) {
        tiled(src, dst, w, divisor);  // the covered part, each element written once
        zero_uncovered(dst, w);
      } else {
        avg_plane_backward_generic(src, dst, w, count_include_pad, divisor_override, scratch);
      }
    });
  });
  return gx;
}

}  // namespace xgrad::kernels
