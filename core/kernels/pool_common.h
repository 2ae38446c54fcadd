#pragma once
// Private to the pooling kernels (pool_max.cpp, pool_avg.cpp, pool_adaptive.cpp, pool_windows.cpp):
// the plane loop over the thread pool, the window tables and the AVX-512 loads they share.
#include "intrinsics.h"

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../parallel.h"
#include "pool.h"

// The AVX-512 loops need AVX-512F, and BMI2 for pdep (every AVX-512 CPU has it). Only the
// kernels themselves sit behind this macro: the code that picks them tests kAvx512 instead.
#if defined(__AVX512F__) && defined(__BMI2__)
#define XGRAD_POOL_AVX512 1
#include <immintrin.h>
#endif

namespace xgrad::kernels::pool_detail {

#if defined(XGRAD_POOL_AVX512)
inline constexpr bool kAvx512 = true;
#else
inline constexpr bool kAvx512 = false;
#endif

// Planes are split over the thread pool in chunks of at least this many input elements, so
// small tensors stay on the calling thread.
inline constexpr std::int64_t kMinElementsPerChunk = 1 << 15;

template <class F>
void for_each_plane_range(const PoolWindows& w, F&& fn) {
  const std::int64_t plane = std::max<std::int64_t>(1, std::max(w.in_h * w.in_w, w.out_h * w.out_w));
  const std::int64_t grain = std::max<std::int64_t>(1, kMinElementsPerChunk / plane);
  parallel::parallel_for(w.planes, grain, [&](std::int64_t begin, std::int64_t end) { fn(begin, end); });
}

// True when the windows tile the plane from its top-left corner without gaps, overlaps or padding
// (rows and columns past the last window are simply not covered).
inline bool tiles_plane(const PoolWindows& w) {
  return w.stride_h == w.kernel_h && w.stride_w == w.kernel_w && w.pad_h == 0 && w.pad_w == 0 &&
         w.dilation_h == 1 && w.dilation_w == 1 && w.out_h * w.kernel_h <= w.in_h && w.out_w * w.kernel_w <= w.in_w;
}

// Index arithmetic of the AVX-512 loops is int32.
inline bool fits_int32(const PoolWindows& w) { return w.in_h * w.in_w < (std::int64_t{1} << 31); }

// True when the float32 AVX-512 loops can take these windows: T is float, the build has
// AVX-512, and the plane's indices fit int32.
template <class T>
bool avx512_float(const PoolWindows& w) {
  return kAvx512 && std::is_same_v<T, float> && fits_int32(w);
}

// The outputs o in [0, out) whose tap at o * stride + offset lands inside [0, size).
struct OutRange {
  std::int64_t lo, hi;
};

// The AVX-512 tiled loops cover 2x2 and 1x2 windows (the usual CNN pooling): `two_rows` or
// `one_row` for those, else null.
template <class Fn>
Fn pair_tile_kernel(const PoolWindows& w, Fn two_rows, Fn one_row) {
  if (w.kernel_w != 2) return nullptr;
  return w.kernel_h == 2 ? two_rows : w.kernel_h == 1 ? one_row : nullptr;
}

// The OutRange of every tap column kw in tap_column_span (offset kw * dilation - pad), computed
// once per call: the divisions are too slow to repeat per row. Taps outside the span never read
// the input, so a huge kernel_size mostly over padding costs nothing.
struct TapColumns {
  TapSpan span;
  std::vector<OutRange> ranges;  // ranges[kw - span.first]
};
TapColumns tap_column_ranges(const PoolWindows& w);  // pool_windows.cpp

// Zeroes what tiling windows leave uncovered: columns past the last window in the covered rows,
// and the rows past the last window.
template <class T>
void zero_uncovered(T* gx, const PoolWindows& w) {
  const std::int64_t W = w.in_w, covered_w = w.out_w * w.kernel_w, covered_h = w.out_h * w.kernel_h;
  if (covered_w < W)
    for (std::int64_t ih = 0; ih < covered_h; ++ih) std::fill(gx + ih * W + covered_w, gx + (ih + 1) * W, T(0));
  std::fill(gx + covered_h * W, gx + w.in_h * W, T(0));
}

// Adds `values` to each row of [first, end) of a plane `width` wide (vectorised over the row).
template <class T>
void add_to_rows(T* plane, std::int64_t width, std::int64_t first, std::int64_t end, const T* __restrict values) {
  for (std::int64_t ih = first; ih < end; ++ih) {
    T* __restrict row = plane + ih * width;
    for (std::int64_t iw = 0; iw < width; ++iw) row[iw] += values[iw];
  }
}

// Runs plane_fn(src_plane, dst_plane, scratch) over every plane of src into a new tensor of
// dst_shape; scratch holds one input row.
template <class T, class F>
Tensor map_planes(const Tensor& src, const PoolWindows& w, std::int64_t src_plane, std::int64_t dst_plane,
                  const Shape& dst_shape, F&& plane_fn) {
  Tensor dst = make_tensor(dst_shape, src.dtype());
  const T* s = src.data<T>();
  T* d = dst.mutable_data<T>();
  for_each_plane_range(w, [&](std::int64_t begin, std::int64_t end) {
    std::vector<T> scratch(static_cast<std::size_t>(w.in_w));
    for (std::int64_t p = begin; p < end; ++p) plane_fn(s + p * src_plane, d + p * dst_plane, scratch.data());
  });
  return dst;
}

#if defined(XGRAD_POOL_AVX512)
// AVX-512 helpers of the float32 loops: 16 windows per step, masked tails.
namespace avx512 {

inline __mmask16 low_bits(std::int64_t n) {  // the first n of 16 lanes
  return n >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

// 2n floats of one row from column c (n <= 16 windows): even and odd columns.
inline void load_pairs(const float* row, std::int64_t n, __m512& even, __m512& odd) {
  const __m512 lo = _mm512_maskz_loadu_ps(low_bits(2 * n), row);
  const __m512 hi = _mm512_maskz_loadu_ps(low_bits(2 * n - 16 > 0 ? 2 * n - 16 : 0), row + 16);
  const __m512i even_lanes = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd_lanes = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  even = _mm512_permutex2var_ps(lo, even_lanes, hi);
  odd = _mm512_permutex2var_ps(lo, odd_lanes, hi);
}

// Lanes l with lo <= l < hi.
inline __mmask16 lanes_between(std::int64_t lo, std::int64_t hi) {
  return static_cast<__mmask16>(low_bits(std::clamp<std::int64_t>(hi, 0, 16)) &
                                ~low_bits(std::clamp<std::int64_t>(lo, 0, 16)));
}

// row[column[l]] for the lanes in `inside` (src elsewhere), column[l] = start + l * stride. Strides
// 1 and 2 load whole runs (2: every other element picked by a permute); others gather. Masked-off
// lanes are never read, though their addresses may lie outside the row.
inline __m512 load_taps(const float* row, std::int64_t start, std::int64_t stride, __mmask16 inside, __m512i column,
                        __m512 src) {
  const float* at = reinterpret_cast<const float*>(reinterpret_cast<std::uintptr_t>(row) +
                                                   static_cast<std::uintptr_t>(start * std::int64_t{sizeof(float)}));
  if (stride == 1) return _mm512_mask_loadu_ps(src, inside, at);
  if (stride == 2) {
    const std::uint32_t pairs = _pdep_u32(inside, 0x55555555u);  // lane l reads element 2l
    const __m512 lo = _mm512_maskz_loadu_ps(static_cast<__mmask16>(pairs), at);
    const __m512 hi = _mm512_maskz_loadu_ps(static_cast<__mmask16>(pairs >> 16), at + 16);
    const __m512i even_lanes = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_mask_mov_ps(src, inside, _mm512_permutex2var_ps(lo, even_lanes, hi));
  }
  return _mm512_mask_i32gather_ps(src, inside, column, row, 4);
}

}  // namespace avx512
#endif

}  // namespace xgrad::kernels::pool_detail
