// Max pooling: the forward (values and indices), the scatter of gradients to the indices (its
// VJP) and the gather back (the scatter's adjoint), with tiled and AVX-512 float32 loops.
#include "pool.h"
#include "intrinsics.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "../dispatch.h"
#include "pool_common.h"

// Max pooling walks small windows with strides and index bookkeeping that no xtensor expression
// describes, so the kernels are loops over one plane at a time, a row of outputs at a time.
// Windows that tile the plane (stride = kernel, no padding, dilation 1) have their own loops that
// write every element once; float32 takes AVX-512 loops (16 outputs per step, masked tails) for
// 2x2 / 1x2 tiles and for any windows; the portable loops are written branch-free over the outputs
// so that GCC vectorises them. Planes are spread over the thread pool.

namespace xgrad::kernels {

namespace {

using namespace pool_detail;

// Index tensors at least this big bypass the cache (see max_pool_forward_typed).
constexpr std::int64_t kStreamIndicesBytes = std::int64_t{1} << 20;

// The covered taps of a dilated window along one dim, as PyTorch's CPU kernel clips them:
// [first, end) stepping by `step`, where first is the first tap at or after 0. `step` is the
// dilation capped at the dim's size (a step that long already leaves the dim), so `tap += step`
// cannot overflow however large the dilation. Computed in 128 bits for the same reason.
struct Taps {
  std::int64_t first, end, step;
};
Taps max_taps(std::int64_t o, std::int64_t stride, std::int64_t pad, std::int64_t kernel, std::int64_t dilation,
              std::int64_t size) {
  using i128 = __int128;
  i128 first = i128{o} * stride - pad;
  const i128 end = std::min<i128>(first + i128{kernel - 1} * dilation + 1, size);
  if (first < 0) first += (-first + dilation - 1) / dilation * dilation;  // the first tap at or after 0
  const std::int64_t step = std::max<std::int64_t>(1, std::min(dilation, size));
  if (first >= end) return {0, 0, step};
  return {static_cast<std::int64_t>(first), static_cast<std::int64_t>(end), step};
}

// Takes v when it beats the running maximum: strictly larger, or NaN (the last NaN wins, as in
// PyTorch). Written as selects (and isunordered, which GCC vectorises) so the fast loops vectorise.
template <class T>
inline bool beats(T v, T best) {
  return std::isunordered(v, v) || v > best;
}
template <class T>
inline void keep_max(T v, std::int64_t at, T& best, std::int64_t& best_at) {
  const bool take = beats(v, best);
  best = take ? v : best;
  best_at = take ? at : best_at;
}

// One tap column of a row of windows: each output ow looks at row[ow * stride + offset].
// Branch-free so GCC vectorises it over the outputs; a constant stride (kStride > 0) lets it load
// with shuffles instead of gathers.
template <class T, int kStride>
void max_tap_row(const T* __restrict row, T* __restrict best, std::int64_t* __restrict best_at, OutRange r,
                 std::int64_t runtime_stride, std::int64_t offset, std::int64_t row_start) {
  const std::int64_t stride = kStride > 0 ? kStride : runtime_stride;
  for (std::int64_t ow = r.lo; ow < r.hi; ++ow) {
    const std::int64_t iw = ow * stride + offset;
    const T v = row[iw];
    const bool take = beats(v, best[ow]);
    best[ow] = take ? v : best[ow];
    best_at[ow] = take ? row_start + iw : best_at[ow];
  }
}

template <class T>
void max_tap_row(const T* row, T* best, std::int64_t* best_at, OutRange r, std::int64_t stride, std::int64_t offset,
                 std::int64_t row_start) {
  if (stride == 1)
    max_tap_row<T, 1>(row, best, best_at, r, stride, offset, row_start);
  else if (stride == 2)
    max_tap_row<T, 2>(row, best, best_at, r, stride, offset, row_start);
  else
    max_tap_row<T, 0>(row, best, best_at, r, stride, offset, row_start);
}

// The first tap column of each output column's window (-1 when all its columns are padding):
// a window points there until some tap beats -inf.
std::vector<std::int64_t> first_tap_columns(const PoolWindows& w) {
  std::vector<std::int64_t> first(static_cast<std::size_t>(w.out_w));
  for (std::int64_t ow = 0; ow < w.out_w; ++ow) {
    const Taps cols = max_taps(ow, w.stride_w, w.pad_w, w.kernel_w, w.dilation_w, w.in_w);
    first[static_cast<std::size_t>(ow)] = cols.first < cols.end ? cols.first : -1;
  }
  return first;
}

// Any windows: a row of outputs at a time, visiting the taps of every window in row-major order
// (the scalar rule's order), each tap as one pass over the outputs.
template <class T>
void max_plane_generic(const T* x, T* y, std::int64_t* idx, const PoolWindows& w, const std::int64_t* first_col,
                       const TapColumns& columns) {
  const std::int64_t W = w.in_w, out_w = w.out_w;
  for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
    const Taps rows = max_taps(oh, w.stride_h, w.pad_h, w.kernel_h, w.dilation_h, w.in_h);
    T* best = y + oh * out_w;
    std::int64_t* best_at = idx + oh * out_w;
    for (std::int64_t ow = 0; ow < out_w; ++ow) {
      best[ow] = -std::numeric_limits<T>::infinity();
      best_at[ow] = rows.first < rows.end && first_col[ow] >= 0 ? rows.first * W + first_col[ow] : -1;
    }
    for (std::int64_t ih = rows.first; ih < rows.end; ih += rows.step)
      for (std::int64_t kw = columns.span.first; kw < columns.span.end; ++kw)
        max_tap_row(x + ih * W, best, best_at, columns.ranges[static_cast<std::size_t>(kw - columns.span.first)],
                    w.stride_w, kw * w.dilation_w - w.pad_w, ih * W);
  }
}

// Windows of KH x KW tiling the plane. The first tap starts the maximum (a NaN or -inf there is
// kept exactly as the generic rule keeps it).
template <class T, int KH, int KW>
void max_plane_tiled(const T* x, T* y, std::int64_t* idx, const PoolWindows& w) {
  const std::int64_t W = w.in_w, out_h = w.out_h, out_w = w.out_w;
  for (std::int64_t oh = 0; oh < out_h; ++oh) {
    const std::int64_t row0 = oh * KH * W;
    const T* r = x + row0;
    T* yr = y + oh * out_w;
    std::int64_t* ir = idx + oh * out_w;
    for (std::int64_t ow = 0; ow < out_w; ++ow) {
      const std::int64_t c = ow * KW;
      T best = r[c];
      std::int64_t best_at = row0 + c;
      for (int kh = 0; kh < KH; ++kh)
        for (int kw = 0; kw < KW; ++kw)
          if (kh != 0 || kw != 0) keep_max(r[kh * W + c + kw], row0 + kh * W + c + kw, best, best_at);
      yr[ow] = best;
      ir[ow] = best_at;
    }
  }
}

template <class T>
using MaxPlaneFn = void (*)(const T*, T*, std::int64_t*, const PoolWindows&);
// A plane of any windows, given the first tap columns and the tap column table.
template <class T>
using AnyMaxPlaneFn = void (*)(const T*, T*, std::int64_t*, const PoolWindows&, const std::int64_t*,
                               const TapColumns&);
template <class T>
using ScatterPlaneFn = std::int64_t (*)(const T*, const std::int64_t*, T*, const PoolWindows&);

#if defined(XGRAD_POOL_AVX512)
// AVX-512 loops for float32, 16 windows per step. For tiles of 1x2 and 2x2 (the usual CNN
// pooling) each input row is split into its even and odd columns by one two-register permute; the pairs
// are combined in the order (row 0: even, odd), (row 1: even, odd), then row 0 against row 1,
// which keeps the scan order of the scalar rule (ties: first; NaN: last). Indices are formed in
// int32 (planes below 2^31 elements) and widened to int64 on store. Tails use masked loads and
// stores, so short rows (28 -> 14) need no scalar loop.
namespace avx512 {

using namespace pool_detail::avx512;  // low_bits, load_pairs, lanes_between, load_taps

// The later candidate v wins over best: larger, or NaN.
inline __mmask16 beats(__m512 v, __m512 best) {
  return static_cast<__mmask16>(_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
}

template <int KH>
void max_plane(const float* x, float* y, std::int64_t* idx, const PoolWindows& w) {
  const std::int64_t W = w.in_w, out_h = w.out_h, out_w = w.out_w;
  const __m512i twice_lane = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i one = _mm512_set1_epi32(1), row_step = _mm512_set1_epi32(static_cast<int>(W));
  for (std::int64_t oh = 0; oh < out_h; ++oh) {
    const std::int64_t row0 = oh * KH * W;
    for (std::int64_t ow = 0; ow < out_w; ow += 16) {
      const std::int64_t n = std::min<std::int64_t>(16, out_w - ow);
      __m512 even, odd;
      load_pairs(x + row0 + 2 * ow, n, even, odd);
      const __mmask16 col0 = beats(odd, even);
      __m512 best = _mm512_mask_blend_ps(col0, even, odd);
      __m512i at = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(row0 + 2 * ow)), twice_lane);
      if constexpr (KH == 2) {
        load_pairs(x + row0 + W + 2 * ow, n, even, odd);
        const __mmask16 col1 = beats(odd, even);
        const __m512 best1 = _mm512_mask_blend_ps(col1, even, odd);
        const __mmask16 row1 = beats(best1, best);
        best = _mm512_mask_blend_ps(row1, best, best1);
        const __mmask16 col = static_cast<__mmask16>((row1 & col1) | (~row1 & col0));
        at = _mm512_mask_add_epi32(at, col, at, one);
        at = _mm512_mask_add_epi32(at, row1, at, row_step);
      } else {
        at = _mm512_mask_add_epi32(at, col0, at, one);
      }
      const __mmask16 out = low_bits(n);
      _mm512_mask_storeu_ps(y + oh * out_w + ow, out, best);
      std::int64_t* dst = idx + oh * out_w + ow;
      _mm512_mask_storeu_epi64(dst, static_cast<__mmask8>(out), _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
      _mm512_mask_storeu_epi64(dst + 8, static_cast<__mmask8>(out >> 8),
                               _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
    }
  }
}

// The tiled scatter: each input element of the covered rows written once, g where it was the
// maximum of its window, else 0. Columns and rows past the last window are zeroed by the caller.
// Returns how many indices fell inside their windows (all of them unless the indices are not the
// forward's; the caller then redoes the plane with the generic scatter).
template <int KH>
std::int64_t max_scatter_plane(const float* gy, const std::int64_t* idx, float* gx, const PoolWindows& w) {
  const std::int64_t W = w.in_w, out_h = w.out_h, out_w = w.out_w;
  const __m512i twice_lane = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i first_half = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i second_half = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512i one = _mm512_set1_epi32(1), row_step = _mm512_set1_epi32(static_cast<int>(W)),
                row_step1 = _mm512_set1_epi32(static_cast<int>(W + 1));
  std::int64_t hits = 0;
  for (std::int64_t oh = 0; oh < out_h; ++oh) {
    const std::int64_t row0 = oh * KH * W;
    for (std::int64_t ow = 0; ow < out_w; ow += 16) {
      const std::int64_t n = std::min<std::int64_t>(16, out_w - ow);
      const __mmask16 out = low_bits(n);
      const __m512 g = _mm512_maskz_loadu_ps(out, gy + oh * out_w + ow);
      const std::int64_t* ip = idx + oh * out_w + ow;
      // Saturating narrowing: an index beyond int32 must not wrap onto a position of the window.
      const __m256i lo = _mm512_cvtsepi64_epi32(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(out), ip));
      const __m256i hi = _mm512_cvtsepi64_epi32(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(out >> 8), ip + 8));
      // The position of each maximum relative to its window's corner: 0, 1, W or W + 1.
      const __m512i rel =
          _mm512_sub_epi32(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                           _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(row0 + 2 * ow)), twice_lane));
      const __mmask16 store_lo = low_bits(2 * n), store_hi = low_bits(2 * n - 16 > 0 ? 2 * n - 16 : 0);
      auto write_row = [&](float* dst, __m512i even_at, __m512i odd_at) {
        const __mmask16 at_even = _mm512_cmpeq_epi32_mask(rel, even_at), at_odd = _mm512_cmpeq_epi32_mask(rel, odd_at);
        hits += _mm_popcnt_u32(static_cast<unsigned>(at_even & out)) + _mm_popcnt_u32(static_cast<unsigned>(at_odd & out));
        const __m512 even = _mm512_maskz_mov_ps(at_even, g);
        const __m512 odd = _mm512_maskz_mov_ps(at_odd, g);
        _mm512_mask_storeu_ps(dst, store_lo, _mm512_permutex2var_ps(even, first_half, odd));
        _mm512_mask_storeu_ps(dst + 16, store_hi, _mm512_permutex2var_ps(even, second_half, odd));
      };
      write_row(gx + row0 + 2 * ow, _mm512_setzero_si512(), one);
      if constexpr (KH == 2) write_row(gx + row0 + W + 2 * ow, row_step, row_step1);
    }
  }
  return hits;
}

// Copies n int64 to dst with non-temporal stores (plain stores for the unaligned head and tail).
inline void stream_copy(std::int64_t* dst, const std::int64_t* src, std::int64_t n) {
  while (n > 0 && reinterpret_cast<std::uintptr_t>(dst) % 64 != 0) {
    *dst++ = *src++;
    --n;
  }
  for (; n >= 8; n -= 8, dst += 8, src += 8)
    _mm512_stream_si512(reinterpret_cast<__m512i*>(dst), _mm512_loadu_si512(src));
  for (; n > 0; --n) *dst++ = *src++;
}

// Any windows: 16 outputs of a row at a time, their best value and index kept in registers while
// the taps are visited in row-major order (the scalar rule's order); each tap is one masked load
// (lanes whose tap is in the padding are masked off).
inline void max_plane_any(const float* x, float* y, std::int64_t* idx, const PoolWindows& w,
                          const std::int64_t* first_col, const TapColumns& columns) {
  const std::int64_t W = w.in_w, out_w = w.out_w, stride = w.stride_w;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i lane_step = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(stride)));
  for (std::int64_t oh = 0; oh < w.out_h; ++oh) {
    const Taps rows = max_taps(oh, w.stride_h, w.pad_h, w.kernel_h, w.dilation_h, w.in_h);
    for (std::int64_t ow = 0; ow < out_w; ow += 16) {
      const std::int64_t n = std::min<std::int64_t>(16, out_w - ow);
      const __mmask16 out = low_bits(n);
      // Until a tap beats -inf, a window points at its first tap (-1 for a window in the padding).
      const __m256i first_lo =
          _mm512_cvtepi64_epi32(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(out), first_col + ow));
      const __m256i first_hi =
          _mm512_cvtepi64_epi32(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(out >> 8), first_col + ow + 8));
      const __m512i firsts = _mm512_inserti64x4(_mm512_castsi256_si512(first_lo), first_hi, 1);
      const __mmask16 has_first =
          rows.first < rows.end ? _mm512_cmpge_epi32_mask(firsts, _mm512_setzero_si512()) : __mmask16(0);
      __m512i at = _mm512_mask_add_epi32(_mm512_set1_epi32(-1), has_first, firsts,
                                         _mm512_set1_epi32(static_cast<int>(rows.first * W)));
      __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
      for (std::int64_t ih = rows.first; ih < rows.end; ih += rows.step) {
        const float* row = x + ih * W;
        for (std::int64_t kw = columns.span.first; kw < columns.span.end; ++kw) {
          const OutRange r = columns.ranges[static_cast<std::size_t>(kw - columns.span.first)];
          const __mmask16 inside = static_cast<__mmask16>(out & lanes_between(r.lo - ow, r.hi - ow));
          if (inside == 0) continue;
          const __m512i column = _mm512_add_epi32(
              _mm512_set1_epi32(static_cast<int>(ow * stride + kw * w.dilation_w - w.pad_w)), lane_step);
          const __m512 v = load_taps(row, ow * stride + kw * w.dilation_w - w.pad_w, stride, inside, column, best);
          const __mmask16 take = static_cast<__mmask16>(inside & beats(v, best));
          best = _mm512_mask_blend_ps(take, best, v);
          at = _mm512_mask_add_epi32(at, take, column, _mm512_set1_epi32(static_cast<int>(ih * W)));
        }
      }
      _mm512_mask_storeu_ps(y + oh * out_w + ow, out, best);
      std::int64_t* dst = idx + oh * out_w + ow;
      _mm512_mask_storeu_epi64(dst, static_cast<__mmask8>(out), _mm512_cvtepi32_epi64(_mm512_castsi512_si256(at)));
      _mm512_mask_storeu_epi64(dst + 8, static_cast<__mmask8>(out >> 8),
                               _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(at, 1)));
    }
  }
}

}  // namespace avx512

// The AVX-512 loops for float32 planes of these windows (null: none applies).
MaxPlaneFn<float> avx512_tiled_max_plane(const PoolWindows& w) {
  return pair_tile_kernel(w, avx512::max_plane<2>, avx512::max_plane<1>);
}
ScatterPlaneFn<float> avx512_tiled_scatter_plane(const PoolWindows& w) {
  return pair_tile_kernel(w, avx512::max_scatter_plane<2>, avx512::max_scatter_plane<1>);
}
AnyMaxPlaneFn<float> avx512_any_max_plane() { return avx512::max_plane_any; }
void stream_indices(std::int64_t* dst, const std::int64_t* src, std::int64_t n) { avx512::stream_copy(dst, src, n); }
void fence_streamed_stores() { _mm_sfence(); }
#else
// Without AVX-512 nothing selects these (kAvx512 is false); they keep the callers free of #if.
MaxPlaneFn<float> avx512_tiled_max_plane(const PoolWindows&) { return nullptr; }
ScatterPlaneFn<float> avx512_tiled_scatter_plane(const PoolWindows&) { return nullptr; }
AnyMaxPlaneFn<float> avx512_any_max_plane() { return nullptr; }
void stream_indices(std::int64_t* dst, const std::int64_t* src, std::int64_t n) { std::copy(src, src + n, dst); }
void fence_streamed_stores() {}
#endif

template <class T>
MaxPlaneFn<T> tiled_max_plane(const PoolWindows& w) {
  if (!tiles_plane(w)) return nullptr;
  if constexpr (std::is_same_v<T, float>)
    if (avx512_float<T>(w))
      if (const MaxPlaneFn<float> f = avx512_tiled_max_plane(w)) return f;
  if (w.kernel_h == 2 && w.kernel_w == 2) return max_plane_tiled<T, 2, 2>;
  if (w.kernel_h == 3 && w.kernel_w == 3) return max_plane_tiled<T, 3, 3>;
  if (w.kernel_h == 1 && w.kernel_w == 2) return max_plane_tiled<T, 1, 2>;
  if (w.kernel_h == 1 && w.kernel_w == 3) return max_plane_tiled<T, 1, 3>;
  return nullptr;
}

// Windows that do not tile: the AVX-512 loop for float32, else the portable one.
template <class T>
AnyMaxPlaneFn<T> any_max_plane(const PoolWindows& w) {
  if constexpr (std::is_same_v<T, float>)
    if (avx512_float<T>(w)) return avx512_any_max_plane();
  return max_plane_generic<T>;
}

template <class T>
void max_pool_forward_typed(const Tensor& x, const PoolWindows& w, Tensor& y, Tensor& idx) {
  if (w.planes == 0) return;  // (an empty batch may have planes too wide for the per-call tables)
  const T* xs = x.data<T>();
  T* ys = y.mutable_data<T>();
  std::int64_t* is = idx.mutable_data<std::int64_t>();
  const std::int64_t in_plane = w.in_h * w.in_w, out_plane = w.out_h * w.out_w;
  const MaxPlaneFn<T> tiled = tiled_max_plane<T>(w);
  const AnyMaxPlaneFn<T> any = any_max_plane<T>(w);
  const TapColumns column_ranges = tap_column_ranges(w);
  const std::vector<std::int64_t> first_col = first_tap_columns(w);
  // Big index tensors are only read again by the backward pass, long after: they are written
  // around the cache (a plane at a time through a small buffer), which saves the cache lines'
  // reads for ownership and keeps the cache for the values the next layer reads.
  const bool stream = kAvx512 && idx.numel() * std::int64_t{sizeof(std::int64_t)} >= kStreamIndicesBytes;
  for_each_plane_range(w, [&](std::int64_t begin, std::int64_t end) {
    std::vector<std::int64_t> buffer(stream ? static_cast<std::size_t>(out_plane) : 0);
    for (std::int64_t p = begin; p < end; ++p) {
      const T* xp = xs + p * in_plane;
      T* yp = ys + p * out_plane;
      std::int64_t* ip = stream ? buffer.data() : is + p * out_plane;
      if (tiled)
        tiled(xp, yp, ip, w);
      else
        any(xp, yp, ip, w, first_col.data(), column_ranges);
      if (stream) stream_indices(is + p * out_plane, buffer.data(), out_plane);
    }
    if (stream) fence_streamed_stores();  // the streamed stores are visible before the chunk ends
  });
}

// Tiling windows: each input element is written exactly once (its window's gradient where it is
// the maximum, else 0), so no separate zero-fill pass. Returns how many indices fell inside their
// windows, as the AVX-512 version.
template <class T, int KW>
std::int64_t max_scatter_plane_tiled(const T* gy, const std::int64_t* idx, T* gx, const PoolWindows& w) {
  const std::int64_t W = w.in_w, kernel_h = w.kernel_h, out_w = w.out_w, covered_h = w.out_h * kernel_h;
  std::int64_t hits = 0;
  for (std::int64_t ih = 0; ih < covered_h; ++ih) {
    const std::int64_t oh = ih / kernel_h;
    const T* g = gy + oh * out_w;
    const std::int64_t* ir = idx + oh * out_w;
    T* out = gx + ih * W;
    const std::int64_t row = ih * W;
    for (std::int64_t ow = 0; ow < out_w; ++ow)
      for (int kw = 0; kw < KW; ++kw) {
        const bool at = ir[ow] == row + ow * KW + kw;
        hits += at;
        out[ow * KW + kw] = at ? g[ow] : T(0);
      }
  }
  return hits;
}

template <class T>
ScatterPlaneFn<T> tiled_scatter_plane(const PoolWindows& w) {
  if (!tiles_plane(w)) return nullptr;
  if constexpr (std::is_same_v<T, float>)
    if (avx512_float<T>(w))
      if (const ScatterPlaneFn<float> f = avx512_tiled_scatter_plane(w)) return f;
  if (w.kernel_w == 1) return max_scatter_plane_tiled<T, 1>;
  if (w.kernel_w == 2) return max_scatter_plane_tiled<T, 2>;
  if (w.kernel_w == 3) return max_scatter_plane_tiled<T, 3>;
  return nullptr;
}

// An index that is neither -1 (a window in the padding: skipped) nor inside its plane, found by
// the scatter and gather below as they go (one compare per index) and raised after the loop.
struct BadIndex {
  std::atomic<bool> found{false};
  std::atomic<std::int64_t> value{0};
  void note(std::int64_t v) {
    value.store(v, std::memory_order_relaxed);
    found.store(true, std::memory_order_relaxed);
  }
  void raise_if_found(const char* op, std::int64_t in_plane) const {
    XGRAD_CHECK(!found.load(), "{}: index {} is out of range for an input plane of {} elements (expected -1 or [0, {}))",
                op, value.load(), in_plane, in_plane);
  }
};

// Adds each g[j] at ip[j] into a zeroed plane; true when every index was -1 or in the plane.
template <class T>
bool scatter_plane_generic(const T* g, const std::int64_t* ip, T* o, std::int64_t in_plane, std::int64_t out_plane,
                           BadIndex& bad) {
  std::fill(o, o + in_plane, T(0));
  bool ok = true;
  for (std::int64_t j = 0; j < out_plane; ++j) {
    if (static_cast<std::uint64_t>(ip[j]) < static_cast<std::uint64_t>(in_plane))
      o[ip[j]] += g[j];
    else if (ip[j] != -1) [[unlikely]] {
      bad.note(ip[j]);
      ok = false;
    }
  }
  return ok;
}

template <class T>
void max_pool_scatter_typed(const Tensor& gy, const Tensor& indices, const PoolWindows& w, Tensor& gx) {
  const T* gs = gy.data<T>();
  const std::int64_t* is = indices.data<std::int64_t>();
  T* out = gx.mutable_data<T>();
  const std::int64_t in_plane = w.in_h * w.in_w, out_plane = w.out_h * w.out_w;
  const ScatterPlaneFn<T> tiled = tiled_scatter_plane<T>(w);
  BadIndex bad;
  for_each_plane_range(w, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t p = begin; p < end; ++p) {
      const T* g = gs + p * out_plane;
      const std::int64_t* ip = is + p * out_plane;
      T* o = out + p * in_plane;
      // The tiled kernels write only indices inside their own windows (always so for the forward's
      // indices); other indices send the plane to the generic scatter, which adds at any index.
      if (tiled && tiled(g, ip, o, w) == out_plane) {
        zero_uncovered(o, w);
        continue;
      }
      scatter_plane_generic(g, ip, o, in_plane, out_plane, bad);
    }
  });
  bad.raise_if_found("max_pool_backward", in_plane);
}

template <class T>
void max_pool_gather_typed(const Tensor& g, const Tensor& indices, const PoolWindows& w, Tensor& out) {
  const T* gs = g.data<T>();
  const std::int64_t* is = indices.data<std::int64_t>();
  T* os = out.mutable_data<T>();
  const std::int64_t in_plane = w.in_h * w.in_w, out_plane = w.out_h * w.out_w;
  BadIndex bad;
  for_each_plane_range(w, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t p = begin; p < end; ++p) {
      const T* gp = gs + p * in_plane;
      const std::int64_t* ip = is + p * out_plane;
      T* op = os + p * out_plane;
      bool ok = true;
      for (std::int64_t j = 0; j < out_plane; ++j) {
        const bool inside = static_cast<std::uint64_t>(ip[j]) < static_cast<std::uint64_t>(in_plane);
        op[j] = inside ? gp[ip[j]] : T(0);
        ok &= inside | (ip[j] == -1);
      }
      if (!ok) [[unlikely]]
        for (std::int64_t j = 0; j < out_plane; ++j)
          if (static_cast<std::uint64_t>(ip[j]) >= static_cast<std::uint64_t>(in_plane) && ip[j] != -1) bad.note(ip[j]);
    }
  });
  bad.raise_if_found("max_pool_gather", in_plane);
}

}  // namespace

std::pair<Tensor, Tensor> max_pool_forward(const Tensor& x, const PoolWindows& w, const Shape& out_shape) {
  Tensor y = make_tensor(out_shape, x.dtype());
  Tensor idx = make_tensor(out_shape, Dtype::int64);
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, max_pool_forward_typed<T>(x, w, y, idx));
  return {y, idx};
}

Tensor max_pool_scatter(const Tensor& gy, const Tensor& indices, const PoolWindows& w, const Shape& in_shape) {
  Tensor gx = make_tensor(in_shape, gy.dtype());
  XGRAD_DISPATCH_FLOAT(gy.dtype(), T, max_pool_scatter_typed<T>(gy, indices, w, gx));
  return gx;
}

Tensor max_pool_take(const Tensor& g, const Tensor& indices, const PoolWindows& w) {
  Tensor out = make_tensor(indices.shape(), g.dtype());
  XGRAD_DISPATCH_FLOAT(g.dtype(), T, max_pool_gather_typed<T>(g, indices, w, out));
  return out;
}

}  // namespace xgrad::kernels
