#include "conv.h"
#include "conv_direct.h"
#include "winograd.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <vector>

#include "../dispatch.h"
#include "../parallel.h"
#include "scratch.h"

namespace xgrad::kernels {

namespace {

blasint blas_int(std::int64_t v, const char* what) {
  XGRAD_CHECK(v <= INT_MAX, "conv: {} = {} is too large for BLAS (at most {})", what, v, INT_MAX);
  return static_cast<blasint>(v);
}

// C[M,N] = op(A) · op(B) + beta C on row-major buffers with explicit leading dimensions.
template <class T>
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
          std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  const blasint bm = blas_int(m, "M"), bn = blas_int(n, "N"), bk = blas_int(k, "K");
  const blasint la = blas_int(lda, "lda"), lb = blas_int(ldb, "ldb"), lc = blas_int(ldc, "ldc");
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, bm, bn, bk, 1.0f, a, la, b, lb, beta, c, lc);
  else
    cblas_dgemm(CblasRowMajor, opa, opb, bm, bn, bk, 1.0, a, la, b, lb, beta, c, lc);
}

// Column buffers (slot 0), wide images (1), phase planes (2): used within a chunk only.
struct ConvScratch;
template <class T>
T* scratch(std::size_t n, int slot) {
  return thread_scratch<T, ConvScratch, 3>(n, slot);
}

// The output columns [lo, hi) whose input column ow*stride + offset lies in [0, width).
struct ValidRange {
  std::int64_t lo, hi;
};
ValidRange valid_range(std::int64_t offset, std::int64_t stride, std::int64_t width, std::int64_t out) {
  std::int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  std::int64_t hi = offset > width - 1 ? 0 : (width - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// dst[ow] = src[ow * stride] for ow in [lo, hi). The buffers never overlap; the common strides get
// their own loops so the compiler vectorises them.
template <class T>
void copy_strided(const T* __restrict src, std::int64_t stride, T* __restrict dst, std::int64_t lo, std::int64_t hi) {
  if (stride == 1) {
    for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow];
  } else if (stride == 2) {
    for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[2 * ow];
  } else {
    for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] = src[ow * stride];
  }
}

// dst[ow * stride] += src[ow] for ow in [lo, hi).
template <class T>
void add_strided(const T* __restrict src, std::int64_t stride, T* __restrict dst, std::int64_t lo, std::int64_t hi) {
  if (stride == 1) {
    for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow] += src[ow];
  } else if (stride == 2) {
    for (std::int64_t ow = lo; ow < hi; ++ow) dst[2 * ow] += src[ow];
  } else {
    for (std::int64_t ow = lo; ow < hi; ++ow) dst[ow * stride] += src[ow];
  }
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Where the rows of col are read from. For stride 1, the input planes themselves. For strided
// convs, the input split into stride_h * stride_w phase planes of [Hp, Wp], phase (pr, pc) of
// channel c holding x[c][i*sh + pr][j*sw + pc]: in a phase plane every strided read becomes a
// contiguous one, so strided convs take the same copy loops as stride 1.
struct Planes {
  std::int64_t sh, sw, Hp, Wp;
  bool phased;
};

Planes planes_of(const ConvGeometry& g) {
  const bool phased = g.stride_h > 1 || g.stride_w > 1;
  return {g.stride_h, g.stride_w, (g.in_h + g.stride_h - 1) / g.stride_h, (g.in_w + g.stride_w - 1) / g.stride_w,
          phased};
}

std::int64_t phase_buffer_size(const ConvGeometry& g) {
  const Planes pl = planes_of(g);
  return pl.phased ? g.in_channels * pl.sh * pl.sw * pl.Hp * pl.Wp : 0;
}

// Number of j with j*stride + phase < width.
std::int64_t phase_count(std::int64_t width, std::int64_t stride, std::int64_t phase) {
  return phase < width ? (width - phase + stride - 1) / stride : 0;
}

// phases[c][pr][pc][i][j] = x[c][i*sh + pr][j*sw + pc], 0 beyond the input.
template <class T>
void split_phases(const T* x, std::int64_t channels, const ConvGeometry& g, const Planes& pl, T* phases) {
  const std::int64_t H = g.in_h, W = g.in_w;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t pr = 0; pr < pl.sh; ++pr)
      for (std::int64_t pc = 0; pc < pl.sw; ++pc) {
        T* plane = phases + ((c * pl.sh + pr) * pl.sw + pc) * pl.Hp * pl.Wp;
        const std::int64_t n = phase_count(W, pl.sw, pc);
        for (std::int64_t i = 0; i < pl.Hp; ++i) {
          T* dst = plane + i * pl.Wp;
          const std::int64_t ih = i * pl.sh + pr;
          if (ih >= H) {
            std::fill(dst, dst + pl.Wp, T(0));
            continue;
          }
          copy_strided(x + (c * H + ih) * W + pc, pl.sw, dst, 0, n);
          std::fill(dst + n, dst + pl.Wp, T(0));
        }
      }
}

// x[c][i*sh + pr][j*sw + pc] += phases[c][pr][pc][i][j]: the adjoint of split_phases.
template <class T>
void merge_phases_add(const T* phases, std::int64_t channels, const ConvGeometry& g, const Planes& pl, T* x) {
  const std::int64_t H = g.in_h, W = g.in_w;
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::int64_t pr = 0; pr < pl.sh; ++pr)
      for (std::int64_t pc = 0; pc < pl.sw; ++pc) {
        const T* plane = phases + ((c * pl.sh + pr) * pl.sw + pc) * pl.Hp * pl.Wp;
        const std::int64_t n = phase_count(W, pl.sw, pc);
        for (std::int64_t i = 0; i < pl.Hp && i * pl.sh + pr < H; ++i)
          add_strided(plane + i * pl.Wp, pl.sw, x + (c * H + i * pl.sh + pr) * W + pc, 0, n);
      }
}

// One kernel tap (c, ki, kj): row `oh*OW + ow` of its col row reads plane[(oh + row_off)*Wp +
// ow + col_off] for oh in rows, ow in cols, and is 0 elsewhere (padding).
struct Tap {
  std::int64_t plane;  // offset of its (phase) plane within the channel's planes
  std::int64_t row_off, col_off;
  ValidRange rows, cols;
};

// The taps of channel 0, one per (ki, kj); channel c's plane is c * channel_stride further on.
struct TapTable {
  std::vector<Tap> taps;
  std::int64_t channel_stride;
};

TapTable taps_of(const ConvGeometry& g, const Planes& pl) {
  TapTable t{{}, pl.sh * pl.sw * pl.Hp * pl.Wp};
  t.taps.reserve(static_cast<std::size_t>(g.kernel_h * g.kernel_w));
  for (std::int64_t ki = 0; ki < g.kernel_h; ++ki)
    for (std::int64_t kj = 0; kj < g.kernel_w; ++kj) {
      const std::int64_t b = ki * g.dilation_h - g.pad_h, a = kj * g.dilation_w - g.pad_w;
      const std::int64_t row_off = floor_div(b, pl.sh), col_off = floor_div(a, pl.sw);
      const std::int64_t pr = b - row_off * pl.sh, pc = a - col_off * pl.sw;
      t.taps.push_back({(pr * pl.sw + pc) * pl.Hp * pl.Wp, row_off, col_off, valid_range(b, pl.sh, g.in_h, g.out_h),
                        valid_range(a, pl.sw, g.in_w, g.out_w)});
    }
  return t;
}

// Zeroes the padding columns of a row, usually 0-2 elements: std::fill here becomes a memset call
// per row.
template <class T>
inline void zero_few(T* p, std::int64_t n) {
  switch (n) {
    case 0:
      return;
    case 1:
      p[0] = T(0);
      return;
    case 2:
      p[0] = p[1] = T(0);
      return;
    default:
      std::fill(p, p + n, T(0));
  }
}

// With OW == Wp the valid rows of a tap are one contiguous run of its plane (rows of col and of
// the plane line up): one copy from the first valid entry to the last, then the entries in a
// row's padding columns, which read the neighbouring plane row, are zeroed. col2im zeroes them
// in col first and adds the whole run.
template <class T>
void gather_tap(const T* planes, std::int64_t Wp, const Tap& t, std::int64_t OH, std::int64_t OW, T* row) {
  const auto [r0, r1] = t.rows;
  const auto [lo, hi] = t.cols;
  std::fill(row, row + r0 * OW, T(0));
  std::fill(row + r1 * OW, row + OH * OW, T(0));
  if (r0 >= r1) return;
  T* block = row + r0 * OW;
  if (lo >= hi) {
    std::fill(block, block + (r1 - r0) * OW, T(0));
    return;
  }
  const T* src = planes + t.plane + (r0 + t.row_off) * Wp + t.col_off + lo;  // feeds block[lo]
  if (OW == Wp) {
    copy_strided(src, 1, block + lo, 0, (r1 - r0) * OW - lo - (OW - hi));
    for (std::int64_t r = 0; r < r1 - r0; ++r) {
      zero_few(block + r * OW, lo);
      zero_few(block + r * OW + hi, OW - hi);
    }
    return;
  }
  for (std::int64_t r = 0; r < r1 - r0; ++r) {
    T* dst = block + r * OW;
    zero_few(dst, lo);
    copy_strided(src + r * Wp, 1, dst + lo, 0, hi - lo);
    zero_few(dst + hi, OW - hi);
  }
}

// The adjoint of gather_tap: planes[...] += row[...] over the valid entries. `row` is scratch.
template <class T>
void scatter_tap(T* row, const Tap& t, std::int64_t Wp, std::int64_t OW, T* planes) {
  const auto [r0, r1] = t.rows;
  const auto [lo, hi] = t.cols;
  if (r0 >= r1 || lo >= hi) return;
  T* block = row + r0 * OW;
  T* dst = planes + t.plane + (r0 + t.row_off) * Wp + t.col_off + lo;  // target of block[lo]
  if (OW == Wp) {
    for (std::int64_t r = 0; r < r1 - r0; ++r) {
      zero_few(block + r * OW, lo);
      zero_few(block + r * OW + hi, OW - hi);
    }
    add_strided(block + lo, 1, dst, 0, (r1 - r0) * OW - lo - (OW - hi));
    return;
  }
  for (std::int64_t r = 0; r < r1 - r0; ++r) add_strided(block + r * OW + lo, 1, dst + r * Wp, 0, hi - lo);
}

// col[(c*KH + ki)*KW + kj][oh*OW + ow] = x[c][oh*sh - ph + ki*dh][ow*sw - pw + kj*dw] (0 outside).
// Rows of `col` are `ld` apart, so several images can sit side by side. `phases` is scratch of
// phase_buffer_size(g) elements (unused for stride 1).
template <class T>
void im2col(const T* x, std::int64_t channels, const ConvGeometry& g, const TapTable& t, T* col, std::int64_t ld,
            T* phases) {
  const Planes pl = planes_of(g);
  const T* planes = x;
  if (pl.phased) {
    split_phases(x, channels, g, pl, phases);
    planes = phases;
  }
  const std::size_t taps = t.taps.size();
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::size_t k = 0; k < taps; ++k)
      gather_tap(planes + c * t.channel_stride, pl.Wp, t.taps[k], g.out_h, g.out_w,
                 col + (c * static_cast<std::int64_t>(taps) + static_cast<std::int64_t>(k)) * ld);
}

// The adjoint of im2col: x[c][ih][iw] += every col entry that was copied from it. `col` is
// scratch (its padding entries get zeroed).
template <class T>
void col2im(T* col, std::int64_t channels, const ConvGeometry& g, const TapTable& t, T* x, std::int64_t ld, T* phases) {
  const Planes pl = planes_of(g);
  T* planes = x;
  if (pl.phased) {
    std::fill(phases, phases + channels * pl.sh * pl.sw * pl.Hp * pl.Wp, T(0));
    planes = phases;
  }
  const std::size_t taps = t.taps.size();
  for (std::int64_t c = 0; c < channels; ++c)
    for (std::size_t k = 0; k < taps; ++k)
      scatter_tap(col + (c * static_cast<std::int64_t>(taps) + static_cast<std::int64_t>(k)) * ld, t.taps[k], pl.Wp,
                  g.out_w, planes + c * t.channel_stride);
  if (pl.phased) merge_phases_add(phases, channels, g, pl, x);
}

// A 1x1, stride-1, unpadded conv reads its input as the column matrix itself: no im2col copy.
bool is_pointwise(const ConvGeometry& g) {
  return g.kernel_h == 1 && g.kernel_w == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_h == 0 && g.pad_w == 0 &&
         g.out_h == g.in_h && g.out_w == g.in_w;
}

// Rows [channel] of an image set to bias[channel], or zero.
template <class T>
void fill_rows(T* out, std::int64_t rows, std::int64_t cols, const T* bias) {
  for (std::int64_t r = 0; r < rows; ++r) std::fill(out + r * cols, out + (r + 1) * cols, bias ? bias[r] : T(0));
}

// ---- Winograd routing ---------------------------------------------------------------------------
// float32 3x3 convs with stride 1, dilation 1, groups 1, symmetric padding 0..2 and enough
// channels go to the Winograd F(4x4,3x3) kernels (core/kernels/winograd.h): 2.25 multiplies per
// output instead of 9, measured 1.6-1.9x faster than im2col + GEMM on (64,32,14,14)->64 and
// (8,256,14,14)->256 (float32 error below 1e-5 relative, tests/test_winograd.cpp).
// float32 convs with 1-4 input channels (first layers) and wide enough rows run as a direct
// AVX-512 convolution (core/kernels/conv_direct.h): im2col's GEMMs have an inner dim of 9-100
// there and are memory-bound; measured 1.07x on (64,1,28,28)->32 k3, 1.4x on (32,3,32,32)->64 k5.
bool use_direct(const ConvGeometry& g, Dtype dtype) { return dtype == Dtype::float32 && direct::worthwhile(g); }

bool use_winograd(const ConvGeometry& g, Dtype dtype) {
  const std::int64_t s = g.stride_h;
  if (dtype != Dtype::float32 || g.kernel_h != 3 || g.kernel_w != 3 || (s != 1 && s != 2) || g.stride_w != s ||
      g.dilation_h != 1 || g.dilation_w != 1 || g.groups != 1)
    return false;
  if (g.pad_h < 0 || g.pad_h > 2 || g.pad_w < 0 || g.pad_w > 2) return false;
  // Symmetric padding only: "same" with an odd total or output_padding give other output sizes.
  if (g.in_h + 2 * g.pad_h < 3 || g.in_w + 2 * g.pad_w < 3 || g.out_h != (g.in_h + 2 * g.pad_h - 3) / s + 1 ||
      g.out_w != (g.in_w + 2 * g.pad_w - 3) / s + 1)
    return false;
  return winograd::worthwhile(g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, static_cast<int>(s));
}

// Small outputs: several images are im2col'ed side by side so that one GEMM covers them (its
// wide dim about kWideColumns positions). Measured with OpenBLAS sgemm, 1 thread: per-image GEMMs
// run at 82-100 GFLOP/s from P = 16 up, but the weight gradient's NT GEMM drops to 61 GFLOP/s at
// P = 4 (84 batched) and P <= 16 loses ~10% in the other two. From P = 64 up the gather/scatter
// copies cost more than they gain (conv 64x32x14x14 -> 64: 18.2 ms batched by 2 vs 17.6 per image).
constexpr std::int64_t kWideColumns = 256;
constexpr std::int64_t kBatchBelowPositions = 64;

std::int64_t images_per_gemm(std::int64_t positions, bool pointwise, std::int64_t images) {
  if (pointwise || positions >= kBatchBelowPositions || positions == 0) return 1;
  return std::max<std::int64_t>(1, std::min(images, (kWideColumns + positions - 1) / positions));
}

// wide[c][i*P + p] = images[i][c][p]: `count` images of [channels, P] side by side.
template <class T>
void gather_images(const T* images, std::int64_t count, std::int64_t channels, std::int64_t P, T* wide) {
  const std::int64_t ld = count * P;
  for (std::int64_t i = 0; i < count; ++i)
    for (std::int64_t c = 0; c < channels; ++c)
      std::copy(images + (i * channels + c) * P, images + (i * channels + c + 1) * P, wide + c * ld + i * P);
}

// What the im2col passes share: P output positions per image, K = C_in/groups * KH * KW rows of
// a group's column matrix (col_rows for all groups), elements per input and output image, and
// where im2col reads from.
struct Plan {
  std::int64_t P, C_in, C_out, Cg, Coutg, K, col_rows, in_image, out_image;
  bool pointwise;
  TapTable taps;
};
Plan plan_of(const ConvGeometry& g) {
  const std::int64_t P = g.out_h * g.out_w, taps = g.kernel_h * g.kernel_w;
  const std::int64_t Cg = g.in_channels / g.groups, Coutg = g.out_channels / g.groups;
  return {P,
          g.in_channels,
          g.out_channels,
          Cg,
          Coutg,
          Cg * taps,
          g.in_channels * taps,
          g.in_channels * g.in_h * g.in_w,
          g.out_channels * P,
          is_pointwise(g),
          taps_of(g, planes_of(g))};
}

template <class T>
void forward_impl(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const ConvGeometry& g) {
  const auto [P, C_in, C_out, Cg, Coutg, K, col_rows, in_image, out_image, pointwise, taps] = plan_of(g);
  const T* px = x.impl()->data<T>();
  const T* pw = w.impl()->data<T>();
  const T* pb = bias.defined() ? bias.impl()->data<T>() : nullptr;
  T* py = y.impl()->data<T>();
  parallel::parallel_for(g.batch, 1, [&](std::int64_t b0, std::int64_t b1) {
    if (K == 0) {  // no input channels: the output is the bias
      for (std::int64_t n = b0; n < b1; ++n) fill_rows(py + n * out_image, C_out, P, pb);
      return;
    }
    const std::int64_t B = images_per_gemm(P, pointwise, b1 - b0);
    T* col = pointwise ? nullptr : scratch<T>(static_cast<std::size_t>(col_rows * B * P), 0);
    T* wide = B > 1 ? scratch<T>(static_cast<std::size_t>(C_out * B * P), 1) : nullptr;
    T* phases = pointwise ? nullptr : scratch<T>(static_cast<std::size_t>(phase_buffer_size(g)), 2);
    for (std::int64_t n = b0; n < b1;) {
      const std::int64_t nb = std::min(B, b1 - n), ld = nb * P;
      if (nb == 1) {
        const T* xn = px + n * in_image;
        T* yn = py + n * out_image;
        if (pb) fill_rows(yn, C_out, P, pb);  // bias fused: the GEMM adds onto it
        const T* cn = xn;
        if (!pointwise) {
          im2col(xn, C_in, g, taps, col, P, phases);
          cn = col;
        }
        for (std::int64_t gi = 0; gi < g.groups; ++gi)
          gemm<T>(false, false, Coutg, P, K, pw + gi * Coutg * K, K, cn + gi * K * P, P, pb ? T(1) : T(0),
                  yn + gi * Coutg * P, P);
      } else {
        for (std::int64_t i = 0; i < nb; ++i) im2col(px + (n + i) * in_image, C_in, g, taps, col + i * P, ld, phases);
        for (std::int64_t gi = 0; gi < g.groups; ++gi)
          gemm<T>(false, false, Coutg, ld, K, pw + gi * Coutg * K, K, col + gi * K * ld, ld, T(0),
                  wide + gi * Coutg * ld, ld);
        // Back to [N, C_out, P], adding the bias on the way.
        for (std::int64_t i = 0; i < nb; ++i) {
          T* yi = py + (n + i) * out_image;
          for (std::int64_t c = 0; c < C_out; ++c) {
            const T* src = wide + c * ld + i * P;
            T* dst = yi + c * P;
            const T b = pb ? pb[c] : T(0);
            for (std::int64_t p = 0; p < P; ++p) dst[p] = src[p] + b;
          }
        }
      }
      n += nb;
    }
  });
}

template <class T>
void input_grad_impl(const Tensor& gy, const Tensor& w, const Tensor& bias, Tensor& gx, const ConvGeometry& g) {
  const auto [P, C_in, C_out, Cg, Coutg, K, col_rows, in_image, out_image, pointwise, taps] = plan_of(g);
  const std::int64_t HW = g.in_h * g.in_w;
  const T* pgy = gy.impl()->data<T>();
  const T* pw = w.impl()->data<T>();
  const T* pb = bias.defined() ? bias.impl()->data<T>() : nullptr;
  T* pgx = gx.impl()->data<T>();
  parallel::parallel_for(g.batch, 1, [&](std::int64_t b0, std::int64_t b1) {
    if (Coutg == 0 || P == 0) {  // nothing flows back: only the bias (of a transposed conv)
      for (std::int64_t n = b0; n < b1; ++n) fill_rows(pgx + n * in_image, C_in, HW, pb);
      return;
    }
    const std::int64_t B = images_per_gemm(P, pointwise, b1 - b0);
    T* dcol = pointwise ? nullptr : scratch<T>(static_cast<std::size_t>(g.groups * K * B * P), 0);
    T* wide = B > 1 ? scratch<T>(static_cast<std::size_t>(C_out * B * P), 1) : nullptr;
    T* phases = pointwise ? nullptr : scratch<T>(static_cast<std::size_t>(phase_buffer_size(g)), 2);
    for (std::int64_t n = b0; n < b1;) {
      const std::int64_t nb = std::min(B, b1 - n), ld = nb * P;
      if (pointwise) {
        // dx = W^T · gy straight into the image (plus the bias, for a transposed conv).
        const T* gyn = pgy + n * out_image;
        T* gxn = pgx + n * in_image;
        if (pb) fill_rows(gxn, C_in, HW, pb);
        for (std::int64_t gi = 0; gi < g.groups; ++gi)
          gemm<T>(true, false, K, P, Coutg, pw + gi * Coutg * K, K, gyn + gi * Coutg * P, P, pb ? T(1) : T(0),
                  gxn + gi * K * P, P);
      } else {
        // dcol = W^T · gy, then scattered back (col2im) into zeroed (or bias-filled) images.
        const T* gyw = pgy + n * out_image;
        if (nb > 1) {
          gather_images(gyw, nb, C_out, P, wide);
          gyw = wide;
        }
        for (std::int64_t gi = 0; gi < g.groups; ++gi)
          gemm<T>(true, false, K, ld, Coutg, pw + gi * Coutg * K, K, gyw + gi * Coutg * ld, ld, T(0),
                  dcol + gi * K * ld, ld);
        for (std::int64_t i = 0; i < nb; ++i) {
          T* gxi = pgx + (n + i) * in_image;
          fill_rows(gxi, C_in, HW, pb);
          col2im(dcol + i * P, C_in, g, taps, gxi, ld, phases);
        }
      }
      n += nb;
    }
  });
}

template <class T>
void weight_grad_impl(const Tensor& x, const Tensor& gy, Tensor& gw, const ConvGeometry& g) {
  const auto [P, C_in, C_out, Cg, Coutg, K, col_rows, in_image, out_image, pointwise, taps] = plan_of(g);
  const std::int64_t w_size = C_out * K;
  T* pgw = gw.impl()->data<T>();
  if (w_size == 0) return;
  if (g.batch == 0 || P == 0) {
    std::fill(pgw, pgw + w_size, T(0));
    return;
  }
  const T* px = x.impl()->data<T>();
  const T* pgy = gy.impl()->data<T>();
  // Chunk 0 accumulates into the result, chunk c > 0 into row c - 1 of `partials`, summed at the
  // end. The partials belong to this call (caching allocator: no page faults after the first
  // step), never to a thread: a worker's scratch is reused by the next job, maybe another user
  // thread's, as soon as this job ends.
  const int chunks = parallel::chunks_for(g.batch, 1);
  Tensor partials = chunks > 1 ? make_tensor({chunks - 1, w_size}, gw.dtype()) : Tensor();
  T* ppartials = chunks > 1 ? partials.impl()->data<T>() : nullptr;
  parallel::parallel_for_chunks(g.batch, chunks, [&](std::int64_t b0, std::int64_t b1, int c) {
    T* acc = c == 0 ? pgw : ppartials + (c - 1) * w_size;
    if (b0 == b1) {  // more chunks than images: an empty chunk adds nothing
      std::fill(acc, acc + w_size, T(0));
      return;
    }
    const std::int64_t B = images_per_gemm(P, pointwise, b1 - b0);
    T* col = pointwise ? nullptr : scratch<T>(static_cast<std::size_t>(col_rows * B * P), 0);
    T* wide = B > 1 ? scratch<T>(static_cast<std::size_t>(C_out * B * P), 1) : nullptr;
    T* phases = pointwise ? nullptr : scratch<T>(static_cast<std::size_t>(phase_buffer_size(g)), 2);
    for (std::int64_t n = b0; n < b1;) {
      const std::int64_t nb = std::min(B, b1 - n), ld = nb * P;
      const T* cn = px + n * in_image;  // a pointwise conv's input is its column matrix
      if (!pointwise) {
        for (std::int64_t i = 0; i < nb; ++i) im2col(px + (n + i) * in_image, C_in, g, taps, col + i * P, ld, phases);
        cn = col;
      }
      const T* gyw = pgy + n * out_image;
      if (nb > 1) {
        gather_images(gyw, nb, C_out, P, wide);
        gyw = wide;
      }
      // dW += gy · col^T; the first GEMM of the chunk overwrites.
      for (std::int64_t gi = 0; gi < g.groups; ++gi)
        gemm<T>(false, true, Coutg, K, ld, gyw + gi * Coutg * ld, ld, cn + gi * K * ld, ld, n == b0 ? T(0) : T(1),
                acc + gi * Coutg * K, K);
      n += nb;
    }
  });
  for (int c = 1; c < chunks; ++c) {
    const T* part = ppartials + (c - 1) * w_size;
    for (std::int64_t i = 0; i < w_size; ++i) pgw[i] += part[i];
  }
}

}  // namespace

void conv_forward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y, const ConvGeometry& g) {
  if (y.numel() == 0) return;
  if (use_direct(g, x.dtype())) {
    direct::conv_forward(x.data<float>(), w.data<float>(), bias.defined() ? bias.data<float>() : nullptr,
                         y.impl()->data<float>(), g);
    return;
  }
  if (use_winograd(g, x.dtype())) {
    winograd::conv3x3_forward(x.data<float>(), w.data<float>(), bias.defined() ? bias.data<float>() : nullptr,
                              y.impl()->data<float>(), g.batch, g.in_channels, g.in_h, g.in_w, g.out_channels, g.pad_h, g.pad_w, 0,
                              static_cast<int>(g.stride_h));
    return;
  }
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, forward_impl<T>(x, w, bias, y, g));
}

void conv_input_grad(const Tensor& gy, const Tensor& w, const Tensor& bias, Tensor& x_grad, const ConvGeometry& g) {
  if (x_grad.numel() == 0) return;
  if (!bias.defined() && use_direct(g, gy.dtype())) {
    direct::conv_input_grad(gy.data<float>(), w.data<float>(), x_grad.impl()->data<float>(), g);
    return;
  }
  if (!bias.defined() && use_winograd(g, gy.dtype())) {
    winograd::conv3x3_backward_input(gy.data<float>(), w.data<float>(), x_grad.impl()->data<float>(), g.batch, g.in_channels,
                                     g.in_h, g.in_w, g.out_channels, g.pad_h, g.pad_w, 0,
                              static_cast<int>(g.stride_h));
    return;
  }
  XGRAD_DISPATCH_FLOAT(gy.dtype(), T, input_grad_impl<T>(gy, w, bias, x_grad, g));
}

void conv_weight_grad(const Tensor& x, const Tensor& gy, Tensor& w_grad, const ConvGeometry& g) {
  if (w_grad.numel() == 0) return;
  if (use_direct(g, x.dtype())) {
    direct::conv_weight_grad(x.data<float>(), gy.data<float>(), w_grad.impl()->data<float>(), nullptr, g);
    return;
  }
  if (use_winograd(g, x.dtype())) {
    winograd::conv3x3_backward_weight(x.data<float>(), gy.data<float>(), w_grad.impl()->data<float>(), g.batch,
                                      g.in_channels, g.in_h, g.in_w, g.out_channels, g.pad_h, g.pad_w, 0,
                              static_cast<int>(g.stride_h));
    return;
  }
  XGRAD_DISPATCH_FLOAT(x.dtype(), T, weight_grad_impl<T>(x, gy, w_grad, g));
}

}  // namespace xgrad::kernels
